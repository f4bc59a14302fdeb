//! TREE_CONNECT ([MS-SMB2] 2.2.9 request with the 3.1.1 extension 2.2.9.1, 2.2.10 response)
//! and TREE_DISCONNECT (2.2.11, 2.2.12), plus [`split_unc`] for the `\\server\share` path.

use super::header::{
    HEADER_LEN, body_reader, expect_structure_size, flag_set, open_set, u16_len, u32_len,
};
use super::le::{Reader, Writer, from_utf16le, utf16le};
use super::limits;
use super::session::empty_body;
use crate::wire::DecodeError;

/// Tree connect contexts accepted in one request (clients send at most one, the remoted
/// identity context).
pub const TREE_CONNECT_CONTEXTS_MAX: usize = 8;

flag_set! {
    /// Flags of the TREE_CONNECT request (3.1.1; reserved before, [MS-SMB2] 2.2.9).
    TreeConnectFlags(u16) {
        /// The client reconnects to a cluster share.
        CLUSTER_RECONNECT = 0x0001, "SMB2_TREE_CONNECT_FLAG_CLUSTER_RECONNECT";
        /// The client handles share redirects.
        REDIRECT_TO_OWNER = 0x0002, "SMB2_TREE_CONNECT_FLAG_REDIRECT_TO_OWNER";
        /// The Buffer starts with the extension of 2.2.9.1.
        EXTENSION_PRESENT = 0x0004, "SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT";
    }
}

/// One SMB2_TREE_CONNECT_CONTEXT ([MS-SMB2] 2.2.9.2), kept raw: the only defined type is the
/// remoted identity (1), which a file server has no use for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConnectContext<'a> {
    /// ContextType.
    pub context_type: u16,
    /// Data.
    pub data: &'a [u8],
}

/// The SMB2 TREE_CONNECT request ([MS-SMB2] 2.2.9).
#[doc(alias = "SMB2 TREE_CONNECT Request")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectRequest<'a> {
    /// Flags (3.1.1). With EXTENSION_PRESENT the Buffer starts with the 2.2.9.1 extension.
    pub flags: TreeConnectFlags,
    /// The share path, `\\server\share` ([`split_unc`] takes it apart); at most
    /// [`limits::PATH_MAX`] bytes of UTF-16.
    pub path: String,
    /// Tree connect contexts (only with EXTENSION_PRESENT).
    pub contexts: Vec<TreeConnectContext<'a>>,
}

impl<'a> TreeConnectRequest<'a> {
    /// Reads the request from `msg` (the whole message, header included). PathOffset is from
    /// the header start; with EXTENSION_PRESENT, TreeConnectContextOffset is taken, as 2.2.9.1
    /// words it, from the start of the TREE_CONNECT request (the end of the header), and the
    /// contexts follow each other at 8-byte boundaries.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body_reader(msg)?;
        expect_structure_size(&mut r, 9)?;
        let flags = TreeConnectFlags(r.u16("Flags")?);
        let path_offset = usize::from(r.u16("PathOffset")?);
        let path_len = usize::from(r.u16("PathLength")?);
        let path = from_utf16le(
            r.slice_at(path_offset, path_len, limits::PATH_MAX, "Path")?,
            "Path",
        )?;
        let mut contexts = Vec::new();
        if flags.contains(TreeConnectFlags::EXTENSION_PRESENT) {
            let offset = r.u32("TreeConnectContextOffset")? as usize;
            let count = usize::from(r.u16("TreeConnectContextCount")?);
            if count > TREE_CONNECT_CONTEXTS_MAX {
                return Err(DecodeError::TooLong {
                    field: "TreeConnectContextCount",
                    len: count as u64,
                    max: TREE_CONNECT_CONTEXTS_MAX as u64,
                });
            }
            r.skip(10, "Reserved")?;
            let mut pos = HEADER_LEN.saturating_add(offset);
            for i in 0..count {
                if i > 0 {
                    pos = pos.next_multiple_of(8);
                }
                let mut head = Reader::new(r.slice_at(pos, 8, 8, "TreeConnectContext")?);
                let context_type = head.u16("ContextType")?;
                let len = usize::from(head.u16("DataLength")?);
                let data = r.slice_at(pos + 8, len, usize::from(u16::MAX), "Data")?;
                contexts.push(TreeConnectContext { context_type, data });
                pos += 8 + len;
            }
        }
        Ok(Self {
            flags,
            path,
            contexts,
        })
    }

    /// Appends the body to `w`, which holds the 64-byte header: the path at offset 72, or with
    /// EXTENSION_PRESENT the extension at 72, the path at 88 and the contexts after it,
    /// 8-byte aligned.
    pub fn encode(&self, w: &mut Writer) {
        let path = utf16le(&self.path);
        let body = w.len();
        w.u16(9);
        w.u16(self.flags.0);
        let path_offset_at = w.len();
        w.u16(0);
        w.u16(u16_len(path.len()));
        if self.flags.contains(TreeConnectFlags::EXTENSION_PRESENT) {
            let ctx_offset_at = w.len();
            w.u32(0);
            w.u16(u16_len(self.contexts.len()));
            w.zeros(10);
            w.patch_u16(path_offset_at, u16_len(w.len()));
            w.bytes(&path);
            if !self.contexts.is_empty() {
                w.align(8);
                w.patch_u32(ctx_offset_at, u32_len(w.len() - body));
                for c in &self.contexts {
                    w.align(8);
                    w.u16(c.context_type);
                    w.u16(u16_len(c.data.len()));
                    w.u32(0);
                    w.bytes(c.data);
                }
            }
        } else {
            w.patch_u16(path_offset_at, u16_len(w.len()));
            w.bytes(&path);
        }
    }

    /// The server and share names of [`TreeConnectRequest::path`] (see [`split_unc`]).
    pub fn server_and_share(&self) -> Option<(&str, &str)> {
        split_unc(&self.path)
    }
}

/// Splits a tree connect path `\\server\share` into `("server", "share")`. `None` unless the
/// path is two backslashes, a non-empty server name, one backslash and a non-empty share name
/// without further backslashes.
pub fn split_unc(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("\\\\")?;
    let (server, share) = rest.split_once('\\')?;
    if server.is_empty() || share.is_empty() || share.contains('\\') {
        return None;
    }
    Some((server, share))
}

open_set! {
    /// ShareType of the TREE_CONNECT response ([MS-SMB2] 2.2.10).
    ShareType(u8) {
        /// A disk share.
        DISK = 0x01, "SMB2_SHARE_TYPE_DISK";
        /// A named pipe share (IPC$).
        PIPE = 0x02, "SMB2_SHARE_TYPE_PIPE";
        /// A printer share.
        PRINT = 0x03, "SMB2_SHARE_TYPE_PRINT";
    }
}

flag_set! {
    /// ShareFlags of the TREE_CONNECT response ([MS-SMB2] 2.2.10). The offline caching mode is
    /// the two bits of CACHING_MASK: compare `flags & CACHING_MASK` with
    /// [`ShareFlags::MANUAL_CACHING`] (0), AUTO_CACHING, VDO_CACHING or NO_CACHING.
    ShareFlags(u32) {
        /// The share is in DFS.
        DFS = 0x0000_0001, "SMB2_SHAREFLAG_DFS";
        /// The share is a DFS root.
        DFS_ROOT = 0x0000_0002, "SMB2_SHAREFLAG_DFS_ROOT";
        /// The bits holding the caching mode.
        CACHING_MASK = 0x0000_0030, "CSC mask";
        /// Automatic caching of documents.
        AUTO_CACHING = 0x0000_0010, "SMB2_SHAREFLAG_AUTO_CACHING";
        /// Automatic caching of programs and documents.
        VDO_CACHING = 0x0000_0020, "SMB2_SHAREFLAG_VDO_CACHING";
        /// No offline caching.
        NO_CACHING = 0x0000_0030, "SMB2_SHAREFLAG_NO_CACHING";
        /// Exclusive opens are restricted.
        RESTRICT_EXCLUSIVE_OPENS = 0x0000_0100, "SMB2_SHAREFLAG_RESTRICT_EXCLUSIVE_OPENS";
        /// Opens force shared delete.
        FORCE_SHARED_DELETE = 0x0000_0200, "SMB2_SHAREFLAG_FORCE_SHARED_DELETE";
        /// Namespace caching allowed.
        ALLOW_NAMESPACE_CACHING = 0x0000_0400, "SMB2_SHAREFLAG_ALLOW_NAMESPACE_CACHING";
        /// Access-based directory enumeration.
        ACCESS_BASED_DIRECTORY_ENUM = 0x0000_0800, "SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM";
        /// Level II oplocks forced.
        FORCE_LEVELII_OPLOCK = 0x0000_1000, "SMB2_SHAREFLAG_FORCE_LEVELII_OPLOCK";
        /// BranchCache hash V1.
        ENABLE_HASH_V1 = 0x0000_2000, "SMB2_SHAREFLAG_ENABLE_HASH_V1";
        /// BranchCache hash V2.
        ENABLE_HASH_V2 = 0x0000_4000, "SMB2_SHAREFLAG_ENABLE_HASH_V2";
        /// Messages on this tree must be encrypted (3.x).
        ENCRYPT_DATA = 0x0000_8000, "SMB2_SHAREFLAG_ENCRYPT_DATA";
        /// Identity remoting.
        IDENTITY_REMOTING = 0x0004_0000, "SMB2_SHAREFLAG_IDENTITY_REMOTING";
        /// Compression of requests and responses.
        COMPRESS_DATA = 0x0010_0000, "SMB2_SHAREFLAG_COMPRESS_DATA";
        /// Isolated transport preferred.
        ISOLATED_TRANSPORT = 0x0020_0000, "SMB2_SHAREFLAG_ISOLATED_TRANSPORT";
    }
}

impl ShareFlags {
    /// Manual caching: the value of the CACHING_MASK bits when none is set (the default).
    pub const MANUAL_CACHING: Self = Self(0);
}

flag_set! {
    /// Capabilities of the TREE_CONNECT response ([MS-SMB2] 2.2.10).
    ShareCapabilities(u32) {
        /// The share is in DFS.
        DFS = 0x0000_0008, "SMB2_SHARE_CAP_DFS";
        /// Continuous availability.
        CONTINUOUS_AVAILABILITY = 0x0000_0010, "SMB2_SHARE_CAP_CONTINUOUS_AVAILABILITY";
        /// Scale-out.
        SCALEOUT = 0x0000_0020, "SMB2_SHARE_CAP_SCALEOUT";
        /// Cluster.
        CLUSTER = 0x0000_0040, "SMB2_SHARE_CAP_CLUSTER";
        /// Asymmetric.
        ASYMMETRIC = 0x0000_0080, "SMB2_SHARE_CAP_ASYMMETRIC";
        /// Redirect to owner.
        REDIRECT_TO_OWNER = 0x0000_0100, "SMB2_SHARE_CAP_REDIRECT_TO_OWNER";
    }
}

/// The SMB2 TREE_CONNECT response ([MS-SMB2] 2.2.10); the TreeId is in the header.
#[doc(alias = "SMB2 TREE_CONNECT Response")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// ShareType.
    pub share_type: ShareType,
    /// ShareFlags.
    pub share_flags: ShareFlags,
    /// Capabilities.
    pub capabilities: ShareCapabilities,
    /// MaximalAccess: the access mask the user has on the share's root ([MS-SMB2] 2.2.13.1).
    pub maximal_access: u32,
}

impl TreeConnectResponse {
    /// Reads the response from `msg` (the whole message, header included).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body_reader(msg)?;
        expect_structure_size(&mut r, 16)?;
        let share_type = ShareType(r.u8("ShareType")?);
        r.skip(1, "Reserved")?;
        Ok(Self {
            share_type,
            share_flags: ShareFlags(r.u32("ShareFlags")?),
            capabilities: ShareCapabilities(r.u32("Capabilities")?),
            maximal_access: r.u32("MaximalAccess")?,
        })
    }

    /// Appends the body to `w`, which holds the 64-byte header.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(16);
        w.u8(self.share_type.0);
        w.u8(0);
        w.u32(self.share_flags.0);
        w.u32(self.capabilities.0);
        w.u32(self.maximal_access);
    }
}

/// The SMB2 TREE_DISCONNECT request ([MS-SMB2] 2.2.11): StructureSize 4 and a reserved word.
#[doc(alias = "SMB2 TREE_DISCONNECT Request")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeDisconnectRequest;

/// The SMB2 TREE_DISCONNECT response ([MS-SMB2] 2.2.12): StructureSize 4 and a reserved word.
#[doc(alias = "SMB2 TREE_DISCONNECT Response")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeDisconnectResponse;

empty_body!(TreeDisconnectRequest, TreeDisconnectResponse);

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::smb2::header::{Command, Header};

    fn with_header(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        Header::new(Command::TREE_CONNECT).encode(&mut w);
        f(&mut w);
        w.into_inner()
    }

    /// Goal: a request laid out from [MS-SMB2] 2.2.9 (path at 72) decodes and re-encodes, and
    /// its path splits into server and share.
    #[test]
    fn request_layout() {
        let mut msg = Header::new(Command::TREE_CONNECT).to_bytes().to_vec();
        msg.extend_from_slice(&hex::decode("090000004800 1400".replace(' ', "")).unwrap());
        msg.extend_from_slice(&utf16le("\\\\srv\\IPC$"));
        let req = TreeConnectRequest::decode(&msg).unwrap();
        assert_eq!(req.path, "\\\\srv\\IPC$");
        assert_eq!(req.server_and_share(), Some(("srv", "IPC$")));
        assert_eq!(with_header(|w| req.encode(w)), msg);
    }

    /// Goal: the 3.1.1 extension (2.2.9.1) is parsed: path at 88, one context after it.
    #[test]
    fn extension_layout() {
        let mut msg = Header::new(Command::TREE_CONNECT).to_bytes().to_vec();
        let path = utf16le("\\\\h\\s"); // 10 bytes: 88..98, contexts at 104 (40 from 64)
        msg.extend_from_slice(&hex::decode("0900040058000a00").unwrap());
        msg.extend_from_slice(&hex::decode("280000000100").unwrap());
        msg.extend_from_slice(&[0; 10]);
        msg.extend_from_slice(&path);
        msg.extend_from_slice(&[0; 6]);
        msg.extend_from_slice(&hex::decode("0100030000000000aabbcc").unwrap());
        let req = TreeConnectRequest::decode(&msg).unwrap();
        assert_eq!(req.flags, TreeConnectFlags::EXTENSION_PRESENT);
        assert_eq!(req.path, "\\\\h\\s");
        assert_eq!(
            req.contexts,
            vec![TreeConnectContext {
                context_type: 1,
                data: &[0xaa, 0xbb, 0xcc]
            }]
        );
        assert_eq!(with_header(|w| req.encode(w)), msg);
    }

    /// Goal: bad paths are refused: odd length, past the end; UNC splitting is strict.
    #[test]
    fn rejects_and_unc() {
        let mut msg = Header::new(Command::TREE_CONNECT).to_bytes().to_vec();
        msg.extend_from_slice(&hex::decode("0900000048000300616200").unwrap());
        assert!(TreeConnectRequest::decode(&msg).is_err());
        msg[70] = 4;
        assert!(TreeConnectRequest::decode(&msg).is_err());
        assert_eq!(split_unc("\\\\a\\b"), Some(("a", "b")));
        assert_eq!(split_unc("\\\\a\\b\\c"), None);
        assert_eq!(split_unc("\\\\\\b"), None);
        assert_eq!(split_unc("\\\\a\\"), None);
        assert_eq!(split_unc("\\a\\b"), None);
        assert_eq!(split_unc("\\\\a"), None);
    }

    /// Goal: a response laid out from [MS-SMB2] 2.2.10 decodes and re-encodes; TREE_DISCONNECT
    /// bodies are StructureSize 4.
    #[test]
    fn response_layout() {
        let mut msg = Header::new(Command::TREE_CONNECT).to_bytes().to_vec();
        msg.extend_from_slice(&hex::decode("100001003080000008000000ff011f00").unwrap());
        let resp = TreeConnectResponse::decode(&msg).unwrap();
        assert_eq!(resp.share_type, ShareType::DISK);
        assert!(resp.share_flags.contains(ShareFlags::ENCRYPT_DATA));
        assert_eq!(
            resp.share_flags & ShareFlags::CACHING_MASK,
            ShareFlags::NO_CACHING
        );
        assert_eq!(resp.capabilities, ShareCapabilities::DFS);
        assert_eq!(resp.maximal_access, 0x001f_01ff);
        assert_eq!(with_header(|w| resp.encode(w)), msg);
        let d = with_header(|w| TreeDisconnectResponse.encode(w));
        assert_eq!(&d[64..], &[4, 0, 0, 0]);
        assert_eq!(TreeDisconnectRequest::decode(&d), Ok(TreeDisconnectRequest));
    }

    proptest! {
        /// Goal: requests (with and without the extension) and responses round-trip.
        #[test]
        fn round_trip(path in "[a-zA-Z0-9\\\\$é]{0,30}", flags: u16,
                      ctx in vec((any::<u16>(), vec(any::<u8>(), 0..12)), 0..3),
                      resp: (u8, u32, u32, u32)) {
            let ext = flags & 4 != 0;
            let req = TreeConnectRequest {
                flags: TreeConnectFlags(flags),
                path,
                contexts: if ext {
                    ctx.iter().map(|(t, d)| TreeConnectContext { context_type: *t, data: d }).collect()
                } else {
                    vec![]
                },
            };
            let msg = with_header(|w| req.encode(w));
            prop_assert_eq!(TreeConnectRequest::decode(&msg), Ok(req));
            let r = TreeConnectResponse {
                share_type: ShareType(resp.0),
                share_flags: ShareFlags(resp.1),
                capabilities: ShareCapabilities(resp.2),
                maximal_access: resp.3,
            };
            let msg = with_header(|w| r.encode(w));
            prop_assert_eq!(TreeConnectResponse::decode(&msg), Ok(r));
        }
    }
}
