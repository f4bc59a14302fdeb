//! A store shared by several gateways and reached through the simulated network, as a
//! PostgreSQL database or an object store is: [`Remote<S>`] on each gateway, [`serve_db`] on
//! host `db`.
//!
//! Per call, the gateway binds a UDP socket and sends the call's number to `db`; when the
//! datagram arrives, `db` lets the call run (the gateway's task runs it on the shared store at
//! once, turmoil polls every host on one thread) and answers with the same number. So a
//! partition or a hold between a gateway and `db` acts on each call as on a real one:
//!
//! - request lost (or arriving after the gateway gave up): the call never ran;
//! - reply lost: the call ran, and the gateway does not know.
//!
//! A gateway waits [`CALL_TIMEOUT`] for each half; then a call that only reads answers
//! [`StoreError::Busy`] (the server answers NFS3ERR_JUKEBOX, the client calls again), one that
//! changes something an I/O error (its outcome is unknown, as a real database client's is
//! when its connection breaks). Start-up calls (`share_root`, the secrets) wait for the
//! database as long as it takes, as a gateway starting before its database does.
//!
//! A gateway crash drops its tasks: calls whose request has not yet arrived never run. The
//! shared stores are not crashed: `db` is the durable part of the system.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stores::{ContentStore, MetadataStore, Recorded, StoreError, StoreResult};
use tokio::sync::oneshot;
use turmoil::net::UdpSocket;

/// The port `db` answers on.
pub const DB_PORT: u16 = 5432;
/// How long a gateway waits for its request to arrive, and then for the answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Calls whose request is on its way: `db` fires the sender when the request arrives.
#[derive(Debug, Default)]
pub struct Hub {
    next: AtomicU64,
    waiting: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
    counts: Mutex<RemoteCounts>,
    /// `record_write_on` calls that ran and found another version recorded.
    conflicts: AtomicU64,
}

/// What the network did to store calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteCounts {
    /// Calls made.
    pub calls: u64,
    /// Requests that did not arrive in time (the call did not run).
    pub lost_requests: u64,
    /// Calls that ran but whose answer did not come back in time.
    pub lost_replies: u64,
}

impl fmt::Display for RemoteCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "calls={} lost_requests={} lost_replies={}",
            self.calls, self.lost_requests, self.lost_replies
        )
    }
}

impl Hub {
    /// What happened so far.
    pub fn counts(&self) -> RemoteCounts {
        *self.counts.lock().expect("no panics under the counts lock")
    }

    /// `record_write_on` calls that ran on `db` and answered [`Recorded::Conflict`] (whether
    /// or not the answer reached the gateway).
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    fn count(&self, f: impl FnOnce(&mut RemoteCounts)) {
        f(&mut self.counts.lock().expect("no panics under the counts lock"));
    }
}

/// Host `db`: lets each call whose request arrives run, and answers it.
pub async fn serve_db(hub: Arc<Hub>) -> Result<(), Box<dyn std::error::Error>> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, DB_PORT)).await?;
    let mut buf = [0u8; 16];
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
        let Ok(id) = <[u8; 8]>::try_from(&buf[..n.min(8)]) else {
            continue;
        };
        let id = u64::from_be_bytes(id);
        let arrived = hub
            .waiting
            .lock()
            .expect("no panics under the hub lock")
            .remove(&id);
        // A request the gateway gave up on (or lost in its crash) does not run.
        if let Some(tx) = arrived
            && tx.send(()).is_ok()
        {
            sock.send_to(&id.to_be_bytes(), from).await?;
        }
    }
}

/// Takes the call's entry out of the hub when the call ends, however it ends (done, given up,
/// or dropped in a gateway crash): a request arriving later runs nothing.
struct Pending<'a> {
    hub: &'a Hub,
    id: u64,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.hub
            .waiting
            .lock()
            .expect("no panics under the hub lock")
            .remove(&self.id);
    }
}

/// One call on its way: [`Remote::arrive`] returns it once the request reached `db`; the
/// caller then runs the operation and hands the result to [`Call::answer`].
pub struct Call<'a> {
    _pending: Pending<'a>,
    hub: &'a Hub,
    id: u64,
    sock: UdpSocket,
    changes: bool,
    op: &'static str,
    name: &'static str,
}

impl Call<'_> {
    /// Waits for `db`'s answer; the result is `out` if it came in time.
    pub async fn answer<T>(self, out: StoreResult<T>) -> StoreResult<T> {
        let mut buf = [0u8; 16];
        let wait = async {
            loop {
                let (n, _) = self.sock.recv_from(&mut buf).await?;
                if n == 8 && buf[..8] == self.id.to_be_bytes() {
                    return Ok::<(), std::io::Error>(());
                }
            }
        };
        match tokio::time::timeout(CALL_TIMEOUT, wait).await {
            Ok(Ok(())) => out,
            Ok(Err(e)) => Err(StoreError::Io(e)),
            Err(_) => {
                self.hub.count(|c| c.lost_replies += 1);
                Err(timed_out(self.name, self.op, self.changes, "answer"))
            }
        }
    }
}

fn timed_out(name: &str, op: &str, changes: bool, what: &str) -> StoreError {
    if changes {
        StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{name} {op}: no {what} from db in {CALL_TIMEOUT:?}"),
        ))
    } else {
        StoreError::Busy
    }
}

/// A store on host `db`, as one gateway reaches it.
pub struct Remote<S> {
    inner: Arc<S>,
    hub: Arc<Hub>,
    db: String,
    name: &'static str,
}

impl<S> fmt::Debug for Remote<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("name", &self.name)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl<S> Remote<S> {
    /// `inner` (shared by every gateway) on host `db`, calls counted in `hub`.
    pub fn new(inner: Arc<S>, hub: Arc<Hub>, db: &str, name: &'static str) -> Self {
        Self {
            inner,
            hub,
            db: db.to_owned(),
            name,
        }
    }

    /// The shared store itself (for callers that make their own calls with
    /// [`Remote::arrive`]).
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Sends the call's request and waits until it reached `db` (then the operation runs).
    pub async fn arrive(&self, op: &'static str, changes: bool) -> StoreResult<Call<'_>> {
        let hub = &*self.hub;
        let id = hub.next.fetch_add(1, Ordering::Relaxed);
        hub.count(|c| c.calls += 1);
        let (tx, rx) = oneshot::channel();
        hub.waiting
            .lock()
            .expect("no panics under the hub lock")
            .insert(id, tx);
        let pending = Pending { hub, id };
        let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await?;
        sock.send_to(&id.to_be_bytes(), (self.db.as_str(), DB_PORT))
            .await?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(())) => Ok(Call {
                _pending: pending,
                hub,
                id,
                sock,
                changes,
                op,
                name: self.name,
            }),
            _ => {
                hub.count(|c| c.lost_requests += 1);
                Err(timed_out(self.name, op, changes, "arrival"))
            }
        }
    }

    /// A start-up call: its request is sent again until one arrives; then it runs once and
    /// its result is taken whether or not the answer makes it back (a start is not what the
    /// scenario tests).
    async fn through(&self, op: &'static str) -> Call<'_> {
        loop {
            if let Ok(call) = self.arrive(op, true).await {
                return call;
            }
        }
    }
}

/// Whether a metadata call changes something.
fn meta_changes(op: &str) -> bool {
    !matches!(
        op,
        "getattr"
            | "lookup"
            | "lookup_folded"
            | "content_version"
            | "readlink"
            | "readdir"
            | "parent"
            | "usage"
            | "xattr"
            | "list_xattrs"
    )
}

/// Whether a content call changes something.
fn content_changes(op: &str) -> bool {
    !matches!(op, "read" | "len" | "usage" | "allocated")
}

macro_rules! remote_meta {
    ($this:ident, fn $op:ident, $s:ident => $e:expr) => {{
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async share_root, $s:ident => $e:expr) => {{
        let _call = $this.through("share_root").await;
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async secret, $s:ident => $e:expr) => {{
        let _call = $this.through("secret").await;
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async init_secret, $s:ident => $e:expr) => {{
        let _call = $this.through("init_secret").await;
        let $s = &*$this.inner;
        $e
    }};
    // Counted: the scenario reports how often gateways raced on one file's version.
    ($this:ident, async record_write_on, $s:ident => $e:expr) => {{
        let call = $this.arrive("record_write_on", true).await?;
        let $s = &*$this.inner;
        let out = $e;
        if matches!(out, Ok(Recorded::Conflict(_))) {
            $this.hub.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        call.answer(out).await
    }};
    ($this:ident, async $op:ident, $s:ident => $e:expr) => {{
        let call = $this
            .arrive(stringify!($op), meta_changes(stringify!($op)))
            .await?;
        let $s = &*$this.inner;
        call.answer($e).await
    }};
}

macro_rules! remote_content {
    ($this:ident, fn $op:ident, $s:ident => $e:expr) => {{
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async $op:ident, $s:ident => $e:expr) => {{
        let call = $this
            .arrive(stringify!($op), content_changes(stringify!($op)))
            .await?;
        let $s = &*$this.inner;
        call.answer($e).await
    }};
}

stores::forward_metadata_store!(impl[S: MetadataStore] for Remote<S>, remote_meta);
stores::forward_content_store!(impl[S: ContentStore] for Remote<S>, remote_content);
