//! Conversions between the share's neutral types and NFSv3 attributes: fattr3, wcc data,
//! sattr3, times, ACCESS bits and the exclusive-create verifier.

use protocol::nfs3::{
    Fattr3, Ftype3, Nfstime3, PostOpAttr, PreOpAttr, Sattr3, SetTime, SpecData3, WccAttr, WccData,
};
use stores::{Attr, FileKind, Timestamp};

use crate::server::share::{AttrChange, Change, CreateVerifier, Rights, TimeSet};

/// NFSv3 ACCESS bits (RFC 1813 §3.3.4) and the share rights they stand for.
const ACCESS_BITS: [(u32, Rights); 6] = [
    (0x01, Rights::READ),
    (0x02, Rights::LOOKUP),
    (0x04, Rights::MODIFY),
    (0x08, Rights::EXTEND),
    (0x10, Rights::DELETE),
    (0x20, Rights::EXECUTE),
];

/// The rights an ACCESS call asks about (unknown bits are ignored).
pub(crate) fn rights(bits: u32) -> Rights {
    ACCESS_BITS
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .fold(Rights::NONE, |acc, (_, r)| acc | *r)
}

/// The ACCESS bits for granted rights.
pub(crate) fn access_bits(r: Rights) -> u32 {
    ACCESS_BITS
        .iter()
        .filter(|(_, x)| r.contains(*x))
        .fold(0, |acc, (b, _)| acc | b)
}

/// The times an exclusive CREATE's verifier is kept in until the client's SETATTR: its two
/// 32-bit halves as the seconds of atime and mtime (RFC 1813 §3.3.8 leaves the place to us;
/// knfsd does the same).
pub(crate) fn create_verifier(v: [u8; 8]) -> CreateVerifier {
    let secs = |b: [u8; 4]| Timestamp {
        secs: i64::from(u32::from_be_bytes(b)),
        nanos: 0,
    };
    CreateVerifier {
        atime: secs([v[0], v[1], v[2], v[3]]),
        mtime: secs([v[4], v[5], v[6], v[7]]),
    }
}

pub(crate) fn nfstime(t: Timestamp) -> Nfstime3 {
    // NFSv3 times are unsigned 32-bit seconds: clamp what does not fit.
    let seconds = u32::try_from(t.secs.max(0)).unwrap_or(u32::MAX);
    Nfstime3 {
        seconds,
        nseconds: t.nanos,
    }
}

pub(crate) fn timestamp(t: Nfstime3) -> Timestamp {
    Timestamp {
        secs: i64::from(t.seconds),
        nanos: t.nseconds.min(999_999_999),
    }
}

fn ftype(k: FileKind) -> Ftype3 {
    match k {
        FileKind::Regular => Ftype3::Reg,
        FileKind::Directory => Ftype3::Dir,
        FileKind::Symlink => Ftype3::Lnk,
        FileKind::BlockDevice => Ftype3::Blk,
        FileKind::CharDevice => Ftype3::Chr,
        FileKind::Socket => Ftype3::Sock,
        FileKind::Fifo => Ftype3::Fifo,
    }
}

/// The NFS attributes of an inode in share `fsid`.
pub(crate) fn fattr(a: &Attr, fsid: u64) -> Fattr3 {
    Fattr3 {
        ftype: ftype(a.kind),
        mode: a.mode & 0o7777,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        size: a.size,
        // Space used: whole 4 KiB blocks (sparse files may use less; we do not track it).
        used: a.size.div_ceil(4096) * 4096,
        rdev: SpecData3 {
            specdata1: a.rdev.major,
            specdata2: a.rdev.minor,
        },
        fsid,
        fileid: a.ino.0,
        atime: nfstime(a.atime),
        mtime: nfstime(a.mtime),
        ctime: nfstime(a.ctime),
    }
}

fn wcc_attr(a: &Attr) -> WccAttr {
    WccAttr {
        size: a.size,
        mtime: nfstime(a.mtime),
        ctime: nfstime(a.ctime),
    }
}

/// post_op_attr of `a` in share `fsid`.
pub(crate) fn post(a: Option<&Attr>, fsid: u64) -> PostOpAttr {
    PostOpAttr(a.map(|a| fattr(a, fsid)))
}

/// wcc_data of a change in share `fsid`.
pub(crate) fn wcc(c: &Change, fsid: u64) -> WccData {
    WccData {
        before: PreOpAttr(c.before.as_ref().map(wcc_attr)),
        after: post(c.after.as_ref(), fsid),
    }
}

/// An sattr3 as a neutral attribute change.
pub(crate) fn attr_change(s: &Sattr3) -> AttrChange {
    let t = |t: SetTime| match t {
        SetTime::DontChange => TimeSet::Keep,
        SetTime::SetToServerTime => TimeSet::ServerNow,
        SetTime::SetToClientTime(t) => TimeSet::Client(timestamp(t)),
    };
    AttrChange {
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        size: s.size,
        atime: t(s.atime),
        mtime: t(s.mtime),
        // NFSv3 has no creation time, and ctime is the server's.
        btime: TimeSet::Keep,
        ctime: TimeSet::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: ACCESS bits and share rights convert both ways, unknown bits dropped.
    #[test]
    fn access_bits_round_trip() {
        for bits in 0..0x40 {
            assert_eq!(access_bits(rights(bits)), bits);
        }
        assert_eq!(access_bits(rights(0xffff_ffc0)), 0);
    }

    /// Goal: the exclusive-create verifier is kept as the two halves' seconds, as before the
    /// share core went neutral (so files created by an older server still match).
    #[test]
    fn verifier_in_times() {
        let v = create_verifier([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!((v.atime.secs, v.mtime.secs), (1, i64::from(u32::MAX)));
        assert_eq!((v.atime.nanos, v.mtime.nanos), (0, 0));
    }
}
