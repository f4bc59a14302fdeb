//! MOUNT version 3 (RFC 1813 Appendix I, whose sections are numbered 5.x): program 100005.
//! Hands out the root file handle of an export and lists mounts and exports.
//!
//! The server decodes a call's arguments with [`decode_call`] into a [`Call`] and answers with a
//! [`Reply`] (its `Encode` writes the result body after the RPC reply header); clients go the
//! other way with `Call`'s `Encode` and [`decode_reply`]. The free functions that take
//! iterators ([`encode_mount_list`], [`encode_exports`], [`encode_mnt_res`]) let a server
//! encode straight from its own tables without building the owned types.

use crate::rpc::AuthFlavor;
use crate::wire::{Decode, DecodeError, Encode, limits, open_set};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §5.2 `MOUNT_PROGRAM`: the program number.
#[doc(alias = "MOUNT_PROGRAM")]
pub const PROGRAM: u32 = 100_005;
/// RFC 1813 §5.2 `MOUNT_V3`: the program version this module implements.
#[doc(alias = "MOUNT_V3")]
pub const VERSION: u32 = 3;

/// RFC 1813 §5.2: the MOUNT procedures in spec order; the discriminant is the RPC procedure
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum MountProc {
    /// `MOUNTPROC3_NULL` (§5.2.0): does nothing.
    Null = 0,
    /// `MOUNTPROC3_MNT` (§5.2.1): mounts an export and returns its root handle.
    Mnt = 1,
    /// `MOUNTPROC3_DUMP` (§5.2.2): lists mounts.
    Dump = 2,
    /// `MOUNTPROC3_UMNT` (§5.2.3): forgets one mount of this client.
    Umnt = 3,
    /// `MOUNTPROC3_UMNTALL` (§5.2.4): forgets every mount of this client.
    Umntall = 4,
    /// `MOUNTPROC3_EXPORT` (§5.2.5): lists exports.
    Export = 5,
}

impl MountProc {
    /// Every procedure, in procedure-number order.
    pub const ALL: [Self; 6] = [
        Self::Null,
        Self::Mnt,
        Self::Dump,
        Self::Umnt,
        Self::Umntall,
        Self::Export,
    ];

    /// The procedure with number `v`, or `None` (the RPC layer answers PROC_UNAVAIL).
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

    /// The RPC procedure number.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The spec's name (`"MOUNTPROC3_MNT"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Null => "MOUNTPROC3_NULL",
            Self::Mnt => "MOUNTPROC3_MNT",
            Self::Dump => "MOUNTPROC3_DUMP",
            Self::Umnt => "MOUNTPROC3_UMNT",
            Self::Umntall => "MOUNTPROC3_UMNTALL",
            Self::Export => "MOUNTPROC3_EXPORT",
        }
    }
}

open_set! {
    /// RFC 1813 §5.1.5 `mountstat3`: the status of MNT. A newtype so values outside the spec
    /// survive a round trip; the Rust names drop the `MNT3ERR_` prefix, as
    /// [`crate::nfs3::NfsStat3`] does.
    #[doc(alias = "mountstat3")]
    MountStat3, "mountstat3" {
        /// No error.
        OK = 0, "MNT3_OK";
        /// Not owner.
        PERM = 1, "MNT3ERR_PERM";
        /// No such file or directory (no such export).
        NOENT = 2, "MNT3ERR_NOENT";
        /// I/O error.
        IO = 5, "MNT3ERR_IO";
        /// Permission denied: the client may not mount this export.
        ACCES = 13, "MNT3ERR_ACCES";
        /// Not a directory.
        NOTDIR = 20, "MNT3ERR_NOTDIR";
        /// Invalid argument.
        INVAL = 22, "MNT3ERR_INVAL";
        /// Filename too long.
        NAMETOOLONG = 63, "MNT3ERR_NAMETOOLONG";
        /// Operation not supported.
        NOTSUPP = 10004, "MNT3ERR_NOTSUPP";
        /// A failure on the server.
        SERVERFAULT = 10006, "MNT3ERR_SERVERFAULT";
    }
}

impl MountStat3 {
    /// Whether this is [`MountStat3::OK`].
    pub const fn is_ok(self) -> bool {
        self.0 == Self::OK.0
    }
}

/// RFC 1813 §5.1 `dirpath` (`string<MNTPATHLEN>`): the argument of MNT and UMNT, at most
/// [`limits::MNT_PATH_LEN`] (1024) bytes, borrowed from the call. Not necessarily UTF-8.
#[doc(alias = "dirpath")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirPath<'a>(pub &'a [u8]);

impl<'a> Decode<'a> for DirPath<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.string(limits::MNT_PATH_LEN, "dirpath").map(Self)
    }
}

impl Encode for DirPath<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.0.len() <= limits::MNT_PATH_LEN);
        w.string(self.0);
    }
}

/// RFC 1813 §5.2.1 `mountres3_ok`: the root handle of the export and the auth flavors the
/// client may use with it, most preferred first.
#[doc(alias = "mountres3_ok")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRes3Ok {
    /// `fhandle3`: the export's root file handle; at most [`limits::FHSIZE3`] (64) bytes.
    pub fhandle: Vec<u8>,
    /// Accepted flavors (RFC 1813 `int auth_flavors<>`); decoding caps the list at
    /// [`limits::LIST_ENTRIES_MAX`].
    pub auth_flavors: Vec<AuthFlavor>,
}

impl Decode<'_> for MountRes3Ok {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let fhandle = r.opaque(limits::FHSIZE3, "fhandle3")?.to_vec();
        let n = r.array_len(limits::LIST_ENTRIES_MAX, 4, "auth_flavors")?;
        let mut auth_flavors = Vec::with_capacity(n);
        for _ in 0..n {
            auth_flavors.push(AuthFlavor::decode(r)?);
        }
        Ok(Self {
            fhandle,
            auth_flavors,
        })
    }
}

impl Encode for MountRes3Ok {
    fn encode(&self, w: &mut Writer) {
        encode_mnt_ok(w, &self.fhandle, &self.auth_flavors);
    }
}

/// RFC 1813 §5.2.1 `mountres3`: the result of MNT.
#[doc(alias = "mountres3")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountRes3 {
    /// MNT3_OK with the handle and flavors.
    Ok(MountRes3Ok),
    /// A failure status; never [`MountStat3::OK`].
    Fail(MountStat3),
}

impl MountRes3 {
    /// The status this result encodes with.
    pub const fn status(&self) -> MountStat3 {
        match self {
            Self::Ok(_) => MountStat3::OK,
            Self::Fail(s) => *s,
        }
    }
}

impl From<Result<MntOk, MountStat3>> for MountRes3 {
    fn from(res: Result<MntOk, MountStat3>) -> Self {
        match res {
            Ok((fhandle, auth_flavors)) => Self::Ok(MountRes3Ok {
                fhandle,
                auth_flavors,
            }),
            Err(stat) => Self::Fail(stat),
        }
    }
}

impl Decode<'_> for MountRes3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let stat = MountStat3::decode(r)?;
        if stat.is_ok() {
            MountRes3Ok::decode(r).map(Self::Ok)
        } else {
            Ok(Self::Fail(stat))
        }
    }
}

impl Encode for MountRes3 {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Ok(ok) => ok.encode(w),
            Self::Fail(stat) => encode_mnt_fail(w, *stat),
        }
    }
}

/// RFC 1813 §5.2.2 `mountbody`: one entry of the DUMP list.
#[doc(alias = "mountbody")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountBody {
    /// `ml_hostname` (`name`, at most [`limits::MNT_NAME_LEN`] bytes): the client.
    pub hostname: Vec<u8>,
    /// `ml_directory` (`dirpath`, at most [`limits::MNT_PATH_LEN`] bytes): what it mounted.
    pub directory: Vec<u8>,
}

/// RFC 1813 §5.2.5 `exportnode`: one entry of the EXPORT list.
#[doc(alias = "exportnode", alias = "groupnode")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportNode {
    /// `ex_dir` (`dirpath`): the exported path.
    pub dir: Vec<u8>,
    /// `ex_groups`: the `groupnode` list of client names or networks allowed to mount it
    /// (each a `name`); empty means everyone.
    pub groups: Vec<Vec<u8>>,
}

/// The arguments of one MOUNT call, by procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// `MOUNTPROC3_NULL(void)`.
    Null,
    /// `MOUNTPROC3_MNT(dirpath)`.
    Mnt(DirPath<'a>),
    /// `MOUNTPROC3_DUMP(void)`.
    Dump,
    /// `MOUNTPROC3_UMNT(dirpath)`.
    Umnt(DirPath<'a>),
    /// `MOUNTPROC3_UMNTALL(void)`.
    Umntall,
    /// `MOUNTPROC3_EXPORT(void)`.
    Export,
}

impl Call<'_> {
    /// The procedure these arguments belong to.
    pub const fn proc_(&self) -> MountProc {
        match self {
            Self::Null => MountProc::Null,
            Self::Mnt(_) => MountProc::Mnt,
            Self::Dump => MountProc::Dump,
            Self::Umnt(_) => MountProc::Umnt,
            Self::Umntall => MountProc::Umntall,
            Self::Export => MountProc::Export,
        }
    }
}

impl Encode for Call<'_> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Null | Self::Dump | Self::Umntall | Self::Export => {}
            Self::Mnt(p) | Self::Umnt(p) => p.encode(w),
        }
    }
}

/// Decodes the arguments of procedure `proc_`; they must be consumed exactly (so the void
/// procedures take no bytes). An unknown procedure is an [`DecodeError::InvalidValue`] (the
/// RPC layer answers PROC_UNAVAIL before calling this; check with [`MountProc::from_u32`]).
pub fn decode_call(proc_: u32, args: &[u8]) -> Result<Call<'_>, DecodeError> {
    let Some(p) = MountProc::from_u32(proc_) else {
        return Err(DecodeError::InvalidValue {
            field: "MOUNT procedure",
            value: u64::from(proc_),
        });
    };
    let mut r = Reader::new(args);
    let call = match p {
        MountProc::Null => Call::Null,
        MountProc::Mnt => Call::Mnt(DirPath::decode(&mut r)?),
        MountProc::Dump => Call::Dump,
        MountProc::Umnt => Call::Umnt(DirPath::decode(&mut r)?),
        MountProc::Umntall => Call::Umntall,
        MountProc::Export => Call::Export,
    };
    r.finish("MOUNT call arguments")?;
    Ok(call)
}

/// The results of one MOUNT call, by procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `MOUNTPROC3_NULL`: no results.
    Null,
    /// `MOUNTPROC3_MNT`: `mountres3`.
    Mnt(MountRes3),
    /// `MOUNTPROC3_DUMP`: the `mountlist`.
    Dump(Vec<MountBody>),
    /// `MOUNTPROC3_UMNT`: no results.
    Umnt,
    /// `MOUNTPROC3_UMNTALL`: no results.
    Umntall,
    /// `MOUNTPROC3_EXPORT`: the `exports` list.
    Export(Vec<ExportNode>),
}

impl Reply {
    /// The procedure these results belong to.
    pub const fn proc_(&self) -> MountProc {
        match self {
            Self::Null => MountProc::Null,
            Self::Mnt(_) => MountProc::Mnt,
            Self::Dump(_) => MountProc::Dump,
            Self::Umnt => MountProc::Umnt,
            Self::Umntall => MountProc::Umntall,
            Self::Export(_) => MountProc::Export,
        }
    }
}

impl Encode for Reply {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Null | Self::Umnt | Self::Umntall => {}
            Self::Mnt(res) => res.encode(w),
            Self::Dump(list) => encode_mount_list(
                w,
                list.iter()
                    .map(|m| (m.hostname.as_slice(), m.directory.as_slice())),
            ),
            Self::Export(list) => encode_exports(
                w,
                list.iter()
                    .map(|e| (e.dir.as_slice(), e.groups.iter().map(Vec::as_slice))),
            ),
        }
    }
}

/// Decodes the results of procedure `proc_`; they must be consumed exactly.
pub fn decode_reply(proc_: MountProc, body: &[u8]) -> Result<Reply, DecodeError> {
    let mut r = Reader::new(body);
    let reply = match proc_ {
        MountProc::Null => Reply::Null,
        MountProc::Mnt => Reply::Mnt(MountRes3::decode(&mut r)?),
        MountProc::Dump => Reply::Dump(read_mount_list(&mut r)?),
        MountProc::Umnt => Reply::Umnt,
        MountProc::Umntall => Reply::Umntall,
        MountProc::Export => Reply::Export(read_exports(&mut r)?),
    };
    r.finish("MOUNT reply body")?;
    Ok(reply)
}

/// A successful MNT as the server builds it: the root handle and the accepted flavors.
pub type MntOk = (Vec<u8>, Vec<AuthFlavor>);

/// Decodes MNT/UMNT arguments: a `dirpath` (at most MNTPATHLEN bytes), nothing after it.
pub fn decode_dirpath(args: &[u8]) -> Result<&[u8], DecodeError> {
    crate::wire::decode_exact::<DirPath<'_>>(args, "dirpath").map(|p| p.0)
}

/// Encodes MNT/UMNT arguments.
pub fn encode_dirpath(w: &mut Writer, path: &[u8]) {
    DirPath(path).encode(w);
}

/// Encodes a MNT result (RFC 1813 §5.2.1 `mountres3`) without building a [`MountRes3`].
pub fn encode_mnt_res(w: &mut Writer, res: &Result<MntOk, MountStat3>) {
    match res {
        Ok((fh, flavors)) => encode_mnt_ok(w, fh, flavors),
        Err(stat) => encode_mnt_fail(w, *stat),
    }
}

fn encode_mnt_ok(w: &mut Writer, fhandle: &[u8], flavors: &[AuthFlavor]) {
    debug_assert!(fhandle.len() <= limits::FHSIZE3, "fhandle3 over 64 bytes");
    MountStat3::OK.encode(w);
    w.opaque(fhandle);
    w.u32(u32::try_from(flavors.len()).expect("a handful of auth flavors"));
    for f in flavors {
        f.encode(w);
    }
}

fn encode_mnt_fail(w: &mut Writer, stat: MountStat3) {
    // A failure carrying MNT3_OK is a server bug; sent as is, the client would read a handle
    // that is not there. Debug builds stop here; release builds report a server fault.
    debug_assert!(!stat.is_ok(), "MountRes3::Fail with MNT3_OK");
    let stat = if stat.is_ok() {
        MountStat3::SERVERFAULT
    } else {
        stat
    };
    stat.encode(w);
}

/// Decodes a MNT result; nothing may follow it.
pub fn decode_mnt_res(body: &[u8]) -> Result<MountRes3, DecodeError> {
    crate::wire::decode_exact(body, "mountres3")
}

/// Encodes a DUMP result: the `mountlist` of (hostname, directory), each entry preceded by
/// TRUE and the list ended by FALSE.
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

/// Decodes a DUMP result: at most [`limits::LIST_ENTRIES_MAX`] entries, nothing after it.
pub fn decode_mount_list(body: &[u8]) -> Result<Vec<MountBody>, DecodeError> {
    let mut r = Reader::new(body);
    let list = read_mount_list(&mut r)?;
    r.finish("mountlist")?;
    Ok(list)
}

fn read_mount_list(r: &mut Reader<'_>) -> Result<Vec<MountBody>, DecodeError> {
    let mut out = Vec::new();
    while r.bool("mountlist")? {
        check_entries("mountlist", out.len() + 1)?;
        let hostname = r.string(limits::MNT_NAME_LEN, "ml_hostname")?.to_vec();
        let directory = r.string(limits::MNT_PATH_LEN, "ml_directory")?.to_vec();
        out.push(MountBody {
            hostname,
            directory,
        });
    }
    Ok(out)
}

/// Encodes an EXPORT result: the `exports` list of `exportnode`s, each with its `groups`
/// list of `groupnode`s.
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

/// Decodes an EXPORT result: at most [`limits::LIST_ENTRIES_MAX`] exports and groups in all,
/// nothing after it.
pub fn decode_exports(body: &[u8]) -> Result<Vec<ExportNode>, DecodeError> {
    let mut r = Reader::new(body);
    let list = read_exports(&mut r)?;
    r.finish("exports")?;
    Ok(list)
}

fn read_exports(r: &mut Reader<'_>) -> Result<Vec<ExportNode>, DecodeError> {
    let mut out = Vec::new();
    // Exports and groups share one budget, so a list of many exports with many groups each
    // cannot multiply past it.
    let mut entries = 0usize;
    while r.bool("exports")? {
        entries += 1;
        check_entries("exports", entries)?;
        let dir = r.string(limits::MNT_PATH_LEN, "ex_dir")?.to_vec();
        let mut groups = Vec::new();
        while r.bool("groups")? {
            entries += 1;
            check_entries("exports", entries)?;
            groups.push(r.string(limits::MNT_NAME_LEN, "gr_name")?.to_vec());
        }
        out.push(ExportNode { dir, groups });
    }
    Ok(out)
}

fn check_entries(field: &'static str, n: usize) -> Result<(), DecodeError> {
    if n > limits::LIST_ENTRIES_MAX {
        return Err(DecodeError::TooLong {
            field,
            len: n as u64,
            max: limits::LIST_ENTRIES_MAX as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::wire::encode_to_vec;

    /// Goal: a MNT call for "/export" and its success reply, as Linux mount.nfs exchanges them,
    /// have the bytes RFC 1813 §5.2.1 gives them. Method: hex fixtures.
    #[test]
    fn mnt_fixture() {
        let args = hex::decode("000000072f6578706f727400").unwrap();
        assert_eq!(decode_call(1, &args), Ok(Call::Mnt(DirPath(b"/export"))));
        assert_eq!(decode_dirpath(&args), Ok(&b"/export"[..]));
        assert_eq!(encode_to_vec(&Call::Mnt(DirPath(b"/export"))), args);

        let body = concat!(
            "00000000", // MNT3_OK
            "00000008",
            "0102030405060708", // an 8-byte handle
            "00000002",
            "00000001",
            "00000000", // flavors: AUTH_SYS, AUTH_NONE
        );
        let reply = Reply::Mnt(MountRes3::Ok(MountRes3Ok {
            fhandle: (1..=8).collect(),
            auth_flavors: vec![AuthFlavor::AUTH_SYS, AuthFlavor::AUTH_NONE],
        }));
        assert_eq!(hex::encode(encode_to_vec(&reply)), body);
        assert_eq!(
            decode_reply(MountProc::Mnt, &hex::decode(body).unwrap()),
            Ok(reply)
        );

        let fail = Reply::Mnt(MountRes3::Fail(MountStat3::ACCES));
        assert_eq!(hex::encode(encode_to_vec(&fail)), "0000000d");
        assert_eq!(format!("{:?}", MountStat3::ACCES), "MNT3ERR_ACCES");
    }

    /// Goal: DUMP and EXPORT lists have the linked-list layout of RFC 1813 §5.2.2 and §5.2.5.
    #[test]
    fn list_fixtures() {
        let dump = Reply::Dump(vec![MountBody {
            hostname: b"c1".to_vec(),
            directory: b"/e".to_vec(),
        }]);
        let want = concat!(
            "00000001", // an entry follows
            "00000002", "63310000", // "c1"
            "00000002", "2f650000", // "/e"
            "00000000", // end of list
        );
        assert_eq!(hex::encode(encode_to_vec(&dump)), want);
        assert_eq!(
            decode_reply(MountProc::Dump, &hex::decode(want).unwrap()),
            Ok(dump)
        );

        let exports = Reply::Export(vec![
            ExportNode {
                dir: b"/a".to_vec(),
                groups: vec![b"*".to_vec()],
            },
            ExportNode {
                dir: b"/b".to_vec(),
                groups: vec![],
            },
        ]);
        let want = concat!(
            "00000001", "00000002", "2f610000", // export "/a"
            "00000001", "00000001", "2a000000", // group "*"
            "00000000", // end of groups
            "00000001", "00000002", "2f620000", "00000000", // export "/b", no groups
            "00000000", // end of exports
        );
        assert_eq!(hex::encode(encode_to_vec(&exports)), want);
        assert_eq!(
            decode_reply(MountProc::Export, &hex::decode(want).unwrap()),
            Ok(exports)
        );
    }

    /// Goal: over-long strings and handles are refused on their length words, and void
    /// procedures refuse argument bytes.
    #[test]
    fn limits_enforced() {
        let mut w = Writer::new();
        w.u32(1025);
        assert!(matches!(
            decode_call(1, w.as_slice()),
            Err(DecodeError::TooLong {
                field: "dirpath",
                len: 1025,
                ..
            })
        ));
        let mut w = Writer::new();
        w.u32(0);
        w.u32(65);
        assert!(matches!(
            decode_mnt_res(w.as_slice()),
            Err(DecodeError::TooLong {
                field: "fhandle3",
                len: 65,
                ..
            })
        ));
        for p in [0, 2, 4, 5] {
            assert!(decode_call(p, &[0; 4]).is_err(), "procedure {p}");
            assert!(decode_call(p, &[]).is_ok(), "procedure {p}");
        }
        assert!(decode_call(6, &[]).is_err());
        let mut w = Writer::new();
        w.bool(true);
        w.u32(256);
        assert!(matches!(
            decode_mount_list(w.as_slice()),
            Err(DecodeError::TooLong {
                field: "ml_hostname",
                ..
            })
        ));
    }

    /// Goal: an EXPORT list whose exports and groups together exceed LIST_ENTRIES_MAX is
    /// refused, while one just at the limit decodes.
    #[test]
    fn export_list_bounded() {
        let groups = vec![b"g".to_vec(); limits::LIST_ENTRIES_MAX - 1];
        let one = |groups: Vec<Vec<u8>>| {
            encode_to_vec(&Reply::Export(vec![ExportNode {
                dir: b"/".to_vec(),
                groups,
            }]))
        };
        assert!(decode_exports(&one(groups.clone())).is_ok());
        let mut more = groups;
        more.push(b"h".to_vec());
        assert!(matches!(
            decode_exports(&one(more)),
            Err(DecodeError::TooLong {
                field: "exports",
                ..
            })
        ));
    }

    /// Goal: procedure numbers map in spec order.
    #[test]
    fn procedures() {
        for (i, p) in MountProc::ALL.iter().enumerate() {
            assert_eq!(MountProc::from_u32(i as u32), Some(*p));
            assert_eq!(p.as_u32(), i as u32);
        }
        assert_eq!(MountProc::Umntall.name(), "MOUNTPROC3_UMNTALL");
        assert_eq!(MountProc::from_u32(6), None);
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        vec(any::<u8>(), 0..=max)
    }

    fn mount_res() -> impl Strategy<Value = MountRes3> {
        prop_oneof![
            (bytes(limits::FHSIZE3), vec(any::<u32>(), 0..4)).prop_map(|(fhandle, f)| {
                MountRes3::Ok(MountRes3Ok {
                    fhandle,
                    auth_flavors: f.into_iter().map(AuthFlavor).collect(),
                })
            }),
            (1u32..).prop_map(|s| MountRes3::Fail(MountStat3(s))),
        ]
    }

    fn reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            Just(Reply::Null),
            mount_res().prop_map(Reply::Mnt),
            vec((bytes(40), bytes(80)), 0..5).prop_map(|l| Reply::Dump(
                l.into_iter()
                    .map(|(hostname, directory)| MountBody {
                        hostname,
                        directory
                    })
                    .collect()
            )),
            Just(Reply::Umnt),
            Just(Reply::Umntall),
            vec((bytes(80), vec(bytes(20), 0..4)), 0..4).prop_map(|l| Reply::Export(
                l.into_iter()
                    .map(|(dir, groups)| ExportNode { dir, groups })
                    .collect()
            )),
        ]
    }

    proptest! {
        /// Goal: every procedure's arguments round-trip through Encode and decode_call.
        #[test]
        fn call_round_trip(p in 0u32..6, path in bytes(limits::MNT_PATH_LEN)) {
            let call = match MountProc::from_u32(p).unwrap() {
                MountProc::Null => Call::Null,
                MountProc::Mnt => Call::Mnt(DirPath(&path)),
                MountProc::Dump => Call::Dump,
                MountProc::Umnt => Call::Umnt(DirPath(&path)),
                MountProc::Umntall => Call::Umntall,
                MountProc::Export => Call::Export,
            };
            prop_assert_eq!(call.proc_().as_u32(), p);
            let enc = encode_to_vec(&call);
            prop_assert_eq!(decode_call(p, &enc), Ok(call));
        }

        /// Goal: every procedure's results round-trip through Encode and decode_reply.
        #[test]
        fn reply_round_trip(reply in reply()) {
            let enc = encode_to_vec(&reply);
            prop_assert_eq!(decode_reply(reply.proc_(), &enc), Ok(reply));
        }

        /// Goal: the iterator-based encoders the server uses agree with the owned types.
        #[test]
        fn helpers_agree(res in mount_res()) {
            let old: Result<MntOk, MountStat3> = match &res {
                MountRes3::Ok(ok) => Ok((ok.fhandle.clone(), ok.auth_flavors.clone())),
                MountRes3::Fail(s) => Err(*s),
            };
            let mut w = Writer::new();
            encode_mnt_res(&mut w, &old);
            prop_assert_eq!(w.as_slice(), &encode_to_vec(&res)[..]);
            prop_assert_eq!(MountRes3::from(old), res.clone());
            prop_assert_eq!(decode_mnt_res(w.as_slice()), Ok(res));
        }

        /// Goal: random bytes never panic any decoder.
        #[test]
        fn garbage_never_panics(p in 0u32..8, junk in vec(any::<u8>(), 0..256)) {
            let _ = decode_call(p, &junk);
            if let Some(proc_) = MountProc::from_u32(p) {
                let _ = decode_reply(proc_, &junk);
            }
            let _ = decode_dirpath(&junk);
            let _ = decode_mnt_res(&junk);
            let _ = decode_mount_list(&junk);
            let _ = decode_exports(&junk);
        }
    }
}
