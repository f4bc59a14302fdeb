//! Keys and values of the RocksDB metadata store: the byte layout documented in the table at the
//! top of [`super`]. Everything here is pure encoding; nothing touches the database.
//!
//! Integers are big-endian everywhere: in keys so that byte order is numeric order (a prefix
//! iterator over `c/<dir>` walks cookies in ascending order), in values for uniformity.

use crate::api::{Attr, Device, FileKind, Generation, InodeId, Timestamp};

use super::FormatError;

/// `meta/format`: the on-disk format version, a `u32`.
pub(super) const FORMAT: &[u8] = b"meta/format";
/// `meta/store_id`: the random [`crate::StoreId`] chosen at creation, a `u64`.
pub(super) const STORE_ID: &[u8] = b"meta/store_id";
/// `meta/next_ino`: the next inode id to hand out, a `u64`; only grows.
pub(super) const NEXT_INO: &[u8] = b"meta/next_ino";
/// `meta/files`: the number of live inodes, a `u64`.
pub(super) const FILES: &[u8] = b"meta/files";
/// `meta/epoch`: how many times the database has been opened, a `u64`, fsynced at every open
/// before any inode is created; new inodes take it as their generation. Absent in a database
/// created before it existed, which reads as 0.
pub(super) const EPOCH: &[u8] = b"meta/epoch";

/// The leading byte of an encoded inode record. A new record layout gets a new value and a
/// migration that rewrites every record (see `super::migrate`).
const INODE_RECORD_V1: u8 = 1;
/// Length of a version-1 inode record: version, kind, mode, nlink, uid, gid, size, rdev (2 × u32),
/// four timestamps (i64 + u32 each), generation, change, parent, next_cookie.
const INODE_RECORD_V1_LEN: usize = 1 + 1 + 4 * 4 + 8 + 2 * 4 + 4 * 12 + 4 * 8;

/// An inode as stored: the attributes plus the two fields only the store needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Inode {
    /// What [`crate::MetadataStore::getattr`] returns.
    pub(super) attr: Attr,
    /// The parent directory of a directory (a share root is its own parent); 0 for other kinds,
    /// which may have several parents through hard links.
    pub(super) parent: u64,
    /// The cookie the next entry linked into this directory gets; 0 for other kinds.
    pub(super) next_cookie: u64,
}

impl Inode {
    /// Whether this inode is a directory.
    pub(super) fn is_dir(&self) -> bool {
        self.attr.kind == FileKind::Directory
    }
}

/// `i/<ino>`.
pub(super) fn inode_key(ino: u64) -> [u8; 10] {
    prefixed(*b"i/", ino)
}

/// `l/<ino>`: the target of a symlink.
pub(super) fn symlink_key(ino: u64) -> [u8; 10] {
    prefixed(*b"l/", ino)
}

/// `v/<ino>`: the content version last recorded for a regular file, a `u64`.
pub(super) fn version_key(ino: u64) -> [u8; 10] {
    prefixed(*b"v/", ino)
}

/// `a/<ino>`: the prefix of every extended attribute of `ino`, keyed by name.
pub(super) fn xattr_prefix(ino: u64) -> [u8; 10] {
    prefixed(*b"a/", ino)
}

/// `a/<ino><name>`: one extended attribute's value.
pub(super) fn xattr_key(ino: u64, name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(10 + name.len());
    key.extend_from_slice(&xattr_prefix(ino));
    key.extend_from_slice(name);
    key
}

/// `x/<name>`: a server secret.
pub(super) fn secret_key(name: &str) -> Vec<u8> {
    let mut key = b"x/".to_vec();
    key.extend_from_slice(name.as_bytes());
    key
}

/// `o/<share name length, u16><share name>`: the prefix of a share's durable-open records.
pub(super) fn durable_prefix(share: &str) -> Vec<u8> {
    let len = u16::try_from(share.len()).unwrap_or(u16::MAX);
    let mut key = Vec::with_capacity(4 + share.len() + 8);
    key.extend_from_slice(b"o/");
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(share.as_bytes());
    key
}

/// `o/<share name length><share name><id>`: durable open `id` of `share`.
pub(super) fn durable_key(share: &str, id: u64) -> Vec<u8> {
    let mut key = durable_prefix(share);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// `d/<dir>`: the prefix of every entry of `dir`, keyed by name.
pub(super) fn entry_prefix(dir: u64) -> [u8; 10] {
    prefixed(*b"d/", dir)
}

/// `d/<dir><name>`.
pub(super) fn entry_key(dir: u64, name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(10 + name.len());
    key.extend_from_slice(&entry_prefix(dir));
    key.extend_from_slice(name);
    key
}

/// `f/<dir><fold>\0`: the prefix of the names of `dir` that fold to `fold`
/// ([`crate::fold_case`]). Names never contain NUL, so the separator ends the fold.
pub(super) fn fold_prefix(dir: u64, fold: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(11 + fold.len());
    key.extend_from_slice(&prefixed(*b"f/", dir));
    key.extend_from_slice(fold);
    key.push(0);
    key
}

/// `f/<dir><fold>\0<name>`: the case-fold index entry of `dir/name` (empty value).
pub(super) fn fold_key(dir: u64, name: &[u8]) -> Vec<u8> {
    let mut key = fold_prefix(dir, &crate::fold_case(name));
    key.extend_from_slice(name);
    key
}

/// `c/<dir>`: the prefix of the cookie index of `dir`.
pub(super) fn cookie_prefix(dir: u64) -> [u8; 10] {
    prefixed(*b"c/", dir)
}

/// `c/<dir><cookie>`.
pub(super) fn cookie_key(dir: u64, cookie: u64) -> [u8; 18] {
    let mut key = [0; 18];
    key[..10].copy_from_slice(&cookie_prefix(dir));
    key[10..].copy_from_slice(&cookie.to_be_bytes());
    key
}

/// The cookie of a `c/<dir><cookie>` key, or `None` if the key is not one.
pub(super) fn cookie_of_key(key: &[u8]) -> Option<u64> {
    let (_, cookie) = key.split_at_checked(10)?;
    Some(u64::from_be_bytes(cookie.try_into().ok()?))
}

/// `s/<share name>`.
pub(super) fn share_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + name.len());
    key.extend_from_slice(b"s/");
    key.extend_from_slice(name.as_bytes());
    key
}

/// The smallest key greater than every key starting with `prefix`: an exclusive upper bound for
/// a prefix scan. Every prefix we scan starts with an ASCII tag, so one byte below 0xff exists.
pub(super) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    unreachable!("scanned prefixes start with an ASCII tag byte")
}

/// The value of a `d/` key: the inode and the entry's cookie.
pub(super) fn encode_entry(ino: u64, cookie: u64) -> [u8; 16] {
    let mut value = [0; 16];
    value[..8].copy_from_slice(&ino.to_be_bytes());
    value[8..].copy_from_slice(&cookie.to_be_bytes());
    value
}

/// Decodes the value of a `d/` key into (inode, cookie).
pub(super) fn decode_entry(value: &[u8]) -> Result<(u64, u64), FormatError> {
    let mut r = Fields(value);
    match (r.u64(), r.u64()) {
        (Some(ino), Some(cookie)) if r.0.is_empty() => Ok((ino, cookie)),
        _ => Err(FormatError::Corrupt {
            what: "directory entry",
        }),
    }
}

/// The value of a `c/` key: the inode and the entry's name, so a listing needs no `d/` read.
pub(super) fn encode_cookie(ino: u64, name: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + name.len());
    value.extend_from_slice(&ino.to_be_bytes());
    value.extend_from_slice(name);
    value
}

/// Decodes the value of a `c/` key into (inode, name).
pub(super) fn decode_cookie(value: &[u8]) -> Result<(u64, &[u8]), FormatError> {
    match value.split_first_chunk::<8>() {
        Some((ino, name)) if !name.is_empty() => Ok((u64::from_be_bytes(*ino), name)),
        _ => Err(FormatError::Corrupt {
            what: "cookie index entry",
        }),
    }
}

/// A `u64` counter or id value.
pub(super) fn encode_u64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// Decodes a `u64` value; `what` names the record in the error.
pub(super) fn decode_u64(value: &[u8], what: &'static str) -> Result<u64, FormatError> {
    value
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| FormatError::Corrupt { what })
}

/// Decodes the `meta/format` value.
pub(super) fn decode_u32(value: &[u8], what: &'static str) -> Result<u32, FormatError> {
    value
        .try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| FormatError::Corrupt { what })
}

/// Encodes an inode record (version 1, fixed length). The inode id is the key, not the value.
pub(super) fn encode_inode(inode: &Inode) -> Vec<u8> {
    let a = &inode.attr;
    let mut v = Vec::with_capacity(INODE_RECORD_V1_LEN);
    v.push(INODE_RECORD_V1);
    v.push(kind_code(a.kind));
    for n in [a.mode, a.nlink, a.uid, a.gid] {
        v.extend_from_slice(&n.to_be_bytes());
    }
    v.extend_from_slice(&a.size.to_be_bytes());
    v.extend_from_slice(&a.rdev.major.to_be_bytes());
    v.extend_from_slice(&a.rdev.minor.to_be_bytes());
    for t in [a.atime, a.mtime, a.ctime, a.btime] {
        v.extend_from_slice(&t.secs.to_be_bytes());
        v.extend_from_slice(&t.nanos.to_be_bytes());
    }
    for n in [a.generation.0, a.change, inode.parent, inode.next_cookie] {
        v.extend_from_slice(&n.to_be_bytes());
    }
    debug_assert_eq!(v.len(), INODE_RECORD_V1_LEN);
    v
}

/// Decodes an inode record stored under `i/<ino>`.
pub(super) fn decode_inode(ino: InodeId, value: &[u8]) -> Result<Inode, FormatError> {
    let corrupt = FormatError::Corrupt { what: "inode" };
    if value.len() != INODE_RECORD_V1_LEN || value.first() != Some(&INODE_RECORD_V1) {
        return Err(corrupt);
    }
    read_inode_v1(&mut Fields(&value[1..]), ino).ok_or(corrupt)
}

/// Reads the fields of a version-1 record after its version byte.
fn read_inode_v1(r: &mut Fields<'_>, ino: InodeId) -> Option<Inode> {
    let kind = kind_from_code(r.u8()?)?;
    let (mode, nlink, uid, gid) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
    let size = r.u64()?;
    let rdev = Device {
        major: r.u32()?,
        minor: r.u32()?,
    };
    let (atime, mtime, ctime, btime) = (r.time()?, r.time()?, r.time()?, r.time()?);
    let (generation, change, parent, next_cookie) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
    Some(Inode {
        attr: Attr {
            ino,
            generation: Generation(generation),
            kind,
            mode,
            nlink,
            uid,
            gid,
            size,
            rdev,
            atime,
            mtime,
            ctime,
            btime,
            change,
        },
        parent,
        next_cookie,
    })
}

/// Builds `<tag><id be>`.
fn prefixed(tag: [u8; 2], id: u64) -> [u8; 10] {
    let mut key = [0; 10];
    key[..2].copy_from_slice(&tag);
    key[2..].copy_from_slice(&id.to_be_bytes());
    key
}

/// The on-disk code of a kind. Fixed forever (NFSv3 `ftype3` order); never reorder.
fn kind_code(kind: FileKind) -> u8 {
    match kind {
        FileKind::Regular => 1,
        FileKind::Directory => 2,
        FileKind::BlockDevice => 3,
        FileKind::CharDevice => 4,
        FileKind::Symlink => 5,
        FileKind::Socket => 6,
        FileKind::Fifo => 7,
    }
}

fn kind_from_code(code: u8) -> Option<FileKind> {
    Some(match code {
        1 => FileKind::Regular,
        2 => FileKind::Directory,
        3 => FileKind::BlockDevice,
        4 => FileKind::CharDevice,
        5 => FileKind::Symlink,
        6 => FileKind::Socket,
        7 => FileKind::Fifo,
        _ => return None,
    })
}

/// Reads fixed-width big-endian fields off the front of a value.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }

    fn time(&mut self) -> Option<Timestamp> {
        let secs = i64::from_be_bytes(self.take()?);
        let nanos = self.u32()?;
        Some(Timestamp { secs, nanos })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: an inode record survives encode/decode unchanged, for every kind, and the encoding
    /// has the documented fixed length. Method: round-trip one inode per kind with distinct
    /// field values, including a negative timestamp.
    #[test]
    fn inode_round_trip() {
        for (i, kind) in [
            FileKind::Regular,
            FileKind::Directory,
            FileKind::Symlink,
            FileKind::BlockDevice,
            FileKind::CharDevice,
            FileKind::Socket,
            FileKind::Fifo,
        ]
        .into_iter()
        .enumerate()
        {
            let n = i as u32;
            let inode = Inode {
                attr: Attr {
                    ino: InodeId(77),
                    generation: Generation(5),
                    kind,
                    mode: 0o4755,
                    nlink: 3 + n,
                    uid: 1000 + n,
                    gid: 100,
                    size: u64::MAX - 1,
                    rdev: Device { major: 8, minor: n },
                    atime: Timestamp {
                        secs: -5,
                        nanos: 999_999_999,
                    },
                    mtime: Timestamp { secs: 1, nanos: 2 },
                    ctime: Timestamp { secs: 3, nanos: 4 },
                    btime: Timestamp { secs: 5, nanos: 6 },
                    change: 42,
                },
                parent: 9,
                next_cookie: 11,
            };
            let bytes = encode_inode(&inode);
            assert_eq!(bytes.len(), INODE_RECORD_V1_LEN);
            assert_eq!(decode_inode(InodeId(77), &bytes).ok(), Some(inode));
        }
    }

    /// Goal: damaged values are reported as corruption, never decoded into garbage or a panic.
    /// Method: truncate, extend and re-version a valid record; corrupt the small values too.
    #[test]
    fn corrupt_values_are_rejected() {
        let inode = Inode {
            attr: Attr {
                ino: InodeId(1),
                generation: Generation(1),
                kind: FileKind::Directory,
                mode: 0o755,
                nlink: 2,
                uid: 0,
                gid: 0,
                size: 0,
                rdev: Device::default(),
                atime: Timestamp::default(),
                mtime: Timestamp::default(),
                ctime: Timestamp::default(),
                btime: Timestamp::default(),
                change: 0,
            },
            parent: 1,
            next_cookie: 3,
        };
        let good = encode_inode(&inode);
        assert!(decode_inode(InodeId(1), &good[..good.len() - 1]).is_err());
        let mut long = good.clone();
        long.push(0);
        assert!(decode_inode(InodeId(1), &long).is_err());
        let mut future = good.clone();
        future[0] = 2;
        assert!(decode_inode(InodeId(1), &future).is_err());
        let mut bad_kind = good;
        bad_kind[1] = 0;
        assert!(decode_inode(InodeId(1), &bad_kind).is_err());

        assert!(decode_entry(&[0; 15]).is_err());
        assert_eq!(decode_entry(&encode_entry(4, 5)).ok(), Some((4, 5)));
        assert!(decode_cookie(&[0; 8]).is_err());
        assert!(decode_u64(&[0; 7], "x").is_err());
    }

    /// Goal: cookie keys of one directory sort by cookie and stay inside the directory's prefix
    /// bounds, so a seek plus upper bound lists exactly that directory in cookie order.
    #[test]
    fn cookie_keys_sort_numerically_within_bounds() {
        let dir = 0x01ff;
        let end = prefix_end(&cookie_prefix(dir));
        let keys: Vec<_> = [3u64, 255, 256, u64::MAX]
            .map(|c| cookie_key(dir, c))
            .to_vec();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| k.as_slice() < end.as_slice()));
        assert!(cookie_key(dir + 1, 0).as_slice() >= end.as_slice());
        assert_eq!(cookie_of_key(&keys[2]), Some(256));
    }
}
