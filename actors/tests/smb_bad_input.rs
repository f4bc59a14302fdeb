//! End-to-end: the real `dittofs` binary's SMB front end against hostile and broken peers.
//!
//! Goal: garbage, truncated and oversized frames (an unauthenticated peer may not announce
//! more than 128 KiB); messages whose offsets and lengths point outside the message; 3,000
//! signed requests of every command with mangled bodies; compounds whose NextCommand is below
//! 64, unaligned or past the frame, and 500 random related/unrelated compounds; requests
//! beyond the granted credits, reusing a MessageId, or charged too few credits for their
//! size; a compound whose answers would exceed a frame; tampered and unsigned requests on a
//! session that requires signing; tampered, misdirected and cross-session encrypted frames;
//! directory opens left half-listed; 1,000 connections that NEGOTIATE and then sit idle; and
//! 8 logged-on connections each parking a maximal unfinished frame. The server answers with
//! the protocol's error (INVALID_PARAMETER, ACCESS_DENIED, ...) or closes that connection,
//! never panics (its log is checked), keeps serving other clients (a session opened at the
//! start is checked after every phase; a fresh client completes a whole session with a 1 MiB
//! write and read-back while the 1,000 idle connections are open), and stays under the
//! memory bounds documented at the constants below:
//!
//! - an idle negotiated connection: [`IDLE_CONNECTION_BOUND`] (64 KiB; measured ~9 KiB);
//! - a logged-on connection holding a maximal frame: [`HOLDER_BOUND`] (8.19 MiB; measured
//!   8.1 MiB), i.e. one frame (`limits::FRAME_MAX`) plus its read buffer;
//! - a half-listed directory open: [`SCAN_BOUND`] (4 KiB; measured 0.5 KiB);
//! - the whole test's peak RSS: the start's RSS + the larger of the idle and holder phases +
//!   [`SLACK`] (measured ~100 MiB against a bound of ~133 MiB).
//!
//! Samba's `smbclient` still lists the share at the end.
//!
//! Method: the peers are raw TCP sockets with a tiny SMB2 client written here on the
//! `protocol` crate's encoders (NEGOTIATE 3.1.1 with its preauth hash, SPNEGO + NTLMv2
//! SESSION_SETUP, TREE_CONNECT, every later request signed with AES-CMAC, or encrypted with
//! AES-128-GCM); malformed requests are encoded correctly, then the field under test is
//! patched, then the message is signed, so that the server's decoders, not its signature
//! check, meet the bad field. Memory is the daemon's `VmRSS` and `VmHWM` from /proc.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::time::Duration;

use protocol::ntlm;
use protocol::smb2::compound;
use protocol::smb2::create::{
    AccessMask, CreateDisposition, CreateOptions, CreateRequest, CreateResponse, FileAttributes,
    ImpersonationLevel, OplockLevel, ShareAccess,
};
use protocol::smb2::crypto::{self, PreauthHash, SessionKeys, SigningAlgorithm};
use protocol::smb2::dir::{
    InfoClass, QueryDirectoryFlags, QueryDirectoryRequest, QueryDirectoryResponse, decode_entries,
};
use protocol::smb2::file::{
    Channel, CloseRequest, ReadFlags, ReadRequest, ReadResponse, WriteFlags, WriteRequest,
};
use protocol::smb2::fileid::FileId;
use protocol::smb2::framing::encode_frame;
use protocol::smb2::header::{
    Command, Header, HeaderFlags, HeaderId, MessageId, SessionId, TreeId,
};
use protocol::smb2::le::Writer;
use protocol::smb2::misc::EchoRequest;
use protocol::smb2::negotiate::{
    Capabilities, Dialect, HashAlgorithm, NegotiateContext, NegotiateRequest, NegotiateResponse,
    SecurityMode,
};
use protocol::smb2::session::{
    LogoffRequest, SessionSetupFlags, SessionSetupRequest, SessionSetupResponse,
};
use protocol::smb2::status::NtStatus;
use protocol::smb2::tree::{TreeConnectFlags, TreeConnectRequest};
use protocol::spnego;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use testkit::Daemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "pw";

/// How long any single answer may take before the test calls it a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Connections that NEGOTIATE and then sit idle in the memory phase.
const IDLE: usize = 1000;
/// What one idle, negotiated connection may cost the server: its read buffer (64 KiB of
/// capacity, connection.rs, of which only the pages the NEGOTIATE touched are resident), the
/// connection actor's state and future, the socket's kernel side (not in RSS). Measured: see
/// the test's output ("per idle connection"); the bound is the buffer's full capacity, so it
/// holds even if the allocator touched every page of every buffer.
const IDLE_CONNECTION_BOUND: u64 = 64 << 10;
/// Directory opens left after listing one entry, in the directory-scan phase.
const SCANS: usize = 4000;
/// What such an open may cost: its state (share handle, caller, pattern, cookie) and the
/// table entry; its pending page is dropped after each QUERY_DIRECTORY. Measured: ~1 KiB.
const SCAN_BOUND: u64 = 4 << 10;
/// Authenticated connections that each park a maximal unfinished frame.
const HOLDERS: usize = 8;
/// What such a connection may cost: one frame (limits::FRAME_MAX, 8 MiB + 64 KiB), the read
/// buffer's spare capacity (64 KiB), and 64 KiB for its session state and the allocator's
/// rounding. Measured: 8.12 MiB each.
const HOLDER_BOUND: u64 = (8 << 20) + (192 << 10);
/// Allowance for everything else that may grow while the idle connections are open: the fresh
/// client's session and its 1 MiB write and read, allocator arenas, RocksDB's memtable.
const SLACK: u64 = 48 << 20;

// ---------------------------------------------------------------------------------------------
// A tiny SMB2 client.

/// One raw SMB2 connection, with whatever it negotiated and authenticated.
struct Smb {
    s: TcpStream,
    /// The next MessageId to use.
    next_mid: u64,
    /// One past the highest MessageId granted so far.
    high: u64,
    session: u64,
    tree: u32,
    /// The session's signing key, once authenticated.
    key: Option<Vec<u8>>,
    /// The session's encryption keys (client to server, server to client), when the
    /// connection negotiated a cipher.
    enc: Option<(Vec<u8>, Vec<u8>)>,
    /// AES-128-GCM was negotiated.
    cipher: bool,
    preauth: PreauthHash,
}

/// A response element: its header and its whole bytes.
type Resp = (Header, Vec<u8>);

impl Smb {
    async fn connect(port: u16) -> Self {
        Self {
            s: TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
            next_mid: 0,
            high: 1,
            session: 0,
            tree: 0,
            key: None,
            enc: None,
            cipher: false,
            preauth: PreauthHash::new(),
        }
    }

    /// Sends bytes as they are; `false` if the server already closed the connection.
    async fn send_raw(&mut self, bytes: &[u8]) -> bool {
        self.s.write_all(bytes).await.is_ok()
    }

    /// The next frame's payload, or `None` when the server closed the connection. Panics if
    /// the server neither answers nor closes within [`ANSWER_WITHIN`].
    async fn recv_frame(&mut self) -> Option<Vec<u8>> {
        tokio::time::timeout(ANSWER_WITHIN, async {
            let mut h = [0u8; 4];
            self.s.read_exact(&mut h).await.ok()?;
            assert_eq!(h[0], 0, "the server sent a frame header starting {h:?}");
            let len = u32::from_be_bytes(h) as usize;
            let mut f = vec![0u8; len];
            self.s.read_exact(&mut f).await.ok()?;
            Some(f)
        })
        .await
        .expect("the server neither answered nor closed the connection")
    }

    /// The elements of the next response frame (credits granted are added to the window).
    async fn recv(&mut self) -> Option<Vec<Resp>> {
        let f = self.recv_frame().await?;
        let parts = compound::split(&f).unwrap();
        let mut out = Vec::new();
        for p in parts {
            let h = Header::decode(p.bytes).unwrap();
            assert!(h.is_response(), "a response without SERVER_TO_REDIR");
            self.high += u64::from(h.credits);
            out.push((h, p.bytes.to_vec()));
        }
        Some(out)
    }

    /// Waits for the server to close the connection (EOF or reset), reading and discarding
    /// anything it still sends. Panics on a hang.
    async fn closed(&mut self, what: &str) {
        let mut buf = vec![0u8; 64 << 10];
        tokio::time::timeout(ANSWER_WITHIN, async {
            loop {
                match self.s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: the server kept the connection open"));
    }

    /// A request header for `cmd` with the next MessageId, asking for 64 credits.
    fn header(&mut self, cmd: Command) -> Header {
        let mut h = Header::new(cmd);
        h.message_id = MessageId(self.next_mid);
        self.next_mid += 1;
        h.credits = 64;
        h.session_id = SessionId(self.session);
        h.id = HeaderId::Sync {
            reserved: 0,
            tree_id: TreeId(self.tree),
        };
        h
    }

    /// Header + body, unsigned.
    fn message(&mut self, cmd: Command, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let h = self.header(cmd);
        let mut w = Writer::new();
        h.encode(&mut w);
        body(&mut w);
        w.into_inner()
    }

    /// Signs `msg` with the session's key (sets SMB2_FLAGS_SIGNED first), if there is one.
    fn sign(&self, msg: &mut [u8]) {
        if let Some(key) = &self.key {
            let flags = u32::from_le_bytes(msg[16..20].try_into().unwrap()) | HeaderFlags::SIGNED.0;
            msg[16..20].copy_from_slice(&flags.to_le_bytes());
            crypto::sign(SigningAlgorithm::AesCmac, key, msg).unwrap();
        }
    }

    /// Sends one message in its own frame and returns the (single) response, or `None` if
    /// the server closed the connection instead.
    async fn call(&mut self, msg: &[u8]) -> Option<Resp> {
        if !self.send_raw(&encode_frame(msg)).await {
            return None;
        }
        let mut r = self.recv().await?;
        assert_eq!(r.len(), 1, "one request, {} responses", r.len());
        r.pop()
    }

    /// Builds, signs and sends a request; the response, which must arrive.
    async fn request(&mut self, cmd: Command, body: impl FnOnce(&mut Writer)) -> Resp {
        self.request_patched(cmd, body, |_| {}).await
    }

    /// [`Smb::request`] with `patch` applied to the encoded message before it is signed.
    async fn request_patched(
        &mut self,
        cmd: Command,
        body: impl FnOnce(&mut Writer),
        patch: impl FnOnce(&mut Vec<u8>),
    ) -> Resp {
        let mut msg = self.message(cmd, body);
        patch(&mut msg);
        self.sign(&mut msg);
        let r = self
            .call(&msg)
            .await
            .unwrap_or_else(|| panic!("{cmd:?}: the connection was closed instead of an answer"));
        assert_eq!(r.0.command, cmd, "answer to another command");
        r
    }

    /// NEGOTIATE offering 2.1, 3.0.2 and 3.1.1 (the server picks 3.1.1).
    async fn negotiate(&mut self) {
        self.negotiate_with(false).await;
    }

    /// [`Smb::negotiate`], offering AES-128-GCM encryption when `encrypt`.
    async fn negotiate_with(&mut self, encrypt: bool) {
        let offer = encrypt.then(|| vec![protocol::smb2::negotiate::Cipher::AES_128_GCM]);
        let answered = self.negotiate_offering(offer).await;
        self.cipher = answered
            .as_ref()
            .is_some_and(|c| c.contains(&protocol::smb2::negotiate::Cipher::AES_128_GCM));
        assert_eq!(self.cipher, encrypt, "the server's cipher choice");
    }

    /// [`Smb::negotiate`] with an encryption context listing `ciphers` (none without them):
    /// the ciphers of the encryption context answered, if any.
    async fn negotiate_offering(
        &mut self,
        ciphers: Option<Vec<protocol::smb2::negotiate::Cipher>>,
    ) -> Option<Vec<protocol::smb2::negotiate::Cipher>> {
        let salt = [0x5a; 32];
        let mut contexts = vec![NegotiateContext::PreauthIntegrity {
            hash_algorithms: vec![HashAlgorithm::SHA_512],
            salt: &salt,
        }];
        if let Some(ciphers) = ciphers {
            contexts.push(NegotiateContext::Encryption { ciphers });
        }
        let msg = self.message(Command::NEGOTIATE, |w| {
            NegotiateRequest {
                security_mode: SecurityMode::SIGNING_ENABLED,
                capabilities: Capabilities::LARGE_MTU,
                client_guid: [7; 16],
                client_start_time: 0,
                dialects: vec![Dialect::SMB2_1, Dialect::SMB3_0_2, Dialect::SMB3_1_1],
                contexts,
            }
            .encode(w);
        });
        let (h, resp) = self.call(&msg).await.expect("NEGOTIATE: closed");
        assert_eq!(h.status, NtStatus::SUCCESS, "NEGOTIATE");
        let r = NegotiateResponse::decode(&resp).unwrap();
        assert_eq!(r.dialect, Dialect::SMB3_1_1);
        self.preauth.update(&msg);
        self.preauth.update(&resp);
        r.contexts.into_iter().find_map(|c| match c {
            NegotiateContext::Encryption { ciphers } => Some(ciphers),
            _ => None,
        })
    }

    /// SPNEGO + NTLMv2 SESSION_SETUP as `user`; the status of the last leg.
    async fn session_setup(&mut self, user: &str, password: &str) -> NtStatus {
        let init = spnego::client::init(&ntlm::client::negotiate());
        let token = init.encode();
        let mut preauth = self.preauth.clone();
        let msg = self.message(Command::SESSION_SETUP, |w| setup_body(w, &token));
        preauth.update(&msg);
        let (h, resp) = self.call(&msg).await.expect("SESSION_SETUP 1: closed");
        assert_eq!(
            h.status,
            NtStatus::MORE_PROCESSING_REQUIRED,
            "SESSION_SETUP 1"
        );
        preauth.update(&resp);
        self.session = h.session_id.0;
        let blob = SessionSetupResponse::decode(&resp).unwrap().security_buffer;
        let challenge = spnego::unwrap_resp(blob).unwrap().response_token.unwrap();
        let auth = ntlm::client::authenticate(
            &challenge,
            user,
            "WORKGROUP",
            &ntlm::nt_hash(password),
            [3; 8],
            0,
            [4; 16],
        )
        .unwrap();
        let mic = auth.client_mic(&init.mech_types_der);
        let token = spnego::client::resp(&auth.message, Some(mic));
        let msg = self.message(Command::SESSION_SETUP, |w| setup_body(w, &token));
        preauth.update(&msg);
        let (h, resp) = self.call(&msg).await.expect("SESSION_SETUP 2: closed");
        if h.status == NtStatus::SUCCESS {
            let cipher = self.cipher.then_some(crypto::Cipher::Aes128Gcm);
            let keys =
                SessionKeys::derive(0x0311, &auth.session_key, Some(&preauth.value()), cipher)
                    .unwrap();
            // The server's decryption key is the client's encryption key and vice versa.
            if let (Some(c2s), Some(s2c)) = (&keys.decryption, &keys.encryption) {
                self.enc = Some((c2s.as_bytes().to_vec(), s2c.as_bytes().to_vec()));
            }
            let key = keys.signing.as_bytes().to_vec();
            assert!(
                crypto::verify(SigningAlgorithm::AesCmac, &key, &resp),
                "the final SESSION_SETUP response does not verify under the derived key"
            );
            self.key = Some(key);
        }
        h.status
    }

    /// TREE_CONNECT to `\\127.0.0.1\export`.
    async fn tree_connect(&mut self) {
        let (h, _) = self
            .request(Command::TREE_CONNECT, |w| {
                TreeConnectRequest {
                    flags: TreeConnectFlags(0),
                    path: r"\\127.0.0.1\export".to_owned(),
                    contexts: Vec::new(),
                }
                .encode(w);
            })
            .await;
        assert_eq!(h.status, NtStatus::SUCCESS, "TREE_CONNECT");
        self.tree = h.tree_id().unwrap().0;
    }

    /// A connection with a signed session as alice and the export connected.
    async fn session(port: u16) -> Self {
        let mut c = Self::connect(port).await;
        c.negotiate().await;
        assert_eq!(c.session_setup("alice", PASSWORD).await, NtStatus::SUCCESS);
        c.tree_connect().await;
        c
    }

    /// ECHO; its status, or `None` when the connection was closed.
    async fn echo(&mut self) -> Option<NtStatus> {
        let mut msg = self.message(Command::ECHO, |w| EchoRequest.encode(w));
        self.sign(&mut msg);
        self.call(&msg).await.map(|(h, _)| h.status)
    }

    /// CREATE of a file (overwritten if it exists) or, with `dir`, an open of a directory.
    async fn create(&mut self, name: &str, dir: bool) -> FileId {
        let (h, resp) = self
            .request(Command::CREATE, |w| create_body(w, name, dir))
            .await;
        assert_eq!(h.status, NtStatus::SUCCESS, "CREATE {name}");
        CreateResponse::decode(&resp).unwrap().file_id
    }

    async fn write(&mut self, f: FileId, offset: u64, data: &[u8]) -> NtStatus {
        let mut h = self.header(Command::WRITE);
        let charge = protocol::smb2::credits::charge_for(data.len() as u64);
        h.credit_charge = charge;
        self.next_mid += u64::from(charge) - 1;
        let mut w = Writer::new();
        h.encode(&mut w);
        write_body(&mut w, f, offset, data);
        let mut msg = w.into_inner();
        self.sign(&mut msg);
        self.call(&msg).await.expect("WRITE: closed").0.status
    }

    async fn read(&mut self, f: FileId, offset: u64, len: u32) -> (NtStatus, Vec<u8>) {
        let mut h = self.header(Command::READ);
        let charge = protocol::smb2::credits::charge_for(u64::from(len));
        h.credit_charge = charge;
        self.next_mid += u64::from(charge) - 1;
        let mut w = Writer::new();
        h.encode(&mut w);
        read_body(&mut w, f, offset, len);
        let mut msg = w.into_inner();
        self.sign(&mut msg);
        let (h, resp) = self.call(&msg).await.expect("READ: closed");
        let data = if h.status == NtStatus::SUCCESS {
            ReadResponse::decode(&resp).unwrap().data.to_vec()
        } else {
            Vec::new()
        };
        (h.status, data)
    }

    async fn close(&mut self, f: FileId) {
        let (h, _) = self
            .request(Command::CLOSE, |w| {
                CloseRequest {
                    flags: 0,
                    file_id: f,
                }
                .encode(w);
            })
            .await;
        assert_eq!(h.status, NtStatus::SUCCESS, "CLOSE");
    }

    /// The session still works: ECHO, and a small write and read-back of `name`.
    async fn still_works(&mut self, what: &str, name: &str) {
        assert_eq!(
            self.echo().await,
            Some(NtStatus::SUCCESS),
            "{what}: ECHO afterwards"
        );
        let f = self.create(name, false).await;
        let data = format!("after {what}").into_bytes();
        assert_eq!(self.write(f, 0, &data).await, NtStatus::SUCCESS, "{what}");
        let (s, back) = self.read(f, 0, 4096).await;
        assert_eq!(s, NtStatus::SUCCESS, "{what}: READ afterwards");
        assert_eq!(back, data, "{what}: read back other bytes");
        self.close(f).await;
    }
}

impl Smb {
    /// Binds this negotiated connection to session `sid` as a further channel ([MS-SMB2]
    /// 3.3.5.5, SMB2_SESSION_FLAG_BINDING), authenticating as `user`; both legs are signed with
    /// `sign_key` (the session's key, another, or none). The status of the last leg answered.
    /// On success the connection takes the session id, the channel's own signing key (derived
    /// from the binding's session key and preauth hash, 3.3.5.5.3) and `tree`.
    async fn bind(
        &mut self,
        sid: u64,
        tree: u32,
        (user, password): (&str, &str),
        sign_key: Option<&[u8]>,
    ) -> NtStatus {
        let sign = |msg: &mut Vec<u8>| {
            if let Some(key) = sign_key {
                let flags =
                    u32::from_le_bytes(msg[16..20].try_into().unwrap()) | HeaderFlags::SIGNED.0;
                msg[16..20].copy_from_slice(&flags.to_le_bytes());
                crypto::sign(SigningAlgorithm::AesCmac, key, msg).unwrap();
            }
        };
        self.session = sid;
        let init = spnego::client::init(&ntlm::client::negotiate());
        let token = init.encode();
        let mut preauth = self.preauth.clone();
        let mut msg = self.message(Command::SESSION_SETUP, |w| bind_body(w, &token));
        sign(&mut msg);
        preauth.update(&msg);
        let (h, resp) = self.call(&msg).await.expect("binding leg 1: closed");
        if h.status != NtStatus::MORE_PROCESSING_REQUIRED {
            self.session = 0;
            return h.status;
        }
        preauth.update(&resp);
        let blob = SessionSetupResponse::decode(&resp).unwrap().security_buffer;
        let challenge = spnego::unwrap_resp(blob).unwrap().response_token.unwrap();
        let auth = ntlm::client::authenticate(
            &challenge,
            user,
            "WORKGROUP",
            &ntlm::nt_hash(password),
            [5; 8],
            0,
            [6; 16],
        )
        .unwrap();
        let mic = auth.client_mic(&init.mech_types_der);
        let token = spnego::client::resp(&auth.message, Some(mic));
        let mut msg = self.message(Command::SESSION_SETUP, |w| bind_body(w, &token));
        sign(&mut msg);
        preauth.update(&msg);
        let (h, resp) = self.call(&msg).await.expect("binding leg 2: closed");
        if h.status != NtStatus::SUCCESS {
            self.session = 0;
            return h.status;
        }
        let keys =
            SessionKeys::derive(0x0311, &auth.session_key, Some(&preauth.value()), None).unwrap();
        let key = keys.signing.as_bytes().to_vec();
        assert!(
            crypto::verify(SigningAlgorithm::AesCmac, &key, &resp),
            "the binding's final response does not verify under the channel's key"
        );
        assert_ne!(
            sign_key,
            Some(key.as_slice()),
            "the channel key is the session's key"
        );
        self.key = Some(key);
        self.tree = tree;
        h.status
    }
}

fn bind_body(w: &mut Writer, token: &[u8]) {
    SessionSetupRequest {
        flags: SessionSetupFlags::BINDING,
        security_mode: SecurityMode::SIGNING_ENABLED,
        capabilities: Capabilities(0),
        channel: 0,
        previous_session_id: SessionId(0),
        security_buffer: token,
    }
    .encode(w);
}

fn setup_body(w: &mut Writer, token: &[u8]) {
    SessionSetupRequest {
        flags: SessionSetupFlags(0),
        security_mode: SecurityMode::SIGNING_ENABLED,
        capabilities: Capabilities(0),
        channel: 0,
        previous_session_id: SessionId(0),
        security_buffer: token,
    }
    .encode(w);
}

fn create_body(w: &mut Writer, name: &str, dir: bool) {
    let (access, disposition, options) = if dir {
        (
            AccessMask::FILE_READ_DATA | AccessMask::FILE_READ_ATTRIBUTES | AccessMask::SYNCHRONIZE,
            CreateDisposition::OPEN,
            CreateOptions::DIRECTORY_FILE,
        )
    } else {
        (
            AccessMask::FILE_READ_DATA
                | AccessMask::FILE_WRITE_DATA
                | AccessMask::FILE_READ_ATTRIBUTES
                | AccessMask::SYNCHRONIZE,
            CreateDisposition::OVERWRITE_IF,
            CreateOptions::NON_DIRECTORY_FILE,
        )
    };
    CreateRequest {
        security_flags: 0,
        oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: access,
        file_attributes: FileAttributes::NORMAL,
        share_access: ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
        create_disposition: disposition,
        create_options: options,
        name: name.to_owned(),
        contexts: Vec::new(),
    }
    .encode(w);
}

fn write_body(w: &mut Writer, f: FileId, offset: u64, data: &[u8]) {
    WriteRequest {
        offset,
        file_id: f,
        channel: Channel::NONE,
        remaining_bytes: 0,
        channel_info: &[],
        flags: WriteFlags(0),
        data,
    }
    .encode(w);
}

fn read_body(w: &mut Writer, f: FileId, offset: u64, len: u32) {
    ReadRequest {
        padding: 0x50,
        flags: ReadFlags(0),
        length: len,
        offset,
        file_id: f,
        minimum_count: 0,
        channel: Channel::NONE,
        remaining_bytes: 0,
        channel_info: &[],
    }
    .encode(w);
}

fn query_directory_body(w: &mut Writer, f: FileId) {
    QueryDirectoryRequest {
        info_class: InfoClass::BOTH_DIRECTORY,
        flags: QueryDirectoryFlags::RESTART_SCANS,
        file_index: 0,
        file_id: f,
        pattern: "*".to_owned(),
        output_buffer_length: 65_536,
    }
    .encode(w);
}

fn patch16(msg: &mut [u8], at: usize, v: u16) {
    msg[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn patch32(msg: &mut [u8], at: usize, v: u32) {
    msg[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:") << 10
}

fn peak_rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:") << 10
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} missing from /proc/{pid}/status"))
}

fn mib(b: u64) -> f64 {
    b as f64 / f64::from(1 << 20)
}

// ---------------------------------------------------------------------------------------------
// The phases.

/// (a) Frames that are not SMB2 at all, cut short, or too long: each closes its connection.
async fn broken_frames(port: u16, rng: &mut ChaCha8Rng) {
    let mut noise = vec![0u8; 64 << 10];
    rng.fill_bytes(&mut noise);
    noise[0] |= 0x80;
    let mut tiny = vec![0xFE, b'S', b'M', b'B'];
    tiny.resize(30, 0);
    let mut bad_id = vec![0xAB, b'S', b'M', b'B'];
    bad_id.resize(200, 0x11);
    let mut compressed = vec![0xFC, b'S', b'M', b'B'];
    compressed.resize(200, 0);
    let mut smb1 = vec![0xFF, b'S', b'M', b'B'];
    smb1.resize(120, 0x77);
    let mut transform = vec![0xFD, b'S', b'M', b'B'];
    transform.resize(120, 0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random noise", noise),
        ("a NetBIOS keep-alive", vec![0x85, 0, 0, 0]),
        ("an empty frame", encode_frame(&[])),
        ("a 30-byte SMB2 frame", encode_frame(&tiny)),
        ("an unknown protocol id", encode_frame(&bad_id)),
        ("a compression transform", encode_frame(&compressed)),
        ("a garbage SMB1 message", encode_frame(&smb1)),
        ("a transform before NEGOTIATE", encode_frame(&transform)),
        ("a 16 MiB frame header", vec![0, 0xFF, 0xFF, 0xFF]),
        ("a 9 MiB frame header", vec![0, 0x90, 0, 0]),
    ];
    for (what, bytes) in cases {
        let mut c = Smb::connect(port).await;
        let _ = c.send_raw(&bytes).await;
        c.closed(what).await;
    }
    // Before a session is authenticated only small frames are taken (the server would
    // otherwise buffer up to 8 MiB for a peer that never logs on): announcing 1 MiB closes
    // the connection at once, before and after NEGOTIATE, whatever follows.
    for negotiated in [false, true] {
        let mut c = Smb::connect(port).await;
        if negotiated {
            c.negotiate().await;
        }
        let mut big = vec![0u8, 0x10, 0, 0];
        big.extend_from_slice(&[0xFE, b'S', b'M', b'B']);
        big.resize(64 << 10, 0x33);
        let _ = c.send_raw(&big).await;
        c.closed("a 1 MiB frame before SESSION_SETUP").await;
    }
    // A request other than NEGOTIATE first: an error answer or nothing, then closed.
    let mut c = Smb::connect(port).await;
    let mut msg = c.message(Command::ECHO, |w| EchoRequest.encode(w));
    c.sign(&mut msg);
    let _ = c.send_raw(&encode_frame(&msg)).await;
    c.closed("ECHO before NEGOTIATE").await;
    // A frame cut short by the peer's close.
    let mut c = Smb::connect(port).await;
    let mut cut = encode_frame(&[0xFE; 1000]);
    cut.truncate(300);
    let _ = c.send_raw(&cut).await;
    c.s.shutdown().await.unwrap();
    c.closed("a frame cut short").await;

    // NEGOTIATE requests with a bad body: INVALID_PARAMETER or a closed connection; a good
    // NEGOTIATE on a fresh connection works either way.
    for (what, at, v) in [
        ("NEGOTIATE with DialectCount 0", 66, 0u16),
        ("NEGOTIATE with 65,535 dialects", 66, 0xFFFF),
        ("NEGOTIATE with StructureSize 0", 64, 0),
        (
            "NEGOTIATE whose context offset points past the end",
            92,
            0xFFF0,
        ),
    ] {
        let mut c = Smb::connect(port).await;
        let salt = [1u8; 32];
        let mut msg = c.message(Command::NEGOTIATE, |w| {
            NegotiateRequest {
                security_mode: SecurityMode::SIGNING_ENABLED,
                capabilities: Capabilities(0),
                client_guid: [1; 16],
                client_start_time: 0,
                dialects: vec![Dialect::SMB3_1_1],
                contexts: vec![NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HashAlgorithm::SHA_512],
                    salt: &salt,
                }],
            }
            .encode(w);
        });
        patch16(&mut msg, at, v);
        match c.call(&msg).await {
            None => {}
            Some((h, _)) => assert_eq!(h.status, NtStatus::INVALID_PARAMETER, "{what}"),
        }
    }
    let mut c = Smb::connect(port).await;
    c.negotiate().await;

    // Valid NEGOTIATEs with random bytes flipped and random cuts: every frame is answered or
    // closes its connection.
    let mut good = Smb::connect(port).await;
    let template = good.message(Command::NEGOTIATE, |w| {
        NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities(0),
            client_guid: [2; 16],
            client_start_time: 0,
            dialects: vec![Dialect::SMB2_0_2, Dialect::SMB2_1, Dialect::SMB3_1_1],
            contexts: vec![NegotiateContext::PreauthIntegrity {
                hash_algorithms: vec![HashAlgorithm::SHA_512],
                salt: &[9; 32],
            }],
        }
        .encode(w);
    });
    let (mut answered, mut closed) = (0, 0);
    for _ in 0..300 {
        let mut m = template.clone();
        for _ in 0..rng.random_range(1..8) {
            let i = rng.random_range(0..m.len());
            m[i] = rng.random();
        }
        if rng.random_bool(0.3) {
            m.truncate(rng.random_range(0..m.len()));
        }
        let mut c = Smb::connect(port).await;
        let _ = c.send_raw(&encode_frame(&m)).await;
        match c.recv_frame().await {
            Some(_) => answered += 1,
            None => closed += 1,
        }
    }
    println!("mangled NEGOTIATEs: {answered} answered, {closed} connections closed");
}

/// (b) Requests in a signed session whose offsets or lengths point outside the message:
/// INVALID_PARAMETER, and the session goes on working.
async fn bad_offsets(port: u16) {
    let mut c = Smb::session(port).await;
    let f = c.create("offsets", false).await;
    let d = c.create("", true).await;
    // Offsets of the fields patched, from the header start ([MS-SMB2] 2.2.13, 2.2.19, 2.2.21,
    // 2.2.33, 2.2.9, 2.2.5).
    const CREATE_NAME_OFFSET: usize = 64 + 44;
    const READ_CHANNEL_INFO_OFFSET: usize = 64 + 44;
    const WRITE_DATA_OFFSET: usize = 64 + 2;
    const QD_NAME_OFFSET: usize = 64 + 24;
    const TREE_PATH_OFFSET: usize = 64 + 4;
    const SETUP_BUFFER_OFFSET: usize = 64 + 12;
    type Body = Box<dyn FnOnce(&mut Writer)>;
    type Patch = Box<dyn FnOnce(&mut Vec<u8>)>;
    let cases: Vec<(&str, Command, Body, Patch)> = vec![
        (
            "CREATE whose NameOffset is past the end",
            Command::CREATE,
            Box::new(|w| create_body(w, "x", false)),
            Box::new(|m| {
                let end = m.len() as u16;
                patch16(m, CREATE_NAME_OFFSET, end + 8);
            }),
        ),
        (
            "CREATE whose name runs past the end",
            Command::CREATE,
            Box::new(|w| create_body(w, "x", false)),
            Box::new(|m| patch16(m, CREATE_NAME_OFFSET + 2, 0xFFFE)),
        ),
        (
            "CREATE whose contexts are past the end",
            Command::CREATE,
            Box::new(|w| create_body(w, "x", false)),
            Box::new(|m| {
                patch32(m, CREATE_NAME_OFFSET + 4, 0xFFFF_FF00);
                patch32(m, CREATE_NAME_OFFSET + 8, 0x100);
            }),
        ),
        (
            "CREATE cut inside its fixed part",
            Command::CREATE,
            Box::new(|w| create_body(w, "x", false)),
            Box::new(|m| m.truncate(64 + 20)),
        ),
        (
            "WRITE whose DataOffset is past the end",
            Command::WRITE,
            Box::new(move |w| write_body(w, f, 0, b"0123456789")),
            Box::new(|m| {
                let end = m.len() as u16;
                patch16(m, WRITE_DATA_OFFSET, end + 16);
            }),
        ),
        (
            "WRITE whose Length runs past the end",
            Command::WRITE,
            Box::new(move |w| write_body(w, f, 0, b"0123456789")),
            Box::new(|m| patch32(m, WRITE_DATA_OFFSET + 2, 0x7FFF_FFFF)),
        ),
        (
            "WRITE whose DataOffset points into the header",
            Command::WRITE,
            Box::new(move |w| write_body(w, f, 0, b"0123456789")),
            Box::new(|m| patch16(m, WRITE_DATA_OFFSET, 4)),
        ),
        (
            "READ whose channel info is past the end",
            Command::READ,
            Box::new(move |w| read_body(w, f, 0, 10)),
            Box::new(|m| {
                patch16(m, READ_CHANNEL_INFO_OFFSET, 0xFFF0);
                patch16(m, READ_CHANNEL_INFO_OFFSET + 2, 16);
            }),
        ),
        (
            "QUERY_DIRECTORY whose pattern is past the end",
            Command::QUERY_DIRECTORY,
            Box::new(move |w| query_directory_body(w, d)),
            Box::new(|m| patch16(m, QD_NAME_OFFSET, 0x8000)),
        ),
        (
            "QUERY_DIRECTORY whose pattern runs past the end",
            Command::QUERY_DIRECTORY,
            Box::new(move |w| query_directory_body(w, d)),
            Box::new(|m| patch16(m, QD_NAME_OFFSET + 2, 0x1000)),
        ),
        (
            "QUERY_DIRECTORY with a 4 GiB output buffer",
            Command::QUERY_DIRECTORY,
            Box::new(move |w| query_directory_body(w, d)),
            Box::new(|m| patch32(m, QD_NAME_OFFSET + 4, u32::MAX)),
        ),
        (
            "TREE_CONNECT whose path runs past the end",
            Command::TREE_CONNECT,
            Box::new(|w| {
                TreeConnectRequest {
                    flags: TreeConnectFlags(0),
                    path: r"\\127.0.0.1\export".to_owned(),
                    contexts: Vec::new(),
                }
                .encode(w);
            }),
            Box::new(|m| patch16(m, TREE_PATH_OFFSET + 2, 0xFFFF)),
        ),
        (
            "CLOSE without its FileId",
            Command::CLOSE,
            Box::new(move |w| {
                CloseRequest {
                    flags: 0,
                    file_id: f,
                }
                .encode(w);
            }),
            Box::new(|m| m.truncate(64 + 8)),
        ),
    ];
    for (i, (what, cmd, body, patch)) in cases.into_iter().enumerate() {
        let (h, _) = c.request_patched(cmd, body, patch).await;
        assert_eq!(h.status, NtStatus::INVALID_PARAMETER, "{what}");
        if i % 4 == 3 {
            c.still_works(what, "offsets-check").await;
        }
    }
    // A second SESSION_SETUP whose security buffer lies outside the message.
    let session = c.session;
    c.session = 0;
    let key = c.key.take();
    let mut msg = c.message(Command::SESSION_SETUP, |w| setup_body(w, &[0x60; 40]));
    patch16(&mut msg, SETUP_BUFFER_OFFSET, 0xFF00);
    let (h, _) = c
        .call(&msg)
        .await
        .expect("SESSION_SETUP with a bad offset: closed");
    assert_eq!(
        h.status,
        NtStatus::INVALID_PARAMETER,
        "SESSION_SETUP offset"
    );
    c.session = session;
    c.key = key;
    c.close(f).await;
    c.close(d).await;
    c.still_works("the bad offsets", "offsets-check").await;
}

/// Valid requests of every command with random body bytes changed, cut or appended, signed
/// afterwards so that they reach the handlers: each is answered (any status) or closes its
/// connection, which is then replaced.
async fn mangled_requests(port: u16, rng: &mut ChaCha8Rng) {
    async fn fresh(port: u16) -> (Smb, FileId, FileId) {
        let mut c = Smb::session(port).await;
        let f = c.create("mangled", false).await;
        let d = c.create("", true).await;
        (c, f, d)
    }
    let (mut c, mut f, mut d) = fresh(port).await;
    let (mut answered, mut closed) = (0u32, 0u32);
    let mut statuses = std::collections::BTreeMap::<String, u32>::new();
    for i in 0..3000u32 {
        let mut cmd = Command(rng.random_range(0..=0x12u16));
        if cmd == Command::CANCEL {
            cmd = Command::ECHO; // a CANCEL is never answered
        }
        let target = if rng.random_bool(0.5) { f } else { d };
        let mut msg = c.message(cmd, |w| match cmd {
            Command::NEGOTIATE | Command::SESSION_SETUP | Command::LOGOFF => EchoRequest.encode(w),
            Command::TREE_CONNECT => TreeConnectRequest {
                flags: TreeConnectFlags(0),
                path: r"\\127.0.0.1\export".to_owned(),
                contexts: Vec::new(),
            }
            .encode(w),
            Command::CREATE => create_body(w, "mangled-new", i % 2 == 0),
            Command::READ => read_body(w, target, 0, 100),
            Command::WRITE => write_body(w, target, 0, b"some bytes"),
            Command::QUERY_DIRECTORY => query_directory_body(w, target),
            _ => {
                // A FileId-shaped body: CLOSE, FLUSH, LOCK, IOCTL, CHANGE_NOTIFY, QUERY_INFO,
                // SET_INFO, OPLOCK_BREAK and the rest get plausible sizes and the open's id.
                w.u16([24, 24, 48, 57, 32, 41, 33][rng.random_range(0..7)]);
                w.u16(0);
                w.u32(0);
                target.encode(w);
                let mut tail = vec![0u8; rng.random_range(0..96)];
                rng.fill_bytes(&mut tail);
                w.bytes(&tail);
            }
        });
        // Keep the header, mangle the body.
        for _ in 0..rng.random_range(0..6) {
            if msg.len() > 64 {
                let at = rng.random_range(64..msg.len());
                msg[at] = rng.random();
            }
        }
        match rng.random_range(0..4) {
            0 => msg.truncate(rng.random_range(64..=msg.len())),
            1 => {
                let mut tail = vec![0u8; rng.random_range(0..64)];
                rng.fill_bytes(&mut tail);
                msg.extend_from_slice(&tail);
            }
            _ => {}
        }
        c.sign(&mut msg);
        match c.call(&msg).await {
            Some((h, _)) => {
                answered += 1;
                *statuses.entry(format!("{:?}", h.status)).or_default() += 1;
                // A LOGOFF, TREE_DISCONNECT or CLOSE that went through ends what later
                // requests need: start over.
                let ended = matches!(
                    cmd,
                    Command::LOGOFF | Command::TREE_DISCONNECT | Command::CLOSE
                ) && h.status == NtStatus::SUCCESS;
                if ended {
                    (c, f, d) = fresh(port).await;
                }
            }
            None => {
                closed += 1;
                (c, f, d) = fresh(port).await;
            }
        }
    }
    println!("mangled signed requests: {answered} answered, {closed} closed; {statuses:?}");
    c.still_works("mangled requests", "mangled-check").await;
}

/// (c) Compounds of two ECHOs whose first NextCommand is `next`.
fn echo_compound(c: &mut Smb, next: u32) -> Vec<u8> {
    let mut a = c.message(Command::ECHO, |w| EchoRequest.encode(w));
    let mut b = c.message(Command::ECHO, |w| EchoRequest.encode(w));
    a.resize(72, 0);
    patch32(&mut a, 20, next);
    c.sign(&mut a);
    c.sign(&mut b);
    a.extend_from_slice(&b);
    a
}

async fn bad_compounds(port: u16) {
    // A well-formed compound is answered, element by element.
    let mut c = Smb::session(port).await;
    let frame = echo_compound(&mut c, 72);
    assert!(c.send_raw(&encode_frame(&frame)).await);
    let r = c
        .recv()
        .await
        .expect("a valid compound closed the connection");
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|(h, _)| h.status == NtStatus::SUCCESS));

    for (what, next) in [
        ("NextCommand 8", 8),
        ("NextCommand 63", 63),
        ("NextCommand 65", 65),
        ("NextCommand 68 (unaligned)", 68),
        ("NextCommand 136 (past the end)", 136),
        ("NextCommand 144 (past the end)", 144),
        ("NextCommand 0xFFFFFFF8", 0xFFFF_FFF8),
    ] {
        let mut c = Smb::session(port).await;
        let frame = echo_compound(&mut c, next);
        let _ = c.send_raw(&encode_frame(&frame)).await;
        c.closed(what).await;
    }
    // 129 elements: more than a compound may hold.
    let mut c = Smb::session(port).await;
    let mut frame = Vec::new();
    for i in 0..129 {
        let mut m = c.message(Command::ECHO, |w| EchoRequest.encode(w));
        m.resize(72, 0);
        if i < 128 {
            patch32(&mut m, 20, 72);
        }
        c.sign(&mut m);
        frame.extend_from_slice(&m);
    }
    let _ = c.send_raw(&encode_frame(&frame)).await;
    c.closed("a compound of 129 messages").await;
    // The last element shorter than a header.
    let mut c = Smb::session(port).await;
    let mut frame = echo_compound(&mut c, 72);
    frame.truncate(72 + 40);
    let _ = c.send_raw(&encode_frame(&frame)).await;
    c.closed("a compound whose last element is cut").await;
}

/// Random compounds of 2-6 CREATE, WRITE, READ, QUERY_DIRECTORY, CLOSE and ECHO elements,
/// each related or not, with the "previous" FileId and SessionId/TreeId placeholders or real
/// ones, some bodies mangled: each is answered element by element or closes its connection.
async fn random_compounds(port: u16, rng: &mut ChaCha8Rng) {
    let mut c = Smb::session(port).await;
    let (mut answered, mut closed) = (0u32, 0u32);
    for _ in 0..500 {
        let n = rng.random_range(2..=6);
        let mut frame = Vec::new();
        for i in 0..n {
            let cmd = [
                Command::CREATE,
                Command::WRITE,
                Command::READ,
                Command::QUERY_DIRECTORY,
                Command::CLOSE,
                Command::ECHO,
            ][rng.random_range(0..6)];
            let related = i > 0 && rng.random_bool(0.7);
            let fid = if related && rng.random_bool(0.8) {
                FileId::RELATED
            } else {
                FileId {
                    persistent: rng.random_range(0..4),
                    volatile: rng.random_range(0..4),
                }
            };
            let mut h = c.header(cmd);
            if related {
                h.flags |= HeaderFlags::RELATED_OPERATIONS;
                if rng.random_bool(0.5) {
                    h.session_id = SessionId(u64::MAX);
                    h.id = HeaderId::Sync {
                        reserved: 0,
                        tree_id: TreeId(u32::MAX),
                    };
                }
            }
            let mut w = Writer::new();
            h.encode(&mut w);
            match cmd {
                Command::CREATE => create_body(&mut w, "compound", rng.random_bool(0.2)),
                Command::WRITE => write_body(&mut w, fid, 0, b"compound data"),
                Command::READ => read_body(&mut w, fid, 0, 64),
                Command::QUERY_DIRECTORY => query_directory_body(&mut w, fid),
                Command::CLOSE => CloseRequest {
                    flags: 0,
                    file_id: fid,
                }
                .encode(&mut w),
                _ => EchoRequest.encode(&mut w),
            }
            let mut m = w.into_inner();
            if rng.random_bool(0.1) {
                let at = rng.random_range(64..m.len());
                m[at] = rng.random();
            }
            if i + 1 < n {
                m.resize(m.len().next_multiple_of(8), 0);
                let next = m.len() as u32;
                patch32(&mut m, 20, next);
            }
            c.sign(&mut m);
            frame.extend_from_slice(&m);
        }
        let _ = c.send_raw(&encode_frame(&frame)).await;
        match c.recv().await {
            Some(r) => {
                answered += 1;
                assert_eq!(r.len(), n, "a compound of {n} got {} answers", r.len());
            }
            None => {
                closed += 1;
                c = Smb::session(port).await;
            }
        }
    }
    println!("random compounds: {answered} answered, {closed} closed");
    c.still_works("random compounds", "compound-check").await;
}

/// The transform frame of `plain` encrypted for `session` with `c2s`, nonce `n`.
fn encrypted(c2s: &[u8], session: u64, n: u64, plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&n.to_le_bytes());
    crypto::encrypt(crypto::Cipher::Aes128Gcm, c2s, &nonce, session, plain).unwrap()
}

/// Encrypted requests (3.1.1, AES-128-GCM): a good one is answered encrypted; a tampered
/// ciphertext, an unknown session in the transform header, a lying OriginalMessageSize, a
/// nested transform, and a message naming another session of the same connection than the
/// transform's key each close the connection.
async fn bad_encryption(port: u16) {
    // An encryption context listing no cipher (CipherCount 0: [MS-SMB2] 2.2.3.1.2 forbids it,
    // the `smb` crate sends it with encryption off) negotiates nothing: the answer has no
    // encryption context (not a cipher 0 that client cannot decode), and the session works.
    let mut c = Smb::connect(port).await;
    assert_eq!(c.negotiate_offering(Some(Vec::new())).await, None);
    assert_eq!(c.session_setup("alice", PASSWORD).await, NtStatus::SUCCESS);
    c.tree_connect().await;
    async fn encrypted_session(port: u16) -> Smb {
        let mut c = Smb::connect(port).await;
        c.negotiate_with(true).await;
        assert_eq!(c.session_setup("alice", PASSWORD).await, NtStatus::SUCCESS);
        c.tree_connect().await;
        c
    }
    let mut c = encrypted_session(port).await;
    let (c2s, s2c) = c.enc.clone().unwrap();
    let echo = c.message(Command::ECHO, |w| EchoRequest.encode(w));
    assert!(
        c.send_raw(&encode_frame(&encrypted(&c2s, c.session, 1, &echo)))
            .await
    );
    let f = c
        .recv_frame()
        .await
        .expect("an encrypted ECHO closed the connection");
    let plain = crypto::decrypt(crypto::Cipher::Aes128Gcm, &s2c, &f).unwrap();
    let h = Header::decode(&plain).unwrap();
    assert_eq!((h.command, h.status), (Command::ECHO, NtStatus::SUCCESS));

    for what in [
        "a tampered ciphertext",
        "an unknown session",
        "a lying OriginalMessageSize",
        "a nested transform",
    ] {
        let mut c = encrypted_session(port).await;
        let (c2s, _) = c.enc.clone().unwrap();
        let mut msg = c.message(Command::ECHO, |w| EchoRequest.encode(w));
        if what == "a nested transform" {
            msg = encrypted(&c2s, c.session, 7, &msg);
        }
        let mut frame = encrypted(&c2s, c.session, 2, &msg);
        match what {
            "a tampered ciphertext" => *frame.last_mut().unwrap() ^= 1,
            "an unknown session" => frame[44..52].copy_from_slice(&(c.session ^ 1).to_le_bytes()),
            "a lying OriginalMessageSize" => patch32(&mut frame, 36, 1 << 20),
            _ => {}
        }
        let _ = c.send_raw(&encode_frame(&frame)).await;
        c.closed(what).await;
    }

    // Two sessions on one connection: a message naming session B inside a frame encrypted
    // with session A's key.
    let mut c = encrypted_session(port).await;
    let (a, a_keys) = (c.session, c.enc.clone().unwrap());
    c.session = 0;
    c.key = None;
    assert_eq!(c.session_setup("alice", PASSWORD).await, NtStatus::SUCCESS);
    let b = c.session;
    assert_ne!(a, b);
    let msg = c.message(Command::ECHO, |w| EchoRequest.encode(w));
    let _ = c
        .send_raw(&encode_frame(&encrypted(&a_keys.0, a, 3, &msg)))
        .await;
    c.closed("another session's message inside a transform")
        .await;
}

/// (d) MessageIds outside the credit window or used twice close the connection.
async fn bad_credits(port: u16) {
    for what in [
        "a MessageId beyond the granted credits",
        "a reused MessageId",
        "MessageId 0xFFFFFFFFFFFFFFFF",
        "a CreditCharge beyond the granted credits",
    ] {
        let mut c = Smb::session(port).await;
        assert_eq!(c.echo().await, Some(NtStatus::SUCCESS));
        let mut h = c.header(Command::ECHO);
        match what {
            "a MessageId beyond the granted credits" => h.message_id = MessageId(c.high + 10),
            "a reused MessageId" => h.message_id = MessageId(c.next_mid - 2),
            "MessageId 0xFFFFFFFFFFFFFFFF" => h.message_id = MessageId(u64::MAX),
            _ => h.credit_charge = u16::try_from(c.high - h.message_id.0 + 1).unwrap(),
        }
        let mut w = Writer::new();
        h.encode(&mut w);
        EchoRequest.encode(&mut w);
        let mut msg = w.into_inner();
        c.sign(&mut msg);
        let _ = c.send_raw(&encode_frame(&msg)).await;
        c.closed(what).await;
    }
}

/// (e) On a session that requires signing: a request with a byte flipped after signing, and
/// one not signed at all, are refused with ACCESS_DENIED; the session goes on working.
async fn bad_signatures(port: u16) {
    let mut c = Smb::session(port).await;
    // Flip a byte of the name in a signed CREATE.
    let mut msg = c.message(Command::CREATE, |w| create_body(w, "tampered", false));
    c.sign(&mut msg);
    let last = msg.len() - 1;
    msg[last] ^= 0x20;
    let (h, _) = c.call(&msg).await.expect("tampered CREATE: closed");
    assert_eq!(h.status, NtStatus::ACCESS_DENIED, "a tampered request");
    // A flipped signature byte.
    let mut msg = c.message(Command::ECHO, |w| EchoRequest.encode(w));
    c.sign(&mut msg);
    msg[50] ^= 1;
    let (h, _) = c.call(&msg).await.expect("bad signature: closed");
    assert_eq!(h.status, NtStatus::ACCESS_DENIED, "a wrong signature");
    // Not signed at all.
    let msg = c.message(Command::CREATE, |w| create_body(w, "unsigned", false));
    let (h, _) = c.call(&msg).await.expect("unsigned CREATE: closed");
    assert_eq!(h.status, NtStatus::ACCESS_DENIED, "an unsigned request");
    // Signed with a key of another session.
    let mut other = Smb::session(port).await;
    let mut msg = c.message(Command::ECHO, |w| EchoRequest.encode(w));
    other.sign(&mut msg);
    let (h, _) = c.call(&msg).await.expect("foreign signature: closed");
    assert_eq!(
        h.status,
        NtStatus::ACCESS_DENIED,
        "another session's signature"
    );
    c.still_works("bad signatures", "signed-check").await;
    other.still_works("bad signatures", "signed-check-2").await;
}

/// A binding expected to be refused: what it is, the session id, the credentials, the key
/// that signs it, the status.
type Refusal<'a> = (&'a str, u64, (&'a str, &'a str), Option<&'a [u8]>, NtStatus);

/// (k) Multichannel session binding ([MS-SMB2] 3.3.5.5): refusals for an unsigned binding, a
/// binding signed with another session's key, an unknown session, another user, a wrong
/// password and a binding on the session's own connection, each leaving the session working;
/// then a bound channel reads and writes the home connection's open (its requests forwarded
/// to the home connection, signed with the channel's own key), a second binding on it is
/// refused, 32 channels (the home included) are the limit, LOGOFF on a channel ends the session everywhere, and a
/// channel whose home connection is gone answers USER_SESSION_DELETED (no hang).
async fn bindings(port: u16) {
    let alice = ("alice", PASSWORD);
    let mut home = Smb::session(port).await;
    let (sid, tree) = (home.session, home.tree);
    let key = home.key.clone().unwrap();
    let f = home.create("bound", false).await;
    assert_eq!(home.write(f, 0, b"from home").await, NtStatus::SUCCESS);
    let other = Smb::session(port).await;
    let refusals: [Refusal<'_>; 5] = [
        ("unsigned", sid, alice, None, NtStatus::INVALID_PARAMETER),
        (
            "signed with another session's key",
            sid,
            alice,
            other.key.as_deref(),
            NtStatus::ACCESS_DENIED,
        ),
        (
            "an unknown session",
            sid ^ 0x5555,
            alice,
            Some(&key),
            NtStatus::USER_SESSION_DELETED,
        ),
        (
            "another user",
            sid,
            ("bob", PASSWORD),
            Some(&key),
            NtStatus::ACCESS_DENIED,
        ),
        (
            "a wrong password",
            sid,
            ("alice", "wrong"),
            Some(&key),
            NtStatus::LOGON_FAILURE,
        ),
    ];
    for (what, s, who, k, want) in refusals {
        let mut c = Smb::connect(port).await;
        c.negotiate().await;
        assert_eq!(c.bind(s, tree, who, k).await, want, "binding {what}");
        home.still_works(&format!("a binding {what}"), "bind-check")
            .await;
    }
    // The session's own connection cannot bind it again.
    let (h, _) = home
        .request(Command::SESSION_SETUP, |w| bind_body(w, &[0x60, 0x00]))
        .await;
    assert_eq!(h.status, NtStatus::REQUEST_NOT_ACCEPTED, "binding at home");

    // A bound channel works on the home connection's open, and the home sees its writes.
    let mut chan = Smb::connect(port).await;
    chan.negotiate().await;
    assert_eq!(
        chan.bind(sid, tree, alice, Some(&key)).await,
        NtStatus::SUCCESS
    );
    let (s, data) = chan.read(f, 0, 100).await;
    assert_eq!((s, data.as_slice()), (NtStatus::SUCCESS, &b"from home"[..]));
    assert_eq!(chan.write(f, 0, b"from chan").await, NtStatus::SUCCESS);
    let (s, data) = home.read(f, 0, 100).await;
    assert_eq!((s, data.as_slice()), (NtStatus::SUCCESS, &b"from chan"[..]));
    chan.still_works("a bound channel", "via-channel").await;
    // A second binding on the channel, signed with the session's key, fails its signature
    // check (the channel has a key of its own).
    let mut msg = chan.message(Command::SESSION_SETUP, |w| bind_body(w, &[0x60, 0x00]));
    let flags = u32::from_le_bytes(msg[16..20].try_into().unwrap()) | HeaderFlags::SIGNED.0;
    msg[16..20].copy_from_slice(&flags.to_le_bytes());
    crypto::sign(SigningAlgorithm::AesCmac, &key, &mut msg).unwrap();
    let (h, _) = chan.call(&msg).await.expect("second binding: closed");
    assert_eq!(h.status, NtStatus::ACCESS_DENIED, "a second binding");

    // 32 channels at most, the home connection included (Windows' limit).
    let mut channels = vec![chan];
    while channels.len() < 31 {
        let mut c = Smb::connect(port).await;
        c.negotiate().await;
        assert_eq!(
            c.bind(sid, tree, alice, Some(&key)).await,
            NtStatus::SUCCESS,
            "channel {}",
            channels.len() + 1
        );
        channels.push(c);
    }
    let mut c = Smb::connect(port).await;
    c.negotiate().await;
    assert_eq!(
        c.bind(sid, tree, alice, Some(&key)).await,
        NtStatus::INSUFFICIENT_RESOURCES,
        "channel 32 besides the home connection"
    );
    // A channel's end leaves room for another.
    channels.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        c.bind(sid, tree, alice, Some(&key)).await,
        NtStatus::SUCCESS,
        "a channel after one ended"
    );
    home.close(f).await;

    // LOGOFF on a channel ends the session on every connection.
    let (h, _) = channels[0]
        .request(Command::LOGOFF, |w| LogoffRequest.encode(w))
        .await;
    assert_eq!(h.status, NtStatus::SUCCESS, "LOGOFF on a channel");
    let (h, _) = home
        .request(Command::CREATE, |w| create_body(w, "after-logoff", false))
        .await;
    assert_eq!(
        h.status,
        NtStatus::USER_SESSION_DELETED,
        "home after LOGOFF"
    );
    let (h, _) = channels[1]
        .request(Command::CREATE, |w| create_body(w, "after-logoff", false))
        .await;
    assert_eq!(
        h.status,
        NtStatus::USER_SESSION_DELETED,
        "channel after LOGOFF"
    );
    drop(channels);

    // The home connection ends: its channel answers USER_SESSION_DELETED.
    let home2 = Smb::session(port).await;
    let mut chan2 = Smb::connect(port).await;
    chan2.negotiate().await;
    let k2 = home2.key.clone().unwrap();
    assert_eq!(
        chan2
            .bind(home2.session, home2.tree, alice, Some(&k2))
            .await,
        NtStatus::SUCCESS
    );
    drop(home2);
    let mut status = NtStatus::SUCCESS;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (h, _) = chan2
            .request(Command::CREATE, |w| create_body(w, "orphan", false))
            .await;
        status = h.status;
        if status == NtStatus::USER_SESSION_DELETED {
            break;
        }
    }
    assert_eq!(
        status,
        NtStatus::USER_SESSION_DELETED,
        "a channel whose home connection ended"
    );
    assert_eq!(
        chan2.echo().await,
        Some(NtStatus::SUCCESS),
        "the channel's connection"
    );
}

/// A compound of `n` READs of `len` bytes at offset 0 of `f`, each charged `charge` credits.
fn read_compound(c: &mut Smb, f: FileId, n: usize, len: u32, charge: u16) -> Vec<u8> {
    let mut frame = Vec::new();
    for i in 0..n {
        let mut h = c.header(Command::READ);
        h.credit_charge = charge;
        c.next_mid += u64::from(charge.max(1)) - 1;
        let mut w = Writer::new();
        h.encode(&mut w);
        read_body(&mut w, f, 0, len);
        let mut m = w.into_inner();
        if i + 1 < n {
            m.resize(m.len().next_multiple_of(8), 0);
            let next = m.len() as u32;
            patch32(&mut m, 20, next);
        }
        c.sign(&mut m);
        frame.extend_from_slice(&m);
    }
    frame
}

/// (h) READs whose answers exceed what they were charged, or that together exceed a frame:
/// a READ of 1 MiB charged one credit is refused ([MS-SMB2] 3.3.5.2.5); a compound of 20
/// properly charged 1 MiB READs (a 20 MiB answer, more than the 16 MiB a frame can carry) is
/// answered within a frame's bounds or closes the connection, without a panic.
async fn amplified_reads(port: u16) {
    let mut c = Smb::session(port).await;
    let f = c.create("big", false).await;
    let data = vec![0x42u8; 1 << 20];
    assert_eq!(c.write(f, 0, &data).await, NtStatus::SUCCESS);
    // Collect credits up to the server's maximum.
    for _ in 0..10 {
        let mut h = c.header(Command::ECHO);
        h.credits = 512;
        let mut w = Writer::new();
        h.encode(&mut w);
        EchoRequest.encode(&mut w);
        let mut msg = w.into_inner();
        c.sign(&mut msg);
        assert_eq!(c.call(&msg).await.unwrap().0.status, NtStatus::SUCCESS);
    }
    println!("credits held: {}", c.high - c.next_mid);
    // One READ of 1 MiB charged a single credit.
    let frame = read_compound(&mut c, f, 1, 1 << 20, 1);
    assert!(c.send_raw(&encode_frame(&frame)).await);
    let r = c
        .recv()
        .await
        .expect("an undercharged READ closed the connection");
    assert_eq!(
        r[0].0.status,
        NtStatus::INVALID_PARAMETER,
        "a 1 MiB READ charged 1 credit"
    );
    // Twenty properly charged 1 MiB READs in one compound.
    let frame = read_compound(&mut c, f, 20, 1 << 20, 16);
    assert!(c.send_raw(&encode_frame(&frame)).await);
    match c.recv().await {
        None => println!("a compound with a 20 MiB answer closed its connection"),
        Some(r) => {
            let ok = r
                .iter()
                .filter(|(h, _)| h.status == NtStatus::SUCCESS)
                .count();
            println!(
                "a compound with a 20 MiB answer: {} answers, {ok} with data, statuses {:?}",
                r.len(),
                r.iter()
                    .map(|(h, _)| h.status)
                    .collect::<std::collections::BTreeSet<_>>()
            );
            assert_eq!(r.len(), 20);
            c.still_works("an oversized compound", "big-check").await;
        }
    }
}

/// Authenticated connections that each park a maximal unfinished frame
/// (limits::FRAME_MAX less one byte): what a logged-on peer can make the server hold.
/// Returns (RSS before, RSS while they hold).
async fn maximal_frames(port: u16, pid: u32, d: &Daemon) -> (u64, u64) {
    let mut holders = Vec::new();
    for _ in 0..HOLDERS {
        holders.push(Smb::session(port).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss(pid);
    let max = protocol::smb2::limits::FRAME_MAX;
    let mut bytes = protocol::smb2::framing::frame_header(max).to_vec();
    bytes.extend_from_slice(&[0xFE, b'S', b'M', b'B']);
    bytes.resize(4 + max - 1, 0xA5);
    for h in &mut holders {
        assert!(
            h.send_raw(&bytes).await,
            "a holder was refused; log:\n{}",
            d.stderr_tail()
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let holding = rss(pid);
    drop(holders);
    (before, holding)
}

/// One QUERY_DIRECTORY of `d` with `flags` and an output buffer of `len`: the names, or the
/// status when it is not SUCCESS.
async fn list(
    c: &mut Smb,
    d: FileId,
    flags: QueryDirectoryFlags,
    len: u32,
) -> Result<Vec<String>, NtStatus> {
    let (h, resp) = c
        .request(Command::QUERY_DIRECTORY, |w| {
            QueryDirectoryRequest {
                info_class: InfoClass::BOTH_DIRECTORY,
                flags,
                file_index: 0,
                file_id: d,
                pattern: "*".to_owned(),
                output_buffer_length: len,
            }
            .encode(w);
        })
        .await;
    if h.status != NtStatus::SUCCESS {
        return Err(h.status);
    }
    let buf = QueryDirectoryResponse::decode(&resp).unwrap().buffer;
    Ok(decode_entries(InfoClass::BOTH_DIRECTORY, buf)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect())
}

/// Directory opens left half-listed: listing 300 entries in small pieces (one entry at a time,
/// or a buffer too small for a page) returns every name exactly once, and `SCANS` opens each
/// stopped after one entry cost the server at most [`SCAN_BOUND`] each (they once kept the
/// rest of a 256-entry page each: 50 KiB per open, ~800 MiB for one connection's 16,384).
/// Returns the RSS growth per open.
async fn half_listed_directories(port: u16, pid: u32) -> u64 {
    let mut c = Smb::session(port).await;
    let (h, resp) = c
        .request(Command::CREATE, |w| {
            CreateRequest {
                security_flags: 0,
                oplock_level: OplockLevel::NONE,
                impersonation_level: ImpersonationLevel::IMPERSONATION,
                smb_create_flags: 0,
                desired_access: AccessMask::FILE_READ_DATA | AccessMask::FILE_ADD_FILE,
                file_attributes: FileAttributes::DIRECTORY,
                share_access: ShareAccess::READ | ShareAccess::WRITE,
                create_disposition: CreateDisposition::OPEN_IF,
                create_options: CreateOptions::DIRECTORY_FILE,
                name: "many".to_owned(),
                contexts: Vec::new(),
            }
            .encode(w);
        })
        .await;
    assert_eq!(h.status, NtStatus::SUCCESS, "mkdir many");
    c.close(CreateResponse::decode(&resp).unwrap().file_id)
        .await;
    let mut want = std::collections::BTreeSet::new();
    for i in 0..300 {
        let name = format!("file-with-a-longish-name-{i:04}");
        let f = c.create(&format!("many\\{name}"), false).await;
        c.close(f).await;
        want.insert(name);
    }
    want.insert(".".to_owned());
    want.insert("..".to_owned());
    for (what, flags, len) in [
        (
            "single entries",
            QueryDirectoryFlags::RETURN_SINGLE_ENTRY,
            65_536,
        ),
        ("1 KiB buffers", QueryDirectoryFlags(0), 1024),
        ("64 KiB buffers", QueryDirectoryFlags(0), 65_536),
    ] {
        let d = c.create("many", true).await;
        let mut got = Vec::new();
        loop {
            match list(&mut c, d, flags, len).await {
                Ok(names) => got.extend(names),
                Err(s) => {
                    assert_eq!(s, NtStatus::NO_MORE_FILES, "{what}");
                    break;
                }
            }
        }
        let set: std::collections::BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(got.len(), set.len(), "{what}: a name was listed twice");
        assert_eq!(set, want, "{what}: other names");
        c.close(d).await;
    }
    // Too small a buffer for even one entry, then a big one: nothing is lost.
    let d = c.create("many", true).await;
    assert_eq!(
        list(&mut c, d, QueryDirectoryFlags(0), 8).await,
        Err(NtStatus::INFO_LENGTH_MISMATCH)
    );
    let all = list(&mut c, d, QueryDirectoryFlags(0), 65_536)
        .await
        .unwrap();
    assert_eq!(all.len(), want.len());
    c.close(d).await;

    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = rss(pid);
    for _ in 0..SCANS {
        let d = c.create("many", true).await;
        let one = list(&mut c, d, QueryDirectoryFlags::RETURN_SINGLE_ENTRY, 65_536).await;
        assert_eq!(one.unwrap().len(), 1);
    }
    let after = rss(pid);
    let each = after.saturating_sub(before) / SCANS as u64;
    println!(
        "{SCANS} half-listed directory opens: RSS {:.1} -> {:.1} MiB ({:.1} KiB each, bound {} KiB)",
        mib(before),
        mib(after),
        each as f64 / 1024.0,
        SCAN_BOUND >> 10
    );
    assert!(
        after <= before + SCANS as u64 * SCAN_BOUND,
        "half-listed directory opens cost more than {SCAN_BOUND} bytes each"
    );
    each
}

/// (f) `IDLE` connections that NEGOTIATE and stop; while they are open a fresh client does a
/// whole session with a 1 MiB write and read-back. Returns (RSS before, RSS while open).
async fn idle_connections(port: u16, pid: u32) -> (u64, u64) {
    let rss_before = rss(pid);
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let mut c = Smb::connect(port).await;
        c.negotiate().await;
        idle.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_open = rss(pid);
    let mut fresh = Smb::session(port).await;
    let f = fresh.create("fresh", false).await;
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 % 253) as u8).collect();
    assert_eq!(fresh.write(f, 0, &data).await, NtStatus::SUCCESS);
    let (s, back) = fresh.read(f, 0, 1 << 20).await;
    assert_eq!(s, NtStatus::SUCCESS);
    assert!(back == data, "the fresh client read back other bytes");
    fresh.close(f).await;
    // The idle connections are still served.
    for c in idle.iter_mut().step_by(97) {
        assert_eq!(
            c.echo().await,
            Some(NtStatus::SUCCESS),
            "an idle connection"
        );
    }
    drop(idle);
    (rss_before, rss_open)
}

/// Goal and method: see the module documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_smb_peers_get_errors_or_closed_connections_and_cost_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "signing_required: true",
        "",
    );
    d.add_user("alice", 1001, 1001, PASSWORD);
    d.add_user("bob", 1002, 1002, PASSWORD);
    d.spawn();
    // Whatever phase fails, show the daemon's last words with it.
    let log_path = dir.path().join("dittofs.log");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let log = std::fs::read(&log_path).unwrap_or_default();
        let tail = &log[log.len().saturating_sub(6 << 10)..];
        eprintln!("daemon log tail:\n{}", String::from_utf8_lossy(tail));
        default_hook(info);
    }));
    let port = d.smb_port.unwrap();
    let pid = d.pid();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eb_bad);

    // A session that lives through everything and is checked at the end.
    let mut keeper = Smb::session(port).await;
    keeper.still_works("the start", "keeper").await;
    let baseline = rss(pid);

    broken_frames(port, &mut rng).await;
    assert!(
        d.alive(),
        "died on broken frames; log:\n{}",
        d.stderr_tail()
    );
    bad_offsets(port).await;
    mangled_requests(port, &mut rng).await;
    assert!(
        d.alive(),
        "died on mangled requests; log:\n{}",
        d.stderr_tail()
    );
    assert!(d.alive(), "died on bad offsets; log:\n{}", d.stderr_tail());
    bad_compounds(port).await;
    random_compounds(port, &mut rng).await;
    assert!(
        d.alive(),
        "died on bad compounds; log:\n{}",
        d.stderr_tail()
    );
    bad_credits(port).await;
    assert!(d.alive(), "died on bad credits; log:\n{}", d.stderr_tail());
    bad_signatures(port).await;
    bindings(port).await;
    assert!(d.alive(), "died on bindings; log:\n{}", d.stderr_tail());
    bad_encryption(port).await;
    half_listed_directories(port, pid).await;
    assert!(
        d.alive(),
        "died on bad encryption; log:\n{}",
        d.stderr_tail()
    );
    assert!(
        d.alive(),
        "died on bad signatures; log:\n{}",
        d.stderr_tail()
    );
    amplified_reads(port).await;
    assert!(
        d.alive(),
        "died on amplified reads; log:\n{}",
        d.stderr_tail()
    );
    keeper.still_works("the hostile requests", "keeper").await;

    let (rss_before, rss_open) = idle_connections(port, pid).await;
    assert!(
        d.alive(),
        "died with idle connections; log:\n{}",
        d.stderr_tail()
    );
    keeper.still_works("the idle connections", "keeper").await;
    println!(
        "RSS before the idle connections {:.1} MiB, with {IDLE} open {:.1} MiB \
         ({:.1} KiB per idle connection, bound {} KiB)",
        mib(rss_before),
        mib(rss_open),
        rss_open.saturating_sub(rss_before) as f64 / 1024.0 / IDLE as f64,
        IDLE_CONNECTION_BOUND >> 10
    );
    assert!(
        rss_open <= rss_before + IDLE as u64 * IDLE_CONNECTION_BOUND,
        "{IDLE} idle connections cost more than {IDLE_CONNECTION_BOUND} bytes each"
    );
    let (hold_before, holding) = maximal_frames(port, pid, &d).await;
    assert!(
        d.alive(),
        "died with maximal frames; log:\n{}",
        d.stderr_tail()
    );
    keeper.still_works("the maximal frames", "keeper").await;
    println!(
        "RSS before {HOLDERS} maximal unfinished frames {:.1} MiB, while held {:.1} MiB \
         (growth {:.2} MiB per connection, including whatever else grew meanwhile; bound \
         {:.2} MiB each plus {:.0} MiB of slack)",
        mib(hold_before),
        mib(holding),
        mib(holding.saturating_sub(hold_before)) / HOLDERS as f64,
        mib(HOLDER_BOUND),
        mib(SLACK)
    );
    assert!(
        holding <= hold_before + HOLDERS as u64 * HOLDER_BOUND + SLACK,
        "connections holding maximal frames cost more than {HOLDER_BOUND} bytes each"
    );
    // VmHWM is updated lazily: a sampled VmRSS can be above it.
    let peak = peak_rss(pid).max(holding).max(rss_open);
    let bound =
        baseline + (IDLE as u64 * IDLE_CONNECTION_BOUND).max(HOLDERS as u64 * HOLDER_BOUND) + SLACK;
    println!(
        "RSS at the start {:.1} MiB; peak over the whole test {:.1} MiB, bound {:.1} MiB",
        mib(baseline),
        mib(peak),
        mib(bound)
    );
    assert!(peak <= bound, "peak RSS {peak} above the bound {bound}");

    // (g) Still alive, no panic logged, and a client nobody here wrote still works.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(d.alive(), "log:\n{}", d.stderr_tail());
    let log = d.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    let o = std::process::Command::new("smbclient")
        .arg("//127.0.0.1/export")
        .arg("-p")
        .arg(port.to_string())
        .arg("-U")
        .arg(format!("alice%{PASSWORD}"))
        .arg("-c")
        .arg("ls")
        .output()
        .expect("smbclient (Debian's smbclient package) is needed");
    let out = String::from_utf8_lossy(&o.stdout);
    // The listing must be there. smbclient's `ls` ends with a QUERY_INFO for the volume
    // size ("dskattr"); until QUERY_INFO lands (actors/src/server/smb/pending.rs) that one
    // fails with NOT_SUPPORTED and smbclient exits 1, which is tolerated, nothing else.
    let only_dskattr = out
        .lines()
        .filter(|l| l.contains("NT_STATUS_"))
        .all(|l| l.contains("dskattr: NT_STATUS_NOT_SUPPORTED"));
    assert!(
        out.contains("keeper") && out.contains("fresh") && (o.status.success() || only_dskattr),
        "smbclient ls: {o:?}"
    );
    assert_eq!(d.terminate(), Some(0), "log:\n{}", d.stderr_tail());
}
