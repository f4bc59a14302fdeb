//! The SMB 2.0.2 – 3.1.1 front end: decodes SMB2 messages, runs them on the share core as the
//! session's user, and encodes the answers. It sits beside [`super::nfs`]; neither knows the
//! other, and both reach the same files through [`super::share`].
//!
//! - [`connection`]: one actor per TCP connection: framing, credits, signing, encryption,
//!   sessions, trees and opens, and the command handlers.
//! - [`names`]: path rules and case-insensitive lookup.
//! - [`errors`]: share errors → NTSTATUS.
//! - [`streams`]: named data streams as `dittofs.stream.` extended attributes.
//! - [`durable`]: durable handles kept across a lost connection, and their scavenger.
//! - [`durable_store`]: durable handles kept in the metadata store across a restart.
//! - [`acl`]: security descriptors clients set, stored beside the mode, and the access check
//!   over them.
//! - [`gateways`]: caching published for the other gateways on a shared metadata store, and
//!   their recall requests served.

pub(crate) mod acl;
pub(crate) mod attrs;
pub(crate) mod busy;
pub(crate) mod connection;
pub(crate) mod dir;
pub(crate) mod durable;
pub(crate) mod durable_store;
pub(crate) mod ea;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod files;
pub(crate) mod gateways;
pub(crate) mod info;
pub(crate) mod ioctl;
pub(crate) mod locks;
pub(crate) mod names;
pub(crate) mod notify;
pub(crate) mod oplocks;
pub(crate) mod pipe;
pub(crate) mod session;
pub(crate) mod state;
pub(crate) mod streams;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use protocol::smb2::crypto::Cipher;
use protocol::smb2::notify::NotifyAction;
use rand::RngCore;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::share::foreign::{EntryChange, Event, Foreign, Recall};
use super::share::registry::Registry;
use super::share::{Node, ShareId};
use crate::identity::Resolver;
use crate::runtime::{Env, Listener};

/// Whether SMB traffic is encrypted; the stronger of the adapter's and the share's setting
/// applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encryption {
    /// Only if the client asks.
    #[default]
    Off,
    /// For clients that can.
    Desired,
    /// Always; clients that cannot are refused.
    Required,
}

/// How a share is served over SMB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmbShare {
    /// The name clients connect to (`\\server\name`), compared ignoring case.
    pub name: String,
    /// The share's own encryption setting.
    pub encryption: Encryption,
}

/// SMB adapter settings, from `adapters.smb`.
#[derive(Debug, Clone)]
pub struct SmbSettings {
    /// Connections served at once.
    pub max_connections: usize,
    /// Credits one connection may hold.
    pub max_credits: u16,
    /// Lowest dialect offered (an MS-SMB2 dialect number, e.g. 0x0202).
    pub dialect_min: u16,
    /// Highest dialect offered (e.g. 0x0311).
    pub dialect_max: u16,
    /// Signing required for authenticated sessions.
    pub signing_required: bool,
    /// SMB 3.x multichannel offered: sessions may be bound to further connections.
    pub multichannel: bool,
    /// Adapter-wide encryption.
    pub encryption: Encryption,
    /// The ciphers offered, most preferred first (never empty once validated).
    pub ciphers: Vec<Cipher>,
    /// NetBIOS server name.
    pub server_name: String,
    /// NetBIOS domain.
    pub domain: String,
    /// This gateway's stable identity (`state_dir/gateway-id`, made on the first start; 0
    /// when there is none): durable-open records in a metadata store several gateways share
    /// carry it, and a gateway restores only its own ([`durable_store::restore`]).
    pub gateway_id: u64,
}

impl Default for SmbSettings {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_credits: 8192,
            dialect_min: 0x0202,
            dialect_max: 0x0311,
            signing_required: false,
            multichannel: true,
            encryption: Encryption::Off,
            ciphers: vec![
                Cipher::Aes128Gcm,
                Cipher::Aes128Ccm,
                Cipher::Aes256Gcm,
                Cipher::Aes256Ccm,
            ],
            server_name: "DITTOFS".to_owned(),
            domain: "WORKGROUP".to_owned(),
            gateway_id: 0,
        }
    }
}

/// What every SMB connection shares: settings, the shares by SMB name, identity.
#[derive(Debug)]
pub(crate) struct SmbServer {
    pub(crate) env: Env,
    pub(crate) settings: SmbSettings,
    /// Lowercased SMB name → (share name in the registry, share settings).
    pub(crate) shares: BTreeMap<String, (String, SmbShare)>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) resolver: Arc<dyn Resolver>,
    /// The server GUID in NEGOTIATE responses: random per start.
    pub(crate) guid: [u8; 16],
    /// When the server started (FILETIME), for NEGOTIATE's ServerStartTime.
    pub(crate) start_time: u64,
    /// Every live connection's mailbox ([`events`]).
    pub(crate) mailboxes: events::Mailboxes,
    /// Every open of a disk share: share modes, oplocks, leases ([`oplocks`]).
    pub(crate) opens: oplocks::OpenTable,
    /// Every CHANGE_NOTIFY watch ([`notify`]).
    pub(crate) watches: notify::Watches,
    /// Durable opens whose connection is gone ([`durable`]).
    pub(crate) durable: durable::DurableTable,
    /// Caching published for the other gateways on shared metadata stores ([`gateways`]).
    pub(crate) published: gateways::Published,
}

impl SmbServer {
    /// The shared state of the SMB front end.
    pub(crate) fn new(
        env: Env,
        settings: SmbSettings,
        shares: BTreeMap<String, (String, SmbShare)>,
        registry: Registry,
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        let mut guid = [0u8; 16];
        env.rng("smb-server-guid").fill_bytes(&mut guid);
        let start_time = connection::filetime(env.wall());
        Self {
            env,
            settings,
            shares,
            registry: Arc::new(registry),
            resolver,
            guid,
            start_time,
            mailboxes: events::Mailboxes::default(),
            opens: oplocks::OpenTable::default(),
            watches: notify::Watches::default(),
            durable: durable::DurableTable::default(),
            published: gateways::Published::default(),
        }
    }

    /// Publishes this gateway's SMB caching on the shares in `caching` (those whose metadata
    /// store several gateways share) and serves the other gateways' recalls of it.
    pub(crate) fn with_shared_caching(
        mut self,
        caching: BTreeMap<ShareId, Arc<dyn stores::SharedCaching>>,
    ) -> Self {
        self.published = gateways::Published::new(caching);
        self
    }
}

impl SmbServer {
    /// Entries of directory `dir` on `share` changed: its leases break, but `except`
    /// ([`oplocks::OpenTable::dir_changed`]).
    pub(crate) fn dir_changed(&self, share: ShareId, dir: Node, except: Option<oplocks::LeaseId>) {
        let mut breaks = Vec::new();
        self.opens
            .dir_changed(share, dir.ino.0, except, self.env.now(), &mut breaks);
        if !breaks.is_empty() {
            tracing::debug!(
                dir = dir.ino.0,
                breaks = breaks.len(),
                "breaking directory leases"
            );
        }
        self.send_breaks(breaks);
    }

    /// Posts breaks to the connections of the opens they concern.
    pub(crate) fn send_breaks(&self, breaks: Vec<oplocks::Break>) {
        for b in breaks {
            // A preserved durable open cannot receive a break: it is closed instead, and what
            // waits on the break goes on when it is (super::durable).
            if self.durable.doom(b.open()) {
                tracing::debug!(?b, "break for a disconnected durable open; closing it");
                continue;
            }
            let conn = b.conn();
            if !self.mailboxes.post(conn, events::ConnEvent::Break(b)) {
                tracing::debug!(conn, "break for a connection that has ended");
            }
        }
    }
}

/// NFS changes recall SMB caching ([`super::share::foreign`]): the open table breaks what the change
/// invalidates, the breaks go to the holders' connections, and the change waits for the
/// acknowledgements it depends on, at most the break timeout. NFS changes to directories,
/// and other gateways' changes ([`super::share::foreign::follow`]), reach the CHANGE_NOTIFY
/// watches on them.
impl Foreign for SmbServer {
    fn any_on(&self, share: ShareId) -> bool {
        self.opens.any_on(share)
    }

    fn holds(&self, share: ShareId, node: Node) -> bool {
        self.opens.has(oplocks::NodeKey::new(share, node))
    }

    fn recall<'a>(
        &'a self,
        share: ShareId,
        node: Node,
        change: Recall,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let key = oplocks::NodeKey::new(share, node);
            // Every pass either ends or waits for a change of the table or a break's end,
            // and breaks time out, so this ends by the break timeout; the bound is a guard.
            let give_up = self.env.now() + self.opens.break_timeout * 2;
            loop {
                let mut breaks = Vec::new();
                let wait = self
                    .opens
                    .recall(key, self.env.now(), change, None, &mut breaks);
                if !breaks.is_empty() {
                    tracing::debug!(?change, breaks = breaks.len(), "recalling SMB caching");
                }
                self.send_breaks(breaks);
                let Some((until, mut changed)) = wait else {
                    return;
                };
                if self.env.now() >= give_up {
                    tracing::warn!(?change, "SMB caching recall did not settle; going ahead");
                    return;
                }
                tokio::select! {
                    biased;
                    () = changed.changed() => {}
                    () = tokio::time::sleep_until(until.min(give_up)) => {}
                }
            }
        })
    }

    fn watching(&self, share: ShareId) -> Option<bool> {
        // A directory lease wants the changes too (no ancestors: it covers its own entries).
        self.watches
            .watching(share)
            .or_else(|| self.opens.dir_leased(share).then_some(false))
    }

    fn changed(&self, share: ShareId, dir: Node, ancestors: &[u64], changes: &[EntryChange<'_>]) {
        let names: Vec<String> = changes
            .iter()
            .map(|c| String::from_utf8_lossy(c.name).into_owned())
            .collect();
        let events: Vec<_> = changes
            .iter()
            .zip(&names)
            .map(|(c, name)| {
                let (action, filter) = match c.event {
                    Event::Added => (NotifyAction::ADDED, notify::name_filter(c.is_dir)),
                    Event::Removed => (NotifyAction::REMOVED, notify::name_filter(c.is_dir)),
                    Event::RenamedFrom => (
                        NotifyAction::RENAMED_OLD_NAME,
                        notify::name_filter(c.is_dir),
                    ),
                    Event::RenamedTo => (
                        NotifyAction::RENAMED_NEW_NAME,
                        notify::name_filter(c.is_dir),
                    ),
                    Event::Modified(m) => (NotifyAction::MODIFIED, notify::modified_filter(m)),
                };
                (name.as_str(), action, filter)
            })
            .collect();
        self.watches.emit_at(share, dir.ino.0, ancestors, &events);
        self.dir_changed(share, dir, None);
    }

    fn lost_track(&self, share: ShareId) {
        self.watches.overflow(share);
        let mut breaks = Vec::new();
        self.opens
            .dir_changed_all(share, self.env.now(), &mut breaks);
        self.send_breaks(breaks);
    }
}

/// Accepts SMB connections on every listener until `shutdown`, each served by
/// [`connection::run`] on `tracker`, at most `max_connections` at once (further clients wait
/// in the kernel's accept queue); and the durable-open scavenger ([`durable::scavenge`]).
pub(crate) fn spawn_listeners<L: Listener>(
    tracker: &TaskTracker,
    server: Arc<SmbServer>,
    listeners: Vec<L>,
    shutdown: &CancellationToken,
    next_id: &Arc<AtomicU64>,
) {
    // The durable-open scavenger, where SMB is served (durable opens exist only then).
    if !listeners.is_empty() {
        tracker.spawn(durable::scavenge(server.clone(), shutdown.clone()));
        // Caching across gateways, where SMB clients can hold some.
        gateways::spawn(tracker, server.clone(), shutdown);
    }
    let slots = Arc::new(Semaphore::new(server.settings.max_connections.max(1)));
    for mut listener in listeners {
        let server = server.clone();
        let shutdown = shutdown.clone();
        let slots = slots.clone();
        let conns = tracker.clone();
        let next_id = next_id.clone();
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        tracker.spawn(async move {
            loop {
                let slot = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => return,
                    s = slots.clone().acquire_owned() => s.expect("connection semaphore is never closed"),
                };
                let accepted = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => return,
                    a = listener.accept() => a,
                };
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "SMB accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let server = server.clone();
                let s = shutdown.child_token();
                let open = crate::telemetry::connection("smb");
                conns.spawn(async move {
                    connection::run(stream, id, peer, local, server, s).await;
                    drop((slot, open));
                });
            }
        });
    }
}
