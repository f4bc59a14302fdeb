//! NFS file handles: share id + inode id + generation, authenticated with a keyed MAC.
//! ("File handle" here always means these bytes; the share actor's address is a
//! `ShareHandle`.)
//!
//! Layout (37 bytes, well under RFC 1813's 64-byte `NFS3_FHSIZE`):
//!
//! | bytes | field |
//! | --- | --- |
//! | 0 | format version, 1 |
//! | 1..5 | share id (big-endian u32, stable hash of the share name) |
//! | 5..13 | inode id (big-endian u64) |
//! | 13..21 | generation (big-endian u64) |
//! | 21..37 | HMAC-SHA256 over bytes 0..21, truncated to 16 bytes |
//!
//! The MAC key is persistent, so handles stay valid across restarts; a client cannot forge a
//! handle for a share it never mounted, because it cannot compute the MAC.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use stores::{Generation, InodeId};

use crate::server::share::{Node, ShareId};

/// Current handle format version.
const VERSION: u8 = 1;
/// Bytes covered by the MAC.
const BODY_LEN: usize = 21;
/// Truncated MAC length: 128 bits is far beyond what an online forger can guess.
const MAC_LEN: usize = 16;
/// Encoded file handle length.
pub const FILE_HANDLE_LEN: usize = BODY_LEN + MAC_LEN;

/// What a valid file handle names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHandle {
    /// The share.
    pub share: ShareId,
    /// The node.
    pub node: Node,
}

/// Why a handle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileHandleError {
    /// Not a handle this server produces (wrong length or version): NFS3ERR_BADHANDLE.
    Malformed,
    /// Well-formed but not authentic (forged or from another key): NFS3ERR_STALE.
    Forged,
}

/// Encodes and verifies handles with one secret key.
#[derive(Clone)]
pub struct FileHandleCodec {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for FileHandleCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileHandleCodec { key: <redacted> }")
    }
}

impl FileHandleCodec {
    /// A codec keyed with `key` (32 random bytes kept by the server).
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            key: Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length"),
        }
    }

    fn mac(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let mut m = self.key.clone();
        m.update(body);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// The handle bytes for `target`.
    pub fn encode(&self, target: FileHandle) -> [u8; FILE_HANDLE_LEN] {
        let mut h = [0u8; FILE_HANDLE_LEN];
        h[0] = VERSION;
        h[1..5].copy_from_slice(&target.share.0.to_be_bytes());
        h[5..13].copy_from_slice(&target.node.ino.0.to_be_bytes());
        h[13..21].copy_from_slice(&target.node.generation.0.to_be_bytes());
        let mac = self.mac(&h[..BODY_LEN]);
        h[BODY_LEN..].copy_from_slice(&mac);
        h
    }

    /// Checks and decodes handle bytes from a client.
    pub fn decode(&self, bytes: &[u8]) -> Result<FileHandle, FileHandleError> {
        if bytes.len() != FILE_HANDLE_LEN || bytes[0] != VERSION {
            return Err(FileHandleError::Malformed);
        }
        let mut m = self.key.clone();
        m.update(&bytes[..BODY_LEN]);
        // verify_truncated_left compares in constant time.
        m.verify_truncated_left(&bytes[BODY_LEN..])
            .map_err(|_| FileHandleError::Forged)?;
        let u32_at =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let u64_at = |i: usize| (u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4));
        Ok(FileHandle {
            share: ShareId(u32_at(1)),
            node: Node {
                ino: InodeId(u64_at(5)),
                generation: Generation(u64_at(13)),
            },
        })
    }

    /// The share id in handle bytes, without verifying them (for routing; the share verifies).
    pub fn peek_share(bytes: &[u8]) -> Option<ShareId> {
        (bytes.len() == FILE_HANDLE_LEN && bytes[0] == VERSION)
            .then(|| ShareId(u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> FileHandle {
        FileHandle {
            share: ShareId(7),
            node: Node {
                ino: InodeId(1234),
                generation: Generation(1),
            },
        }
    }

    /// Goal: a handle round-trips; flipping any byte makes it malformed or forged.
    #[test]
    fn round_trip_and_tamper() {
        let c = FileHandleCodec::new(&[9u8; 32]);
        let h = c.encode(target());
        assert_eq!(c.decode(&h), Ok(target()));
        for i in 0..FILE_HANDLE_LEN {
            let mut bad = h;
            bad[i] ^= 0x40;
            assert!(c.decode(&bad).is_err(), "tampered byte {i} accepted");
        }
        assert_eq!(c.decode(&h[..10]), Err(FileHandleError::Malformed));
    }

    /// Goal: a handle made with another key is refused as forged, not malformed.
    #[test]
    fn other_key_is_forged() {
        let h = FileHandleCodec::new(&[1u8; 32]).encode(target());
        assert_eq!(
            FileHandleCodec::new(&[2u8; 32]).decode(&h),
            Err(FileHandleError::Forged)
        );
    }
}
