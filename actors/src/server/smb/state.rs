//! What one SMB connection knows: the negotiated dialect and capabilities, its sessions, their
//! trees and the opens on them. Owned by the connection task alone (no locks); every table is
//! bounded so a client cannot grow the server's memory without limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use protocol::smb2::crypto::{Cipher, PreauthHash, SessionKeys, SigningAlgorithm};
use stores::{Attr, Cookie};

use crate::identity::NamedUser;
use crate::server::share::{Caller, Node, ShareHandle};

/// Sessions one connection may hold at once (its own and the channels bound to it).
pub(crate) const SESSIONS_MAX: usize = 64;
/// Channels one session may have, its home connection included ([MS-SMB2] 3.3.5.5.2 leaves
/// the limit to the server; Windows Server 2012 R2 and 2016 allow 32, and smbtorture
/// multichannel.generic.num_channels expects the 32nd binding refused).
pub(crate) const CHANNELS_MAX: usize = 32;
/// Trees one session may have connected at once.
pub(crate) const TREES_MAX: usize = 256;
/// Opens one connection may hold at once (Windows Server's default per session is 16,384;
/// smbtorture's maxfid test opens thousands).
pub(crate) const OPENS_MAX: usize = 16_384;
/// Bytes a named pipe may hold for the client to read.
pub(crate) const PIPE_BYTES_MAX: usize = 1 << 20;

/// The result of NEGOTIATE.
#[derive(Debug, Clone)]
pub(crate) struct Negotiated {
    /// The dialect chosen (MS-SMB2 number, e.g. 0x0311); 0x02FF after an SMB1 negotiate that
    /// offered "SMB 2.???", until the client negotiates again.
    pub(crate) dialect: u16,
    /// The client's GUID.
    pub(crate) client_guid: [u8; 16],
    /// The client's capabilities.
    pub(crate) client_capabilities: u32,
    /// The client's security mode.
    pub(crate) client_security_mode: u16,
    /// The server's security mode as sent.
    pub(crate) server_security_mode: u16,
    /// The capabilities the server answered.
    pub(crate) server_capabilities: u32,
    /// The dialects the client listed (VALIDATE_NEGOTIATE_INFO compares them).
    pub(crate) client_dialects: Vec<u16>,
    /// The cipher agreed (3.x with encryption capability).
    pub(crate) cipher: Option<Cipher>,
    /// The signing algorithm.
    pub(crate) signing: SigningAlgorithm,
    /// SMB 3.1.1 POSIX extensions agreed.
    pub(crate) posix: bool,
}

impl Negotiated {
    /// SMB 3.0 or later.
    pub(crate) fn is_smb3(&self) -> bool {
        self.dialect >= 0x0300 && self.dialect != 0x02FF
    }
}

/// How far a session's authentication has come.
#[derive(Debug)]
pub(crate) enum Auth {
    /// NTLM CHALLENGE sent; waiting for AUTHENTICATE.
    InProgress(Box<protocol::spnego::Acceptor>),
    /// Authenticated.
    Valid,
    /// Logged off in the current frame: its keys still protect the reply, nothing else
    /// runs in it.
    LoggedOff,
}

/// One session.
#[derive(Debug)]
pub(crate) struct Session {
    /// Authentication state.
    pub(crate) auth: Auth,
    /// The user, for a named login.
    pub(crate) user: Option<NamedUser>,
    /// A guest or anonymous session (no keys, never signs).
    pub(crate) guest: bool,
    /// Anonymous (null) session.
    pub(crate) anonymous: bool,
    /// Keys, for authenticated (non-guest) sessions.
    pub(crate) keys: Option<SessionKeys>,
    /// Every request must be signed (or encrypted).
    pub(crate) signing_required: bool,
    /// Every request must be encrypted.
    pub(crate) encrypt_data: bool,
    /// The session's preauth hash (3.1.1) while it is being set up.
    pub(crate) preauth: Option<PreauthHash>,
    /// Trees by id.
    pub(crate) trees: BTreeMap<u32, Tree>,
    /// Encryption nonces under the session's keys: one counter shared by every connection
    /// the session is bound to, so no two messages are ever encrypted with the same nonce.
    pub(crate) nonces: Arc<AtomicU64>,
    /// A channel of a session that lives on another connection ([MS-SMB2] 3.3.5.5.2): its
    /// `keys` hold the channel's own signing key and the session's encryption keys, and
    /// every request but SESSION_SETUP, CANCEL and ECHO is forwarded to the home connection.
    pub(crate) bound: Option<Bound>,
}

/// Where a bound channel's session lives.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    /// The home connection's id.
    pub(crate) home: u64,
    /// The home connection's queue of forwarded requests.
    pub(crate) forward: tokio::sync::mpsc::Sender<super::events::Forward>,
}

/// What a tree connects to.
#[derive(Debug, Clone)]
pub(crate) enum TreeKind {
    /// A disk share.
    Disk {
        /// The share's actor.
        share: ShareHandle,
    },
    /// IPC$ (named pipes: srvsvc).
    Ipc,
}

/// One tree connect.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    /// What it connects to.
    pub(crate) kind: TreeKind,
    /// Who acts on it, with the permission identity resolved for this share.
    pub(crate) caller: Caller,
    /// The tree requires encryption.
    pub(crate) encrypt: bool,
}

/// An entry read from the share for QUERY_DIRECTORY but not yet returned.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Its name.
    pub(crate) name: String,
    /// Its attributes.
    pub(crate) attr: Attr,
    /// The cookie after it.
    pub(crate) cookie: Cookie,
    /// What the store holds beyond the attributes, read for the page's entries that match
    /// the pattern (`None` for the others, which are skipped).
    pub(crate) meta: Option<super::attrs::Meta>,
}

/// The state of a directory enumeration on an open directory.
#[derive(Debug)]
pub(crate) struct DirScan {
    /// The pattern of the enumeration (set by the first QUERY_DIRECTORY or a restart).
    pub(crate) pattern: Option<String>,
    /// Where the next page starts.
    pub(crate) cookie: Cookie,
    /// Entries read from the share but not yet returned, each with the cookie after it.
    /// Held only while one QUERY_DIRECTORY runs: what did not fit is dropped and read again
    /// from `cookie` next time, so a half-listed directory costs its open nothing (16,384
    /// opens each keeping a page of 256 entries held ~800 MiB on one connection).
    pub(crate) pending: std::collections::VecDeque<Pending>,
    /// The share listed every entry.
    pub(crate) eof: bool,
    /// At least one entry was returned since the last restart.
    pub(crate) returned_any: bool,
}

impl Default for DirScan {
    fn default() -> Self {
        Self {
            pattern: None,
            cookie: Cookie::START,
            pending: std::collections::VecDeque::new(),
            eof: false,
            returned_any: false,
        }
    }
}

/// What an open refers to.
#[derive(Debug)]
pub(crate) enum OpenKind {
    /// A file or directory on a disk share.
    Node {
        /// The node.
        node: Node,
        /// Its directory (for delete-on-close and renames).
        parent: Node,
        /// Its name in `parent`, as stored.
        name: String,
        /// Its path from the share root (for CHANGE_NOTIFY and logs).
        path: String,
        /// A directory (never for a stream open: a stream of a directory holds data).
        is_dir: bool,
        /// The named data stream open (its name as stored, super::streams), `None` for the
        /// node's own data.
        stream: Option<String>,
    },
    /// A named pipe on IPC$: a DCE/RPC endpoint.
    Pipe {
        /// Bytes the client may read.
        out: Vec<u8>,
    },
}

/// One open (a FileId).
#[derive(Debug)]
pub(crate) struct Open {
    /// The session it belongs to.
    pub(crate) session: u64,
    /// The tree it was opened on.
    pub(crate) tree: u32,
    /// What is open.
    pub(crate) kind: OpenKind,
    /// Access granted at open (an access mask).
    pub(crate) access: u32,
    /// Share access given at open (FILE_SHARE_*).
    pub(crate) share_access: u32,
    /// Delete when the last handle closes.
    pub(crate) delete_on_close: bool,
    /// Writes are FILE_SYNC (FILE_WRITE_THROUGH at open).
    pub(crate) write_through: bool,
    /// Something was written since the last flush (CLOSE then commits).
    pub(crate) dirty: bool,
    /// The write verifier of the first unstable WRITE since the last FLUSH, and whether a
    /// later one answered another: a FLUSH whose commit answers a different verifier (the
    /// write-back cache dropped bytes for good meanwhile) reports the loss.
    pub(crate) unflushed: Option<([u8; 8], bool)>,
    /// Directory enumeration state.
    pub(crate) scan: DirScan,
    /// FilePositionInformation (kept for clients that set and query it).
    pub(crate) position: u64,
    /// The allocation size asked for when this open created the file (AlSi), reported
    /// through this handle while the data is smaller.
    pub(crate) allocation: u64,
    /// Opened with the SMB 3.1.1 POSIX create context: rename and link targets given on
    /// this handle are `/`-separated POSIX paths.
    pub(crate) posix_paths: bool,
    /// This open wrote data and made sure the file carries FILE_ATTRIBUTE_ARCHIVE since the
    /// last time its DOS attributes were set through it, so later writes need not look.
    pub(crate) archived: bool,
    /// The ChangeTime a client set through this open ([MS-FSA] 2.1.5.14.2
    /// Open.UserSetChangeTime): later attribute changes through it keep that time.
    pub(crate) user_ctime: Option<stores::Timestamp>,
    /// FileModeInformation set through this open ([MS-FSCC] 2.4.26); FILE_WRITE_THROUGH also
    /// sets `write_through`.
    pub(crate) mode: u32,
    /// Byte-range lock state ([`super::locks`]).
    pub(crate) locks: OpenLocks,
    /// FileId.Persistent ([MS-SMB2] 2.2.14.1): the FileId itself for an ordinary open, a
    /// server-wide id for a durable one (it survives a reconnect, the volatile part does
    /// not). Set by `insert_open`.
    pub(crate) persistent: u64,
    /// Granted durability ([`super::durable`]): kept across a disconnect for this long.
    pub(crate) durable: Option<super::durable::Durability>,
    /// The CreateGuid of a DH2Q request ([MS-SMB2] 3.3.5.9.10), for replay detection, and the
    /// CreateAction first answered (a replay answers it again).
    pub(crate) create_guid: Option<([u8; 16], u32)>,
    /// Open.IsReplayEligible ([MS-SMB2] 3.3.1.10): a replay of its CREATE answers it; any
    /// other request on it ends that (Samba; smbtorture replay.replay6), so a later replay
    /// opens anew. Atomic because requests find opens through `&self`.
    pub(crate) replay_eligible: std::sync::atomic::AtomicBool,
    /// The AppInstanceId it was opened with ([MS-SMB2] 3.3.5.9.13), registered in
    /// [`super::durable::DurableTable`] while it lives.
    pub(crate) app_instance: Option<[u8; 16]>,
    /// Open.ChannelSequence ([MS-SMB2] 3.3.1.10, 3.3.5.2.10): the newest ChannelSequence a
    /// request on it carried (3.x); WRITE, SET_INFO and IOCTL with an older one are refused.
    pub(crate) channel_sequence: std::sync::atomic::AtomicU16,
    /// The ParentLeaseKey its v2 lease request named (SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET):
    /// changes made through it leave that directory lease of its client alone
    /// ([`super::oplocks::OpenTable::dir_changed`]).
    pub(crate) parent_lease: Option<[u8; 16]>,
    /// What its writes changed (empty: it wrote nothing): its CLOSE breaks the directory
    /// leases of its parent (the file's size and times changed; Windows and Samba break
    /// them at close, not at each write) and tells the other gateways.
    pub(crate) wrote: stores::Modified,
}

/// What an open knows of its byte-range locks (the locks themselves live in the share's
/// lock manager).
#[derive(Debug, Clone)]
pub(crate) struct OpenLocks {
    /// It took (or waited for) a lock: closing it must release them.
    pub(crate) used: bool,
    /// FSCTL_LMR_REQUEST_RESILIENCY made it resilient ([MS-SMB2] 3.3.5.15.9): its LOCK
    /// sequence numbers are checked.
    pub(crate) resilient: bool,
    /// Open.LockSequenceArray ([MS-SMB2] 3.3.1.10): for LockSequenceIndex 1..=64, the
    /// number of the last LOCK that succeeded with it, [`OpenLocks::INVALID`] when none.
    pub(crate) sequence: [u8; 64],
}

impl OpenLocks {
    /// A sequence entry that matches no LockSequenceNumber (they are 4 bits).
    pub(crate) const INVALID: u8 = 0xFF;
}

impl Default for OpenLocks {
    fn default() -> Self {
        Self {
            used: false,
            resilient: false,
            sequence: [Self::INVALID; 64],
        }
    }
}
