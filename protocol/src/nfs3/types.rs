//! NFSv3 data types shared by the procedures: status codes, handles, attributes, `sattr3`, the
//! verifiers and the status-keyed result union (RFC 1813 §2.5 and §2.6).
//!
//! Types that come from a call borrow from the input (`NfsFh3<'a>`, names as `&'a [u8]`); types
//! that only appear in results own their bytes, so a server can build them without a buffer to
//! borrow from and a client can keep them after the reply buffer is gone.

use std::fmt;

use crate::wire::{Decode, DecodeError, Encode, limits};
use crate::xdr::{Reader, Writer, pad_len};

/// RFC 1813 §3.3.4 ACCESS3_READ: read data from a file or read a directory.
pub const ACCESS3_READ: u32 = 0x0001;
/// RFC 1813 §3.3.4 ACCESS3_LOOKUP: look up a name in a directory.
pub const ACCESS3_LOOKUP: u32 = 0x0002;
/// RFC 1813 §3.3.4 ACCESS3_MODIFY: rewrite existing file data or modify directory entries.
pub const ACCESS3_MODIFY: u32 = 0x0004;
/// RFC 1813 §3.3.4 ACCESS3_EXTEND: write new data or add directory entries.
pub const ACCESS3_EXTEND: u32 = 0x0008;
/// RFC 1813 §3.3.4 ACCESS3_DELETE: delete an existing directory entry.
pub const ACCESS3_DELETE: u32 = 0x0010;
/// RFC 1813 §3.3.4 ACCESS3_EXECUTE: execute a file (no meaning for directories).
pub const ACCESS3_EXECUTE: u32 = 0x0020;

/// RFC 1813 §3.3.19 FSF3_LINK: the file system supports hard links.
pub const FSF3_LINK: u32 = 0x0001;
/// RFC 1813 §3.3.19 FSF3_SYMLINK: the file system supports symbolic links.
pub const FSF3_SYMLINK: u32 = 0x0002;
/// RFC 1813 §3.3.19 FSF3_HOMOGENEOUS: PATHCONF answers are the same for every file.
pub const FSF3_HOMOGENEOUS: u32 = 0x0008;
/// RFC 1813 §3.3.19 FSF3_CANSETTIME: the server can set a file's times through SETATTR.
pub const FSF3_CANSETTIME: u32 = 0x0010;

/// Encoded size of a [`Fattr3`]: 13 fields, 84 bytes (RFC 1813 §2.5 `fattr3`).
pub const FATTR3_ENCODED_LEN: usize = 84;

macro_rules! nfsstat3_consts {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal, $spec:literal;)*) => {
        impl NfsStat3 {
            $(
                $(#[doc = $doc])*
                #[doc(alias = $spec)]
                pub const $name: Self = Self($value);
            )*

            /// The spec's name for this status (`"NFS3ERR_NOENT"`), or `None` for a value RFC 1813
            /// does not define.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($spec),)*
                    _ => None,
                }
            }
        }
    };
}

/// RFC 1813 §2.6: the status every NFSv3 result starts with. A newtype rather than an enum
/// because a peer may send values the RFC does not list (later revisions and vendors did add
/// some), and those must survive a decode/encode round trip.
#[doc(alias = "nfsstat3")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NfsStat3(pub u32);

nfsstat3_consts! {
    /// The call completed successfully.
    OK = 0, "NFS3_OK";
    /// Not owner: the caller is not privileged or not the owner of the target.
    PERM = 1, "NFS3ERR_PERM";
    /// No such file or directory.
    NOENT = 2, "NFS3ERR_NOENT";
    /// A hard error (for example a disk error) occurred while processing the call.
    IO = 5, "NFS3ERR_IO";
    /// No such device or address.
    NXIO = 6, "NFS3ERR_NXIO";
    /// Permission denied (not an ownership problem, unlike `PERM`).
    ACCES = 13, "NFS3ERR_ACCES";
    /// The file already exists.
    EXIST = 17, "NFS3ERR_EXIST";
    /// A hard link across file systems was attempted.
    XDEV = 18, "NFS3ERR_XDEV";
    /// No such device.
    NODEV = 19, "NFS3ERR_NODEV";
    /// A non-directory was given to a directory operation.
    NOTDIR = 20, "NFS3ERR_NOTDIR";
    /// A directory was given to a non-directory operation.
    ISDIR = 21, "NFS3ERR_ISDIR";
    /// An invalid or unsupported argument.
    INVAL = 22, "NFS3ERR_INVAL";
    /// The file would grow beyond the server's limit.
    FBIG = 27, "NFS3ERR_FBIG";
    /// No space left on the device.
    NOSPC = 28, "NFS3ERR_NOSPC";
    /// A modifying operation on a read-only file system.
    ROFS = 30, "NFS3ERR_ROFS";
    /// Too many hard links.
    MLINK = 31, "NFS3ERR_MLINK";
    /// A name was too long.
    NAMETOOLONG = 63, "NFS3ERR_NAMETOOLONG";
    /// A directory to be removed was not empty.
    NOTEMPTY = 66, "NFS3ERR_NOTEMPTY";
    /// The user's quota was exceeded.
    DQUOT = 69, "NFS3ERR_DQUOT";
    /// The handle names an object that no longer exists or is no longer exported.
    STALE = 70, "NFS3ERR_STALE";
    /// Too many levels of remote in path.
    REMOTE = 71, "NFS3ERR_REMOTE";
    /// The handle failed the server's internal consistency checks.
    BADHANDLE = 10001, "NFS3ERR_BADHANDLE";
    /// SETATTR's guard ctime did not match.
    NOT_SYNC = 10002, "NFS3ERR_NOT_SYNC";
    /// A READDIR or READDIRPLUS cookie is stale.
    BAD_COOKIE = 10003, "NFS3ERR_BAD_COOKIE";
    /// The operation is not supported.
    NOTSUPP = 10004, "NFS3ERR_NOTSUPP";
    /// The reply buffer the client allowed is too small.
    TOOSMALL = 10005, "NFS3ERR_TOOSMALL";
    /// A server error that maps to no other status.
    SERVERFAULT = 10006, "NFS3ERR_SERVERFAULT";
    /// An object type the server does not support was asked for.
    BADTYPE = 10007, "NFS3ERR_BADTYPE";
    /// The request is valid but cannot complete in time; the client retries later.
    JUKEBOX = 10008, "NFS3ERR_JUKEBOX";
}

impl NfsStat3 {
    /// Whether this is [`NfsStat3::OK`].
    pub const fn is_ok(self) -> bool {
        self.0 == Self::OK.0
    }
}

impl fmt::Debug for NfsStat3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "NfsStat3({})", self.0),
        }
    }
}

impl fmt::Display for NfsStat3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Decode<'_> for NfsStat3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u32("nfsstat3").map(Self)
    }
}

impl Encode for NfsStat3 {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.0);
    }
}

/// RFC 1813 §2.5: the type of a file system object. Closed: a value outside 1..=7 is a decode
/// error.
#[doc(alias = "ftype3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Ftype3 {
    /// A regular file.
    #[doc(alias = "NF3REG")]
    Reg = 1,
    /// A directory.
    #[doc(alias = "NF3DIR")]
    Dir = 2,
    /// A block special device.
    #[doc(alias = "NF3BLK")]
    Blk = 3,
    /// A character special device.
    #[doc(alias = "NF3CHR")]
    Chr = 4,
    /// A symbolic link.
    #[doc(alias = "NF3LNK")]
    Lnk = 5,
    /// A socket.
    #[doc(alias = "NF3SOCK")]
    Sock = 6,
    /// A named pipe.
    #[doc(alias = "NF3FIFO")]
    Fifo = 7,
}

impl Ftype3 {
    /// The type with wire value `v`, if RFC 1813 defines one.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Reg,
            2 => Self::Dir,
            3 => Self::Blk,
            4 => Self::Chr,
            5 => Self::Lnk,
            6 => Self::Sock,
            7 => Self::Fifo,
            _ => return None,
        })
    }

    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// Reads an `ftype3`, naming `field` in the error.
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let v = r.u32(field)?;
        Self::from_u32(v).ok_or(DecodeError::InvalidValue {
            field,
            value: u64::from(v),
        })
    }
}

impl Decode<'_> for Ftype3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r, "ftype3")
    }
}

impl Encode for Ftype3 {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.as_u32());
    }
}

/// RFC 1813 §2.5: device numbers of a block or character special file (major, minor); zero
/// for other types.
#[doc(alias = "specdata3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpecData3 {
    /// Major device number.
    pub specdata1: u32,
    /// Minor device number.
    pub specdata2: u32,
}

impl Decode<'_> for SpecData3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            specdata1: r.u32("specdata3.specdata1")?,
            specdata2: r.u32("specdata3.specdata2")?,
        })
    }
}

impl Encode for SpecData3 {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.specdata1);
        w.u32(self.specdata2);
    }
}

/// RFC 1813 §2.5: a file handle as sent by a client, borrowed from the call. At most
/// [`limits::FHSIZE3`] bytes, opaque to the client; the server alone gives the bytes meaning.
#[doc(alias = "nfs_fh3")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NfsFh3<'a>(&'a [u8]);

impl<'a> NfsFh3<'a> {
    /// Wraps handle bytes; `None` if longer than [`limits::FHSIZE3`].
    pub const fn new(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() <= limits::FHSIZE3 {
            Some(Self(bytes))
        } else {
            None
        }
    }

    /// The handle bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// An owned copy, for results and for keeping after the call buffer is gone.
    pub fn to_buf(&self) -> NfsFh3Buf {
        NfsFh3Buf::from_fh(*self)
    }
}

impl fmt::Debug for NfsFh3<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, "NfsFh3", self.0)
    }
}

impl<'a> Decode<'a> for NfsFh3<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.opaque(limits::FHSIZE3, "nfs_fh3").map(Self)
    }
}

impl Encode for NfsFh3<'_> {
    fn encode(&self, w: &mut Writer) {
        w.opaque(self.0);
    }
}

/// RFC 1813 §2.5: an owned file handle, as results carry it. Stored inline (no allocation) in
/// [`limits::FHSIZE3`] bytes; bytes past `len` are always zero.
#[doc(alias = "nfs_fh3")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NfsFh3Buf {
    /// Bytes in use; <= `FHSIZE3`.
    len: u8,
    /// The handle, zero-filled after `len`.
    data: [u8; limits::FHSIZE3],
}

impl NfsFh3Buf {
    /// Copies handle bytes; `None` if longer than [`limits::FHSIZE3`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        NfsFh3::new(bytes).map(Self::from_fh)
    }

    /// Copies a borrowed handle (already known to fit).
    pub fn from_fh(fh: NfsFh3<'_>) -> Self {
        let bytes = fh.as_bytes();
        let mut data = [0u8; limits::FHSIZE3];
        data[..bytes.len()].copy_from_slice(bytes);
        Self {
            len: u8::try_from(bytes.len()).expect("NfsFh3 holds at most FHSIZE3 (64) bytes"),
            data,
        }
    }

    /// The handle bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }

    /// The handle borrowed as an argument type, e.g. to build a call from a looked-up handle.
    pub fn as_fh(&self) -> NfsFh3<'_> {
        NfsFh3(self.as_bytes())
    }

    /// Encoded size: length word plus padded bytes.
    pub fn encoded_len(&self) -> usize {
        let n = usize::from(self.len);
        4 + n + pad_len(n)
    }
}

impl fmt::Debug for NfsFh3Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, "NfsFh3Buf", self.as_bytes())
    }
}

impl Decode<'_> for NfsFh3Buf {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        NfsFh3::decode(r).map(Self::from_fh)
    }
}

impl Encode for NfsFh3Buf {
    fn encode(&self, w: &mut Writer) {
        w.opaque(self.as_bytes());
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, what: &str, bytes: &[u8]) -> fmt::Result {
    write!(f, "{what}(")?;
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    f.write_str(")")
}

/// RFC 1813 §2.5: a time, in seconds and nanoseconds since 1970-01-01 00:00 UTC.
#[doc(alias = "nfstime3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Nfstime3 {
    /// Whole seconds since the epoch.
    pub seconds: u32,
    /// Nanoseconds within the second; < 1_000_000_000 when sent by a well-behaved peer (not
    /// checked on decode, so whatever a peer sends round-trips).
    pub nseconds: u32,
}

impl Decode<'_> for Nfstime3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            seconds: r.u32("nfstime3.seconds")?,
            nseconds: r.u32("nfstime3.nseconds")?,
        })
    }
}

impl Encode for Nfstime3 {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.seconds);
        w.u32(self.nseconds);
    }
}

/// RFC 1813 §2.5: the attributes of a file system object.
#[doc(alias = "fattr3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fattr3 {
    /// The object's type (`type` in the RFC, a Rust keyword).
    pub ftype: Ftype3,
    /// Protection mode bits (the low 12 bits of a POSIX mode: permissions, setuid, setgid,
    /// sticky); the file type is in `ftype`, not here.
    pub mode: u32,
    /// Number of hard links.
    pub nlink: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Bytes of disk space actually used (may be less than `size` for sparse files).
    pub used: u64,
    /// Device numbers for `Blk`/`Chr`.
    pub rdev: SpecData3,
    /// File system identifier.
    pub fsid: u64,
    /// File identifier, unique within `fsid`.
    pub fileid: u64,
    /// Last data access.
    pub atime: Nfstime3,
    /// Last data modification.
    pub mtime: Nfstime3,
    /// Last attribute change.
    pub ctime: Nfstime3,
}

impl Decode<'_> for Fattr3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            ftype: Ftype3::read(r, "fattr3.type")?,
            mode: r.u32("fattr3.mode")?,
            nlink: r.u32("fattr3.nlink")?,
            uid: r.u32("fattr3.uid")?,
            gid: r.u32("fattr3.gid")?,
            size: r.u64("fattr3.size")?,
            used: r.u64("fattr3.used")?,
            rdev: SpecData3::decode(r)?,
            fsid: r.u64("fattr3.fsid")?,
            fileid: r.u64("fattr3.fileid")?,
            atime: Nfstime3::decode(r)?,
            mtime: Nfstime3::decode(r)?,
            ctime: Nfstime3::decode(r)?,
        })
    }
}

impl Encode for Fattr3 {
    fn encode(&self, w: &mut Writer) {
        self.ftype.encode(w);
        w.u32(self.mode);
        w.u32(self.nlink);
        w.u32(self.uid);
        w.u32(self.gid);
        w.u64(self.size);
        w.u64(self.used);
        self.rdev.encode(w);
        w.u64(self.fsid);
        w.u64(self.fileid);
        self.atime.encode(w);
        self.mtime.encode(w);
        self.ctime.encode(w);
    }
}

/// RFC 1813 §2.5: attributes after an operation, if the server chose to send them.
#[doc(alias = "post_op_attr")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PostOpAttr(pub Option<Fattr3>);

impl PostOpAttr {
    /// No attributes follow.
    pub const NONE: Self = Self(None);

    /// Encoded size: the discriminant plus [`FATTR3_ENCODED_LEN`] when attributes follow.
    pub const fn encoded_len(&self) -> usize {
        match self.0 {
            Some(_) => 4 + FATTR3_ENCODED_LEN,
            None => 4,
        }
    }
}

impl From<Fattr3> for PostOpAttr {
    fn from(a: Fattr3) -> Self {
        Self(Some(a))
    }
}

impl Decode<'_> for PostOpAttr {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.option("post_op_attr.attributes_follow", Fattr3::decode)
            .map(Self)
    }
}

impl Encode for PostOpAttr {
    fn encode(&self, w: &mut Writer) {
        w.option(self.0.as_ref(), |w, a| a.encode(w));
    }
}

/// RFC 1813 §2.5: the subset of attributes used for weak cache consistency checks.
#[doc(alias = "wcc_attr")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WccAttr {
    /// Size in bytes.
    pub size: u64,
    /// Last data modification.
    pub mtime: Nfstime3,
    /// Last attribute change.
    pub ctime: Nfstime3,
}

impl From<&Fattr3> for WccAttr {
    fn from(a: &Fattr3) -> Self {
        Self {
            size: a.size,
            mtime: a.mtime,
            ctime: a.ctime,
        }
    }
}

impl Decode<'_> for WccAttr {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            size: r.u64("wcc_attr.size")?,
            mtime: Nfstime3::decode(r)?,
            ctime: Nfstime3::decode(r)?,
        })
    }
}

impl Encode for WccAttr {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.size);
        self.mtime.encode(w);
        self.ctime.encode(w);
    }
}

/// RFC 1813 §2.5: `wcc_attr` from before an operation, if the server chose to send them.
#[doc(alias = "pre_op_attr")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PreOpAttr(pub Option<WccAttr>);

impl PreOpAttr {
    /// No attributes follow.
    pub const NONE: Self = Self(None);
}

impl From<WccAttr> for PreOpAttr {
    fn from(a: WccAttr) -> Self {
        Self(Some(a))
    }
}

impl Decode<'_> for PreOpAttr {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.option("pre_op_attr.attributes_follow", WccAttr::decode)
            .map(Self)
    }
}

impl Encode for PreOpAttr {
    fn encode(&self, w: &mut Writer) {
        w.option(self.0.as_ref(), |w, a| a.encode(w));
    }
}

/// RFC 1813 §2.5: weak cache consistency data, attributes around a modifying operation so the
/// client can tell whether anyone else changed the object in between.
#[doc(alias = "wcc_data")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WccData {
    /// Attributes just before the operation.
    pub before: PreOpAttr,
    /// Attributes just after the operation.
    pub after: PostOpAttr,
}

impl WccData {
    /// Neither side known.
    pub const NONE: Self = Self {
        before: PreOpAttr::NONE,
        after: PostOpAttr::NONE,
    };
}

impl Decode<'_> for WccData {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            before: PreOpAttr::decode(r)?,
            after: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for WccData {
    fn encode(&self, w: &mut Writer) {
        self.before.encode(w);
        self.after.encode(w);
    }
}

/// RFC 1813 §2.5: the handle of a newly created or found object, if the server sends it.
#[doc(alias = "post_op_fh3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PostOpFh3(pub Option<NfsFh3Buf>);

impl PostOpFh3 {
    /// No handle follows.
    pub const NONE: Self = Self(None);

    /// Encoded size: the discriminant plus the handle when one follows.
    pub fn encoded_len(&self) -> usize {
        4 + self.0.as_ref().map_or(0, NfsFh3Buf::encoded_len)
    }
}

impl From<NfsFh3Buf> for PostOpFh3 {
    fn from(fh: NfsFh3Buf) -> Self {
        Self(Some(fh))
    }
}

impl Decode<'_> for PostOpFh3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.option("post_op_fh3.handle_follows", NfsFh3Buf::decode)
            .map(Self)
    }
}

impl Encode for PostOpFh3 {
    fn encode(&self, w: &mut Writer) {
        w.option(self.0.as_ref(), |w, fh| fh.encode(w));
    }
}

/// RFC 1813 §2.5 (`time_how` with `set_atime` / `set_mtime`): how SETATTR, CREATE, MKDIR,
/// SYMLINK and MKNOD set a time.
#[doc(alias = "time_how", alias = "set_atime", alias = "set_mtime")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SetTime {
    /// Leave the time alone.
    #[doc(alias = "DONT_CHANGE")]
    #[default]
    DontChange,
    /// Set it to the server's current time.
    #[doc(alias = "SET_TO_SERVER_TIME")]
    SetToServerTime,
    /// Set it to the time the client gives.
    #[doc(alias = "SET_TO_CLIENT_TIME")]
    SetToClientTime(Nfstime3),
}

impl SetTime {
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        match r.u32(field)? {
            0 => Ok(Self::DontChange),
            1 => Ok(Self::SetToServerTime),
            2 => Nfstime3::decode(r).map(Self::SetToClientTime),
            v => Err(DecodeError::InvalidValue {
                field,
                value: u64::from(v),
            }),
        }
    }
}

impl Encode for SetTime {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::DontChange => w.u32(0),
            Self::SetToServerTime => w.u32(1),
            Self::SetToClientTime(t) => {
                w.u32(2);
                t.encode(w);
            }
        }
    }
}

/// RFC 1813 §2.5: attributes to set; each is left unchanged when `None` / `DontChange`.
#[doc(alias = "sattr3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sattr3 {
    /// Protection mode bits (`set_mode3`).
    pub mode: Option<u32>,
    /// Owner user id (`set_uid3`).
    pub uid: Option<u32>,
    /// Owner group id (`set_gid3`).
    pub gid: Option<u32>,
    /// New size in bytes, truncating or extending (`set_size3`).
    pub size: Option<u64>,
    /// Access time.
    pub atime: SetTime,
    /// Modification time.
    pub mtime: SetTime,
}

impl Decode<'_> for Sattr3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            mode: r.option("sattr3.mode", |r| r.u32("sattr3.mode"))?,
            uid: r.option("sattr3.uid", |r| r.u32("sattr3.uid"))?,
            gid: r.option("sattr3.gid", |r| r.u32("sattr3.gid"))?,
            size: r.option("sattr3.size", |r| r.u64("sattr3.size"))?,
            atime: SetTime::read(r, "sattr3.atime")?,
            mtime: SetTime::read(r, "sattr3.mtime")?,
        })
    }
}

impl Encode for Sattr3 {
    fn encode(&self, w: &mut Writer) {
        w.option(self.mode.as_ref(), |w, v| w.u32(*v));
        w.option(self.uid.as_ref(), |w, v| w.u32(*v));
        w.option(self.gid.as_ref(), |w, v| w.u32(*v));
        w.option(self.size.as_ref(), |w, v| w.u64(*v));
        self.atime.encode(w);
        self.mtime.encode(w);
    }
}

/// Reads a `filename3` (RFC 1813 §2.5: `string filename3<>`), capped at
/// [`limits::NAME_WIRE_MAX`]; the stores refuse names over [`limits::NAME_MAX`] with
/// NFS3ERR_NAMETOOLONG. Names are bytes: NFSv3 does not require UTF-8.
pub(crate) fn read_name<'a>(
    r: &mut Reader<'a>,
    field: &'static str,
) -> Result<&'a [u8], DecodeError> {
    r.string(limits::NAME_WIRE_MAX, field)
}

/// Reads an `nfspath3` (RFC 1813 §2.5: `string nfspath3<>`), capped at
/// [`limits::SYMLINK_TARGET_MAX`].
pub(crate) fn read_path<'a>(
    r: &mut Reader<'a>,
    field: &'static str,
) -> Result<&'a [u8], DecodeError> {
    r.string(limits::SYMLINK_TARGET_MAX, field)
}

/// Reads an XDR linked list (`entry3 *nextentry`, RFC 4506 §4.19): a `true` discriminant
/// before each element and `false` after the last. Iterative, so a long chain cannot overflow
/// the stack, and capped at `max` elements.
pub(crate) fn read_list<'a, T>(
    r: &mut Reader<'a>,
    field: &'static str,
    max: usize,
    mut element: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut items = Vec::new();
    while r.bool(field)? {
        if items.len() == max {
            return Err(DecodeError::TooLong {
                field,
                len: max as u64 + 1,
                max: max as u64,
            });
        }
        items.push(element(r)?);
    }
    Ok(items)
}

/// Writes `items` as an XDR linked list (see [`read_list`]).
pub(crate) fn write_list<T>(w: &mut Writer, items: &[T], mut element: impl FnMut(&mut Writer, &T)) {
    for item in items {
        w.bool(true);
        element(w, item);
    }
    w.bool(false);
}

/// RFC 1813 §2.5: a directory and a name in it, the target of most namespace operations.
#[doc(alias = "diropargs3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirOpArgs3<'a> {
    /// The directory.
    pub dir: NfsFh3<'a>,
    /// The name within `dir`; at most [`limits::NAME_MAX`] bytes, not necessarily UTF-8.
    pub name: &'a [u8],
}

impl<'a> Decode<'a> for DirOpArgs3<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir: NfsFh3::decode(r)?,
            name: read_name(r, "diropargs3.name")?,
        })
    }
}

impl Encode for DirOpArgs3<'_> {
    fn encode(&self, w: &mut Writer) {
        self.dir.encode(w);
        w.string(self.name);
    }
}

/// RFC 1813 §3.3.7 (`stable_how`): how durable WRITE data must be before the reply, and how
/// durable the server made it.
#[doc(alias = "stable_how")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum StableHow {
    /// The server may reply before the data is on stable storage; COMMIT makes it durable.
    #[doc(alias = "UNSTABLE")]
    Unstable = 0,
    /// Data, and the metadata needed to retrieve it, are on stable storage before the reply.
    #[doc(alias = "DATA_SYNC")]
    DataSync = 1,
    /// Data and all metadata are on stable storage before the reply.
    #[doc(alias = "FILE_SYNC")]
    FileSync = 2,
}

impl StableHow {
    /// The value with wire value `v`, if RFC 1813 defines one.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Unstable,
            1 => Self::DataSync,
            2 => Self::FileSync,
            _ => return None,
        })
    }
}

impl Decode<'_> for StableHow {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let v = r.u32("stable_how")?;
        Self::from_u32(v).ok_or(DecodeError::InvalidValue {
            field: "stable_how",
            value: u64::from(v),
        })
    }
}

impl Encode for StableHow {
    fn encode(&self, w: &mut Writer) {
        w.u32(*self as u32);
    }
}

/// RFC 1813 §2.5 `cookie3`: a READDIR/READDIRPLUS position, opaque to the client. 0 starts at
/// the beginning of the directory.
#[doc(alias = "cookie3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Cookie3(pub u64);

impl Decode<'_> for Cookie3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64("cookie3").map(Self)
    }
}

impl Encode for Cookie3 {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.0);
    }
}

macro_rules! verifier {
    ($(#[doc = $doc:literal])* $name:ident, $spec:literal) => {
        $(#[doc = $doc])*
        #[doc(alias = $spec)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; limits::VERF_SIZE]);

        impl Decode<'_> for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.opaque_fixed($spec).map(Self)
            }
        }

        impl Encode for $name {
            fn encode(&self, w: &mut Writer) {
                w.opaque_fixed(&self.0);
            }
        }
    };
}

verifier! {
    /// RFC 1813 §3.3.16 `cookieverf3`: identifies the directory version a READDIR cookie belongs
    /// to; all zero on the first call.
    Cookieverf3, "cookieverf3"
}
verifier! {
    /// RFC 1813 §3.3.8 `createverf3`: the client's token for an EXCLUSIVE CREATE, so a
    /// retransmitted create succeeds instead of failing with EXIST.
    Createverf3, "createverf3"
}
verifier! {
    /// RFC 1813 §3.3.7 `writeverf3`: changes whenever the server may have lost UNSTABLE
    /// writes (a restart), telling the client to resend uncommitted data.
    Writeverf3, "writeverf3"
}

/// RFC 1813 §3.3.8 (`createmode3` with `createhow3`): how CREATE treats an existing name.
#[doc(alias = "createhow3", alias = "createmode3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreateHow3 {
    /// Create, or truncate-and-set-attributes an existing file.
    #[doc(alias = "UNCHECKED")]
    Unchecked(Sattr3),
    /// Create; fail with NFS3ERR_EXIST if the name exists.
    #[doc(alias = "GUARDED")]
    Guarded(Sattr3),
    /// Create exactly once, identified by the verifier the server stores with the file.
    #[doc(alias = "EXCLUSIVE")]
    Exclusive(Createverf3),
}

impl Decode<'_> for CreateHow3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u32("createhow3.mode")? {
            0 => Sattr3::decode(r).map(Self::Unchecked),
            1 => Sattr3::decode(r).map(Self::Guarded),
            2 => Createverf3::decode(r).map(Self::Exclusive),
            v => Err(DecodeError::InvalidValue {
                field: "createhow3.mode",
                value: u64::from(v),
            }),
        }
    }
}

impl Encode for CreateHow3 {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Unchecked(a) => {
                w.u32(0);
                a.encode(w);
            }
            Self::Guarded(a) => {
                w.u32(1);
                a.encode(w);
            }
            Self::Exclusive(v) => {
                w.u32(2);
                v.encode(w);
            }
        }
    }
}

/// RFC 1813 §3.3.11 `devicedata3`: attributes and device numbers for a new device file.
#[doc(alias = "devicedata3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceData3 {
    /// Initial attributes.
    pub dev_attributes: Sattr3,
    /// Major and minor device numbers.
    pub spec: SpecData3,
}

impl Decode<'_> for DeviceData3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dev_attributes: Sattr3::decode(r)?,
            spec: SpecData3::decode(r)?,
        })
    }
}

impl Encode for DeviceData3 {
    fn encode(&self, w: &mut Writer) {
        self.dev_attributes.encode(w);
        self.spec.encode(w);
    }
}

/// RFC 1813 §3.3.11 `mknoddata3`: what MKNOD creates, keyed by `ftype3`. The RFC gives
/// regular files, directories and symlinks no body; the server answers those with
/// NFS3ERR_BADTYPE, but they are valid on the wire.
#[doc(alias = "mknoddata3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MknodData3 {
    /// A character device.
    Chr(DeviceData3),
    /// A block device.
    Blk(DeviceData3),
    /// A socket, with its initial attributes.
    Sock(Sattr3),
    /// A named pipe, with its initial attributes.
    Fifo(Sattr3),
    /// `NF3REG` (no body).
    Reg,
    /// `NF3DIR` (no body).
    Dir,
    /// `NF3LNK` (no body).
    Lnk,
}

impl MknodData3 {
    /// The type of object asked for.
    pub const fn ftype(&self) -> Ftype3 {
        match self {
            Self::Chr(_) => Ftype3::Chr,
            Self::Blk(_) => Ftype3::Blk,
            Self::Sock(_) => Ftype3::Sock,
            Self::Fifo(_) => Ftype3::Fifo,
            Self::Reg => Ftype3::Reg,
            Self::Dir => Ftype3::Dir,
            Self::Lnk => Ftype3::Lnk,
        }
    }
}

impl Decode<'_> for MknodData3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match Ftype3::read(r, "mknoddata3.type")? {
            Ftype3::Chr => Self::Chr(DeviceData3::decode(r)?),
            Ftype3::Blk => Self::Blk(DeviceData3::decode(r)?),
            Ftype3::Sock => Self::Sock(Sattr3::decode(r)?),
            Ftype3::Fifo => Self::Fifo(Sattr3::decode(r)?),
            Ftype3::Reg => Self::Reg,
            Ftype3::Dir => Self::Dir,
            Ftype3::Lnk => Self::Lnk,
        })
    }
}

impl Encode for MknodData3 {
    fn encode(&self, w: &mut Writer) {
        self.ftype().encode(w);
        match self {
            Self::Chr(d) | Self::Blk(d) => d.encode(w),
            Self::Sock(a) | Self::Fifo(a) => a.encode(w),
            Self::Reg | Self::Dir | Self::Lnk => {}
        }
    }
}

/// The shape every NFSv3 result shares (RFC 1813 §3.3: `union XXX3res switch (nfsstat3
/// status) { case NFS3_OK: XXX3resok resok; default: XXX3resfail resfail; }`). Each procedure
/// names its instance, e.g. [`Lookup3Res`](crate::nfs3::Lookup3Res).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nfs3Res<T, F> {
    /// Status NFS3_OK with the success body.
    Ok(T),
    /// A failure status (never [`NfsStat3::OK`]) with the failure body.
    Fail(NfsStat3, F),
}

impl<T, F> Nfs3Res<T, F> {
    /// The status this result encodes with.
    pub const fn status(&self) -> NfsStat3 {
        match self {
            Self::Ok(_) => NfsStat3::OK,
            Self::Fail(s, _) => *s,
        }
    }

    /// The success body, if any.
    pub fn ok(self) -> Option<T> {
        match self {
            Self::Ok(t) => Some(t),
            Self::Fail(..) => None,
        }
    }
}

impl<'a, T: Decode<'a>, F: Decode<'a>> Decode<'a> for Nfs3Res<T, F> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let status = NfsStat3::decode(r)?;
        if status.is_ok() {
            T::decode(r).map(Self::Ok)
        } else {
            F::decode(r).map(|f| Self::Fail(status, f))
        }
    }
}

impl<T: Encode, F: Encode> Encode for Nfs3Res<T, F> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Ok(t) => {
                NfsStat3::OK.encode(w);
                t.encode(w);
            }
            Self::Fail(status, f) => {
                // `Fail(OK, _)` is a server bug; encoding it as NFS3_OK would put a failure
                // body where the client expects a success body, so the client would misparse
                // the reply. Debug builds stop here; release builds report a server fault.
                debug_assert!(!status.is_ok(), "Nfs3Res::Fail with NFS3_OK");
                let status = if status.is_ok() {
                    NfsStat3::SERVERFAULT
                } else {
                    *status
                };
                status.encode(w);
                f.encode(w);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Proptest strategies for the shared types, used by every procedure's tests, and the
    //! round-trip check they all run.

    use std::fmt::Debug;

    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;
    use crate::wire::{decode_exact, encode_to_vec};

    /// Leaks `v` to get a `'static` slice, so strategies can produce borrowed argument types.
    /// Test-only; the leak is bounded by the number of cases run.
    pub(crate) fn leak(v: Vec<u8>) -> &'static [u8] {
        Vec::leak(v)
    }

    /// Checks `decode(encode(v)) == v`, that decoding consumes every byte and that a second
    /// encoding is identical (our encoding is canonical).
    pub(crate) fn check_round_trip<T>(v: &T) -> Result<(), TestCaseError>
    where
        T: Encode + Decode<'static> + PartialEq + Debug,
    {
        let bytes = leak(encode_to_vec(v));
        prop_assert_eq!(bytes.len() % 4, 0, "XDR output is 4-byte aligned");
        let back: T = decode_exact(bytes, "round trip")
            .map_err(|e| TestCaseError::fail(format!("decode failed: {e} for {v:?}")))?;
        prop_assert_eq!(&back, v);
        prop_assert_eq!(encode_to_vec(&back), bytes.to_vec());
        Ok(())
    }

    pub(crate) fn fh() -> impl Strategy<Value = NfsFh3<'static>> {
        vec(any::<u8>(), 0..=limits::FHSIZE3)
            .prop_map(|v| NfsFh3::new(leak(v)).expect("strategy stays within FHSIZE3"))
    }

    pub(crate) fn fh_buf() -> impl Strategy<Value = NfsFh3Buf> {
        fh().prop_map(NfsFh3Buf::from_fh)
    }

    /// Names: mostly short, sometimes at the limit, any bytes.
    pub(crate) fn name() -> impl Strategy<Value = &'static [u8]> {
        prop_oneof![
            4 => vec(any::<u8>(), 0..16),
            1 => vec(any::<u8>(), 0..=limits::NAME_MAX),
        ]
        .prop_map(leak)
    }

    pub(crate) fn name_owned() -> impl Strategy<Value = Vec<u8>> {
        name().prop_map(<[u8]>::to_vec)
    }

    pub(crate) fn path() -> impl Strategy<Value = &'static [u8]> {
        prop_oneof![
            4 => vec(any::<u8>(), 0..64),
            1 => vec(any::<u8>(), 0..=limits::SYMLINK_TARGET_MAX),
        ]
        .prop_map(leak)
    }

    pub(crate) fn diropargs() -> impl Strategy<Value = DirOpArgs3<'static>> {
        (fh(), name()).prop_map(|(dir, name)| DirOpArgs3 { dir, name })
    }

    pub(crate) fn ftype() -> impl Strategy<Value = Ftype3> {
        (1u32..=7).prop_map(|v| Ftype3::from_u32(v).expect("1..=7 are defined"))
    }

    pub(crate) fn time() -> impl Strategy<Value = Nfstime3> {
        (any::<u32>(), any::<u32>()).prop_map(|(seconds, nseconds)| Nfstime3 { seconds, nseconds })
    }

    pub(crate) fn specdata() -> impl Strategy<Value = SpecData3> {
        (any::<u32>(), any::<u32>()).prop_map(|(specdata1, specdata2)| SpecData3 {
            specdata1,
            specdata2,
        })
    }

    pub(crate) fn fattr3() -> impl Strategy<Value = Fattr3> {
        (
            (
                ftype(),
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
            ),
            (
                any::<u64>(),
                any::<u64>(),
                specdata(),
                any::<u64>(),
                any::<u64>(),
            ),
            (time(), time(), time()),
        )
            .prop_map(
                |(
                    (ftype, mode, nlink, uid, gid),
                    (size, used, rdev, fsid, fileid),
                    (atime, mtime, ctime),
                )| Fattr3 {
                    ftype,
                    mode,
                    nlink,
                    uid,
                    gid,
                    size,
                    used,
                    rdev,
                    fsid,
                    fileid,
                    atime,
                    mtime,
                    ctime,
                },
            )
    }

    pub(crate) fn post_op_attr() -> impl Strategy<Value = PostOpAttr> {
        proptest::option::of(fattr3()).prop_map(PostOpAttr)
    }

    pub(crate) fn wcc_attr() -> impl Strategy<Value = WccAttr> {
        (any::<u64>(), time(), time()).prop_map(|(size, mtime, ctime)| WccAttr {
            size,
            mtime,
            ctime,
        })
    }

    pub(crate) fn wcc_data() -> impl Strategy<Value = WccData> {
        (proptest::option::of(wcc_attr()), post_op_attr()).prop_map(|(before, after)| WccData {
            before: PreOpAttr(before),
            after,
        })
    }

    pub(crate) fn post_op_fh() -> impl Strategy<Value = PostOpFh3> {
        proptest::option::of(fh_buf()).prop_map(PostOpFh3)
    }

    pub(crate) fn set_time() -> impl Strategy<Value = SetTime> {
        prop_oneof![
            Just(SetTime::DontChange),
            Just(SetTime::SetToServerTime),
            time().prop_map(SetTime::SetToClientTime),
        ]
    }

    pub(crate) fn sattr3() -> impl Strategy<Value = Sattr3> {
        use proptest::option::of;
        (
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u64>()),
            set_time(),
            set_time(),
        )
            .prop_map(|(mode, uid, gid, size, atime, mtime)| Sattr3 {
                mode,
                uid,
                gid,
                size,
                atime,
                mtime,
            })
    }

    pub(crate) fn verf() -> impl Strategy<Value = [u8; 8]> {
        any::<[u8; 8]>()
    }

    pub(crate) fn stable_how() -> impl Strategy<Value = StableHow> {
        prop_oneof![
            Just(StableHow::Unstable),
            Just(StableHow::DataSync),
            Just(StableHow::FileSync),
        ]
    }

    /// Failure statuses: the RFC's, plus values it does not define (they must round-trip).
    pub(crate) fn fail_status() -> impl Strategy<Value = NfsStat3> {
        prop_oneof![
            Just(NfsStat3::NOENT),
            Just(NfsStat3::STALE),
            Just(NfsStat3::JUKEBOX),
            (1u32..).prop_map(NfsStat3),
        ]
    }

    /// A result: success body from `ok`, or a failure status with a body from `fail`.
    pub(crate) fn res<T: Debug, F: Debug>(
        ok: impl Strategy<Value = T>,
        fail: impl Strategy<Value = F>,
    ) -> impl Strategy<Value = Nfs3Res<T, F>> {
        prop_oneof![
            ok.prop_map(Nfs3Res::Ok),
            (fail_status(), fail).prop_map(|(s, f)| Nfs3Res::Fail(s, f)),
        ]
    }

    proptest! {
        /// Goal: the shared building blocks round-trip on their own, so a failure in a
        /// procedure's test points at the procedure. Method: proptest over each strategy.
        #[test]
        fn shared_types_round_trip(
            a in fattr3(),
            p in post_op_attr(),
            w in wcc_data(),
            f in post_op_fh(),
            s in sattr3(),
            d in diropargs(),
        ) {
            check_round_trip(&a)?;
            check_round_trip(&p)?;
            check_round_trip(&w)?;
            check_round_trip(&f)?;
            check_round_trip(&s)?;
            check_round_trip(&d)?;
            prop_assert_eq!(encode_to_vec(&p).len(), p.encoded_len());
            prop_assert_eq!(encode_to_vec(&f).len(), f.encoded_len());
        }

        /// Goal: every status round-trips, defined or not; names exist for the RFC's values.
        #[test]
        fn nfsstat3_round_trips(v in any::<u32>()) {
            check_round_trip(&NfsStat3(v))?;
        }
    }

    /// Goal: enumerations the spec closes reject values it does not define. Method: encode a
    /// wire value one past the largest defined one and decode it.
    #[test]
    fn closed_enums_reject_unknown_values() {
        let eight = 8u32.to_be_bytes();
        assert_eq!(
            decode_exact::<Ftype3>(&eight, "t"),
            Err(DecodeError::InvalidValue {
                field: "ftype3",
                value: 8
            })
        );
        let three = 3u32.to_be_bytes();
        assert!(decode_exact::<StableHow>(&three, "t").is_err());
        assert!(decode_exact::<CreateHow3>(&three, "t").is_err());
        let mut sattr = [0u8; 24];
        sattr[19] = 3; // atime time_how = 3
        assert_eq!(
            decode_exact::<Sattr3>(&sattr, "t"),
            Err(DecodeError::InvalidValue {
                field: "sattr3.atime",
                value: 3
            })
        );
        let zero = 0u32.to_be_bytes();
        assert!(decode_exact::<MknodData3>(&zero, "t").is_err());
    }

    /// Goal: a handle longer than NFS3_FHSIZE is refused on the length word, and cannot be
    /// built locally either.
    #[test]
    fn oversized_handle_rejected() {
        let mut w = Writer::new();
        w.opaque(&[7u8; limits::FHSIZE3 + 1]);
        let bytes = w.into_inner();
        assert_eq!(
            decode_exact::<NfsFh3<'_>>(&bytes, "t"),
            Err(DecodeError::TooLong {
                field: "nfs_fh3",
                len: 65,
                max: 64
            })
        );
        assert!(NfsFh3::new(&[0u8; 65]).is_none());
        assert!(NfsFh3Buf::new(&[0u8; 64]).is_some());
    }

    /// Goal: the status names and `Debug` follow the RFC spelling.
    #[test]
    fn nfsstat3_names() {
        assert_eq!(format!("{:?}", NfsStat3::NOENT), "NFS3ERR_NOENT");
        assert_eq!(format!("{}", NfsStat3::OK), "NFS3_OK");
        assert_eq!(NfsStat3::JUKEBOX.0, 10008);
        assert_eq!(format!("{:?}", NfsStat3(4242)), "NfsStat3(4242)");
    }

    /// Goal: an `Nfs3Res::Fail` carrying NFS3_OK (a server bug) never reaches the wire as a
    /// success. Only checked in release builds, where the debug assertion is off.
    #[test]
    #[cfg(not(debug_assertions))]
    fn fail_with_ok_status_becomes_serverfault() {
        let r: Nfs3Res<WccData, PostOpAttr> = Nfs3Res::Fail(NfsStat3::OK, PostOpAttr::NONE);
        assert_eq!(&encode_to_vec(&r)[..4], &10006u32.to_be_bytes());
    }
}
