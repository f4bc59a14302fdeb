//! Test tool for the kernel-client VM (`ci/vm`), not part of the server: the portmapper
//! (rpcbind v2) and status monitor (statd, NSM v1) a Linux NFS client needs for NLM locking,
//! built on the project's `protocol` codecs so the busybox guest needs no rpcbind or
//! nfs-utils.
//!
//! `dittofs-vm-statd STATD_PORT`: serves the portmapper on 0.0.0.0:111 and the status monitor
//! on 0.0.0.0:STATD_PORT, TCP and UDP. The kernel registers lockd here (SET/UNSET v2; v3 and
//! v4 calls get PROG_MISMATCH, so the kernel falls back to v2), and lockd's SM_MON / SM_UNMON
//! are answered as statd would. An SM_NOTIFY from the server (it restarted) is passed to every
//! registered lock manager as the Linux-private NLMPROC_NSM_NOTIFY call, from a privileged
//! loopback port as lockd requires, so the kernel reclaims its locks. It prints one line per
//! event to stderr (the VM console) and runs until killed.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use protocol::nlm4::SmStatus;
use protocol::nsm::{self, NsmProc, SmRes};
use protocol::portmap::{self, Mapping};
use protocol::rpc::{self, AcceptStat, CallHeader, OpaqueAuth, RecordDecoder, Xid};
use protocol::wire::{Encode, encode_to_vec};
use protocol::xdr::Writer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};

/// One lock manager's interest in a host (SM_MON).
#[derive(Debug, Clone)]
struct Monitor {
    my_prog: u32,
    my_vers: u32,
    my_proc: u32,
    priv_: [u8; 16],
}

#[derive(Debug, Default)]
struct State {
    /// (prog, vers, prot) → port.
    map: BTreeMap<(u32, u32, u32), u32>,
    /// Monitored host name → the lock managers to call back.
    monitors: BTreeMap<Vec<u8>, Vec<Monitor>>,
}

type Shared = Arc<Mutex<State>>;

fn state(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().expect("state lock is never poisoned")
}

/// Answers one call record (`None` drops it), with the new state of the peer an SM_NOTIFY
/// reported.
fn answer(st: &Shared, statd_port: u16, record: &[u8]) -> Option<(Vec<u8>, Option<i32>)> {
    let (call, args) = rpc::decode_call(record).ok()?;
    let xid = call.xid;
    let mut w = Writer::new();
    let mut notify = None;
    match (call.prog, call.vers) {
        (portmap::PROGRAM, portmap::VERSION) => {
            rpc::encode_accepted(&mut w, xid, AcceptStat::SUCCESS);
            let Ok(c) = portmap::decode_call(call.proc_, args) else {
                let mut w = Writer::new();
                rpc::encode_accepted(&mut w, xid, AcceptStat::GARBAGE_ARGS);
                return Some((w.into_inner(), None));
            };
            let mut s = state(st);
            let reply = match c {
                portmap::Call::Null => portmap::Reply::Null,
                portmap::Call::Set(m) => {
                    eprintln!(
                        "statd: portmap SET {} v{} prot {} port {}",
                        m.prog, m.vers, m.prot, m.port
                    );
                    s.map.insert((m.prog, m.vers, m.prot), m.port);
                    portmap::Reply::Set(true)
                }
                portmap::Call::Unset(m) => {
                    s.map.retain(|&(p, v, _), _| !(p == m.prog && v == m.vers));
                    portmap::Reply::Unset(true)
                }
                portmap::Call::Getport(m) => {
                    let port = if m.prog == nsm::PROGRAM {
                        u32::from(statd_port)
                    } else {
                        s.map.get(&(m.prog, m.vers, m.prot)).copied().unwrap_or(0)
                    };
                    portmap::Reply::Getport(port)
                }
                portmap::Call::Dump => portmap::Reply::Dump(
                    s.map
                        .iter()
                        .map(|(&(prog, vers, prot), &port)| Mapping {
                            prog,
                            vers,
                            prot,
                            port,
                        })
                        .collect(),
                ),
                portmap::Call::Callit(_) => {
                    let mut w = Writer::new();
                    rpc::encode_accepted(&mut w, xid, AcceptStat::PROC_UNAVAIL);
                    return Some((w.into_inner(), None));
                }
            };
            reply.encode(&mut w);
        }
        (portmap::PROGRAM, _) => rpc::encode_prog_mismatch(&mut w, xid, 2, 2),
        (nsm::PROGRAM, nsm::VERSION) => {
            let Ok(c) = nsm::decode_call(call.proc_, args) else {
                rpc::encode_accepted(&mut w, xid, AcceptStat::GARBAGE_ARGS);
                return Some((w.into_inner(), None));
            };
            rpc::encode_accepted(&mut w, xid, AcceptStat::SUCCESS);
            let mut s = state(st);
            let reply = match c {
                nsm::Call::Null | nsm::Call::SimuCrash => nsm::Reply::Void,
                nsm::Call::Stat(_) => nsm::Reply::StatRes {
                    res: SmRes::SUCC,
                    state: 1,
                },
                nsm::Call::Mon(m) => {
                    eprintln!(
                        "statd: SM_MON {}",
                        String::from_utf8_lossy(m.mon_id.mon_name)
                    );
                    let id = m.mon_id.my_id;
                    let list = s.monitors.entry(m.mon_id.mon_name.to_vec()).or_default();
                    list.retain(|x| x.priv_ != m.priv_);
                    list.push(Monitor {
                        my_prog: id.my_prog as u32,
                        my_vers: id.my_vers as u32,
                        my_proc: id.my_proc as u32,
                        priv_: m.priv_,
                    });
                    nsm::Reply::StatRes {
                        res: SmRes::SUCC,
                        state: 1,
                    }
                }
                nsm::Call::Unmon(m) => {
                    eprintln!("statd: SM_UNMON {}", String::from_utf8_lossy(m.mon_name));
                    s.monitors.remove(m.mon_name);
                    nsm::Reply::Stat(1)
                }
                nsm::Call::UnmonAll(_) => {
                    s.monitors.clear();
                    nsm::Reply::Stat(1)
                }
                nsm::Call::Notify(n) => {
                    eprintln!(
                        "statd: SM_NOTIFY from {} state {}",
                        String::from_utf8_lossy(n.mon_name),
                        n.state
                    );
                    notify = Some(n.state);
                    nsm::Reply::Void
                }
            };
            reply.encode(&mut w);
        }
        (nsm::PROGRAM, _) => rpc::encode_prog_mismatch(&mut w, xid, 1, 1),
        _ => rpc::encode_accepted(&mut w, xid, AcceptStat::PROG_UNAVAIL),
    }
    Some((w.into_inner(), notify))
}

/// Passes a peer's reboot to every registered lock manager: NLMPROC_NSM_NOTIFY with the
/// monitored name we were given (lockd matches by its private cookie), over TCP from a
/// privileged loopback port.
async fn forward_notify(st: Shared, state_no: i32) {
    let targets: Vec<(Vec<u8>, Monitor, u32)> = {
        let s = state(&st);
        s.monitors
            .iter()
            .flat_map(|(name, list)| list.iter().map(move |m| (name.clone(), m.clone())))
            .filter_map(|(name, m)| {
                let port = s
                    .map
                    .get(&(m.my_prog, m.my_vers, portmap::IPPROTO_TCP))
                    .copied()?;
                Some((name, m, port))
            })
            .collect()
    };
    for (name, m, port) in targets {
        let args = encode_to_vec(&SmStatus {
            mon_name: &name,
            state: state_no,
            priv_: m.priv_,
        });
        match call_lockd(port as u16, &m, &args).await {
            Ok(()) => eprintln!(
                "statd: told lockd (port {port}) that {} rebooted",
                String::from_utf8_lossy(&name)
            ),
            Err(e) => eprintln!("statd: lockd callback failed: {e}"),
        }
    }
}

async fn call_lockd(port: u16, m: &Monitor, args: &[u8]) -> io::Result<()> {
    let mut w = Writer::new();
    CallHeader::new(
        Xid(0x5157_0001),
        m.my_prog,
        m.my_vers,
        m.my_proc,
        OpaqueAuth::NONE,
    )
    .encode(&mut w);
    w.raw(args);
    let mut last = io::Error::other("no privileged port free");
    for src in (600u16..1024).rev() {
        let sock = TcpSocket::new_v4()?;
        if sock
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, src)))
            .is_err()
        {
            continue;
        }
        match sock
            .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
        {
            Ok(mut s) => {
                s.write_all(&rpc::encode_record(w.as_slice())).await?;
                let mut dec = RecordDecoder::new();
                let mut buf = BytesMut::new();
                loop {
                    if let Some(rec) = dec
                        .decode(&mut buf)
                        .map_err(|e| io::Error::other(e.to_string()))?
                    {
                        let r =
                            rpc::decode_reply(&rec).map_err(|e| io::Error::other(e.to_string()))?;
                        return if r.status.is_success() {
                            Ok(())
                        } else {
                            Err(io::Error::other(format!("{:?}", r.status)))
                        };
                    }
                    if s.read_buf(&mut buf).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn serve_tcp(l: TcpListener, st: Shared, statd_port: u16) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        let st = st.clone();
        tokio::spawn(async move {
            let mut dec = RecordDecoder::new();
            let mut buf = BytesMut::new();
            loop {
                while let Ok(Some(rec)) = dec.decode(&mut buf) {
                    let Some((out, notify)) = answer(&st, statd_port, &rec) else {
                        continue;
                    };
                    if s.write_all(&rpc::encode_record(&out)).await.is_err() {
                        return;
                    }
                    if let Some(n) = notify {
                        tokio::spawn(forward_notify(st.clone(), n));
                    }
                }
                match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
    }
}

async fn serve_udp(sock: UdpSocket, st: Shared, statd_port: u16) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        if let Some((out, notify)) = answer(&st, statd_port, &buf[..n]) {
            let _ = sock.send_to(&out, from).await;
            if let Some(n) = notify {
                tokio::spawn(forward_notify(st.clone(), n));
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let statd_port: u16 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| io::Error::other("usage: dittofs-vm-statd STATD_PORT"))?;
    let st = Shared::default();
    let any = Ipv4Addr::UNSPECIFIED;
    let pm_tcp = TcpListener::bind((any, portmap::PORT)).await?;
    let pm_udp = UdpSocket::bind((any, portmap::PORT)).await?;
    let sd_tcp = TcpListener::bind((any, statd_port)).await?;
    let sd_udp = UdpSocket::bind((any, statd_port)).await?;
    eprintln!(
        "statd: ready (portmapper 111, status monitor {statd_port}); {}",
        NsmProc::Mon.name()
    );
    tokio::spawn(serve_tcp(pm_tcp, st.clone(), statd_port));
    tokio::spawn(serve_udp(pm_udp, st.clone(), statd_port));
    tokio::spawn(serve_tcp(sd_tcp, st.clone(), statd_port));
    serve_udp(sd_udp, st, statd_port).await;
    Ok(())
}
