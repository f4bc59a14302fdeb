//! NEGOTIATE, SESSION_SETUP (SPNEGO + NTLMv2), LOGOFF, TREE_CONNECT, TREE_DISCONNECT, ECHO.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::ntlm;
use protocol::smb2::crypto::{self, Cipher, PreauthHash, SessionKeys, SigningAlgorithm};
use protocol::smb2::header::Command;
use protocol::smb2::le::Writer;
use protocol::smb2::misc::EchoResponse;
use protocol::smb2::negotiate::{
    self, Capabilities, Dialect, HashAlgorithm, NegotiateContext, NegotiateRequest,
    NegotiateResponse, SecurityMode,
};
use protocol::smb2::session::{
    LogoffResponse, SessionFlags, SessionSetupFlags, SessionSetupRequest, SessionSetupResponse,
};
use protocol::smb2::status::NtStatus;
use protocol::smb2::tree::{
    ShareCapabilities, ShareFlags, ShareType, TreeConnectRequest, TreeConnectResponse,
    TreeDisconnectResponse,
};
use protocol::spnego::{self, Step};
use rand::RngCore;

use super::Encryption;
use super::connection::{Conn, Handled, Out, Req, filetime, tid, undecodable};
use super::state::{Auth, Negotiated, SESSIONS_MAX, Session, TREES_MAX, Tree, TreeKind};
use crate::identity::Permission;
use crate::server::share::Caller;

/// The access mask a read-write tree grants at most (FILE_ALL_ACCESS).
pub(crate) const ACCESS_ALL: u32 = 0x001F_01FF;
/// The access mask a read-only tree grants at most: read data, EAs and attributes, execute,
/// read control, synchronize.
pub(crate) const ACCESS_READ: u32 = 0x0012_00A9;

impl Conn {
    /// NEGOTIATE ([MS-SMB2] 3.3.5.4): the highest dialect both sides allow; for 3.1.1 the
    /// preauth integrity, cipher, signing and POSIX contexts.
    pub(crate) fn negotiate(&mut self, req: Req<'_>) -> Handled {
        if self.neg.as_ref().is_some_and(|n| n.dialect != 0x02FF) {
            // A second NEGOTIATE on a connection is a protocol error: disconnect.
            self.close = true;
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let r = NegotiateRequest::decode(req.msg).map_err(undecodable)?;
        let settings = &self.server.settings;
        let dialect = r
            .dialects
            .iter()
            .map(|d| d.0)
            .filter(|&d| {
                matches!(d, 0x0202 | 0x0210 | 0x0300 | 0x0302 | 0x0311)
                    && d >= settings.dialect_min
                    && d <= settings.dialect_max
            })
            .max();
        let Some(dialect) = dialect else {
            tracing::info!(offered = ?r.dialects, "no common SMB dialect");
            self.close = true;
            return Err(NtStatus::NOT_SUPPORTED);
        };
        if r.dialects.is_empty() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let mut cipher = None;
        let mut signing = if dialect >= 0x0300 {
            SigningAlgorithm::AesCmac
        } else {
            SigningAlgorithm::HmacSha256
        };
        let mut posix = false;
        let mut salt = [0u8; 32];
        let mut contexts = Vec::new();
        if dialect == 0x0311 {
            if r.duplicated_context().is_some() {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let mut preauth_ok = false;
            let mut asked_cipher = false;
            let mut asked_signing = false;
            for c in &r.contexts {
                match c {
                    NegotiateContext::PreauthIntegrity {
                        hash_algorithms, ..
                    } => {
                        preauth_ok = hash_algorithms.contains(&HashAlgorithm::SHA_512);
                    }
                    NegotiateContext::Encryption { ciphers } => {
                        // A context listing no cipher (CipherCount 0, which [MS-SMB2]
                        // 2.2.3.1.2 forbids, but the `smb` crate sends with encryption off)
                        // negotiates nothing: no context in the answer, as if none was sent,
                        // rather than a cipher 0 such a client cannot decode.
                        asked_cipher = !ciphers.is_empty();
                        // The first of ours (adapters.smb.ciphers) the client offers.
                        cipher = settings
                            .ciphers
                            .iter()
                            .copied()
                            .find(|c| ciphers.iter().any(|o| o.0 == c.id()));
                    }
                    NegotiateContext::Signing { algorithms } => {
                        asked_signing = true;
                        // One the client listed: GMAC (fastest), else CMAC, else HMAC-SHA256.
                        let offered = |a| algorithms.contains(&a);
                        signing = if offered(negotiate::SigningAlgorithm::AES_GMAC) {
                            SigningAlgorithm::AesGmac
                        } else if offered(negotiate::SigningAlgorithm::AES_CMAC) {
                            SigningAlgorithm::AesCmac
                        } else if offered(negotiate::SigningAlgorithm::HMAC_SHA256) {
                            SigningAlgorithm::HmacSha256
                        } else {
                            SigningAlgorithm::AesCmac
                        };
                    }
                    NegotiateContext::Posix { guid } => {
                        posix = *guid == negotiate::POSIX_EXTENSIONS_GUID;
                    }
                    _ => {}
                }
            }
            if !preauth_ok {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            self.rng.fill_bytes(&mut salt);
            contexts.push(NegotiateContext::PreauthIntegrity {
                hash_algorithms: vec![HashAlgorithm::SHA_512],
                salt: &salt,
            });
            if asked_cipher {
                contexts.push(NegotiateContext::Encryption {
                    ciphers: vec![negotiate::Cipher(cipher.map_or(0, Cipher::id))],
                });
            }
            if asked_signing {
                contexts.push(NegotiateContext::Signing {
                    algorithms: vec![negotiate::SigningAlgorithm(signing.id())],
                });
            }
            if posix {
                contexts.push(NegotiateContext::POSIX);
            }
        } else if dialect >= 0x0300
            && r.capabilities.contains(Capabilities::ENCRYPTION)
            && settings.ciphers.contains(&Cipher::Aes128Ccm)
        {
            cipher = Some(Cipher::Aes128Ccm);
        }
        let mut security_mode = SecurityMode::SIGNING_ENABLED;
        if settings.signing_required {
            security_mode |= SecurityMode::SIGNING_REQUIRED;
        }
        let mut capabilities = Capabilities::EMPTY;
        if dialect >= 0x0210 {
            // Leases (SMB 2.1+).
            capabilities |= Capabilities::LARGE_MTU | Capabilities::LEASING;
        }
        if dialect >= 0x0300 {
            // Directory leases (SMB 3.x, v2 lease contexts; super::oplocks).
            capabilities |= Capabilities::DIRECTORY_LEASING;
        }
        if (0x0300..0x0311).contains(&dialect) && cipher.is_some() {
            capabilities |= Capabilities::ENCRYPTION;
        }
        if dialect >= 0x0300 && settings.multichannel {
            // Sessions may be bound to further connections ([MS-SMB2] 3.3.5.4, 3.3.5.5.2).
            capabilities |= Capabilities::MULTI_CHANNEL;
        }
        self.neg = Some(Negotiated {
            dialect,
            client_guid: r.client_guid,
            client_capabilities: r.capabilities.0,
            client_security_mode: r.security_mode.0,
            server_security_mode: security_mode.0,
            server_capabilities: capabilities.0,
            client_dialects: r.dialects.iter().map(|d| d.0).collect(),
            cipher,
            signing,
            posix,
        });
        let mut w = Out::writer();
        self.negotiate_body(dialect, security_mode, capabilities, contexts, &mut w);
        Ok(Out::ok(w))
    }

    /// The NEGOTIATE response for the SMB1 path (no contexts, dialect 2.0.2 or 2.???).
    pub(crate) fn negotiate_smb1(&mut self, dialect: u16, w: &mut Writer) {
        let settings = &self.server.settings;
        let mut security_mode = SecurityMode::SIGNING_ENABLED;
        if settings.signing_required {
            security_mode |= SecurityMode::SIGNING_REQUIRED;
        }
        let capabilities = if dialect == 0x02FF {
            Capabilities::LARGE_MTU
        } else {
            Capabilities::EMPTY
        };
        self.neg = Some(Negotiated {
            dialect,
            client_guid: [0; 16],
            client_capabilities: 0,
            client_security_mode: 0,
            server_security_mode: security_mode.0,
            server_capabilities: capabilities.0,
            client_dialects: vec![0x0202],
            cipher: None,
            signing: SigningAlgorithm::HmacSha256,
            posix: false,
        });
        self.negotiate_body(dialect, security_mode, capabilities, Vec::new(), w);
    }

    fn negotiate_body(
        &self,
        dialect: u16,
        security_mode: SecurityMode,
        capabilities: Capabilities,
        contexts: Vec<NegotiateContext<'_>>,
        w: &mut Writer,
    ) {
        let io = u32::try_from(protocol::smb2::limits::IO_MAX).unwrap_or(u32::MAX);
        // 2.0.2 has no multi-credit requests: 64 KiB at most.
        let max = if dialect == 0x0202 { 65_536 } else { io };
        let hint = spnego::neg_token_init2_hint();
        NegotiateResponse {
            security_mode,
            dialect: Dialect(dialect),
            server_guid: self.server.guid,
            capabilities,
            max_transact_size: max,
            max_read_size: max,
            max_write_size: max,
            system_time: filetime(self.server.env.wall()),
            server_start_time: self.server.start_time,
            security_buffer: &hint,
            contexts,
        }
        .encode(w);
    }

    /// SESSION_SETUP ([MS-SMB2] 3.3.5.5): SPNEGO (or raw NTLMSSP) with NTLMv2, in as many
    /// legs as the client needs ([`spnego::Acceptor`] handles NTLM offered first or after
    /// Kerberos, and the mechListMIC).
    pub(crate) fn session_setup(&mut self, req: Req<'_>) -> Handled {
        let neg = self.neg.clone().ok_or(NtStatus::INVALID_PARAMETER)?;
        if neg.dialect == 0x02FF {
            // The client must negotiate a real dialect first.
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let r = SessionSetupRequest::decode(req.msg).map_err(undecodable)?;
        if r.flags.contains(SessionSetupFlags::BINDING) {
            return self.bind(&neg, req, &r);
        }
        let mut sid = req.hdr.session_id.0;
        let fresh = match self.sessions.get(&sid) {
            _ if sid == 0 => true,
            // A channel being bound here takes only binding legs (a set-up channel forwards
            // re-authentications to the session's home connection).
            Some(s) if s.bound.is_some() => return Err(NtStatus::ACCESS_DENIED),
            None => {
                // A session of another connection: deleted as far as this one knows, said
                // with the session's signature when the request was signed.
                let mut out = Out::error(NtStatus::USER_SESSION_DELETED);
                if req.hdr.is_signed() {
                    out.sign_as = self
                        .server
                        .mailboxes
                        .session_home(sid)
                        .and_then(|h| h.signer);
                }
                return Ok(out);
            }
            // Re-authentication of a valid session starts over on the same id.
            Some(s) => matches!(s.auth, Auth::Valid),
        };
        if fresh {
            if sid == 0 {
                if self.sessions.len() >= SESSIONS_MAX {
                    return Err(NtStatus::INSUFFICIENT_RESOURCES);
                }
                // Unique server-wide: PreviousSessionId names a session of any connection.
                while sid == 0
                    || sid == u64::MAX
                    || self.sessions.contains_key(&sid)
                    || self.server.mailboxes.session_exists(sid)
                {
                    sid = self.rng.next_u64();
                }
            }
            let acceptor = self.new_acceptor();
            let preauth = (neg.dialect == 0x0311).then(|| self.preauth.clone());
            let old = self.sessions.remove(&sid);
            // Re-authentication keeps the session's keys and protections ([MS-SMB2]
            // 3.3.5.5.3 derives keys only for a new session): the client goes on signing
            // with the keys it has.
            let (keys, signing_required, encrypt_data, trees, nonces) = match old {
                Some(s) => (
                    s.keys,
                    s.signing_required,
                    s.encrypt_data,
                    s.trees,
                    s.nonces,
                ),
                None => (None, false, false, BTreeMap::new(), Arc::default()),
            };
            self.sessions.insert(
                sid,
                Session {
                    auth: Auth::InProgress(Box::new(acceptor)),
                    user: None,
                    guest: false,
                    anonymous: false,
                    keys,
                    signing_required,
                    encrypt_data,
                    preauth,
                    trees,
                    nonces,
                    bound: None,
                },
            );
        }
        let Some(mut session) = self.sessions.remove(&sid) else {
            return Err(NtStatus::USER_SESSION_DELETED);
        };
        let Auth::InProgress(acceptor) = &mut session.auth else {
            return Err(NtStatus::INVALID_PARAMETER);
        };
        if let Some(p) = session.preauth.as_mut() {
            p.update(req.msg);
        }
        let resolver = self.server.resolver.clone();
        let (step, found) = auth_step(acceptor, r.security_buffer, resolver.as_ref());
        let (blob, auth) = match step {
            Err(e) => {
                // The session is forgotten: a failed logon leaves nothing behind. A failed
                // re-authentication ends the session, and with it the CHANGE_NOTIFYs on its
                // handles (STATUS_NOTIFY_CLEANUP, smbtorture notify.invalid-reauth).
                tracing::info!(error = %e, "SMB logon failed");
                self.end_watches_of_session(sid);
                // Its channels on other connections find it gone at their next request.
                self.server.mailboxes.session_closed(sid, self.id);
                if session.keys.is_some() {
                    // A re-authenticated session stays as deleted, keeping its keys: the
                    // client goes on expecting signed answers for it, so USER_SESSION_DELETED
                    // is signed (smbtorture session.bind_invalid_auth). A new session, or
                    // another SESSION_SETUP on this id, replaces it.
                    session.auth = Auth::LoggedOff;
                    self.sessions.insert(sid, session);
                }
                return Err(e.status());
            }
            Ok(Step::Continue(blob)) => {
                self.sessions.insert(sid, session);
                let mut w = Out::writer();
                SessionSetupResponse {
                    session_flags: SessionFlags::EMPTY,
                    security_buffer: &blob,
                }
                .encode(&mut w);
                let mut out = Out::with_status(NtStatus::MORE_PROCESSING_REQUIRED, w);
                out.session_id = Some(sid);
                return Ok(out);
            }
            Ok(Step::Complete { blob, auth }) => (blob, auth),
        };
        session.auth = Auth::Valid;
        let mut flags = SessionFlags::EMPTY;
        if auth.anonymous {
            if !resolver.guest_enabled() {
                tracing::info!("anonymous SMB logon refused: the guest is not enabled");
                return Err(NtStatus::LOGON_FAILURE);
            }
            session.guest = true;
            session.anonymous = true;
            flags |= SessionFlags::IS_NULL;
        } else if let Some(user) = found {
            session.user = Some(user);
        } else {
            return Err(NtStatus::LOGON_FAILURE);
        }
        if !session.guest && session.keys.is_none() {
            let preauth = session.preauth.as_ref().map(PreauthHash::value);
            let keys =
                SessionKeys::derive(neg.dialect, &auth.session_key, preauth.as_ref(), neg.cipher)
                    .map_err(|e| {
                    tracing::warn!(error = %e, "deriving SMB session keys failed");
                    NtStatus::INTERNAL_ERROR
                })?;
            session.keys = Some(keys);
            session.signing_required = self.server.settings.signing_required
                || r.security_mode.contains(SecurityMode::SIGNING_REQUIRED);
        }
        // Encryption: the adapter's setting (shares add theirs at TREE_CONNECT).
        let can_encrypt = !session.guest && neg.is_smb3() && neg.cipher.is_some();
        match self.server.settings.encryption {
            Encryption::Required if !can_encrypt => {
                tracing::info!(
                    "SMB session refused: encryption is required and this client or session cannot encrypt"
                );
                return Err(NtStatus::ACCESS_DENIED);
            }
            Encryption::Required | Encryption::Desired if can_encrypt => {
                session.encrypt_data = true;
                flags |= SessionFlags::ENCRYPT_DATA;
            }
            _ => {}
        }
        session.preauth = None;
        tracing::info!(
            user = session.user.as_ref().map_or("(anonymous)", |u| &*u.name),
            dialect = format_args!("{:#06x}", neg.dialect),
            signing = session.signing_required,
            encrypt = session.encrypt_data,
            "SMB session established"
        );
        let signer = session
            .keys
            .as_ref()
            .map(|k| (neg.signing, k.signing.clone()));
        let home = super::events::SessionHome {
            conn: self.id,
            dialect: neg.dialect,
            cipher: neg.cipher,
            signer,
            keys: session.keys.clone(),
            uid: session.user.as_ref().map(|u| u.uid),
            guest: session.guest,
            signing_required: session.signing_required,
            encrypt_data: session.encrypt_data,
            nonces: session.nonces.clone(),
            forward: self.forward_tx.clone(),
            channels: std::collections::BTreeSet::new(),
        };
        self.sessions.insert(sid, session);
        self.server.mailboxes.session_opened(sid, home);
        let mut w = Out::writer();
        SessionSetupResponse {
            session_flags: flags,
            security_buffer: &blob,
        }
        .encode(&mut w);
        let mut out = Out::ok(w);
        out.session_id = Some(sid);
        Ok(out)
    }

    /// A SESSION_SETUP with SMB2_SESSION_FLAG_BINDING ([MS-SMB2] 3.3.5.5, 3.3.5.5.2): binds
    /// the session of another connection to this one as a further channel (multichannel).
    /// The checks answer as Windows and Samba do (smbtorture session.bind_negative_*), in their
    /// order: the signing algorithms must agree where one is AES-GMAC; 2.x connections cannot
    /// bind; an unknown session is deleted; a session of another dialect or (3.1.1) cipher is a
    /// bad parameter; the request must be signed with the session's key; guest and anonymous
    /// sessions cannot be bound. The ClientGuid is not compared (Windows binds a channel of
    /// another ClientGuid, smbtorture bind_negative_smb3signHtoCd). The authentication then
    /// runs on this connection; once it completes as the session's user, the channel gets its
    /// own signing key (3.3.5.5.3: derived from the binding's session key, and for 3.1.1 from
    /// the binding's preauth hash) and takes the session's encryption keys.
    /// A refusal is signed with the session's own key and algorithm, as the client checks it
    /// with those.
    fn bind(&mut self, neg: &Negotiated, req: Req<'_>, r: &SessionSetupRequest<'_>) -> Handled {
        let sid = req.hdr.session_id.0;
        if sid == 0 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        match self.sessions.get(&sid) {
            // The next leg of a binding under way on this connection.
            Some(s) if s.bound.is_some() && matches!(s.auth, Auth::InProgress(_)) => {}
            // The session lives here already, as its home or a bound channel.
            Some(_) => return Err(NtStatus::REQUEST_NOT_ACCEPTED),
            None => {}
        }
        let home = self.server.mailboxes.session_home(sid);
        let gmac = |a: Option<SigningAlgorithm>| a == Some(SigningAlgorithm::AesGmac);
        let session_alg = home.as_ref().and_then(|h| h.signer.as_ref().map(|s| s.0));
        let refusal = match &home {
            Some(_) if gmac(Some(neg.signing)) && !gmac(session_alg) => {
                Some(NtStatus::NOT_SUPPORTED)
            }
            Some(_) if gmac(session_alg) && !gmac(Some(neg.signing)) => {
                Some(NtStatus::REQUEST_OUT_OF_SEQUENCE)
            }
            _ if !neg.is_smb3() => Some(NtStatus::REQUEST_NOT_ACCEPTED),
            None => Some(NtStatus::USER_SESSION_DELETED),
            Some(h)
                if h.dialect != neg.dialect
                    || (neg.dialect == 0x0311 && h.cipher != neg.cipher) =>
            {
                Some(NtStatus::INVALID_PARAMETER)
            }
            Some(_) if !self.server.settings.multichannel => Some(NtStatus::REQUEST_NOT_ACCEPTED),
            Some(h) => match &h.signer {
                _ if !req.hdr.is_signed() => Some(NtStatus::INVALID_PARAMETER),
                Some((alg, key)) if crypto::verify(*alg, key.as_bytes(), req.msg) => None,
                Some(_) => Some(NtStatus::ACCESS_DENIED),
                None => Some(NtStatus::NOT_SUPPORTED),
            },
        };
        let sign_as = home.as_ref().and_then(|h| h.signer.clone());
        let refuse = |status| {
            let mut out = Out::error(status);
            out.sign_as = sign_as.clone();
            out
        };
        if let Some(status) = refusal {
            if status != NtStatus::USER_SESSION_DELETED || home.is_some() {
                tracing::info!(session = sid, %status, "session binding refused");
            }
            // A refused leg ends the binding under way.
            self.sessions.remove(&sid);
            return Ok(refuse(status));
        }
        let home = home.expect("refusal covers a missing session");
        if home.guest || home.keys.is_none() {
            return Ok(refuse(NtStatus::NOT_SUPPORTED));
        }
        if !self.sessions.contains_key(&sid) {
            if self.sessions.len() >= SESSIONS_MAX
                || home.channels.len() + 1 >= super::state::CHANNELS_MAX
            {
                return Ok(refuse(NtStatus::INSUFFICIENT_RESOURCES));
            }
            let acceptor = self.new_acceptor();
            let preauth = (neg.dialect == 0x0311).then(|| self.preauth.clone());
            self.sessions.insert(
                sid,
                Session {
                    auth: Auth::InProgress(Box::new(acceptor)),
                    user: None,
                    guest: false,
                    anonymous: false,
                    keys: None,
                    signing_required: home.signing_required,
                    encrypt_data: home.encrypt_data,
                    preauth,
                    trees: BTreeMap::new(),
                    nonces: home.nonces.clone(),
                    bound: Some(super::state::Bound {
                        home: home.conn,
                        forward: home.forward.clone(),
                    }),
                },
            );
        }
        let Some(mut session) = self.sessions.remove(&sid) else {
            return Err(NtStatus::USER_SESSION_DELETED);
        };
        let Auth::InProgress(acceptor) = &mut session.auth else {
            return Err(NtStatus::INVALID_PARAMETER);
        };
        if let Some(p) = session.preauth.as_mut() {
            p.update(req.msg);
        }
        let (step, found) = auth_step(acceptor, r.security_buffer, self.server.resolver.as_ref());
        let (blob, auth) = match step {
            Err(e) => {
                // The channel is forgotten; the session lives on on its other connections.
                tracing::info!(error = %e, session = sid, "SMB session binding failed");
                // Signed with the session's key, as the request was (the client rejects an
                // unsigned answer; smbtorture session.bind_invalid_auth).
                return Ok(refuse(e.status()));
            }
            Ok(Step::Continue(blob)) => {
                self.sessions.insert(sid, session);
                let mut w = Out::writer();
                SessionSetupResponse {
                    session_flags: SessionFlags::EMPTY,
                    security_buffer: &blob,
                }
                .encode(&mut w);
                let mut out = Out::with_status(NtStatus::MORE_PROCESSING_REQUIRED, w);
                out.session_id = Some(sid);
                // Signed with the session's key, as the request was: the channel has none yet
                // (Samba's client checks it).
                out.sign_as = sign_as.clone();
                return Ok(out);
            }
            Ok(Step::Complete { blob, auth }) => (blob, auth),
        };
        let user = found;
        let same_user = !auth.anonymous && user.as_ref().map(|u| u.uid) == home.uid;
        if !same_user {
            // [MS-SMB2] 3.3.5.5.2: another user (or a guest) cannot bind the session.
            tracing::info!(session = sid, "session binding by another user refused");
            return Ok(refuse(NtStatus::ACCESS_DENIED));
        }
        let preauth = session.preauth.as_ref().map(PreauthHash::value);
        let derived =
            SessionKeys::derive(neg.dialect, &auth.session_key, preauth.as_ref(), neg.cipher)
                .map_err(|e| {
                    tracing::warn!(error = %e, "deriving SMB channel keys failed");
                    NtStatus::INTERNAL_ERROR
                })?;
        let Some(session_keys) = home.keys.clone() else {
            return Ok(refuse(NtStatus::NOT_SUPPORTED));
        };
        if !self.server.mailboxes.channel_bound(sid, self.id) {
            return Ok(refuse(NtStatus::INSUFFICIENT_RESOURCES));
        }
        session.keys = Some(SessionKeys {
            signing: derived.signing,
            ..session_keys
        });
        session.auth = Auth::Valid;
        session.user = user;
        session.preauth = None;
        tracing::info!(
            session = sid,
            home = home.conn,
            dialect = format_args!("{:#06x}", neg.dialect),
            "SMB session bound to a further channel"
        );
        self.sessions.insert(sid, session);
        let mut w = Out::writer();
        SessionSetupResponse {
            session_flags: SessionFlags::EMPTY,
            security_buffer: &blob,
        }
        .encode(&mut w);
        let mut out = Out::ok(w);
        out.session_id = Some(sid);
        Ok(out)
    }

    /// A fresh SPNEGO/NTLM acceptor with a random challenge.
    fn new_acceptor(&mut self) -> spnego::Acceptor {
        let mut challenge = [0u8; 8];
        self.rng.fill_bytes(&mut challenge);
        let settings = &self.server.settings;
        spnego::Acceptor::new(ntlm::Acceptor::new(
            challenge,
            filetime(self.server.env.wall()),
            ntlm::TargetNames {
                nb_domain: settings.domain.clone(),
                nb_computer: settings.server_name.clone(),
                dns_domain: settings.domain.to_lowercase(),
                dns_computer: settings.server_name.to_lowercase(),
            },
        ))
    }

    /// LOGOFF: closes the session's opens and forgets it.
    pub(crate) async fn logoff(&mut self, req: Req<'_>) -> Handled {
        let sid = req.hdr.session_id.0;
        self.session(req.hdr)?;
        // CHANGE_NOTIFYs end with their handles below (STATUS_NOTIFY_CLEANUP), and so do
        // waiting LOCKs (STATUS_RANGE_NOT_LOCKED, or granted meanwhile: smbtorture
        // lock.cancel-logoff).
        self.cancel_where(|op| {
            op.hdr.session_id.0 == sid
                && op.hdr.command != Command::CHANGE_NOTIFY
                && op.hdr.command != Command::LOCK
        });
        let ids: Vec<u64> = self
            .opens
            .iter()
            .filter(|(_, o)| o.session == sid)
            .map(|(id, _)| *id)
            .collect();
        // Durable opens outlive a logoff, as on Samba (smbtorture durable-open.reopen4).
        for id in ids {
            self.disconnect_open(id, false).await;
        }
        let mut w = Out::writer();
        LogoffResponse.encode(&mut w);
        // The response is still signed (or encrypted) with the session's keys: the session
        // goes once the frame's reply is protected.
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.auth = Auth::LoggedOff;
        }
        self.logged_off.push(sid);
        self.server.mailboxes.session_closed(sid, self.id);
        Ok(Out::ok(w))
    }

    /// After a successful SESSION_SETUP that names a PreviousSessionId ([MS-SMB2] 3.3.5.5.3):
    /// the previous session, if the same user's, is logged off with its opens closed — on
    /// this connection directly, on another through its mailbox (waiting a bounded time for
    /// it to be done, so the client's next CREATE does not meet the old opens).
    pub(crate) async fn previous_session(
        &mut self,
        req: Req<'_>,
        status: NtStatus,
        new: Option<u64>,
    ) {
        if status != NtStatus::SUCCESS {
            return;
        }
        let Ok(r) = SessionSetupRequest::decode(req.msg) else {
            return;
        };
        let prev = r.previous_session_id.0;
        let Some(new) = new else {
            return;
        };
        if prev == 0 || prev == new {
            return;
        }
        let uid = self
            .sessions
            .get(&new)
            .and_then(|s| s.user.as_ref())
            .map(|u| u.uid);
        let Some(conn) = self.server.mailboxes.session_home(prev).map(|h| h.conn) else {
            return;
        };
        if conn == self.id {
            self.expire_session(prev, uid).await;
            return;
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        let event = super::events::ConnEvent::Expire {
            session: prev,
            uid,
            done,
        };
        if self.server.mailboxes.post(conn, event) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), wait).await;
        }
    }

    /// Logs session `sid` off (closing its opens) if its user is `uid`.
    pub(crate) async fn expire_session(&mut self, sid: u64, uid: Option<u32>) {
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        if uid.is_none() || s.user.as_ref().map(|u| u.uid) != uid {
            return;
        }
        tracing::info!(session = sid, "previous session replaced by a reconnect");
        // As at LOGOFF: CHANGE_NOTIFYs end with their handles below (STATUS_NOTIFY_CLEANUP,
        // smbtorture notify.session-reconnect), and so do waiting LOCKs.
        self.cancel_where(|op| {
            op.hdr.session_id.0 == sid
                && op.hdr.command != Command::CHANGE_NOTIFY
                && op.hdr.command != Command::LOCK
        });
        let ids: Vec<u64> = self
            .opens
            .iter()
            .filter(|(_, o)| o.session == sid)
            .map(|(id, _)| *id)
            .collect();
        // Durable opens are kept for the new session to reconnect (smbtorture
        // durable-open.reopen1a, reopen2a).
        for id in ids {
            self.disconnect_open(id, false).await;
        }
        self.sessions.remove(&sid);
        self.server.mailboxes.session_closed(sid, self.id);
    }

    /// TREE_CONNECT: `\\server\share` to a configured share (the permission identity
    /// resolves decides access) or IPC$.
    pub(crate) fn tree_connect(&mut self, req: Req<'_>) -> Handled {
        let r = TreeConnectRequest::decode(req.msg).map_err(undecodable)?;
        let (_, share) =
            protocol::smb2::tree::split_unc(&r.path).ok_or(NtStatus::BAD_NETWORK_NAME)?;
        let share = share.to_lowercase();
        let session = self.session(req.hdr)?;
        if session.trees.len() >= TREES_MAX {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        let neg = self.neg.as_ref().ok_or(NtStatus::INVALID_PARAMETER)?;
        let can_encrypt = !session.guest && neg.is_smb3() && neg.cipher.is_some();
        let resolver = &self.server.resolver;
        let (tree, share_type, access) = if share == "ipc$" {
            let caller = match &session.user {
                Some(u) => Caller::from(resolver.unix("", u.uid, u.gid, &u.gids)),
                None => Caller::from(resolver.guest("")),
            };
            (
                Tree {
                    kind: TreeKind::Ipc,
                    caller,
                    encrypt: false,
                },
                ShareType::PIPE,
                ACCESS_ALL,
            )
        } else {
            let (export, smb) = self
                .server
                .shares
                .get(&share)
                .ok_or(NtStatus::BAD_NETWORK_NAME)?;
            let registered = self
                .server
                .registry
                .by_name(export)
                .ok_or(NtStatus::BAD_NETWORK_NAME)?;
            let principal = match &session.user {
                Some(u) => resolver.unix(export, u.uid, u.gid, &u.gids),
                None => resolver.guest(export),
            };
            if principal.permission == Permission::None {
                tracing::info!(share = %export, user = ?principal.user, "tree connect refused: no permission");
                return Err(NtStatus::ACCESS_DENIED);
            }
            let access = if principal.permission.can_write() {
                ACCESS_ALL
            } else {
                ACCESS_READ
            };
            let wanted = self.server.settings.encryption.max(smb.encryption);
            let encrypt = match wanted {
                Encryption::Required if !can_encrypt => {
                    tracing::info!(share = %export, "tree connect refused: the share requires encryption");
                    return Err(NtStatus::ACCESS_DENIED);
                }
                Encryption::Required | Encryption::Desired => can_encrypt,
                Encryption::Off => false,
            };
            (
                Tree {
                    kind: TreeKind::Disk {
                        share: registered.handle.clone(),
                    },
                    caller: Caller::from(principal),
                    encrypt,
                },
                ShareType::DISK,
                access,
            )
        };
        let encrypt = tree.encrypt;
        let mut tid = self.next_tree;
        let session = self
            .sessions
            .get_mut(&req.hdr.session_id.0)
            .ok_or(NtStatus::USER_SESSION_DELETED)?;
        while tid == 0 || tid == u32::MAX || session.trees.contains_key(&tid) {
            tid = tid.wrapping_add(1);
        }
        self.next_tree = tid.wrapping_add(1);
        session.trees.insert(tid, tree);
        let mut w = Out::writer();
        TreeConnectResponse {
            share_type,
            share_flags: if encrypt {
                ShareFlags::ENCRYPT_DATA
            } else {
                ShareFlags::MANUAL_CACHING
            },
            capabilities: ShareCapabilities::EMPTY,
            maximal_access: access,
        }
        .encode(&mut w);
        let mut out = Out::ok(w);
        out.tree_id = Some(tid);
        Ok(out)
    }

    /// TREE_DISCONNECT: closes the tree's opens.
    pub(crate) async fn tree_disconnect(&mut self, req: Req<'_>) -> Handled {
        self.tree(&req)?;
        let sid = req.hdr.session_id.0;
        let tid = tid(req.hdr);
        // CHANGE_NOTIFYs end with their handles below (STATUS_NOTIFY_CLEANUP, smbtorture
        // notify.tdis1), and so do waiting LOCKs (lock.cancel-tdis).
        self.cancel_where(|op| {
            op.hdr.session_id.0 == sid
                && super::connection::tid(&op.hdr) == tid
                && op.hdr.command != Command::CHANGE_NOTIFY
                && op.hdr.command != Command::LOCK
        });
        let ids: Vec<u64> = self
            .opens
            .iter()
            .filter(|(_, o)| o.session == sid && o.tree == tid)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.release_open(id).await;
        }
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.trees.remove(&tid);
        }
        let mut w = Out::writer();
        TreeDisconnectResponse.encode(&mut w);
        Ok(Out::ok(w))
    }

    /// ECHO.
    pub(crate) fn echo(&mut self, _req: Req<'_>) -> Handled {
        let mut w = Out::writer();
        EchoResponse.encode(&mut w);
        Ok(Out::ok(w))
    }
}

/// Runs one SPNEGO/NTLM leg of `acceptor` on `blob`, verifying against the NT hash of the user
/// the client names (a UPN, `user@realm`, names the same user): the step and the user found.
fn auth_step(
    acceptor: &mut spnego::Acceptor,
    blob: &[u8],
    resolver: &dyn crate::identity::Resolver,
) -> (
    Result<Step, ntlm::AuthError>,
    Option<crate::identity::NamedUser>,
) {
    let found = RefCell::new(None);
    let step = acceptor.step(blob, |user: &str, _domain: &str| {
        let name = user.split_once('@').map_or(user, |(u, _)| u);
        let u = resolver.user(name)?;
        let hash = u.nt_hash?;
        *found.borrow_mut() = Some(u);
        Some(hash)
    });
    (step, found.into_inner())
}
