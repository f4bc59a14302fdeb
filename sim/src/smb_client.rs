//! A small SMB2/3 client for the simulator, driven by the `protocol` crate's sans-IO codecs
//! over turmoil TCP: NEGOTIATE (2.1, 3.0 or 3.1.1 with the preauth hash), SPNEGO + NTLMv2
//! SESSION_SETUP with signing required, TREE_CONNECT, CREATE, WRITE, FLUSH, READ, CLOSE and
//! QUERY_DIRECTORY. It tracks granted credits and message ids, signs every request once the
//! session has keys, verifies every signed response, and encrypts (and decrypts) when the
//! session or the tree asks for it.
//!
//! Every message is traced as one line, after decryption (so an encrypted session reads like
//! a plain one, marked `enc`): `C→S SMB2 CREATE mid=5 len=.. fnv=.. <summary>`.
//!
//! A call that gets no answer within [`SmbClient::timeout`], or whose connection breaks or is
//! reset by the nemesis, drops the connection and reports [`Lost`]: SMB has no retransmission
//! with the same id on a new connection, so the caller reconnects, sets up a new session and
//! reopens its files by path.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use actors::runtime::fnv1a64;
use bytes::BytesMut;
use protocol::ntlm;
use protocol::smb2::create::{
    AccessMask, CreateContext, CreateDisposition, CreateOptions, CreateRequest, CreateResponse,
    FileAttributes, ImpersonationLevel, Lease, LeaseFlags, LeaseState, OplockLevel, QFidResponse,
    ShareAccess, names,
};
use protocol::smb2::crypto::{self, Cipher, PreauthHash, SessionKeys, SigningAlgorithm};
use protocol::smb2::dir::{
    DirEntry, InfoClass, QueryDirectoryFlags, QueryDirectoryRequest, QueryDirectoryResponse,
    decode_entries,
};
use protocol::smb2::file::{
    Channel, CloseRequest, CloseResponse, EmptyResponse, FlushRequest, LeaseBreakAck,
    LeaseBreakFlags, LeaseBreakNotification, LockElement, LockFlags, LockRequest,
    OplockBreakMessage, ReadFlags, ReadRequest, ReadResponse, WriteFlags, WriteRequest,
    WriteResponse,
};
use protocol::smb2::fileid::FileId;
use protocol::smb2::framing::{FrameDecoder, encode_frame};
use protocol::smb2::header::{
    Command, Header, HeaderFlags, HeaderId, MessageId, SessionId, TreeId,
};
use protocol::smb2::le::Writer;
use protocol::smb2::negotiate::{
    self, Capabilities, Dialect, HashAlgorithm, NegotiateContext, NegotiateRequest,
    NegotiateResponse, SecurityMode,
};
use protocol::smb2::session::{
    SessionFlags, SessionSetupFlags, SessionSetupRequest, SessionSetupResponse,
};
use protocol::smb2::status::NtStatus;
use protocol::smb2::tree::{ShareFlags, TreeConnectFlags, TreeConnectRequest, TreeConnectResponse};
use protocol::spnego;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Error;
use crate::link::LinkCtl;
use crate::trace::Trace;

/// The SMB port the simulated server listens on.
pub const SMB_PORT: u16 = 445;

/// The connection was lost (timeout, reset, closed or broken): the call's outcome is unknown.
#[derive(Debug, Clone)]
pub struct Lost(pub String);

/// A call's result: `Err(Lost)` for a transport failure, the reply otherwise.
pub type Res<T> = Result<Result<T, Lost>, Error>;

/// One decoded response: its header and the whole message (header included).
#[derive(Debug, Clone)]
pub struct Reply {
    /// The header.
    pub hdr: Header,
    /// The message from the header start.
    pub msg: Vec<u8>,
}

impl Reply {
    /// The status.
    pub fn status(&self) -> NtStatus {
        self.hdr.status
    }
}

/// What CREATE returned.
#[derive(Debug, Clone, Copy)]
pub struct Opened {
    /// The handle.
    pub file_id: FileId,
    /// EndOfFile.
    pub size: u64,
    /// The file's on-disk id (QFid), naming the object across opens and restarts.
    pub disk_id: u64,
    /// The lease state granted (0 when none was asked for or none granted).
    pub lease: u32,
}

struct Conn {
    stream: turmoil::net::TcpStream,
    buf: BytesMut,
    frames: FrameDecoder,
}

/// The client: one connection, one session, one tree at a time.
pub struct SmbClient {
    trace: Rc<RefCell<Trace>>,
    tag: String,
    rng: ChaCha8Rng,
    ctl: Rc<LinkCtl>,
    host: String,
    port: u16,
    conn: Option<Conn>,
    next_mid: u64,
    /// Message ids below this are granted.
    window_high: u64,
    dialect: u16,
    signing: SigningAlgorithm,
    cipher: Option<Cipher>,
    preauth: PreauthHash,
    session_id: u64,
    tree_id: u32,
    keys: Option<SessionKeys>,
    encrypt: bool,
    nonce: u64,
    last_request: Vec<u8>,
    files: BTreeMap<(u64, u64), usize>,
    /// Lease break notifications read while waiting for replies, oldest first.
    breaks: Vec<LeaseBreakNotification>,
    /// How long to wait for a reply before giving the connection up.
    pub timeout: Duration,
    /// The PreviousSessionId the next SESSION_SETUP names (0: none), so the server logs the
    /// old session off and closes its opens ([MS-SMB2] 3.3.5.5.3).
    pub previous_session: u64,
}

impl std::fmt::Debug for SmbClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbClient")
            .field("tag", &self.tag)
            .field("dialect", &self.dialect)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

fn short(h: u64) -> String {
    format!("{:04x}", h >> 48)
}

impl SmbClient {
    /// A client of `host:port`, tracing with `tag` (e.g. `"s1 "`); it connects on
    /// [`SmbClient::connect`].
    pub fn new(
        trace: Rc<RefCell<Trace>>,
        tag: impl Into<String>,
        rng: ChaCha8Rng,
        ctl: Rc<LinkCtl>,
        host: &str,
        port: u16,
    ) -> Self {
        Self {
            trace,
            tag: tag.into(),
            rng,
            ctl,
            host: host.to_owned(),
            port,
            conn: None,
            next_mid: 0,
            window_high: 1,
            dialect: 0,
            signing: SigningAlgorithm::HmacSha256,
            cipher: None,
            preauth: PreauthHash::new(),
            session_id: 0,
            tree_id: 0,
            keys: None,
            encrypt: false,
            nonce: 0,
            last_request: Vec::new(),
            files: BTreeMap::new(),
            breaks: Vec::new(),
            timeout: Duration::from_secs(3),
            previous_session: 0,
        }
    }

    /// The control block shared with the harness (crash count, resets).
    pub fn ctl(&self) -> &Rc<LinkCtl> {
        &self.ctl
    }

    /// The seeded RNG (also for the workload's choices).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Appends a client event to the trace.
    pub fn note(&mut self, event: impl std::fmt::Display) {
        let line = format!("{}{event}", self.tag);
        self.trace.borrow_mut().push(now(), line);
    }

    /// Whether a connection is up.
    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Drops the connection and every per-connection state.
    pub fn disconnect(&mut self) {
        self.conn = None;
        self.next_mid = 0;
        self.window_high = 1;
        self.session_id = 0;
        self.tree_id = 0;
        self.keys = None;
        self.encrypt = false;
        self.preauth = PreauthHash::new();
        self.files.clear();
        self.breaks.clear();
    }

    /// The current session's id (0 before SESSION_SETUP succeeds).
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// Whether lease break notifications wait in [`SmbClient::take_breaks`].
    pub fn has_breaks(&self) -> bool {
        !self.breaks.is_empty()
    }

    /// The lease break notifications received since the last call, oldest first. Each came
    /// on the connection before the reply that was being waited for when it was read.
    pub fn take_breaks(&mut self) -> Vec<LeaseBreakNotification> {
        std::mem::take(&mut self.breaks)
    }

    /// An unsolicited OPLOCK_BREAK: a lease break is traced and kept; an oplock break (this
    /// client asks for none) fails the run.
    fn unsolicited(&mut self, msg: &[u8]) -> Result<(), Error> {
        let b = OplockBreakMessage::decode(msg).map_err(|source| Error::Decode {
            what: "OPLOCK_BREAK notification",
            source,
        })?;
        let OplockBreakMessage::LeaseNotification(n) = b else {
            return Err(Error::Check(format!("unexpected break notification {b:?}")));
        };
        let line = format!(
            "S→C OPLOCK_BREAK unsolicited len={} lease={} {}->{}{}",
            msg.len(),
            short(
                u64::from_le_bytes(n.lease_key[..8].try_into().unwrap_or_default()).rotate_left(16)
            ),
            lease_name(n.current_state.0),
            lease_name(n.new_state.0),
            if n.flags.contains(LeaseBreakFlags::ACK_REQUIRED) {
                " ack-required"
            } else {
                ""
            }
        );
        self.note(line);
        self.breaks.push(n);
        Ok(())
    }

    /// Opens a new TCP connection (dropping any old one).
    pub async fn connect(&mut self) -> Result<(), Lost> {
        self.disconnect();
        let (host, port) = (self.host.clone(), self.port);
        let stream = match tokio::time::timeout(
            self.timeout,
            turmoil::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Lost(format!("connect failed: {e}"))),
            Err(_) => return Err(Lost("connect timed out".to_owned())),
        };
        let from = stream
            .local_addr()
            .map_or_else(|_| "?".to_owned(), |a| a.to_string());
        self.note(format_args!("C   connect {host}:{port} from {from}"));
        self.conn = Some(Conn {
            stream,
            buf: BytesMut::new(),
            frames: FrameDecoder::default(),
        });
        Ok(())
    }

    fn file_name(&mut self, id: FileId) -> String {
        let n = self.files.len() + 1;
        let n = *self.files.entry((id.persistent, id.volatile)).or_insert(n);
        format!("#{n}")
    }

    /// Sends one request (body encoded by `body`) and waits for its final response.
    async fn call(
        &mut self,
        command: Command,
        summary: String,
        body: impl FnOnce(&mut Writer),
        describe: impl FnOnce(&mut Self, &Reply) -> Result<String, protocol::wire::DecodeError>,
    ) -> Res<Reply> {
        if self.conn.is_none() {
            return Ok(Err(Lost("not connected".to_owned())));
        }
        let mid = self.take_mid()?;
        let frame = self.prepare(command, mid, summary, body)?;
        let timeout = self.timeout;
        let ctl = self.ctl.clone();
        let result = tokio::select! {
            biased;
            () = ctl.reset.notified() => Err(Lost("connection reset".to_owned())),
            r = tokio::time::timeout(timeout, self.exchange(&frame, mid)) => match r {
                Ok(r) => r?,
                Err(_) => Err(Lost(format!("no reply in {timeout:?}"))),
            },
        };
        self.answered(command, mid, result, describe)
    }

    /// The next message id, which must be inside the granted window.
    fn take_mid(&mut self) -> Result<u64, Error> {
        let mid = self.next_mid;
        if mid >= self.window_high {
            return Err(Error::Check(format!(
                "SMB client out of credits: mid {mid}, window ends at {}",
                self.window_high
            )));
        }
        self.next_mid += 1;
        Ok(mid)
    }

    /// Encodes, signs, traces and (on an encrypted session) encrypts request `mid`; returns
    /// the frame to send.
    fn prepare(
        &mut self,
        command: Command,
        mid: u64,
        summary: String,
        body: impl FnOnce(&mut Writer),
    ) -> Result<Vec<u8>, Error> {
        let mut hdr = Header::new(command);
        hdr.credit_charge = u16::from(self.dialect >= 0x0210);
        // Ask for enough credits to keep a comfortable window.
        let have = self.window_high - self.next_mid;
        hdr.credits = u16::try_from(32u64.saturating_sub(have))
            .unwrap_or(0)
            .max(1);
        if command == Command::CANCEL {
            // CANCEL names the request it cancels by its message id and consumes none.
            hdr.credit_charge = 0;
            hdr.credits = 0;
        }
        hdr.message_id = MessageId(mid);
        hdr.session_id = SessionId(self.session_id);
        hdr.id = HeaderId::Sync {
            reserved: 0,
            tree_id: TreeId(self.tree_id),
        };
        let signed = self.keys.is_some() && !self.encrypt;
        if signed {
            hdr.flags |= HeaderFlags::SIGNED;
        }
        let mut w = Writer::new();
        hdr.encode(&mut w);
        body(&mut w);
        let mut msg = w.into_inner();
        if signed && let Some(k) = &self.keys {
            crypto::sign(self.signing, k.signing.as_bytes(), &mut msg)
                .map_err(|e| Error::Check(format!("signing failed: {e}")))?;
        }
        if command == Command::SESSION_SETUP || command == Command::NEGOTIATE {
            // Requests of the handshake feed the preauth hash (3.1.1).
            self.last_request = msg.clone();
        }
        let summary = if self.encrypt {
            format!("{summary} enc")
        } else {
            summary
        };
        self.trace_msg("C→S", command, mid, &msg, &summary);
        if !self.encrypt {
            return Ok(msg);
        }
        let keys = self
            .keys
            .as_ref()
            .ok_or_else(|| Error::Check("no keys".into()))?;
        let cipher = self
            .cipher
            .ok_or_else(|| Error::Check("no cipher".into()))?;
        let key = keys
            .decryption
            .as_ref()
            .ok_or_else(|| Error::Check("no client-to-server key".into()))?;
        self.nonce += 1;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.nonce.to_le_bytes());
        crypto::encrypt(
            cipher,
            key.as_bytes(),
            &nonce[..cipher.nonce_len()],
            self.session_id,
            &msg,
        )
        .map_err(|e| Error::Check(format!("encrypt failed: {e}")))
    }

    /// Traces the answer to request `mid` (or drops the connection when it was lost).
    fn answered(
        &mut self,
        command: Command,
        mid: u64,
        result: Result<Reply, Lost>,
        describe: impl FnOnce(&mut Self, &Reply) -> Result<String, protocol::wire::DecodeError>,
    ) -> Res<Reply> {
        let reply = match result {
            Ok(r) => r,
            Err(lost) => {
                self.note(format_args!("C   mid={mid} {}; connection dropped", lost.0));
                self.disconnect();
                return Ok(Err(lost));
            }
        };
        let text = describe(self, &reply).map_err(|source| Error::Decode {
            what: "SMB2 response",
            source,
        })?;
        let enc = if self.encrypt { " enc" } else { "" };
        let line = format!("{} {text}{enc}", reply.hdr.status);
        self.trace_msg("S→C", command, mid, &reply.msg, &line);
        Ok(Ok(reply))
    }

    /// Writes one frame to the connection.
    async fn send_frame(&mut self, frame: &[u8]) -> Result<Result<(), Lost>, Error> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Error::Check("no conn".into()))?;
        if let Err(e) = conn.stream.write_all(&encode_frame(frame)).await {
            return Ok(Err(Lost(format!("send failed: {e}"))));
        }
        Ok(Ok(()))
    }

    async fn exchange(&mut self, frame: &[u8], mid: u64) -> Result<Result<Reply, Lost>, Error> {
        if let Err(l) = self.send_frame(frame).await? {
            return Ok(Err(l));
        }
        self.receive(mid).await
    }

    /// Reads frames until the final response to `mid`; interim responses are skipped and
    /// unsolicited lease break notifications are kept for [`SmbClient::take_breaks`]. Safe to
    /// cancel: a partly read frame stays in the buffer.
    async fn receive(&mut self, mid: u64) -> Result<Result<Reply, Lost>, Error> {
        loop {
            let frame = {
                let conn = self
                    .conn
                    .as_mut()
                    .ok_or_else(|| Error::Check("no conn".into()))?;
                loop {
                    match conn.frames.decode(&mut conn.buf) {
                        Ok(Some(f)) => break f,
                        Ok(None) => {}
                        Err(e) => return Ok(Err(Lost(format!("bad frame: {e}")))),
                    }
                    conn.buf.reserve(64 * 1024);
                    match conn.stream.read_buf(&mut conn.buf).await {
                        Ok(0) => return Ok(Err(Lost("connection closed".to_owned()))),
                        Ok(_) => {}
                        Err(e) => return Ok(Err(Lost(format!("read failed: {e}")))),
                    }
                }
            };
            let msg = if frame.starts_with(&crypto::TRANSFORM_PROTOCOL_ID) {
                let keys = self.keys.as_ref().ok_or_else(|| {
                    Error::Check("an encrypted response on a session without keys".into())
                })?;
                let key = keys
                    .encryption
                    .as_ref()
                    .ok_or_else(|| Error::Check("no server-to-client key".into()))?;
                let cipher = self
                    .cipher
                    .ok_or_else(|| Error::Check("no cipher".into()))?;
                crypto::decrypt(cipher, key.as_bytes(), &frame)
                    .map_err(|e| Error::Check(format!("response failed to decrypt: {e}")))?
            } else {
                frame.to_vec()
            };
            let hdr = Header::decode(&msg).map_err(|source| Error::Decode {
                what: "SMB2 header",
                source,
            })?;
            if hdr.next_command != 0 {
                return Err(Error::Check("unexpected compound response".into()));
            }
            self.window_high += u64::from(hdr.credits);
            if hdr.message_id == MessageId::UNSOLICITED && hdr.command == Command::OPLOCK_BREAK {
                self.unsolicited(&msg)?;
                continue;
            }
            if hdr.message_id.0 != mid {
                self.note(format_args!(
                    "C   ignoring a response to mid={}",
                    hdr.message_id.0
                ));
                continue;
            }
            if hdr.is_async() && hdr.status == NtStatus::PENDING {
                continue;
            }
            if hdr.flags.contains(HeaderFlags::SIGNED) {
                match &self.keys {
                    Some(k) if crypto::verify(self.signing, k.signing.as_bytes(), &msg) => {}
                    Some(_) => {
                        return Err(Error::Check(format!(
                            "{:?} mid={mid}: the response's signature does not verify",
                            hdr.command
                        )));
                    }
                    // The final SESSION_SETUP response: signed with the keys it makes;
                    // `session_setup` verifies it once they are derived.
                    None => {}
                }
            } else if self.keys.is_some()
                && !self.encrypt
                && hdr.command != Command::SESSION_SETUP
                && hdr.status != NtStatus::PENDING
            {
                return Err(Error::Check(format!(
                    "{:?} mid={mid} {}: unsigned response on a signing session",
                    hdr.command, hdr.status
                )));
            }
            return Ok(Ok(Reply { hdr, msg }));
        }
    }

    fn trace_msg(&mut self, dir: &str, command: Command, mid: u64, msg: &[u8], summary: &str) {
        let name = format!("{command:?}");
        let line = format!(
            "{}{dir} {name} mid={mid} len={} fnv={:016x} {summary}",
            self.tag,
            msg.len(),
            fnv1a64(msg)
        );
        self.trace.borrow_mut().push(now(), line.trim_end());
    }
}

/// FILETIME of the simulated wall clock (the NTLM timestamp when the server sends none).
fn filetime_now() -> u64 {
    let since = crate::clock::sim_epoch()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        + now();
    (since.as_secs() + 11_644_473_600) * 10_000_000 + u64::from(since.subsec_nanos() / 100)
}

impl SmbClient {
    /// NEGOTIATE offering `dialects` (numbers as on the wire). 3.1.1 offers the preauth hash,
    /// AES-128-GCM/CCM and AES-GMAC/CMAC signing; 3.0 offers the encryption capability.
    pub async fn negotiate(&mut self, dialects: &[u16]) -> Res<NtStatus> {
        let mut salt = [0u8; 32];
        self.rng.fill_bytes(&mut salt);
        let mut guid = [0u8; 16];
        self.rng.fill_bytes(&mut guid);
        let dialects: Vec<Dialect> = dialects.iter().map(|&d| Dialect(d)).collect();
        let has_311 = dialects.contains(&Dialect::SMB3_1_1);
        let contexts = if has_311 {
            vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HashAlgorithm::SHA_512],
                    salt: &salt,
                },
                NegotiateContext::Encryption {
                    ciphers: vec![
                        negotiate::Cipher::AES_128_GCM,
                        negotiate::Cipher::AES_128_CCM,
                    ],
                },
                NegotiateContext::Signing {
                    algorithms: vec![
                        negotiate::SigningAlgorithm::AES_GMAC,
                        negotiate::SigningAlgorithm::AES_CMAC,
                    ],
                },
            ]
        } else {
            Vec::new()
        };
        let req = NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::ENCRYPTION | Capabilities::LARGE_MTU,
            client_guid: guid,
            client_start_time: 0,
            dialects: dialects.clone(),
            contexts,
        };
        let summary = format!(
            "dialects=[{}]",
            dialects
                .iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let r = match self
            .call(
                Command::NEGOTIATE,
                summary,
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status != NtStatus::SUCCESS {
                        return Ok(String::new());
                    }
                    let n = NegotiateResponse::decode(&r.msg)?;
                    let mut s = format!(
                        "dialect={:?} security_mode={:#x} caps={:#x}",
                        n.dialect, n.security_mode.0, n.capabilities.0
                    );
                    for c in &n.contexts {
                        match c {
                            NegotiateContext::Encryption { ciphers } => {
                                s.push_str(&format!(" cipher={ciphers:?}"));
                            }
                            NegotiateContext::Signing { algorithms } => {
                                s.push_str(&format!(" signing={algorithms:?}"));
                            }
                            NegotiateContext::PreauthIntegrity {
                                hash_algorithms, ..
                            } => {
                                s.push_str(&format!(" preauth={hash_algorithms:?}"));
                            }
                            _ => {}
                        }
                    }
                    Ok(s)
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        if r.status() != NtStatus::SUCCESS {
            return Ok(Ok(r.status()));
        }
        let n = NegotiateResponse::decode(&r.msg).map_err(|source| Error::Decode {
            what: "NEGOTIATE response",
            source,
        })?;
        self.dialect = n.dialect.0;
        self.signing = if self.dialect >= 0x0300 {
            SigningAlgorithm::AesCmac
        } else {
            SigningAlgorithm::HmacSha256
        };
        self.cipher = None;
        if self.dialect == 0x0311 {
            for c in &n.contexts {
                match c {
                    NegotiateContext::Encryption { ciphers } => {
                        self.cipher = ciphers.first().and_then(|c| Cipher::from_id(c.0));
                    }
                    NegotiateContext::Signing { algorithms } => {
                        if let Some(a) = algorithms
                            .first()
                            .and_then(|a| SigningAlgorithm::from_id(a.0))
                        {
                            self.signing = a;
                        }
                    }
                    _ => {}
                }
            }
            self.preauth = PreauthHash::new();
            self.preauth.update(&self.last_request);
            self.preauth.update(&r.msg);
        } else if self.dialect >= 0x0300 && n.capabilities.contains(Capabilities::ENCRYPTION) {
            self.cipher = Some(Cipher::Aes128Ccm);
        }
        Ok(Ok(NtStatus::SUCCESS))
    }

    /// SESSION_SETUP with SPNEGO + NTLMv2 as `user` in `domain` with `password`, signing
    /// required. Returns the final status (SUCCESS, LOGON_FAILURE, ...).
    pub async fn session_setup(
        &mut self,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Res<NtStatus> {
        let ntlm_negotiate = ntlm::client::negotiate();
        let init = spnego::client::init(&ntlm_negotiate);
        let blob = init.encode();
        let mode = SecurityMode::SIGNING_ENABLED | SecurityMode::SIGNING_REQUIRED;
        let req = SessionSetupRequest {
            flags: SessionSetupFlags(0),
            security_mode: mode,
            capabilities: Capabilities(0),
            channel: 0,
            previous_session_id: SessionId(self.previous_session),
            security_buffer: &blob,
        };
        self.session_id = 0;
        let r = match self
            .call(
                Command::SESSION_SETUP,
                "SPNEGO(NTLM NEGOTIATE)".to_owned(),
                |w| req.encode(w),
                |c, r| {
                    if r.hdr.status == NtStatus::MORE_PROCESSING_REQUIRED {
                        Ok(format!(
                            "session={} SPNEGO(NTLM CHALLENGE)",
                            short(r.hdr.session_id.0.rotate_left(16))
                        ))
                    } else {
                        let _ = c;
                        Ok(String::new())
                    }
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        if r.status() != NtStatus::MORE_PROCESSING_REQUIRED {
            return Ok(Ok(r.status()));
        }
        self.session_id = r.hdr.session_id.0;
        let mut preauth = self.preauth.clone();
        if self.dialect == 0x0311 {
            preauth.update(&self.last_request);
            preauth.update(&r.msg);
        }
        let decode = |what, source| Error::Decode { what, source };
        let resp = SessionSetupResponse::decode(&r.msg).map_err(|e| decode("SESSION_SETUP", e))?;
        let token = spnego::unwrap_resp(resp.security_buffer).map_err(|e| decode("SPNEGO", e))?;
        let challenge = token
            .response_token
            .ok_or_else(|| Error::Check("SPNEGO response without an NTLM challenge".into()))?;
        let mut client_challenge = [0u8; 8];
        self.rng.fill_bytes(&mut client_challenge);
        let mut session_key = [0u8; 16];
        self.rng.fill_bytes(&mut session_key);
        let auth = ntlm::client::authenticate(
            &challenge,
            user,
            domain,
            &ntlm::nt_hash(password),
            client_challenge,
            filetime_now(),
            session_key,
        )
        .map_err(|e| decode("NTLM CHALLENGE", e))?;
        let mic = auth.client_mic(&init.mech_types_der);
        let blob = spnego::client::resp(&auth.message, Some(mic));
        let req = SessionSetupRequest {
            flags: SessionSetupFlags(0),
            security_mode: mode,
            capabilities: Capabilities(0),
            channel: 0,
            previous_session_id: SessionId(self.previous_session),
            security_buffer: &blob,
        };
        let r = match self
            .call(
                Command::SESSION_SETUP,
                format!("SPNEGO(NTLM AUTHENTICATE user={user:?} domain={domain:?})"),
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status != NtStatus::SUCCESS {
                        return Ok(String::new());
                    }
                    let s = SessionSetupResponse::decode(&r.msg)?;
                    Ok(format!(
                        "flags={:#x} signed={}",
                        s.session_flags.0,
                        r.hdr.flags.contains(HeaderFlags::SIGNED)
                    ))
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        if r.status() != NtStatus::SUCCESS {
            self.session_id = 0;
            return Ok(Ok(r.status()));
        }
        if self.dialect == 0x0311 {
            preauth.update(&self.last_request);
        }
        let keys = SessionKeys::derive(
            self.dialect,
            &auth.session_key,
            (self.dialect == 0x0311).then(|| preauth.value()).as_ref(),
            self.cipher,
        )
        .map_err(|e| Error::Check(format!("key derivation: {e}")))?;
        if r.hdr.flags.contains(HeaderFlags::SIGNED)
            && !crypto::verify(self.signing, keys.signing.as_bytes(), &r.msg)
        {
            return Err(Error::Check(
                "the final SESSION_SETUP response's signature does not verify".into(),
            ));
        }
        if self.dialect >= 0x0300 && !r.hdr.flags.contains(HeaderFlags::SIGNED) {
            return Err(Error::Check(
                "the final SESSION_SETUP response is not signed".into(),
            ));
        }
        let s = SessionSetupResponse::decode(&r.msg).map_err(|e| decode("SESSION_SETUP", e))?;
        self.keys = Some(keys);
        if s.session_flags.contains(SessionFlags::ENCRYPT_DATA) {
            self.encrypt = true;
        }
        Ok(Ok(NtStatus::SUCCESS))
    }

    /// TREE_CONNECT to `\\host\share`.
    pub async fn tree_connect(&mut self, share: &str) -> Res<NtStatus> {
        let path = format!("\\\\{}\\{share}", self.host);
        let req = TreeConnectRequest {
            flags: TreeConnectFlags(0),
            path: path.clone(),
            contexts: Vec::new(),
        };
        self.tree_id = 0;
        let r = match self
            .call(
                Command::TREE_CONNECT,
                format!("path={path}"),
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status != NtStatus::SUCCESS {
                        return Ok(String::new());
                    }
                    let t = TreeConnectResponse::decode(&r.msg)?;
                    Ok(format!(
                        "type={:?} flags={:#x} access={:#x}",
                        t.share_type, t.share_flags.0, t.maximal_access
                    ))
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        if r.status() == NtStatus::SUCCESS {
            if let HeaderId::Sync { tree_id, .. } = r.hdr.id {
                self.tree_id = tree_id.0;
            }
            let t = TreeConnectResponse::decode(&r.msg).map_err(|source| Error::Decode {
                what: "TREE_CONNECT",
                source,
            })?;
            if t.share_flags.contains(ShareFlags::ENCRYPT_DATA) {
                if self.cipher.is_none() {
                    return Err(Error::Check("an encrypted share without a cipher".into()));
                }
                self.encrypt = true;
            }
        }
        Ok(Ok(r.status()))
    }

    /// CREATE `path` (relative to the share, `\` separated) with `disposition`; asks for the
    /// on-disk file id (QFid).
    pub async fn create(
        &mut self,
        path: &str,
        disposition: CreateDisposition,
        directory: bool,
        write_through: bool,
    ) -> Res<(NtStatus, Option<Opened>)> {
        self.create_leased(path, disposition, directory, write_through, None)
            .await
    }

    /// CREATE as [`SmbClient::create`], asking for a lease (key, state) when `lease` is set
    /// (v1 lease context; the granted state is [`Opened::lease`]).
    pub async fn create_leased(
        &mut self,
        path: &str,
        disposition: CreateDisposition,
        directory: bool,
        write_through: bool,
        lease: Option<([u8; 16], u32)>,
    ) -> Res<(NtStatus, Option<Opened>)> {
        let mut options = if directory {
            CreateOptions::DIRECTORY_FILE
        } else {
            CreateOptions::NON_DIRECTORY_FILE
        };
        if write_through {
            options |= CreateOptions::WRITE_THROUGH;
        }
        let access = if directory {
            AccessMask::FILE_LIST_DIRECTORY
                | AccessMask::FILE_READ_ATTRIBUTES
                | AccessMask::SYNCHRONIZE
        } else {
            AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE
        };
        let req = CreateRequest {
            security_flags: 0,
            oplock_level: if lease.is_some() {
                OplockLevel::LEASE
            } else {
                OplockLevel::NONE
            },
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            smb_create_flags: 0,
            desired_access: access,
            file_attributes: if directory {
                FileAttributes::DIRECTORY
            } else {
                FileAttributes::NORMAL
            },
            share_access: ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
            create_disposition: disposition,
            create_options: options,
            name: path.to_owned(),
            contexts: {
                let mut c = vec![CreateContext::owned(names::QFID, Vec::new())];
                if let Some((key, state)) = lease {
                    let l = Lease {
                        key,
                        state: LeaseState(state),
                        flags: LeaseFlags(0),
                        duration: 0,
                        v2: None,
                    };
                    c.push(CreateContext::owned(names::RQLS, l.encode()));
                }
                c
            },
        };
        let summary = format!(
            "name={path:?} disposition={disposition:?} {}{}{}",
            if directory { "dir" } else { "file" },
            if write_through { " write-through" } else { "" },
            lease.map_or(String::new(), |(_, st)| format!(
                " lease={}",
                lease_name(st)
            ))
        );
        let r = match self
            .call(
                Command::CREATE,
                summary,
                |w| req.encode(w),
                |c, r| {
                    if r.hdr.status != NtStatus::SUCCESS {
                        return Ok(String::new());
                    }
                    let o = CreateResponse::decode(&r.msg)?;
                    let disk = match o.context(names::QFID) {
                        Some(ctx) => QFidResponse::decode(&ctx.data)?.disk_file_id.to_string(),
                        None => "-".to_owned(),
                    };
                    let f = c.file_name(o.file_id);
                    let granted = match o.context(names::RQLS) {
                        Some(ctx) => {
                            format!(" lease={}", lease_name(Lease::decode(&ctx.data)?.state.0))
                        }
                        None => String::new(),
                    };
                    Ok(format!(
                        "file={f} action={:?} eof={} attrs={:#x} disk_id={disk}{granted}",
                        o.create_action, o.end_of_file, o.file_attributes.0
                    ))
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        if r.status() != NtStatus::SUCCESS {
            return Ok(Ok((r.status(), None)));
        }
        let o = CreateResponse::decode(&r.msg).map_err(|source| Error::Decode {
            what: "CREATE",
            source,
        })?;
        let disk_id = o
            .context(names::QFID)
            .and_then(|ctx| QFidResponse::decode(&ctx.data).ok())
            .map_or(0, |q| q.disk_file_id);
        let granted = o
            .context(names::RQLS)
            .and_then(|ctx| Lease::decode(&ctx.data).ok())
            .map_or(0, |l| l.state.0);
        Ok(Ok((
            NtStatus::SUCCESS,
            Some(Opened {
                file_id: o.file_id,
                size: o.end_of_file,
                disk_id,
                lease: granted,
            }),
        )))
    }

    /// LOCK with `locks` (lock elements with FAIL_IMMEDIATELY, or unlocks); the status.
    pub async fn lock(&mut self, fid: FileId, locks: &[LockElement]) -> Res<NtStatus> {
        let req = LockRequest {
            lock_sequence: 0,
            file_id: fid,
            locks: locks.to_vec(),
        };
        let f = self.file_name(fid);
        let r = self
            .call(
                Command::LOCK,
                format!("file={f} {}", lock_summary(locks)),
                |w| req.encode(w),
                |_, _| Ok(String::new()),
            )
            .await?;
        Ok(r.map(|r| r.status()))
    }

    /// A blocking LOCK of one element (no FAIL_IMMEDIATELY): waits up to `wait` for the
    /// answer (the server answers STATUS_PENDING first while the range is taken), then sends
    /// CANCEL for it and waits for the final answer (STATUS_CANCELLED, or SUCCESS when the
    /// lock was granted meanwhile). Returns the status and whether CANCEL was sent.
    pub async fn lock_blocking(
        &mut self,
        fid: FileId,
        lock: LockElement,
        wait: Duration,
    ) -> Res<(NtStatus, bool)> {
        if self.conn.is_none() {
            return Ok(Err(Lost("not connected".to_owned())));
        }
        let req = LockRequest {
            lock_sequence: 0,
            file_id: fid,
            locks: vec![lock],
        };
        let f = self.file_name(fid);
        let mid = self.take_mid()?;
        let summary = format!("file={f} {} wait={wait:?}", lock_summary(&[lock]));
        let frame = self.prepare(Command::LOCK, mid, summary, |w| req.encode(w))?;
        let ctl = self.ctl.clone();
        let timeout = self.timeout;
        let mut cancelled = false;
        let result = async {
            if let Err(l) = self.send_frame(&frame).await? {
                return Ok(Err(l));
            }
            let first = tokio::select! {
                biased;
                () = ctl.reset.notified() => return Ok(Err(Lost("connection reset".to_owned()))),
                r = tokio::time::timeout(wait, self.receive(mid)) => r,
            };
            if let Ok(r) = first {
                return r;
            }
            cancelled = true;
            let cancel = self.prepare(Command::CANCEL, mid, format!("mid={mid}"), |w| {
                protocol::smb2::misc::CancelRequest.encode(w);
            })?;
            if let Err(l) = self.send_frame(&cancel).await? {
                return Ok(Err(l));
            }
            tokio::select! {
                biased;
                () = ctl.reset.notified() => Ok(Err(Lost("connection reset".to_owned()))),
                r = tokio::time::timeout(timeout, self.receive(mid)) => match r {
                    Ok(r) => r,
                    Err(_) => Ok(Err(Lost(format!("no answer {timeout:?} after CANCEL")))),
                },
            }
        }
        .await?;
        let r = self.answered(Command::LOCK, mid, result, |_, _| Ok(String::new()))?;
        Ok(r.map(|r| (r.status(), cancelled)))
    }

    /// Acknowledges a lease break: the lease `key` goes to `state`.
    pub async fn lease_break_ack(&mut self, key: [u8; 16], state: u32) -> Res<NtStatus> {
        let req = LeaseBreakAck {
            flags: 0,
            lease_key: key,
            state: LeaseState(state),
            duration: 0,
        };
        let r = self
            .call(
                Command::OPLOCK_BREAK,
                format!(
                    "lease-ack lease={} state={}",
                    short(
                        u64::from_le_bytes(key[..8].try_into().unwrap_or_default()).rotate_left(16)
                    ),
                    lease_name(state)
                ),
                |w| req.encode(w),
                |_, _| Ok(String::new()),
            )
            .await?;
        Ok(r.map(|r| r.status()))
    }

    /// WRITE `data` at `offset`; returns the status and the count written.
    pub async fn write(
        &mut self,
        fid: FileId,
        offset: u64,
        data: &[u8],
        write_through: bool,
    ) -> Res<(NtStatus, u32)> {
        let req = WriteRequest {
            offset,
            file_id: fid,
            channel: Channel::NONE,
            remaining_bytes: 0,
            channel_info: &[],
            flags: if write_through {
                WriteFlags::WRITE_THROUGH
            } else {
                WriteFlags(0)
            },
            data,
        };
        let f = self.file_name(fid);
        let summary = format!(
            "file={f} offset={offset} len={} data.fnv={}{}",
            data.len(),
            short(fnv1a64(data)),
            if write_through { " write-through" } else { "" }
        );
        let r = match self
            .call(
                Command::WRITE,
                summary,
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status != NtStatus::SUCCESS {
                        return Ok(String::new());
                    }
                    Ok(format!("count={}", WriteResponse::decode(&r.msg)?.count))
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        let count = if r.status() == NtStatus::SUCCESS {
            WriteResponse::decode(&r.msg)
                .map_err(|source| Error::Decode {
                    what: "WRITE",
                    source,
                })?
                .count
        } else {
            0
        };
        Ok(Ok((r.status(), count)))
    }

    /// FLUSH.
    pub async fn flush(&mut self, fid: FileId) -> Res<NtStatus> {
        let req = FlushRequest { file_id: fid };
        let f = self.file_name(fid);
        let r = self
            .call(
                Command::FLUSH,
                format!("file={f}"),
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status == NtStatus::SUCCESS {
                        EmptyResponse::decode(&r.msg)?;
                    }
                    Ok(String::new())
                },
            )
            .await?;
        Ok(r.map(|r| r.status()))
    }

    /// READ up to `len` bytes at `offset`.
    pub async fn read(&mut self, fid: FileId, offset: u64, len: u32) -> Res<(NtStatus, Vec<u8>)> {
        let req = ReadRequest {
            padding: 0x50,
            flags: ReadFlags(0),
            length: len,
            offset,
            file_id: fid,
            minimum_count: 0,
            channel: Channel::NONE,
            remaining_bytes: 0,
            channel_info: &[],
        };
        let f = self.file_name(fid);
        let r = match self
            .call(
                Command::READ,
                format!("file={f} offset={offset} len={len}"),
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status != NtStatus::SUCCESS {
                        return Ok(String::new());
                    }
                    let d = ReadResponse::decode(&r.msg)?;
                    Ok(format!(
                        "len={} data.fnv={}",
                        d.data.len(),
                        short(fnv1a64(d.data))
                    ))
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        let data = if r.status() == NtStatus::SUCCESS {
            ReadResponse::decode(&r.msg)
                .map_err(|source| Error::Decode {
                    what: "READ",
                    source,
                })?
                .data
                .to_vec()
        } else {
            Vec::new()
        };
        Ok(Ok((r.status(), data)))
    }

    /// CLOSE.
    pub async fn close(&mut self, fid: FileId) -> Res<NtStatus> {
        let req = CloseRequest {
            flags: 0,
            file_id: fid,
        };
        let f = self.file_name(fid);
        let r = self
            .call(
                Command::CLOSE,
                format!("file={f}"),
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status == NtStatus::SUCCESS {
                        CloseResponse::decode(&r.msg)?;
                    }
                    Ok(String::new())
                },
            )
            .await?;
        Ok(r.map(|r| r.status()))
    }

    /// QUERY_DIRECTORY (FileIdBothDirectoryInformation, pattern `*`) with an output buffer
    /// of `buffer_len` bytes; `restart` restarts the scan.
    pub async fn query_directory(
        &mut self,
        fid: FileId,
        restart: bool,
        buffer_len: u32,
    ) -> Res<(NtStatus, Vec<DirEntry>)> {
        let req = QueryDirectoryRequest {
            info_class: InfoClass::ID_BOTH_DIRECTORY,
            flags: if restart {
                QueryDirectoryFlags::RESTART_SCANS
            } else {
                QueryDirectoryFlags(0)
            },
            file_index: 0,
            file_id: fid,
            pattern: "*".to_owned(),
            output_buffer_length: buffer_len,
        };
        let f = self.file_name(fid);
        let r = match self
            .call(
                Command::QUERY_DIRECTORY,
                format!(
                    "file={f} class=ID_BOTH_DIRECTORY pattern=\"*\" buffer={buffer_len}{}",
                    if restart { " restart" } else { "" }
                ),
                |w| req.encode(w),
                |_, r| {
                    if r.hdr.status != NtStatus::SUCCESS {
                        return Ok(String::new());
                    }
                    let d = QueryDirectoryResponse::decode(&r.msg)?;
                    let e = decode_entries(InfoClass::ID_BOTH_DIRECTORY, d.buffer)?;
                    let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
                    Ok(format!("entries={} {names:?}", e.len()))
                },
            )
            .await?
        {
            Ok(r) => r,
            Err(l) => return Ok(Err(l)),
        };
        let entries = if r.status() == NtStatus::SUCCESS {
            let d = QueryDirectoryResponse::decode(&r.msg).map_err(|source| Error::Decode {
                what: "QUERY_DIRECTORY",
                source,
            })?;
            decode_entries(InfoClass::ID_BOTH_DIRECTORY, d.buffer).map_err(|source| {
                Error::Decode {
                    what: "QUERY_DIRECTORY entries",
                    source,
                }
            })?
        } else {
            Vec::new()
        };
        Ok(Ok((r.status(), entries)))
    }

    /// Connect, negotiate `dialects`, log in and connect to `share`; the first failing status
    /// (or `Lost`).
    pub async fn login(
        &mut self,
        dialects: &[u16],
        user: &str,
        password: &str,
        share: &str,
    ) -> Res<NtStatus> {
        if let Err(l) = self.connect().await {
            return Ok(Err(l));
        }
        for step in 0..3 {
            let r = match step {
                0 => self.negotiate(dialects).await?,
                1 => self.session_setup(user, "WORKGROUP", password).await?,
                _ => self.tree_connect(share).await?,
            };
            match r {
                Ok(NtStatus::SUCCESS) => {}
                other => return Ok(other),
            }
        }
        Ok(Ok(NtStatus::SUCCESS))
    }
}

/// A lease state as letters (`RWH`, `RH`, `R`, `-`).
pub fn lease_name(state: u32) -> String {
    let mut s = String::new();
    for (bit, c) in [(1, 'R'), (4, 'W'), (2, 'H')] {
        if state & bit != 0 {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

fn lock_summary(locks: &[LockElement]) -> String {
    let v: Vec<String> = locks
        .iter()
        .map(|l| {
            let f = l.flags;
            let kind = if f.contains(LockFlags::UNLOCK) {
                "unlock"
            } else if f.contains(LockFlags::EXCLUSIVE) {
                "excl"
            } else {
                "shared"
            };
            let imm = if f.contains(LockFlags::FAIL_IMMEDIATELY) {
                " now"
            } else {
                ""
            };
            format!("{kind}{imm} {}+{}", l.offset, l.length)
        })
        .collect();
    v.join(", ")
}

/// A random pick among the dialect sets the simulator's clients offer.
pub fn pick_dialects(rng: &mut ChaCha8Rng) -> &'static [u16] {
    match rng.random_range(0..4) {
        0 => &[0x0210],
        1 => &[0x0210, 0x0300],
        _ => &[0x0210, 0x0300, 0x0302, 0x0311],
    }
}

/// The users the simulated server knows (SMB logs in by name): `alice` may read and write
/// every share, `mallory` may log in but reach no share. Every other caller (NFS AUTH_SYS)
/// reads and writes, as without an identity configuration.
#[derive(Debug, Default)]
pub struct SimResolver;

/// alice's uid.
pub const ALICE_UID: u32 = 1000;
/// mallory's uid.
pub const MALLORY_UID: u32 = 1002;
/// alice's password.
pub const ALICE_PASSWORD: &str = "alice-pw";
/// mallory's password.
pub const MALLORY_PASSWORD: &str = "mallory-pw";

impl actors::identity::Resolver for SimResolver {
    fn unix(&self, _share: &str, uid: u32, gid: u32, gids: &[u32]) -> actors::identity::Principal {
        let (user, permission) = match uid {
            ALICE_UID => (
                Some("alice".into()),
                actors::identity::Permission::ReadWrite,
            ),
            MALLORY_UID => (Some("mallory".into()), actors::identity::Permission::None),
            _ => (None, actors::identity::Permission::ReadWrite),
        };
        actors::identity::Principal {
            user,
            uid,
            gid,
            gids: gids.to_vec(),
            permission,
        }
    }

    fn user(&self, username: &str) -> Option<actors::identity::NamedUser> {
        let (name, uid, password) = match username.to_ascii_lowercase().as_str() {
            "alice" => ("alice", ALICE_UID, ALICE_PASSWORD),
            "mallory" => ("mallory", MALLORY_UID, MALLORY_PASSWORD),
            _ => return None,
        };
        Some(actors::identity::NamedUser {
            name: name.into(),
            nt_hash: Some(ntlm::nt_hash(password)),
            uid,
            gid: uid,
            gids: Vec::new(),
        })
    }
}
