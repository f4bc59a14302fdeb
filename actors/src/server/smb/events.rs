//! What reaches an SMB connection besides its client's requests: the end of an asynchronous
//! operation it started, and messages from other connections (oplock and lease breaks, change
//! notifications). Each connection owns a bounded mailbox; [`Mailboxes`] finds a connection's
//! by id.
//!
//! Asynchronous operations ([MS-SMB2] 3.3.4.2): a handler that must wait (a CHANGE_NOTIFY for
//! a change, a CREATE for another client's oplock break acknowledgement) returns
//! [`Out::pending`](super::connection::Out::pending) with a future that waits. The connection
//! answers STATUS_PENDING at once with an AsyncId, runs the future on its own task, and keeps
//! serving the client. When the future ends it posts [`ConnEvent::Finished`] to the
//! connection, which sends the final answer ([`Finish::Done`]) or runs the request again
//! ([`Finish::Retry`], for a request whose obstacle is gone and whose effects must happen on
//! the connection, like a CREATE that now gets its open). CANCEL names the operation by
//! AsyncId or MessageId and ends its wait with STATUS_CANCELLED.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use protocol::smb2::fileid::FileId;
use protocol::smb2::header::{AsyncId, HEADER_LEN, Header, HeaderFlags, SessionId};
use protocol::smb2::status::NtStatus;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::connection::{AsyncOp, Conn, Out, Pending, Req, Rest};
use super::oplocks::Break;

/// Messages one connection's mailbox holds before senders wait.
pub(crate) const MAILBOX_CAPACITY: usize = 64;
/// Asynchronous operations one connection may have outstanding; further ones fail with
/// STATUS_INSUFFICIENT_RESOURCES, as Windows does past its own limit.
pub(crate) const ASYNC_MAX: usize = 512;
/// Bytes of deferred compounds (the rest of a compound whose CREATE waits, kept whole) one
/// connection may hold: a few large frames. Past it, a CREATE that would wait before the end
/// of its compound answers STATUS_INTERNAL_ERROR as any other such element does.
pub(crate) const DEFERRED_BYTES_MAX: usize = 2 * protocol::smb2::limits::FRAME_MAX;

/// How an asynchronous operation ends.
pub(crate) enum Finish {
    /// The final answer.
    Done(Out),
    /// Run the request again on the connection (its wait is over).
    Retry,
}

impl std::fmt::Debug for Finish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Done(out) => f.debug_tuple("Done").field(&out.status).finish(),
            Self::Retry => f.write_str("Retry"),
        }
    }
}

/// The wait of an asynchronous operation. It runs on its own task; it must not hold anything
/// that would keep the connection's state alive or locked.
pub(crate) struct Wait(pub(crate) Pin<Box<dyn Future<Output = Finish> + Send + 'static>>);

impl Wait {
    /// Wraps a future.
    pub(crate) fn new(f: impl Future<Output = Finish> + Send + 'static) -> Self {
        Self(Box::pin(f))
    }
}

impl std::fmt::Debug for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wait")
    }
}

/// What a connection's mailbox carries.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// Another connection's CREATE (or WRITE) breaks an oplock or lease one of this
    /// connection's opens holds: send the notification ([`super::oplocks`]).
    Break(Break),
    /// A SESSION_SETUP on another connection named this connection's session as its
    /// PreviousSessionId ([MS-SMB2] 3.3.5.5.3): if it is the same user's, close its opens and
    /// forget it, then answer on `done`.
    Expire {
        /// The session.
        session: u64,
        /// The user (uid) of the new session; a session of another user is kept.
        uid: Option<u32>,
        /// Answered when done.
        done: tokio::sync::oneshot::Sender<()>,
    },
    /// Another client opened this connection's open `file` under the same AppInstanceId
    /// ([MS-SMB2] 3.3.5.9.13): close it (no break), then answer on `done`.
    CloseOpen {
        /// The open (its volatile FileId).
        file: u64,
        /// Answered when done.
        done: tokio::sync::oneshot::Sender<()>,
    },
    /// An asynchronous operation's wait ended.
    Finished {
        /// The operation.
        async_id: u64,
        /// Its result.
        finish: Finish,
    },
}

/// Every live connection's mailbox, by connection id, and which connection holds each
/// session (for PreviousSessionId). Both are bounded by the connection limit (and
/// [`super::state::SESSIONS_MAX`] sessions per connection).
#[derive(Debug, Default)]
pub(crate) struct Mailboxes {
    senders: Mutex<HashMap<u64, mpsc::Sender<ConnEvent>>>,
    sessions: Mutex<HashMap<u64, SessionHome>>,
}

/// Where a session lives, and what its connection negotiated (a binding attempt from
/// another connection is judged against it, and a bound channel takes its keys from it).
#[derive(Debug, Clone)]
pub(crate) struct SessionHome {
    /// The connection.
    pub(crate) conn: u64,
    /// Its dialect.
    pub(crate) dialect: u16,
    /// Its cipher.
    pub(crate) cipher: Option<protocol::smb2::crypto::Cipher>,
    /// How its messages are signed (its connection's algorithm and its signing key), for
    /// the answers to requests that name it on another connection: a client checks those
    /// signatures with the keys it holds for the session.
    pub(crate) signer: Option<Signer>,
    /// The session's keys (a bound channel encrypts and decrypts with them).
    pub(crate) keys: Option<protocol::smb2::crypto::SessionKeys>,
    /// The session's user (a binding must authenticate as the same one).
    pub(crate) uid: Option<u32>,
    /// A guest or anonymous session (cannot be bound, [MS-SMB2] 3.3.5.5.2).
    pub(crate) guest: bool,
    /// Every request must be signed.
    pub(crate) signing_required: bool,
    /// Every request must be encrypted.
    pub(crate) encrypt_data: bool,
    /// The session's encryption nonce counter, shared with its channels.
    pub(crate) nonces: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The home connection's queue of forwarded requests.
    pub(crate) forward: mpsc::Sender<Forward>,
    /// The other connections bound to the session (with the home, at most
    /// [`CHANNELS_MAX`](super::state::CHANNELS_MAX)).
    pub(crate) channels: std::collections::BTreeSet<u64>,
}

/// Requests a home connection's forward queue holds before bound channels wait (their
/// clients then wait for credits: backpressure, no unbounded queue).
pub(crate) const FORWARD_CAPACITY: usize = 32;

/// A request that arrived on a bound channel, run by the session's home connection
/// ([`super::connection`]); the channel signs or encrypts the answer with its own keys.
#[derive(Debug)]
pub(crate) struct Forward {
    /// Its header (related-compound ids substituted).
    pub(crate) hdr: Header,
    /// The whole message.
    pub(crate) msg: Vec<u8>,
    /// It arrived encrypted (with the session's key).
    pub(crate) encrypted: bool,
    /// The FileId of the element before it in a related compound.
    pub(crate) related_file: Option<FileId>,
    /// The answer.
    pub(crate) reply: tokio::sync::oneshot::Sender<Forwarded>,
}

/// What the home connection answers a forwarded request.
#[derive(Debug)]
pub(crate) enum Forwarded {
    /// The answer, to be signed or encrypted by the channel.
    Done(Out),
    /// The session no longer lives on the home connection.
    Gone,
}

/// A signing algorithm and key.
pub(crate) type Signer = (
    protocol::smb2::crypto::SigningAlgorithm,
    protocol::smb2::crypto::SecretKey,
);

impl Mailboxes {
    /// Opens connection `id`'s mailbox.
    pub(crate) fn open(&self, id: u64) -> (mpsc::Sender<ConnEvent>, mpsc::Receiver<ConnEvent>) {
        let (tx, rx) = mpsc::channel(MAILBOX_CAPACITY);
        self.lock().insert(id, tx.clone());
        (tx, rx)
    }

    /// Closes connection `id`'s mailbox (it is ending).
    pub(crate) fn close(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Connection `id`'s mailbox, while it lives. Senders `send().await` (a full mailbox slows
    /// them; never hold a lock while waiting).
    pub(crate) fn get(&self, id: u64) -> Option<mpsc::Sender<ConnEvent>> {
        self.lock().get(&id).cloned()
    }

    /// Posts `event` to connection `id` without waiting: a full mailbox gets it from a task
    /// of its own. Returns whether the connection lives.
    pub(crate) fn post(&self, id: u64, event: ConnEvent) -> bool {
        let Some(tx) = self.get(id) else {
            return false;
        };
        match tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(event)) => {
                tokio::spawn(async move {
                    let _ = tx.send(event).await;
                });
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Records where session `session` lives (again after a re-authentication: the
    /// channels bound to it stay).
    pub(crate) fn session_opened(&self, session: u64, mut home: SessionHome) {
        let mut m = lock(&self.sessions);
        if let Some(old) = m.get(&session)
            && old.conn == home.conn
        {
            home.channels = old.channels.clone();
        }
        m.insert(session, home);
    }

    /// Records connection `conn` as a channel of `session`; `false` when the session is gone
    /// or has [`CHANNELS_MAX`](super::state::CHANNELS_MAX) channels already (its home
    /// included).
    pub(crate) fn channel_bound(&self, session: u64, conn: u64) -> bool {
        let mut m = lock(&self.sessions);
        let Some(h) = m.get_mut(&session) else {
            return false;
        };
        // The home connection is one of the session's channels.
        if h.channels.len() + 1 >= super::state::CHANNELS_MAX && !h.channels.contains(&conn) {
            return false;
        }
        h.channels.insert(conn);
        true
    }

    /// Forgets connection `conn` as a channel of `session`.
    pub(crate) fn channel_closed(&self, session: u64, conn: u64) {
        if let Some(h) = lock(&self.sessions).get_mut(&session) {
            h.channels.remove(&conn);
        }
    }

    /// Forgets session `session` (of connection `conn`).
    pub(crate) fn session_closed(&self, session: u64, conn: u64) {
        let mut m = lock(&self.sessions);
        if m.get(&session).is_some_and(|h| h.conn == conn) {
            m.remove(&session);
        }
    }

    /// Where session `session` lives.
    pub(crate) fn session_home(&self, session: u64) -> Option<SessionHome> {
        lock(&self.sessions).get(&session).cloned()
    }

    /// Whether a session id is in use on any connection.
    pub(crate) fn session_exists(&self, session: u64) -> bool {
        lock(&self.sessions).contains_key(&session)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::Sender<ConnEvent>>> {
        // A panic elsewhere while holding this lock leaves the map consistent (single
        // insert/remove/get calls), so a poisoned lock is still usable.
        self.senders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Locks a map whose every critical section is one insert, remove or get (a poisoned lock
/// is still consistent).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Conn {
    /// Registers an asynchronous operation for the request `hdr`/`msg` and starts its wait;
    /// `None` when the connection has [`ASYNC_MAX`] outstanding (the caller answers
    /// STATUS_INSUFFICIENT_RESOURCES).
    pub(crate) fn go_async(
        &mut self,
        hdr: &Header,
        msg: &[u8],
        transform: Option<u64>,
        related_file: Option<FileId>,
        wait: Wait,
        rest: Option<Box<Rest>>,
    ) -> Option<u64> {
        if self.asyncs.len() >= ASYNC_MAX {
            tracing::info!(
                limit = ASYNC_MAX,
                "too many asynchronous operations on one connection"
            );
            return None;
        }
        let id = self.fresh_async_id();
        let cancel = CancellationToken::new();
        self.start_wait(id, wait, cancel.clone());
        self.asyncs.insert(
            id,
            AsyncOp {
                hdr: *hdr,
                msg: msg.to_vec(),
                transform,
                related_file,
                cancel,
                rest,
            },
        );
        Some(id)
    }

    /// An AsyncId not in use (never 0).
    fn fresh_async_id(&mut self) -> u64 {
        loop {
            let id = self.next_async;
            self.next_async = self.next_async.wrapping_add(1).max(1);
            if !self.asyncs.contains_key(&id) {
                return id;
            }
        }
    }

    /// Runs `wait` on its own task; its end (or `cancel`) reaches the mailbox.
    fn start_wait(&self, async_id: u64, wait: Wait, cancel: CancellationToken) {
        let tx = self.events.clone();
        tokio::spawn(async move {
            let finish = tokio::select! {
                biased;
                () = cancel.cancelled() => Finish::Done(Out::error(NtStatus::CANCELLED)),
                f = wait.0 => f,
            };
            // The connection may have ended meanwhile: nobody to tell.
            let _ = tx.send(ConnEvent::Finished { async_id, finish }).await;
        });
    }

    /// Handles one event from the mailbox; returns a frame to send, if any.
    pub(crate) async fn event(&mut self, event: ConnEvent) -> Option<Vec<u8>> {
        match event {
            ConnEvent::Finished { async_id, finish } => self.finish(async_id, finish).await,
            ConnEvent::Break(b) => self.break_notification(&b),
            ConnEvent::Expire { session, uid, done } => {
                self.expire_session(session, uid).await;
                let _ = done.send(());
                None
            }
            ConnEvent::CloseOpen { file, done } => {
                self.release_open(file).await;
                let _ = done.send(());
                None
            }
        }
    }

    /// The final answer of asynchronous operation `async_id`.
    async fn finish(&mut self, async_id: u64, finish: Finish) -> Option<Vec<u8>> {
        let op = self.asyncs.remove(&async_id)?;
        let mut out = match finish {
            Finish::Done(out) => {
                self.busy_forget(&op.hdr);
                out
            }
            Finish::Retry => {
                let req = Req {
                    hdr: &op.hdr,
                    msg: &op.msg,
                    encrypted: op.transform.is_some(),
                    related_file: op.related_file,
                };
                self.retrying = true;
                let out = self.element(req).await;
                self.retrying = false;
                self.busy_retry(&op.hdr, out, true)
            }
        };
        if let Some(wait) = out.wait.take() {
            // Still blocked: wait again under the same AsyncId (no second interim answer).
            let cancel = CancellationToken::new();
            self.start_wait(async_id, wait, cancel.clone());
            self.asyncs.insert(async_id, AsyncOp { cancel, ..op });
            return None;
        }
        if out.silent {
            return None;
        }
        let hdr = op.hdr;
        let session_id = out.session_id.unwrap_or(hdr.session_id.0);
        // [MS-SMB2] 3.3.4.3/3.3.4.4: the final answer of an asynchronous operation carries its
        // AsyncId and grants no credits (the interim answer did).
        let mut resp = hdr.response(out.status, 0).with_async_id(AsyncId(async_id));
        resp.session_id = SessionId(session_id);
        let sign = op.transform.is_none() && self.should_sign(&hdr, out.status, session_id);
        if sign {
            resp.flags |= HeaderFlags::SIGNED;
        }
        let mut bytes = std::mem::replace(&mut out.w, Out::writer()).into_inner();
        bytes[..HEADER_LEN].copy_from_slice(&resp.to_bytes());
        let mut op = op;
        if let Some(rest) = op.rest.take() {
            // The rest of its compound runs now, its answers chained after this one.
            let final_answer = Pending {
                bytes,
                sign: sign.then_some(session_id),
                preauth_session: None,
                sign_as: None,
            };
            return self.resume_chain(&op, *rest, out, final_answer).await;
        }
        if sign {
            self.sign(session_id, &mut bytes);
        }
        match op.transform {
            // The session may be gone by now (a LOGOFF cancelled this operation): with its
            // keys gone the answer cannot be encrypted, and the client has forgotten the
            // request with the session, so nothing is sent (the connection stays up).
            Some(sid) => {
                let enc = self.encrypt(sid, &bytes);
                if enc.is_none() {
                    tracing::debug!(
                        session = sid,
                        "final answer for a session that ended; dropped"
                    );
                }
                enc
            }
            None => Some(bytes),
        }
    }

    /// CANCEL ([MS-SMB2] 3.3.5.16): ends the wait of the operation the request names — by
    /// AsyncId in the asynchronous form, else by MessageId — if it is this session's. The
    /// operation then answers STATUS_CANCELLED; CANCEL itself has no answer.
    pub(crate) fn cancel(&mut self, hdr: &Header) {
        let found = match hdr.async_id() {
            Some(AsyncId(id)) => self.asyncs.get(&id),
            None => self
                .asyncs
                .values()
                .find(|op| op.hdr.message_id == hdr.message_id),
        };
        if let Some(op) = found
            && op.hdr.session_id == hdr.session_id
        {
            op.cancel.cancel();
        }
    }

    /// Ends every outstanding wait that `pred` selects (a session logging off, a tree
    /// disconnecting, a file closing); each answers STATUS_CANCELLED.
    pub(crate) fn cancel_where(&self, pred: impl Fn(&AsyncOp) -> bool) {
        for op in self.asyncs.values().filter(|op| pred(op)) {
            op.cancel.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(conn: u64) -> SessionHome {
        let (forward, _) = mpsc::channel(1);
        SessionHome {
            conn,
            dialect: 0x0311,
            cipher: None,
            signer: None,
            keys: None,
            uid: Some(1001),
            guest: false,
            signing_required: false,
            encrypt_data: false,
            nonces: std::sync::Arc::default(),
            forward,
            channels: std::collections::BTreeSet::new(),
        }
    }

    /// Goal: a session takes at most CHANNELS_MAX channels, its home connection included;
    /// a channel's end frees its place; a re-authentication (the home recorded again) keeps
    /// the channels; a gone session binds nothing. Method: drive `Mailboxes` directly.
    #[test]
    fn channels_are_bounded_and_survive_reauthentication() {
        let m = Mailboxes::default();
        assert!(!m.channel_bound(7, 100), "a session nobody opened");
        m.session_opened(7, home(1));
        let max = super::super::state::CHANNELS_MAX as u64;
        for conn in 2..=max {
            assert!(m.channel_bound(7, conn), "channel on connection {conn}");
        }
        assert!(!m.channel_bound(7, 100), "one past the limit");
        assert!(
            m.channel_bound(7, 2),
            "binding a bound connection again is no new channel"
        );
        m.channel_closed(7, 2);
        assert!(m.channel_bound(7, 100), "a closed channel frees its place");
        m.session_opened(7, home(1));
        assert_eq!(
            m.session_home(7).map(|h| h.channels.len()),
            Some(max as usize - 1)
        );
        m.session_closed(7, 1);
        assert!(m.session_home(7).is_none());
        assert!(!m.channel_bound(7, 200), "a closed session");
    }
}
