//! MOUNT version 3 (RFC 1813 Appendix I): program 100005. Hands out the root file handle of an
//! export and lists mounts and exports.

use std::fmt;

use crate::rpc::AuthFlavor;
use crate::wire::{DecodeError, limits};
use crate::xdr::{Reader, Writer};

/// Program number.
pub const PROGRAM: u32 = 100_005;
/// Program version.
pub const VERSION: u32 = 3;

/// MOUNT procedures in spec order (RFC 1813 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MountProc {
    /// Do nothing.
    Null = 0,
    /// Mount an export: returns its root handle.
    Mnt = 1,
    /// List mounts.
    Dump = 2,
    /// Forget one mount of this client.
    Umnt = 3,
    /// Forget every mount of this client.
    Umntall = 4,
    /// List exports.
    Export = 5,
}

impl MountProc {
    /// The procedure with number `v`.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Null,
            1 => Self::Mnt,
            2 => Self::Dump,
            3 => Self::Umnt,
            4 => Self::Umntall,
            5 => Self::Export,
            _ => return None,
        })
    }
}

/// RFC 1813 §5.1.5 `mountstat3`.
#[doc(alias = "mountstat3")]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MountStat3(pub u32);

impl MountStat3 {
    /// No error.
    pub const OK: Self = Self(0);
    /// Not owner.
    pub const PERM: Self = Self(1);
    /// No such file or directory.
    pub const NOENT: Self = Self(2);
    /// I/O error.
    pub const IO: Self = Self(5);
    /// Permission denied.
    pub const ACCES: Self = Self(13);
    /// Not a directory.
    pub const NOTDIR: Self = Self(20);
    /// Invalid argument.
    pub const INVAL: Self = Self(22);
    /// Filename too long.
    pub const NAMETOOLONG: Self = Self(63);
    /// Operation not supported.
    pub const NOTSUPP: Self = Self(10004);
    /// A failure on the server.
    pub const SERVERFAULT: Self = Self(10006);
}

impl fmt::Debug for MountStat3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::OK => "MNT3_OK",
            Self::PERM => "MNT3ERR_PERM",
            Self::NOENT => "MNT3ERR_NOENT",
            Self::IO => "MNT3ERR_IO",
            Self::ACCES => "MNT3ERR_ACCES",
            Self::NOTDIR => "MNT3ERR_NOTDIR",
            Self::INVAL => "MNT3ERR_INVAL",
            Self::NAMETOOLONG => "MNT3ERR_NAMETOOLONG",
            Self::NOTSUPP => "MNT3ERR_NOTSUPP",
            Self::SERVERFAULT => "MNT3ERR_SERVERFAULT",
            _ => return write!(f, "MountStat3({})", self.0),
        };
        f.write_str(name)
    }
}

/// A successful MNT: the root handle and the auth flavors the client may use.
pub type MntOk = (Vec<u8>, Vec<AuthFlavor>);

/// Decodes MNT/UMNT arguments: a `dirpath` (at most MNTPATHLEN bytes), nothing after it.
pub fn decode_dirpath(args: &[u8]) -> Result<&[u8], DecodeError> {
    let mut r = Reader::new(args);
    let p = r.string(limits::MNT_PATH_LEN, "dirpath")?;
    r.finish("dirpath")?;
    Ok(p)
}

/// Encodes MNT/UMNT arguments.
pub fn encode_dirpath(w: &mut Writer, path: &[u8]) {
    w.string(path);
}

/// Encodes a MNT result (RFC 1813 §5.2.1 `mountres3`).
pub fn encode_mnt_res(w: &mut Writer, res: &Result<MntOk, MountStat3>) {
    match res {
        Ok((fh, flavors)) => {
            w.u32(MountStat3::OK.0);
            w.opaque(fh);
            w.u32(flavors.len() as u32);
            for f in flavors {
                w.u32(f.0);
            }
        }
        Err(stat) => w.u32(stat.0),
    }
}

/// Decodes a MNT result.
pub fn decode_mnt_res(body: &[u8]) -> Result<Result<MntOk, MountStat3>, DecodeError> {
    let mut r = Reader::new(body);
    let stat = MountStat3(r.u32("mountstat3")?);
    let res = if stat == MountStat3::OK {
        let fh = r.opaque(limits::FHSIZE3, "fhandle3")?.to_vec();
        let n = r.array_len(limits::LIST_ENTRIES_MAX, 4, "auth_flavors")?;
        let mut flavors = Vec::with_capacity(n);
        for _ in 0..n {
            flavors.push(AuthFlavor(r.u32("auth_flavors")?));
        }
        Ok((fh, flavors))
    } else {
        Err(stat)
    };
    r.finish("mountres3")?;
    Ok(res)
}

/// Encodes a DUMP result: the `mountbody` list of (hostname, directory).
pub fn encode_mount_list<'a>(
    w: &mut Writer,
    entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) {
    for (host, dir) in entries {
        w.bool(true);
        w.string(host);
        w.string(dir);
    }
    w.bool(false);
}

/// A mount list entry: (client host name, mounted directory).
pub type MountEntry = (Vec<u8>, Vec<u8>);

/// Decodes a DUMP result.
pub fn decode_mount_list(body: &[u8]) -> Result<Vec<MountEntry>, DecodeError> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    while r.bool("mountlist")? {
        if out.len() >= limits::LIST_ENTRIES_MAX {
            return Err(DecodeError::TooLong {
                field: "mountlist",
                len: out.len() as u64 + 1,
                max: limits::LIST_ENTRIES_MAX as u64,
            });
        }
        let host = r.string(limits::MNT_NAME_LEN, "ml_hostname")?.to_vec();
        let dir = r.string(limits::MNT_PATH_LEN, "ml_directory")?.to_vec();
        out.push((host, dir));
    }
    r.finish("mountlist")?;
    Ok(out)
}

/// An export and the groups (client names or networks) allowed to mount it.
pub type Export = (Vec<u8>, Vec<Vec<u8>>);

/// Encodes an EXPORT result: the `exportnode` list, each with its `groupnode` list.
pub fn encode_exports<'a, G>(w: &mut Writer, exports: impl IntoIterator<Item = (&'a [u8], G)>)
where
    G: IntoIterator<Item = &'a [u8]>,
{
    for (dir, groups) in exports {
        w.bool(true);
        w.string(dir);
        for g in groups {
            w.bool(true);
            w.string(g);
        }
        w.bool(false);
    }
    w.bool(false);
}

/// Decodes an EXPORT result.
pub fn decode_exports(body: &[u8]) -> Result<Vec<Export>, DecodeError> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    let mut total = 0usize;
    while r.bool("exports")? {
        let dir = r.string(limits::MNT_PATH_LEN, "ex_dir")?.to_vec();
        let mut groups = Vec::new();
        while r.bool("groups")? {
            total += 1;
            if total > limits::LIST_ENTRIES_MAX {
                return Err(DecodeError::TooLong {
                    field: "exports",
                    len: total as u64,
                    max: limits::LIST_ENTRIES_MAX as u64,
                });
            }
            groups.push(r.string(limits::MNT_NAME_LEN, "gr_name")?.to_vec());
        }
        total += 1;
        out.push((dir, groups));
    }
    r.finish("exports")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Goal: MNT results, mount lists and export lists round-trip.
        #[test]
        fn round_trips(fh in proptest::collection::vec(any::<u8>(), 0..=64),
                       flavors in proptest::collection::vec(any::<u32>(), 0..4),
                       stat in 1u32..20000,
                       mounts in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..20),
                                                           proptest::collection::vec(any::<u8>(), 0..40)), 0..5),
                       exports in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40),
                                                            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..3)), 0..4)) {
            let ok: Result<MntOk, MountStat3> = Ok((fh, flavors.into_iter().map(AuthFlavor).collect()));
            for res in [ok, Err(MountStat3(stat))] {
                let mut w = Writer::new();
                encode_mnt_res(&mut w, &res);
                prop_assert_eq!(decode_mnt_res(w.as_slice()).unwrap(), res);
            }
            let mut w = Writer::new();
            encode_mount_list(&mut w, mounts.iter().map(|(h, d)| (&h[..], &d[..])));
            prop_assert_eq!(decode_mount_list(w.as_slice()).unwrap(), mounts);
            let mut w = Writer::new();
            encode_exports(&mut w, exports.iter().map(|(d, g)| (&d[..], g.iter().map(|x| &x[..]))));
            prop_assert_eq!(decode_exports(w.as_slice()).unwrap(), exports);
        }

        /// Goal: the dirpath round-trips; random bytes never panic any decoder.
        #[test]
        fn dirpath_and_garbage(p in proptest::collection::vec(any::<u8>(), 0..=1024),
                               junk in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut w = Writer::new();
            encode_dirpath(&mut w, &p);
            prop_assert_eq!(decode_dirpath(w.as_slice()).unwrap(), &p[..]);
            let _ = decode_dirpath(&junk);
            let _ = decode_mnt_res(&junk);
            let _ = decode_mount_list(&junk);
            let _ = decode_exports(&junk);
        }
    }

    /// Goal: a path over MNTPATHLEN is refused.
    #[test]
    fn long_path_refused() {
        let mut w = Writer::new();
        encode_dirpath(&mut w, &[b'a'; 1025]);
        assert!(decode_dirpath(w.as_slice()).is_err());
    }
}
