//! The status monitor (NSM v1, program 100024) the lock manager needs, served on the NFS port,
//! and the outgoing RPC calls both make to clients (portmapper look-ups, NLM GRANTED and
//! `_RES` callbacks, SM_NOTIFY).
//!
//! State: the server's NSM state number, odd while it runs and bumped at every start, and the
//! hosts it monitors (every client that took a lock or a share reservation). Both live in
//! `state_dir/nsm` (`state` and `hosts`, rewritten atomically and synced), so after a restart
//! the server knows which clients held locks: it sends each an SM_NOTIFY with the new state
//! (their lock managers then reclaim) and holds a grace period in which only reclaims are
//! served. Without a state directory (the simulator, in-process tests) both live in memory.
//!
//! Incoming: SM_NOTIFY from a client (it rebooted) frees every lock, waiter and share
//! reservation of that host; SM_STAT answers the state; SM_MON / SM_UNMON / SM_UNMON_ALL /
//! SM_SIMU_CRASH are for a local lock manager and are served only to loopback callers.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::nsm::{self, NsmProc, SmRes, StatChge};
use protocol::portmap::{self, Mapping};
use protocol::rpc::{self, AcceptStat, CallHeader, OpaqueAuth, RecordDecoder, ReplyStatus, Xid};
use protocol::wire::Encode;
use protocol::xdr::Writer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::rpc::{ConnInfo, reply};

/// Hosts monitored at most (clients holding locks or share reservations). A new client past
/// it is refused locks (NLM4_DENIED_NOLOCKS).
pub(crate) const MONITORED_MAX: usize = 1024;
/// How long one outgoing call (connect, send, answer) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest reply we read from a client (callbacks answer a few dozen bytes).
const CALL_REPLY_MAX: usize = 64 * 1024;

/// The NSM state and the monitored hosts.
#[derive(Debug)]
pub(crate) struct Nsm {
    dir: Option<PathBuf>,
    inner: Mutex<NsmState>,
}

#[derive(Debug, Clone, Default)]
struct NsmState {
    /// Our state number: odd while up.
    state: i32,
    /// Monitored hosts by name, with the address their locks came from.
    hosts: BTreeMap<String, IpAddr>,
}

/// What the previous run left: the hosts to notify (their locks may need reclaiming).
#[derive(Debug)]
pub(crate) struct Restart {
    /// Hosts that held locks before the restart.
    pub(crate) hosts: Vec<(String, IpAddr)>,
    /// The new state number to send them.
    pub(crate) state: i32,
}

impl Nsm {
    /// Loads the state from `dir` (if given), bumps the state number to the next odd value
    /// and writes it back, synced, before anything is served. Returns the hosts the previous
    /// run monitored, which the caller notifies; the list on disk is cleared once they are
    /// handed over (hosts that reclaim are monitored again).
    pub(crate) async fn open(dir: Option<PathBuf>) -> io::Result<(Self, Restart)> {
        let mut st = NsmState::default();
        if let Some(d) = &dir {
            tokio::fs::create_dir_all(d).await?;
            match tokio::fs::read_to_string(d.join("state")).await {
                Ok(s) => {
                    st.state = s.trim().parse().map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "{}: not a state number; remove the file to start from 1 \
                                 (clients holding locks then do not reclaim them)",
                                d.join("state").display()
                            ),
                        )
                    })?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            match tokio::fs::read_to_string(d.join("hosts")).await {
                Ok(s) => {
                    for line in s.lines() {
                        if let Some((name, ip)) = line.split_once('\t')
                            && let Ok(ip) = ip.parse()
                        {
                            st.hosts.insert(name.to_owned(), ip);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        // Odd while up: from an even (or fresh) number go to the next odd one, from an odd
        // one (a crash left it odd) skip to the odd one after.
        st.state = next_odd(st.state);
        let restart = Restart {
            hosts: st.hosts.iter().map(|(n, a)| (n.clone(), *a)).collect(),
            state: st.state,
        };
        st.hosts.clear();
        let nsm = Self {
            dir,
            inner: Mutex::new(st),
        };
        nsm.persist().await?;
        Ok((nsm, restart))
    }

    /// The current state number.
    pub(crate) fn state(&self) -> i32 {
        self.lock().state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NsmState> {
        self.inner.lock().expect("NSM lock is never poisoned")
    }

    /// Records `host` (at `addr`) as monitored, persisting the list when it changes. False
    /// when [`MONITORED_MAX`] hosts are monitored already.
    pub(crate) async fn monitor(&self, host: &str, addr: IpAddr) -> bool {
        {
            let mut st = self.lock();
            if st.hosts.get(host) == Some(&addr) {
                return true;
            }
            if !st.hosts.contains_key(host) && st.hosts.len() >= MONITORED_MAX {
                return false;
            }
            st.hosts.insert(host.to_owned(), addr);
        }
        if let Err(e) = self.persist().await {
            tracing::warn!(error = %e, host, "could not save the monitored hosts; after a restart this client will not be told to reclaim its locks");
        }
        true
    }

    /// Forgets `host` (its locks are gone).
    pub(crate) async fn unmonitor(&self, host: &str) {
        if self.lock().hosts.remove(host).is_some()
            && let Err(e) = self.persist().await
        {
            tracing::warn!(error = %e, host, "could not save the monitored hosts");
        }
    }

    /// Whether `host` is monitored.
    #[cfg(test)]
    pub(crate) fn is_monitored(&self, host: &str) -> bool {
        self.lock().hosts.contains_key(host)
    }

    /// Writes the state and the host list (each to a temporary file, synced, then renamed).
    async fn persist(&self) -> io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let st = self.lock().clone();
        let mut hosts = String::new();
        for (name, ip) in &st.hosts {
            // Names with a tab or newline cannot be stored in this format; they are rare
            // enough (a client's own host name) that losing their notification is acceptable.
            if !name.contains(['\t', '\n']) {
                hosts.push_str(&format!("{name}\t{ip}\n"));
            }
        }
        write_synced(&dir.join("state"), format!("{}\n", st.state).as_bytes()).await?;
        write_synced(&dir.join("hosts"), hosts.as_bytes()).await
    }

    /// Serves one NSM call: the reply record body, and the host an SM_NOTIFY named (the caller
    /// frees its locks).
    pub(crate) fn serve_call(
        &self,
        call: &CallHeader<'_>,
        args: &[u8],
        conn: &ConnInfo,
    ) -> (Bytes, Option<String>) {
        let xid = call.xid;
        if call.vers != nsm::VERSION {
            return (
                reply(|w| rpc::encode_prog_mismatch(w, xid, nsm::VERSION, nsm::VERSION)),
                None,
            );
        }
        let Some(p) = NsmProc::from_u32(call.proc_) else {
            return (
                reply(|w| rpc::encode_accepted(w, xid, AcceptStat::PROC_UNAVAIL)),
                None,
            );
        };
        let Ok(c) = nsm::decode_call(p.as_u32(), args) else {
            return (
                reply(|w| rpc::encode_accepted(w, xid, AcceptStat::GARBAGE_ARGS)),
                None,
            );
        };
        let local = conn.peer.ip().is_loopback();
        let state = self.state();
        let (out, notified) = match c {
            nsm::Call::Null | nsm::Call::SimuCrash => (nsm::Reply::Void, None),
            nsm::Call::Stat(_) => (
                nsm::Reply::StatRes {
                    res: SmRes::SUCC,
                    state,
                },
                None,
            ),
            // The server monitors the clients of its own lock manager itself; a local lock
            // manager asking is answered as statd would, without a callback.
            nsm::Call::Mon(_) => (
                nsm::Reply::StatRes {
                    res: if local { SmRes::SUCC } else { SmRes::FAIL },
                    state,
                },
                None,
            ),
            nsm::Call::Unmon(_) | nsm::Call::UnmonAll(_) => (nsm::Reply::Stat(state), None),
            nsm::Call::Notify(StatChge { mon_name, state: s }) => {
                let host = String::from_utf8_lossy(mon_name).into_owned();
                tracing::info!(host, state = s, peer = %conn.peer, "SM_NOTIFY: client rebooted, freeing its locks");
                (nsm::Reply::Void, Some(host))
            }
        };
        let body = reply(|w| {
            rpc::encode_accepted(w, xid, AcceptStat::SUCCESS);
            out.encode(w);
        });
        (body, notified)
    }
}

/// The next odd number after `n` (NSM states are odd while the host is up).
fn next_odd(n: i32) -> i32 {
    let m = n.wrapping_add(1);
    if m % 2 == 0 { m.wrapping_add(1) } else { m }
}

async fn write_synced(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(bytes).await?;
    f.sync_all().await?;
    drop(f);
    tokio::fs::rename(&tmp, path).await
}

/// Makes one ONC RPC call over TCP to `addr` (AUTH_NONE) and returns the results of a
/// SUCCESS reply. Anything else (refused connection, timeout, a rejected or failed call) is
/// an error; callers retry a bounded number of times.
pub(crate) async fn rpc_call(
    addr: SocketAddr,
    xid: u32,
    prog: u32,
    vers: u32,
    proc_: u32,
    args: &[u8],
) -> io::Result<Vec<u8>> {
    let call = async {
        let mut w = Writer::new();
        CallHeader::new(Xid(xid), prog, vers, proc_, OpaqueAuth::NONE).encode(&mut w);
        w.raw(args);
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(&rpc::encode_record(w.as_slice())).await?;
        let mut dec = RecordDecoder::new();
        let mut buf = BytesMut::with_capacity(512);
        loop {
            if let Some(record) = dec
                .decode(&mut buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
            {
                let r = rpc::decode_reply(&record)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                if r.xid.0 != xid {
                    continue;
                }
                if r.status != ReplyStatus::Accepted(AcceptStat::SUCCESS) {
                    return Err(io::Error::other(format!("call refused: {:?}", r.status)));
                }
                return Ok(r.body.to_vec());
            }
            if buf.len() > CALL_REPLY_MAX {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "reply too large",
                ));
            }
            if s.read_buf(&mut buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    };
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// The TCP port `prog`/`vers` is registered on at `host`'s portmapper (port `pmap_port`).
pub(crate) async fn getport(
    host: IpAddr,
    pmap_port: u16,
    xid: u32,
    prog: u32,
    vers: u32,
) -> io::Result<u16> {
    let m = Mapping {
        prog,
        vers,
        prot: portmap::IPPROTO_TCP,
        port: 0,
    };
    let body = rpc_call(
        SocketAddr::new(host, pmap_port),
        xid,
        portmap::PROGRAM,
        portmap::VERSION,
        portmap::PortmapProc::Getport.as_u32(),
        &protocol::wire::encode_to_vec(&m),
    )
    .await?;
    match portmap::decode_reply(portmap::PortmapProc::Getport, &body) {
        Ok(portmap::Reply::Getport(p)) if p != 0 && p <= u32::from(u16::MAX) => Ok(p as u16),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("program {prog} v{vers} is not registered with {host}'s portmapper"),
        )),
    }
}

/// Sends SM_NOTIFY (`mon_name` = `server_name`, our new `state`) to `host`'s status monitor,
/// found through its portmapper; up to `attempts` tries, `pause` apart.
pub(crate) async fn notify_host(
    host: IpAddr,
    pmap_port: u16,
    server_name: &str,
    state: i32,
    xid: u32,
    attempts: u32,
    pause: Duration,
) -> io::Result<()> {
    let args = protocol::wire::encode_to_vec(&nsm::Call::Notify(StatChge {
        mon_name: server_name.as_bytes(),
        state,
    }));
    let mut last = io::Error::other("no attempt made");
    for i in 0..attempts.max(1) {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        let r = async {
            let port = getport(
                host,
                pmap_port,
                xid.wrapping_add(2 * i),
                nsm::PROGRAM,
                nsm::VERSION,
            )
            .await?;
            rpc_call(
                SocketAddr::new(host, port),
                xid.wrapping_add(2 * i + 1),
                nsm::PROGRAM,
                nsm::VERSION,
                NsmProc::Notify.as_u32(),
                &args,
            )
            .await
        }
        .await;
        match r {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the state number is odd while up and grows across restarts; the monitored hosts
    /// survive a restart once, and are handed over for notification. Method: open, monitor,
    /// reopen from the same directory twice.
    #[tokio::test(flavor = "current_thread")]
    async fn state_survives_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = Some(dir.path().join("nsm"));
        let (a, r) = Nsm::open(path.clone()).await.unwrap();
        assert_eq!(a.state(), 1);
        assert!(r.hosts.is_empty());
        assert!(a.monitor("vm", "10.0.2.15".parse().unwrap()).await);
        assert!(a.is_monitored("vm"));
        drop(a);
        let (b, r) = Nsm::open(path.clone()).await.unwrap();
        assert_eq!(b.state(), 3);
        assert_eq!(r.state, 3);
        assert_eq!(
            r.hosts,
            vec![("vm".to_owned(), "10.0.2.15".parse().unwrap())]
        );
        assert!(!b.is_monitored("vm"), "handed over, not kept");
        drop(b);
        let (c, r) = Nsm::open(path).await.unwrap();
        assert_eq!(c.state(), 5);
        assert!(r.hosts.is_empty());
        assert_eq!((next_odd(0), next_odd(1), next_odd(2)), (1, 3, 3));
    }

    /// Goal: a garbage state file stops the start with a message saying what to do.
    #[tokio::test(flavor = "current_thread")]
    async fn garbage_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("nsm")).unwrap();
        std::fs::write(dir.path().join("nsm/state"), "x").unwrap();
        let e = Nsm::open(Some(dir.path().join("nsm"))).await.unwrap_err();
        assert!(e.to_string().contains("remove the file"), "{e}");
    }
}
