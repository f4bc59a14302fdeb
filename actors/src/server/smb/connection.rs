//! The SMB connection actor: one per TCP connection. It owns the socket and everything the
//! connection negotiated (dialect, credits, sessions, trees, opens), splits the byte stream
//! into direct-TCP frames, decrypts transform frames, splits compounds, checks credits and
//! signatures, runs each command on the share core and writes the answers back, signed or
//! encrypted as the session requires.
//!
//! Requests on one connection run one at a time, in order: SMB2 clients tolerate that, the
//! state needs no locks, and a slow store slows only this connection's client. A client that
//! sends faster than we answer is slowed by TCP (we stop reading while a frame runs), and the
//! frame size is capped (limits::FRAME_MAX), so one connection's memory is bounded by one frame
//! plus one reply plus its tables (state.rs).
//!
//! Exit path: the peer closes, a framing error or a message that breaks the protocol's rules
//! closes the connection, or shutdown is signalled; in every case the actor stops reading,
//! commits what its opens wrote, and closes the socket.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use protocol::smb2::compound;
use protocol::smb2::credits::CreditWindow;
use protocol::smb2::crypto::{self, PreauthHash};
use protocol::smb2::fileid::FileId;
use protocol::smb2::framing::{FrameDecoder, ProtocolId};
use protocol::smb2::header::{
    AsyncId, Command, ErrorResponse, HEADER_LEN, Header, HeaderFlags, HeaderId, SessionId, TreeId,
};
use protocol::smb2::le::Writer;
use protocol::smb2::limits;
use protocol::smb2::status::NtStatus;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stores::Timestamp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::SmbServer;
use super::events::{ConnEvent, Finish, Forward, Forwarded, Wait};
use super::state::{Negotiated, Open, Session};

/// FILETIME (100 ns since 1601-01-01) of a store timestamp; times before 1601 are 0.
pub(crate) fn filetime(t: Timestamp) -> u64 {
    protocol::smb2::fscc::filetime_from_unix(t.secs, t.nanos)
}

/// The store timestamp of a FILETIME.
pub(crate) fn from_filetime(ft: u64) -> Timestamp {
    let (secs, nanos) = protocol::smb2::fscc::unix_from_filetime(ft);
    Timestamp { secs, nanos }
}

/// The status for a request that does not decode (logged at debug level with the reason).
pub(crate) fn undecodable(e: protocol::wire::DecodeError) -> NtStatus {
    tracing::debug!(error = %e, "undecodable SMB2 request");
    NtStatus::INVALID_PARAMETER
}

/// What a command handler answers: a status and the response body, written after a 64-byte
/// header placeholder the connection fills in.
#[derive(Debug)]
pub(crate) struct Out {
    /// The status in the response header.
    pub(crate) status: NtStatus,
    /// Header placeholder + body.
    pub(crate) w: Writer,
    /// A session id for the response header other than the request's (SESSION_SETUP).
    pub(crate) session_id: Option<u64>,
    /// A tree id for the response header other than the request's (TREE_CONNECT).
    pub(crate) tree_id: Option<u32>,
    /// The FileId a CREATE produced, for related requests later in the compound.
    pub(crate) file_id: Option<FileId>,
    /// No response at all (CANCEL, a lease break acknowledgement that needs none).
    pub(crate) silent: bool,
    /// The request waits: answer STATUS_PENDING now and finish when this ends
    /// ([`super::events`]).
    pub(crate) wait: Option<Wait>,
    /// Sign the answer with this key rather than its session's (an answer about a session
    /// of another connection, [`super::events::SessionHome`]).
    pub(crate) sign_as: Option<super::events::Signer>,
}

impl Out {
    /// A writer holding the header placeholder.
    pub(crate) fn writer() -> Writer {
        let mut w = Writer::with_capacity(256);
        w.zeros(HEADER_LEN);
        w
    }

    /// A successful answer with the body in `w`.
    pub(crate) fn ok(w: Writer) -> Self {
        Self::with_status(NtStatus::SUCCESS, w)
    }

    /// An answer with `status` and the body in `w`.
    pub(crate) fn with_status(status: NtStatus, w: Writer) -> Self {
        Self {
            status,
            w,
            session_id: None,
            tree_id: None,
            file_id: None,
            silent: false,
            wait: None,
            sign_as: None,
        }
    }

    /// The request goes asynchronous: it is answered STATUS_PENDING now, and finally when
    /// `wait` ends ([`super::events`]).
    pub(crate) fn pending(wait: impl Future<Output = Finish> + Send + 'static) -> Self {
        Self {
            wait: Some(Wait::new(wait)),
            ..Self::error(NtStatus::PENDING)
        }
    }

    /// An error answer: the ERROR response body ([MS-SMB2] 2.2.2).
    pub(crate) fn error(status: NtStatus) -> Self {
        let mut w = Self::writer();
        ErrorResponse::EMPTY.encode(&mut w);
        Self::with_status(status, w)
    }
}

impl From<NtStatus> for Out {
    fn from(status: NtStatus) -> Self {
        Self::error(status)
    }
}

/// Handler result: an answer, or an error status (answered with the ERROR body).
pub(crate) type Handled = Result<Out, NtStatus>;

/// One request as handlers see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Req<'a> {
    /// Its header (with related-compound ids already substituted).
    pub(crate) hdr: &'a Header,
    /// The whole message, header included.
    pub(crate) msg: &'a [u8],
    /// It arrived encrypted.
    pub(crate) encrypted: bool,
    /// The FileId of the previous element of a related compound, for requests that carry
    /// the "use the previous" FileId.
    pub(crate) related_file: Option<FileId>,
}

impl Req<'_> {
    /// The FileId a request names: the related one when the request carries the all-ones
    /// FileId in a related compound.
    pub(crate) fn file_id(&self, id: FileId) -> Result<FileId, NtStatus> {
        if id.is_related() {
            if self.hdr.is_related() {
                return self.related_file.ok_or(NtStatus::INVALID_PARAMETER);
            }
            return Err(NtStatus::FILE_CLOSED);
        }
        Ok(id)
    }
}

/// The per-connection state.
pub(crate) struct Conn {
    pub(crate) server: Arc<SmbServer>,
    /// The address the client connected to (FSCTL_QUERY_NETWORK_INTERFACE_INFO).
    pub(crate) local: SocketAddr,
    /// The secret half of resume keys: a client cannot name an open it was not given.
    pub(crate) resume_secret: [u8; 16],
    pub(crate) rng: ChaCha8Rng,
    pub(crate) neg: Option<Negotiated>,
    /// The connection's preauth hash (3.1.1): NEGOTIATE request and response.
    pub(crate) preauth: PreauthHash,
    pub(crate) credits: CreditWindow,
    pub(crate) sessions: BTreeMap<u64, Session>,
    pub(crate) opens: BTreeMap<u64, Open>,
    pub(crate) next_tree: u32,
    pub(crate) next_file: u64,
    /// The connection must close after the current frame (a protocol violation).
    pub(crate) close: bool,
    /// Sessions logged off in the current frame: removed once its reply is signed or
    /// encrypted with their keys ([MS-SMB2] 3.3.5.6).
    pub(crate) logged_off: Vec<u64>,
    /// This connection's id (its mailbox in [`SmbServer::mailboxes`]).
    pub(crate) id: u64,
    /// This connection's own mailbox, for the tasks of its asynchronous operations.
    pub(crate) events: mpsc::Sender<ConnEvent>,
    /// Outstanding asynchronous operations by AsyncId (at most
    /// [`ASYNC_MAX`](super::events::ASYNC_MAX)).
    pub(crate) asyncs: BTreeMap<u64, AsyncOp>,
    /// The next AsyncId (never 0).
    pub(crate) next_async: u64,
    /// Requests retrying a busy store, by (SessionId, MessageId): when they first met it and
    /// how often they retried ([`super::busy`]). At most [`ASYNC_MAX`](super::events::ASYNC_MAX).
    pub(crate) busy: BTreeMap<(u64, u64), (tokio::time::Instant, u32)>,
    /// This connection's queue of requests forwarded by the channels bound to its sessions
    /// (handed to them in [`super::events::SessionHome`]).
    pub(crate) forward_tx: mpsc::Sender<Forward>,
    /// Requests forwarded by bound channels, run here as the sessions' home.
    pub(crate) forwards: mpsc::Receiver<Forward>,
    /// A request that waited (STATUS_PENDING) is running again ([`Finish::Retry`]).
    pub(crate) retrying: bool,
}

/// A request answered STATUS_PENDING whose final answer is still to come.
#[derive(Debug)]
pub(crate) struct AsyncOp {
    /// Its header, with related-compound ids substituted.
    pub(crate) hdr: Header,
    /// The whole request, to run again on [`Finish::Retry`].
    pub(crate) msg: Vec<u8>,
    /// The session whose key decrypted it, if it came encrypted: the final answer is
    /// encrypted for that session.
    pub(crate) transform: Option<u64>,
    /// The FileId of the element before it, for a related request.
    pub(crate) related_file: Option<FileId>,
    /// Ends the wait (CANCEL, logoff, tree or file close, connection end).
    pub(crate) cancel: CancellationToken,
    /// The rest of its compound, when it is not the compound's last element.
    pub(crate) rest: Option<Box<Rest>>,
}

/// Runs one connection to completion.
pub(crate) async fn run<S>(
    stream: S,
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    server: Arc<SmbServer>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let span = tracing::info_span!("smb", conn = id, %peer);
    async move {
        tracing::debug!("connected");
        let mut seed = [0u8; 32];
        server
            .env
            .rng(&format!("smb-conn-{id}"))
            .fill_bytes(&mut seed);
        let mut rng = ChaCha8Rng::from_seed(seed);
        let mut resume_secret = [0u8; 16];
        rng.fill_bytes(&mut resume_secret);
        let (events, mut mailbox) = server.mailboxes.open(id);
        let (forward_tx, forwards) = mpsc::channel(super::events::FORWARD_CAPACITY);
        let mut conn = Conn {
            credits: CreditWindow::new(server.settings.max_credits),
            server,
            local,
            resume_secret,
            rng,
            neg: None,
            preauth: PreauthHash::new(),
            sessions: BTreeMap::new(),
            opens: BTreeMap::new(),
            next_tree: 1,
            next_file: 1,
            forward_tx,
            forwards,
            retrying: false,
            close: false,
            logged_off: Vec::new(),
            id,
            events,
            asyncs: BTreeMap::new(),
            next_async: 1,
            busy: BTreeMap::new(),
        };
        let (mut rd, mut wr) = tokio::io::split(stream);
        // Until a session is authenticated, frames are small (NEGOTIATE, SESSION_SETUP);
        // afterwards up to the largest WRITE. So a peer that never logs on holds at most
        // PRE_AUTH_FRAME_MAX of buffer, not 8 MiB.
        let mut decoder = FrameDecoder::with_max(PRE_AUTH_FRAME_MAX);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        'read: loop {
            loop {
                let frame = match decoder.decode(&mut buf) {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "bad SMB framing; closing the connection");
                        break 'read;
                    }
                };
                let reply = conn.frame(&frame).await;
                if decoder.max() < limits::FRAME_MAX && conn.authenticated() {
                    decoder.set_max(limits::FRAME_MAX);
                }
                if let Some(reply) = reply
                    && send(&mut wr, &reply, buf.len() < 4).await.is_err()
                {
                    break 'read;
                }
                if conn.close {
                    break 'read;
                }
                // What this request caused for this connection (a break of another of its
                // leases by its rename, smbtorture lease.rename_wait) goes out before the next
                // buffered request is answered: the client sees the break before answers to
                // requests it sent after the one that caused it.
                while let Ok(event) = mailbox.try_recv() {
                    if !answer_event(&mut conn, &mut wr, event).await {
                        break 'read;
                    }
                }
            }
            if buf.capacity() - buf.len() < 16 * 1024 {
                buf.reserve(64 * 1024);
            }
            let n = tokio::select! {
                biased;
                () = shutdown.cancelled() => break 'read,
                Some(event) = mailbox.recv() => {
                    if !answer_event(&mut conn, &mut wr, event).await {
                        break 'read;
                    }
                    continue 'read;
                }
                Some(f) = conn.forwards.recv() => {
                    conn.serve_forward(f).await;
                    for sid in std::mem::take(&mut conn.logged_off) {
                        conn.sessions.remove(&sid);
                    }
                    if conn.close {
                        break 'read;
                    }
                    continue 'read;
                }
                n = rd.read_buf(&mut buf) => n,
            };
            match n {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "read failed");
                    break;
                }
            }
        }
        let _ = wr.flush().await;
        conn.server.mailboxes.close(conn.id);
        for op in conn.asyncs.values() {
            op.cancel.cancel();
        }
        conn.close_all(shutdown.is_cancelled()).await;
        let _ = wr.shutdown().await;
        tracing::debug!("closed");
    }
    .instrument(span)
    .await;
}

/// Handles one mailbox event and writes what it answers (a break notification, a pending
/// request's final answer); whether the connection goes on (false: the write failed or the
/// event closed the connection).
async fn answer_event<W: AsyncWrite + Unpin>(
    conn: &mut Conn,
    wr: &mut W,
    event: ConnEvent,
) -> bool {
    if let Some(reply) = conn.event(event).await
        && send(wr, &reply, true).await.is_err()
    {
        return false;
    }
    !conn.close
}

/// Writes one answer frame; `flush` when no further request is already buffered. An error
/// (logged) ends the connection.
async fn send<W: AsyncWrite + Unpin>(wr: &mut W, reply: &[u8], flush: bool) -> std::io::Result<()> {
    // compound() keeps answers within REPLY_MAX; never hand the framing an answer its 24-bit
    // length cannot carry (it asserts).
    if reply.len() > protocol::smb2::framing::STREAM_LEN_MAX {
        tracing::error!(
            len = reply.len(),
            "SMB answer too long to frame; closing the connection"
        );
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    let header = protocol::smb2::framing::frame_header(reply.len());
    let sent = async {
        wr.write_all(&header).await?;
        wr.write_all(reply).await?;
        if flush {
            wr.flush().await?;
        }
        std::io::Result::Ok(())
    }
    .await;
    if let Err(e) = &sent {
        tracing::debug!(error = %e, "write failed");
    }
    sent
}

/// The tree id of a header (0 for async headers).
pub(crate) fn tid(h: &Header) -> u32 {
    h.tree_id().map_or(0, |t| t.0)
}

fn set_tid(h: &mut Header, tree: u32) {
    if let HeaderId::Sync { .. } = h.id {
        h.id = HeaderId::Sync {
            reserved: 0,
            tree_id: TreeId(tree),
        };
    }
}

/// A response on its way out: its bytes (header included) and the session whose key signs
/// it, if it is signed.
pub(crate) struct Pending {
    pub(crate) bytes: Vec<u8>,
    pub(crate) sign: Option<u64>,
    /// A SESSION_SETUP response whose bytes feed the session's preauth hash.
    pub(crate) preauth_session: Option<u64>,
    /// Signed with this key instead ([`Out::sign_as`]).
    pub(crate) sign_as: Option<super::events::Signer>,
}

/// A compound being run: the frame, its elements, and the session whose key decrypted it.
#[derive(Clone, Copy)]
struct Chain<'f, 'p> {
    frame: &'f [u8],
    parts: &'p [compound::Element<'f>],
    transform: Option<u64>,
}

/// What the elements of a compound pass on to the related elements after them
/// ([MS-SMB2] 3.3.5.2.7.2).
#[derive(Debug, Clone)]
pub(crate) struct ChainState {
    /// The FileId the chain works on (the last CREATE's, or the last one named).
    related_file: Option<FileId>,
    /// A failure related elements inherit.
    related_status: NtStatus,
    /// The previous element's session was not found: a related element has no session to
    /// inherit (Samba answers INVALID_PARAMETER; smbtorture compound.invalid2).
    session_lost: bool,
    /// The previous element's session and tree.
    session_id: u64,
    tree_id: u32,
    /// Bytes of answers in the frame so far (each padded to 8), kept within REPLY_MAX.
    reply_len: usize,
}

impl Default for ChainState {
    fn default() -> Self {
        Self {
            related_file: None,
            related_status: NtStatus::SUCCESS,
            session_lost: false,
            session_id: 0,
            tree_id: 0,
            reply_len: 0,
        }
    }
}

impl ChainState {
    /// Takes in the answer `out` to the element `hdr` (`related` to the one before).
    fn absorb(&mut self, hdr: &Header, related: bool, out: &Out) {
        self.session_lost =
            out.status == NtStatus::USER_SESSION_DELETED || (related && self.session_lost);
        if let Some(f) = out.file_id {
            self.related_file = Some(f);
            self.related_status = NtStatus::SUCCESS;
        }
        // A failure carries over to the related requests after it when it is the CREATE
        // that should have made the handle, an unrelated request (it starts a new chain),
        // or while no handle is established: a WRITE refused on a good handle does not
        // fail the related READ after it (Windows and Samba alike).
        if out.status.is_error()
            && (hdr.command == Command::CREATE || !related || self.related_file.is_none())
        {
            self.related_status = out.status;
            if !related {
                self.related_file = None;
            }
        }
        self.session_id = out.session_id.unwrap_or(hdr.session_id.0);
        self.tree_id = out.tree_id.unwrap_or_else(|| tid(hdr));
    }
}

/// The rest of a compound whose element went asynchronous before its end (a CREATE waiting
/// for an oplock break): kept with the asynchronous operation, run when it ends. Bounded by
/// the frame size and, being one per asynchronous operation, by
/// [`ASYNC_MAX`](super::events::ASYNC_MAX).
#[derive(Debug)]
pub(crate) struct Rest {
    /// The whole (decrypted) frame.
    frame: Vec<u8>,
    /// The first element still to run.
    next: usize,
    /// The waiting element is related to the one before it.
    related: bool,
    /// What the elements before the waiting one passed on.
    state: ChainState,
}

impl Conn {
    /// Handles one frame; returns the reply frame's payload, if any.
    async fn frame(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let reply = self.frame_reply(frame).await;
        for sid in std::mem::take(&mut self.logged_off) {
            self.sessions.remove(&sid);
        }
        reply
    }

    /// The reply to one frame, signed or encrypted with the keys of the sessions it names.
    async fn frame_reply(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        match ProtocolId::of(frame) {
            ProtocolId::Smb2 => self.compound(frame, None).await,
            ProtocolId::Transform => {
                let Some((session_id, plain)) = self.decrypt(frame) else {
                    // [MS-SMB2] 3.3.5.2.1.1: a frame that does not decrypt closes the
                    // connection.
                    tracing::warn!("SMB3 frame failed to decrypt; closing the connection");
                    self.close = true;
                    return None;
                };
                let reply = self.compound(&plain, Some(session_id)).await?;
                let enc = self.encrypt(session_id, &reply);
                if enc.is_none() {
                    self.close = true;
                }
                enc
            }
            ProtocolId::Smb1 => self.smb1_negotiate(frame),
            ProtocolId::Compression | ProtocolId::Unknown => {
                tracing::warn!("unsupported or unknown SMB protocol id; closing the connection");
                self.close = true;
                None
            }
        }
    }

    /// Decrypts a transform frame with the decryption key of the session it names.
    fn decrypt(&self, frame: &[u8]) -> Option<(u64, Vec<u8>)> {
        let cipher = self.neg.as_ref()?.cipher?;
        let th = protocol::smb2::transform::TransformHeader::decode(frame).ok()?;
        let session = self.sessions.get(&th.session_id.0)?;
        let key = session.keys.as_ref()?.decryption.as_ref()?;
        let plain = crypto::decrypt(cipher, key.as_bytes(), frame).ok()?;
        Some((th.session_id.0, plain))
    }

    /// Encrypts a reply for `session_id`.
    pub(crate) fn encrypt(&mut self, session_id: u64, plain: &[u8]) -> Option<Vec<u8>> {
        let cipher = self.neg.as_ref()?.cipher?;
        let session = self.sessions.get(&session_id)?;
        // The session's counter, shared by every connection bound to it, so no nonce repeats
        // under its key; the rest is random.
        let n = session
            .nonces
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
        let key = session.keys.as_ref()?.encryption.as_ref()?;
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        self.rng.fill_bytes(&mut nonce[8..]);
        crypto::encrypt(
            cipher,
            key.as_bytes(),
            &nonce[..cipher.nonce_len()],
            session_id,
            plain,
        )
        .ok()
    }

    /// Handles the SMB1 NEGOTIATE clients send first ([MS-SMB2] 3.3.5.3.1): answers with an
    /// SMB2 NEGOTIATE response for dialect 2.0.2, or the wildcard 2.??? so the client
    /// negotiates again over SMB2. Anything else over SMB1 closes the connection.
    fn smb1_negotiate(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        if self.neg.is_some() {
            self.close = true;
            return None;
        }
        let Ok(offered) = protocol::smb2::smb1::Smb1Negotiate::decode(frame) else {
            self.close = true;
            return None;
        };
        let settings = &self.server.settings;
        let dialect = if offered.offers_smb2_wildcard && settings.dialect_max > 0x0202 {
            0x02FF
        } else if offered.offers_smb2_002 && settings.dialect_min <= 0x0202 {
            0x0202
        } else {
            tracing::info!("client offered no SMB2 dialect we serve over SMB1; closing");
            self.close = true;
            return None;
        };
        let mut w = Out::writer();
        self.negotiate_smb1(dialect, &mut w);
        let mut hdr = Header::new(Command::NEGOTIATE);
        hdr.flags = HeaderFlags::SERVER_TO_REDIR;
        let mut out = w.into_inner();
        out[..HEADER_LEN].copy_from_slice(&hdr.to_bytes());
        // The SMB1 request used message id 0: the next SMB2 request is message id 1.
        let _ = self.credits.check(0, 1);
        let _ = self.credits.grant(1, 1, true);
        Some(out)
    }

    /// Handles one SMB2 frame: a single message or a compound; `transform` is the session
    /// whose key decrypted it, for a frame that arrived encrypted.
    async fn compound(&mut self, frame: &[u8], transform: Option<u64>) -> Option<Vec<u8>> {
        let parts = match compound::split(frame) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "malformed SMB2 compound; closing the connection");
                self.close = true;
                return None;
            }
        };
        let chain = Chain {
            frame,
            parts: &parts,
            transform,
        };
        self.run_chain(chain, 0, ChainState::default(), Vec::new(), false)
            .await
    }

    /// Runs the elements of a compound from `start` on, after the answers already in
    /// `replies`, and returns the chained answers (plain: the caller encrypts). An element
    /// that must wait ends the frame with its interim answer; when it is not the last (a
    /// CREATE waiting for an oplock break), the rest of the compound is kept with its
    /// asynchronous operation and runs when it ends ([`Rest`]). `cancelled`: the element
    /// before `start` was cancelled while it waited, and so is every element after it.
    async fn run_chain(
        &mut self,
        chain: Chain<'_, '_>,
        start: usize,
        mut st: ChainState,
        mut replies: Vec<Pending>,
        cancelled: bool,
    ) -> Option<Vec<u8>> {
        let Chain {
            frame,
            parts,
            transform,
        } = chain;
        let encrypted = transform.is_some();
        let count = parts.len();
        for (i, part) in parts.iter().enumerate().skip(start) {
            let last = i + 1 == count;
            let msg: &[u8] = part.bytes;
            let mut hdr = match Header::decode(msg) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "malformed SMB2 header; closing the connection");
                    self.close = true;
                    return None;
                }
            };
            if hdr.is_response() {
                self.close = true;
                return None;
            }
            let related = i > 0 && hdr.is_related();
            if related {
                if hdr.session_id.0 == u64::MAX {
                    hdr.session_id = SessionId(st.session_id);
                }
                if hdr.tree_id() == Some(TreeId(u32::MAX)) {
                    set_tid(&mut hdr, st.tree_id);
                }
            }
            // An encrypted message runs without a signature check, authenticated by the key
            // that decrypted it: it must belong to that key's session, or a client holding one
            // session's key could act as another session on the connection.
            if let Some(sid) = transform
                && hdr.session_id.0 != sid
            {
                tracing::warn!(
                    transform = sid,
                    session = hdr.session_id.0,
                    "encrypted message for another session; closing the connection"
                );
                self.close = true;
                return None;
            }
            // Credits: every request but CANCEL uses its message ids once.
            let charge = hdr.credit_charge.max(1);
            if hdr.command != Command::CANCEL
                && let Err(e) = self.credits.check(hdr.message_id.0, charge)
            {
                tracing::warn!(error = %e, mid = hdr.message_id.0, "request outside the credit window; closing the connection");
                self.close = true;
                return None;
            }
            let mut out = if cancelled {
                Out::error(NtStatus::CANCELLED)
            } else if i == 0 && hdr.is_related() {
                // A related first element has nothing to relate to ([MS-SMB2] 3.3.5.2.7.2).
                Out::error(NtStatus::INVALID_PARAMETER)
            } else if related && st.session_lost {
                Out::error(NtStatus::INVALID_PARAMETER)
            } else if related && st.related_status.is_error() && needs_file(hdr.command) {
                Out::error(st.related_status)
            } else {
                let req = Req {
                    hdr: &hdr,
                    msg,
                    encrypted,
                    related_file: if related { st.related_file } else { None },
                };
                let out = self.element(req).await;
                // Only the last element may go asynchronous for a busy store.
                self.busy_retry(&hdr, out, last)
            };
            if out.silent {
                continue;
            }
            let mut async_id = None;
            let mut deferred = false;
            if let Some(wait) = out.wait.take() {
                let may_defer = hdr.command == Command::CREATE
                    && self.deferred_bytes() + frame.len() <= super::events::DEFERRED_BYTES_MAX;
                out = if last || may_defer {
                    // The last element goes async; so does a CREATE anywhere in the
                    // compound (one that waits for an oplock or lease break): the rest of
                    // the compound waits with it ([MS-SMB2] 3.3.5.2.7 and its Windows note;
                    // Samba alike; smbtorture compound.compound-break).
                    let rest = (!last).then(|| {
                        Box::new(Rest {
                            frame: frame.to_vec(),
                            next: i + 1,
                            related,
                            state: st.clone(),
                        })
                    });
                    let related_file = if related { st.related_file } else { None };
                    match self.go_async(&hdr, msg, transform, related_file, wait, rest) {
                        Some(id) => {
                            async_id = Some(id);
                            deferred = !last;
                            Out::error(NtStatus::PENDING)
                        }
                        None => Out::error(NtStatus::INSUFFICIENT_RESOURCES),
                    }
                } else {
                    // [MS-SMB2] 3.3.5.2.7: a server may fail a compound element that needs
                    // asynchronous processing; Windows does so with STATUS_INTERNAL_ERROR for
                    // every element but the last, which goes async (smbtorture
                    // compound.interim1/interim2), a CREATE excepted (above) while the
                    // connection holds few deferred compounds. The wait is dropped unstarted.
                    drop(wait);
                    Out::error(NtStatus::INTERNAL_ERROR)
                };
            }
            // Every element may be a READ or QUERY_DIRECTORY of up to 8 MiB: an answer that
            // would take the compound's past REPLY_MAX is replaced by an error, so one
            // connection's answer stays one frame (and fits the 24-bit frame length).
            if st.reply_len + out.w.len().next_multiple_of(8) > REPLY_MAX {
                tracing::info!(
                    command = ?hdr.command,
                    "compound answer would exceed the frame limit; failing this element"
                );
                out = Out::error(NtStatus::INSUFFICIENT_RESOURCES);
            }
            st.reply_len += out.w.len().next_multiple_of(8);
            st.absorb(&hdr, related, &out);
            let session_id = st.session_id;
            let tree_id = st.tree_id;
            // The interim answer of an element whose rest waits ends this frame, so it
            // carries the credits of the elements answered so far.
            let granted = self.credits.grant(hdr.credits, charge, last || deferred);
            let mut resp = hdr.response(out.status, granted);
            resp.session_id = SessionId(session_id);
            set_tid(&mut resp, tree_id);
            if let Some(id) = async_id {
                resp = resp.with_async_id(AsyncId(id));
            }
            let sign_as = out.sign_as.take().filter(|_| !encrypted);
            let sign =
                !encrypted && sign_as.is_none() && self.should_sign(&hdr, out.status, session_id);
            if sign || sign_as.is_some() {
                resp.flags |= HeaderFlags::SIGNED;
            }
            let mut bytes = out.w.into_inner();
            bytes[..HEADER_LEN].copy_from_slice(&resp.to_bytes());
            if hdr.command == Command::NEGOTIATE {
                self.negotiated_hash(msg, &bytes);
            }
            let preauth_session = (hdr.command == Command::SESSION_SETUP
                && out.status == NtStatus::MORE_PROCESSING_REQUIRED)
                .then_some(session_id);
            replies.push(Pending {
                bytes,
                sign: sign.then_some(session_id),
                preauth_session,
                sign_as,
            });
            if deferred {
                break;
            }
        }
        self.chain_replies(replies)
    }

    /// Bytes of the compounds kept waiting for an asynchronous element ([`Rest`]).
    fn deferred_bytes(&self) -> usize {
        self.asyncs
            .values()
            .filter_map(|op| op.rest.as_ref())
            .map(|r| r.frame.len())
            .sum()
    }

    /// Chains answers into one frame: pads every element of a compound to 8 bytes and sets
    /// NextCommand on all but the last, then signs each element as NextCommand delimits it
    /// ([MS-SMB2] 3.3.4.1.3). `None` when there is nothing to send.
    fn chain_replies(&mut self, mut replies: Vec<Pending>) -> Option<Vec<u8>> {
        if replies.is_empty() {
            return None;
        }
        // The last element of a compound is padded too, as Windows and Samba pad it
        // (smbtorture compound.compound-padding: a READ of 3 bytes answers 24 bytes of body
        // there, 19 alone); a lone response is not.
        let n = replies.len();
        for (i, p) in replies.iter_mut().enumerate() {
            if n > 1 {
                let padded = p.bytes.len().next_multiple_of(8);
                p.bytes.resize(padded, 0);
                if i + 1 < n {
                    let next = u32::try_from(padded).unwrap_or(0);
                    p.bytes[20..24].copy_from_slice(&next.to_le_bytes());
                }
            }
            if let Some(sid) = p.sign {
                self.sign(sid, &mut p.bytes);
            }
            if let Some((alg, key)) = &p.sign_as
                && let Err(e) = crypto::sign(*alg, key.as_bytes(), &mut p.bytes)
            {
                tracing::warn!(error = %e, "signing a response failed");
            }
            // The preauth hash takes the response as sent: a binding's interim answers are
            // signed ([MS-SMB2] 3.3.5.5.3 hashes the whole message).
            if let Some(sid) = p.preauth_session
                && let Some(h) = self.sessions.get_mut(&sid).and_then(|s| s.preauth.as_mut())
            {
                h.update(&p.bytes);
            }
        }
        let mut frame = Vec::with_capacity(replies.iter().map(|p| p.bytes.len()).sum());
        for p in replies {
            frame.extend_from_slice(&p.bytes);
        }
        Some(frame)
    }

    /// Runs the rest of a compound after its element `op` ended asynchronously with `out`
    /// (its final answer, `final_bytes`, goes first in the frame), and returns the frame to
    /// send, encrypted if the compound came encrypted ([MS-SMB2] 3.3.4.4, 3.3.5.2.7.2: the
    /// related elements inherit the FileId, session and tree of the element that waited).
    pub(crate) async fn resume_chain(
        &mut self,
        op: &AsyncOp,
        rest: Rest,
        out: Out,
        final_answer: Pending,
    ) -> Option<Vec<u8>> {
        let mut st = rest.state;
        st.absorb(&op.hdr, rest.related, &out);
        let cancelled = out.status == NtStatus::CANCELLED;
        // The frame split when it arrived.
        let parts = compound::split(&rest.frame).ok()?;
        let chain = Chain {
            frame: &rest.frame,
            parts: &parts,
            transform: op.transform,
        };
        let plain = self
            .run_chain(chain, rest.next, st, vec![final_answer], cancelled)
            .await;
        let reply = match (plain, op.transform) {
            (Some(plain), Some(sid)) => {
                let enc = self.encrypt(sid, &plain);
                if enc.is_none() {
                    tracing::debug!(
                        session = sid,
                        "compound answers for a session that ended; dropped"
                    );
                }
                enc
            }
            (plain, _) => plain,
        };
        for sid in std::mem::take(&mut self.logged_off) {
            self.sessions.remove(&sid);
        }
        reply
    }

    /// Whether a response goes out signed: on an authenticated session that signs (required,
    /// or the request was signed), and the final SESSION_SETUP success of a 3.x session.
    pub(crate) fn should_sign(&self, req: &Header, status: NtStatus, session_id: u64) -> bool {
        let Some(s) = self.sessions.get(&session_id) else {
            return false;
        };
        // Guest sessions have no keys; a session re-authenticated as anonymous keeps the
        // keys it had, and the client goes on checking signatures with them.
        if s.keys.is_none() || status == NtStatus::PENDING {
            return false;
        }
        // The final SESSION_SETUP of a 3.x session is signed with the new key, so the client
        // can check that nobody tampered with the exchange ([MS-SMB2] 3.3.5.5.3).
        if req.command == Command::SESSION_SETUP {
            return status == NtStatus::SUCCESS
                && (s.signing_required || self.neg.as_ref().is_some_and(Negotiated::is_smb3));
        }
        s.signing_required || req.is_signed()
    }

    /// The algorithm and key that sign session `session_id`'s messages on this connection.
    fn signer(&self, session_id: u64) -> Option<super::events::Signer> {
        let neg = self.neg.as_ref()?;
        let keys = self.sessions.get(&session_id)?.keys.as_ref()?;
        Some((neg.signing, keys.signing.clone()))
    }

    pub(crate) fn sign(&self, session_id: u64, msg: &mut [u8]) {
        let (Some(neg), Some(keys)) = (
            self.neg.as_ref(),
            self.sessions.get(&session_id).and_then(|s| s.keys.as_ref()),
        ) else {
            return;
        };
        if let Err(e) = crypto::sign(neg.signing, keys.signing.as_bytes(), msg) {
            tracing::warn!(error = %e, "signing a response failed");
        }
    }

    /// Checks a request's signature against its session; `Err` is the status to answer.
    fn verify(&self, req: &Req<'_>) -> Result<(), NtStatus> {
        let hdr = req.hdr;
        if hdr.command == Command::NEGOTIATE || req.encrypted {
            return Ok(());
        }
        let Some(s) = self.sessions.get(&hdr.session_id.0) else {
            return Ok(());
        };
        let (Some(neg), Some(keys)) = (self.neg.as_ref(), s.keys.as_ref()) else {
            return Ok(());
        };
        if !hdr.is_signed() {
            // A bound channel takes no unsigned SESSION_SETUP either (Windows answers
            // ACCESS_DENIED, smbtorture session.bind_negative_*).
            let exempt = match hdr.command {
                Command::CANCEL => true,
                Command::SESSION_SETUP => s.bound.is_none(),
                _ => false,
            };
            if s.signing_required && !exempt {
                return Err(NtStatus::ACCESS_DENIED);
            }
            return Ok(());
        }
        if crypto::verify(neg.signing, keys.signing.as_bytes(), req.msg) {
            Ok(())
        } else {
            tracing::warn!(session = hdr.session_id.0, "bad signature");
            Err(NtStatus::ACCESS_DENIED)
        }
    }

    /// The connection preauth hash after NEGOTIATE (3.1.1).
    fn negotiated_hash(&mut self, req: &[u8], resp: &[u8]) {
        if self.neg.as_ref().is_some_and(|n| n.dialect == 0x0311) {
            self.preauth = PreauthHash::new();
            self.preauth.update(req);
            self.preauth.update(resp);
        }
    }

    /// Runs one element of a compound.
    pub(crate) async fn element(&mut self, req: Req<'_>) -> Out {
        let started = self.server.env.now();
        let command = req.hdr.command;
        let out = self.element_as(req, false).await;
        crate::telemetry::request(
            "smb",
            command
                .name()
                .map_or("unknown", |n| n.trim_start_matches("SMB2 ")),
            out.status.name().unwrap_or("unknown"),
            self.server.env.now().duration_since(started),
        );
        out
    }

    /// [`Self::element`], boxed (a forwarded request runs it from inside another element's
    /// wait for its home connection).
    fn element_boxed<'a>(
        &'a mut self,
        req: Req<'a>,
        forwarded: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = Out> + Send + 'a>> {
        Box::pin(self.element_as(req, forwarded))
    }

    /// Runs one element; `forwarded` when a bound channel checked its signature already.
    async fn element_as(&mut self, req: Req<'_>, forwarded: bool) -> Out {
        let hdr = req.hdr;
        // Before NEGOTIATE only NEGOTIATE is allowed.
        if self.neg.is_none() && hdr.command != Command::NEGOTIATE {
            self.close = true;
            return Out::error(NtStatus::INVALID_PARAMETER);
        }
        if !forwarded && let Err(s) = self.verify(&req) {
            // The refusal of a signed request is signed (with the key it was checked
            // against), as Windows and Samba do: a client that signs rejects an unsigned
            // answer and drops the connection.
            let mut out = Out::error(s);
            if hdr.is_signed() {
                out.sign_as = self.signer(hdr.session_id.0);
            }
            return out;
        }
        if !forwarded && let Some(bound) = self.forwarding(&req) {
            return self.forward(req, bound).await;
        }
        // A signed request naming a session of another connection that is not bound here:
        // deleted as far as this connection knows, said with the session's signature (the
        // client checks that the answer is signed; smbtorture session.bind2).
        if !forwarded
            && hdr.is_signed()
            && !matches!(
                hdr.command,
                Command::NEGOTIATE | Command::SESSION_SETUP | Command::CANCEL | Command::ECHO
            )
            && hdr.session_id.0 != 0
            && !self.sessions.contains_key(&hdr.session_id.0)
            && let Some(signer) = self
                .server
                .mailboxes
                .session_home(hdr.session_id.0)
                .and_then(|h| h.signer)
        {
            let mut out = Out::error(NtStatus::USER_SESSION_DELETED);
            out.sign_as = Some(signer);
            return out;
        }
        // [MS-SMB2] 3.3.5.2.5: a READ, WRITE, IOCTL or QUERY_DIRECTORY must be charged the
        // credits its payload or largest answer needs (3.1.5.2); a CreditCharge of 0 (2.0.2)
        // allows 64 KiB. Otherwise one credit would buy an 8 MiB answer.
        if let Some(payload) = charged_payload(hdr.command, req.msg)
            && protocol::smb2::credits::charge_for(payload) > hdr.credit_charge.max(1)
        {
            return Out::error(NtStatus::INVALID_PARAMETER);
        }
        let result = match hdr.command {
            Command::NEGOTIATE => self.negotiate(req),
            Command::SESSION_SETUP => match self.session_setup(req) {
                Ok(out) => {
                    self.previous_session(req, out.status, out.session_id).await;
                    Ok(out)
                }
                Err(e) => Err(e),
            },
            Command::LOGOFF => self.logoff(req).await,
            Command::TREE_CONNECT => self.tree_connect(req),
            Command::TREE_DISCONNECT => self.tree_disconnect(req).await,
            Command::ECHO => self.echo(req),
            Command::CANCEL => {
                self.cancel(hdr);
                Ok(Out {
                    silent: true,
                    ..Out::error(NtStatus::SUCCESS)
                })
            }
            Command::CREATE => self.create(req).await,
            Command::CLOSE => self.close_file(req).await,
            Command::FLUSH => self.flush(req).await,
            Command::READ => self.read(req).await,
            Command::WRITE => self.write(req).await,
            Command::LOCK => self.lock(req).await,
            Command::OPLOCK_BREAK => self.oplock_break(req),
            Command::QUERY_DIRECTORY => self.query_directory(req).await,
            Command::CHANGE_NOTIFY => self.change_notify(req),
            Command::QUERY_INFO => self.query_info(req).await,
            Command::SET_INFO => self.set_info(req).await,
            Command::IOCTL => self.ioctl(req).await,
            _ => Err(NtStatus::INVALID_PARAMETER),
        };
        match result {
            Ok(out) => out,
            Err(status) => {
                tracing::debug!(command = ?hdr.command, %status, "SMB2 request failed");
                Out::error(status)
            }
        }
    }

    /// The home connection a request goes to: its session is a bound channel here, set up,
    /// and the command is not one the channel answers itself (SESSION_SETUP binding, CANCEL,
    /// ECHO).
    fn forwarding(&self, req: &Req<'_>) -> Option<super::state::Bound> {
        let hdr = req.hdr;
        let s = self.sessions.get(&hdr.session_id.0)?;
        let bound = s.bound.as_ref()?;
        if !matches!(s.auth, super::state::Auth::Valid)
            || self.logged_off.contains(&hdr.session_id.0)
        {
            return None;
        }
        let local = match hdr.command {
            Command::NEGOTIATE | Command::CANCEL | Command::ECHO => true,
            Command::SESSION_SETUP => protocol::smb2::session::SessionSetupRequest::decode(req.msg)
                .map_or(true, |r| {
                    r.flags
                        .contains(protocol::smb2::session::SessionSetupFlags::BINDING)
                }),
            _ => false,
        };
        (!local).then(|| bound.clone())
    }

    /// Runs a request of a bound channel on its session's home connection and returns the
    /// answer, which this connection signs or encrypts with the channel's keys. While it
    /// waits, this connection runs what its own channels forward to it (two connections may
    /// each be the other's channel; neither waits for the other without serving it).
    async fn forward(&mut self, req: Req<'_>, bound: super::state::Bound) -> Out {
        let sid = req.hdr.session_id.0;
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let f = Forward {
            hdr: *req.hdr,
            msg: req.msg.to_vec(),
            encrypted: req.encrypted,
            related_file: req.related_file,
            reply: tx,
        };
        let permit = loop {
            tokio::select! {
                biased;
                p = bound.forward.reserve() => break p.ok(),
                Some(other) = self.forwards.recv() => self.serve_forward(other).await,
            }
        };
        let answer = match permit {
            Some(p) => {
                p.send(f);
                loop {
                    tokio::select! {
                        biased;
                        r = &mut rx => break r.unwrap_or(Forwarded::Gone),
                        Some(other) = self.forwards.recv() => self.serve_forward(other).await,
                    }
                }
            }
            None => Forwarded::Gone,
        };
        match answer {
            Forwarded::Done(out) => {
                if req.hdr.command == Command::LOGOFF && out.status == NtStatus::SUCCESS {
                    // The session is gone on every channel; this one's entry goes once the
                    // answer is signed with its key.
                    self.channel_ended(sid);
                }
                out
            }
            Forwarded::Gone => {
                tracing::debug!(
                    session = sid,
                    home = bound.home,
                    "bound channel's session ended on its home connection"
                );
                self.channel_ended(sid);
                Out::error(NtStatus::USER_SESSION_DELETED)
            }
        }
    }

    /// Forgets this connection's channel of session `sid` after the current frame.
    fn channel_ended(&mut self, sid: u64) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.auth = super::state::Auth::LoggedOff;
        }
        if !self.logged_off.contains(&sid) {
            self.logged_off.push(sid);
        }
        self.server.mailboxes.channel_closed(sid, self.id);
    }

    /// Runs a request a bound channel forwarded to this, its session's home connection.
    pub(crate) async fn serve_forward(&mut self, f: Forward) {
        let sid = f.hdr.session_id.0;
        if self.sessions.get(&sid).is_none_or(|s| s.bound.is_some()) {
            let _ = f.reply.send(Forwarded::Gone);
            return;
        }
        let req = Req {
            hdr: &f.hdr,
            msg: &f.msg,
            encrypted: f.encrypted,
            related_file: f.related_file,
        };
        let out = self.element_boxed(req, true).await;
        // The channel may have gone meanwhile: nobody to answer.
        let _ = f.reply.send(Forwarded::Done(out));
    }

    /// The session a request runs in, authenticated.
    pub(crate) fn session(&self, hdr: &Header) -> Result<&Session, NtStatus> {
        if self.logged_off.contains(&hdr.session_id.0) {
            return Err(NtStatus::USER_SESSION_DELETED);
        }
        match self.sessions.get(&hdr.session_id.0) {
            Some(s) if matches!(s.auth, super::state::Auth::Valid) => Ok(s),
            _ => Err(NtStatus::USER_SESSION_DELETED),
        }
    }

    /// The tree a request runs on, checking that an encrypting tree got an encrypted request.
    pub(crate) fn tree(&self, req: &Req<'_>) -> Result<&super::state::Tree, NtStatus> {
        let s = self.session(req.hdr)?;
        let t = s
            .trees
            .get(&tid(req.hdr))
            .ok_or(NtStatus::NETWORK_NAME_DELETED)?;
        if (t.encrypt || s.encrypt_data) && !req.encrypted {
            return Err(NtStatus::ACCESS_DENIED);
        }
        Ok(t)
    }

    /// Whether some session on the connection completed its authentication.
    fn authenticated(&self) -> bool {
        self.sessions
            .values()
            .any(|s| matches!(s.auth, super::state::Auth::Valid))
    }

    /// Closes every open (committing what was written) when the connection ends, but
    /// preserves durable ones for a reconnect unless the server is `closing`
    /// ([`super::durable`]).
    async fn close_all(&mut self, closing: bool) {
        let ids: Vec<u64> = self.opens.keys().copied().collect();
        for id in ids {
            self.disconnect_open(id, closing).await;
        }
        for (sid, s) in &self.sessions {
            if s.bound.is_some() {
                self.server.mailboxes.channel_closed(*sid, self.id);
            } else {
                self.server.mailboxes.session_closed(*sid, self.id);
            }
        }
        self.sessions.clear();
    }
}

/// The largest frame a connection without an authenticated session may send: a
/// SESSION_SETUP with the largest security blob (limits::SECURITY_BLOB_MAX) and room to spare.
const PRE_AUTH_FRAME_MAX: usize = 2 * limits::SECURITY_BLOB_MAX;

/// The most bytes the answers to one frame may take together: the largest frame we accept
/// (a READ of the largest size and its header fit), far below the 24-bit frame length.
const REPLY_MAX: usize = limits::FRAME_MAX;

/// The larger of the payload and the largest answer a multi-credit request may carry
/// ([MS-SMB2] 3.1.5.2), from its fixed fields: READ Length, WRITE Length, QUERY_DIRECTORY
/// OutputBufferLength, IOCTL max(InputCount, MaxOutputResponse) (2.2.19, 2.2.21, 2.2.33,
/// 2.2.31). `None` for other commands and for bodies too short to hold the field (their
/// decoders refuse them).
fn charged_payload(command: Command, msg: &[u8]) -> Option<u64> {
    let at = |offset: usize| {
        let b = msg.get(HEADER_LEN + offset..HEADER_LEN + offset + 4)?;
        Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    match command {
        Command::READ | Command::WRITE => at(4),
        Command::QUERY_DIRECTORY => at(28),
        Command::IOCTL => Some(at(28)?.max(at(44)?)),
        _ => None,
    }
}

/// Commands that act on the FileId a previous related CREATE produced.
fn needs_file(c: Command) -> bool {
    matches!(
        c,
        Command::CLOSE
            | Command::FLUSH
            | Command::READ
            | Command::WRITE
            | Command::LOCK
            | Command::IOCTL
            | Command::QUERY_DIRECTORY
            | Command::CHANGE_NOTIFY
            | Command::QUERY_INFO
            | Command::SET_INFO
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: FILETIME conversions agree with the epoch difference and round-trip at 100 ns
    /// precision; times before 1601 clamp to 0.
    #[test]
    fn filetime_round_trip() {
        let t = Timestamp { secs: 0, nanos: 0 };
        assert_eq!(filetime(t), 116_444_736_000_000_000);
        let t = Timestamp {
            secs: 1_700_000_000,
            nanos: 123_456_700,
        };
        assert_eq!(from_filetime(filetime(t)), t);
        assert_eq!(
            filetime(Timestamp {
                secs: -20_000_000_000,
                nanos: 0
            }),
            0
        );
    }
}
