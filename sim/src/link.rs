//! What a real NFS client does when the network or the server misbehaves, on top of
//! [`SimClient`]: a call that gets no reply within the timeout is retransmitted with the same
//! xid on a new connection (a hard mount: it never gives up; the run's time limit does), and
//! a call answered NFS3ERR_JUKEBOX is sent again, as a new call, after a pause.
//!
//! The harness reaches a link through [`LinkCtl`]: it resets connections (the nemesis) and
//! counts server crashes, so the client can tell whether a call spanned a crash (then the
//! duplicate request cache, which lives in memory, may have been lost).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use protocol::nfs3::{self, NfsStat3};
use protocol::rpc::Xid;
use protocol::wire::Encode;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use crate::Error;
use crate::client::{RpcConn, SimClient, describe_call};

/// Shared between the harness and one client.
#[derive(Debug, Default)]
pub struct LinkCtl {
    /// Notified by the nemesis: the client's connection is reset now (or, if it is idle, at its
    /// next call).
    pub reset: Notify,
    /// Server crashes so far (with gateways: crashes of the client's gateway, and moves to
    /// another one; either loses what the gateway held in memory).
    pub crashes: Cell<u64>,
    /// Set by the harness: the next call goes to this host instead (failover to another
    /// gateway, with the same handles).
    pub moved: std::cell::RefCell<Option<String>>,
}

/// A mount's transport: where the server is, the current connection and the retry policy.
#[derive(Debug)]
pub struct Link {
    host: String,
    port: u16,
    conn: Option<RpcConn>,
    ctl: Rc<LinkCtl>,
    /// How long to wait for a reply before retransmitting (Linux: `timeo`).
    pub timeout: Duration,
    /// Pause before reconnecting after a failure.
    pub backoff: Duration,
    /// Pause before calling again after NFS3ERR_JUKEBOX (Linux waits 5 s; shorter here).
    pub jukebox_pause: Duration,
}

/// A reply and how it was obtained.
#[derive(Debug, Clone)]
pub struct Called<T> {
    /// The decoded result.
    pub value: T,
    /// Transmissions of the call that got this reply (1: no retransmission), all with one xid.
    pub sends: u32,
    /// Earlier calls of the same request answered NFS3ERR_JUKEBOX (each with its own xid).
    pub jukeboxes: u32,
    /// Whether the server crashed between the first transmission and the reply.
    pub crashed: bool,
}

impl Link {
    /// A link to `host:port`; it connects on first use.
    pub fn new(host: &str, port: u16, ctl: Rc<LinkCtl>) -> Self {
        Self {
            host: host.to_owned(),
            port,
            conn: None,
            ctl,
            timeout: Duration::from_secs(3),
            backoff: Duration::from_millis(250),
            jukebox_pause: Duration::from_millis(500),
        }
    }

    /// The control block shared with the harness.
    pub fn ctl(&self) -> &Rc<LinkCtl> {
        &self.ctl
    }

    /// The host the link talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Drops the connection (the next call opens a new one).
    pub fn disconnect(&mut self) {
        self.conn = None;
    }
}

impl SimClient {
    /// One RPC call over `link`, retransmitted with the same xid on a new connection until a
    /// reply comes. `reply_summary` decodes and describes the result (as in `SimClient::call`).
    pub async fn call_link<T>(
        &mut self,
        link: &mut Link,
        prog: (u32, u32, u32),
        what: &str,
        args: &dyn Encode,
        args_summary: String,
        reply_summary: impl FnOnce(
            &mut crate::trace::HandleNames,
            &[u8],
        ) -> Result<(T, String), protocol::wire::DecodeError>,
    ) -> Result<Called<T>, Error> {
        let xid = self.take_xid();
        let record = self.encode_call(xid, prog, args);
        let crashes = link.ctl.crashes.get();
        let mut sends = 0;
        let reply = loop {
            if let Some(host) = link.ctl.moved.borrow_mut().take() {
                self.note(format_args!("C   failover: {} -> {host}", link.host));
                link.host = host;
                link.conn = None;
            }
            if link.conn.is_none() {
                match tokio::time::timeout(link.timeout, self.connect_once(&link.host, link.port))
                    .await
                {
                    Ok(Ok(c)) => link.conn = Some(c),
                    Ok(Err(e)) => {
                        self.note(format_args!("C   connect failed: {e}; retrying"));
                        tokio::time::sleep(link.backoff).await;
                        continue;
                    }
                    Err(_) => {
                        self.note("C   connect timed out; retrying");
                        continue;
                    }
                }
            }
            sends += 1;
            let summary = if sends == 1 {
                args_summary.clone()
            } else {
                format!("{args_summary} (retransmission {})", sends - 1)
            };
            self.trace_message("C→S", what, xid, &record[4..], &summary);
            match self.send_and_wait(link, xid, &record).await {
                Ok(reply) => break reply,
                Err(why) => {
                    self.note(format_args!("C   xid={} {why}; reconnecting", xid.0));
                    link.conn = None;
                    tokio::time::sleep(link.backoff).await;
                }
            }
        };
        let value = self.finish_reply(what, xid, &reply, reply_summary)?;
        Ok(Called {
            value,
            sends,
            jukeboxes: 0,
            crashed: link.ctl.crashes.get() != crashes,
        })
    }

    /// Sends `record` on the link's connection and waits for the reply to `xid`, skipping
    /// replies to other xids (late answers to earlier transmissions).
    async fn send_and_wait(
        &mut self,
        link: &mut Link,
        xid: Xid,
        record: &[u8],
    ) -> Result<Bytes, String> {
        let timeout = link.timeout;
        let ctl = link.ctl.clone();
        let conn = link.conn.as_mut().expect("connected above");
        if let Err(e) = conn.stream.write_all(record).await {
            return Err(format!("send failed: {e}"));
        }
        let wait = async {
            loop {
                match conn.read_record(xid).await {
                    Ok(r) => match protocol::rpc::decode_reply(&r) {
                        Ok(h) if h.xid == xid => return Ok(r),
                        Ok(h) => {
                            self.note(format_args!("C   ignoring a late reply to xid={}", h.xid.0));
                        }
                        Err(e) => return Err(format!("undecodable reply: {e}")),
                    },
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        tokio::select! {
            biased;
            () = ctl.reset.notified() => Err("connection reset".to_owned()),
            r = tokio::time::timeout(timeout, wait) => match r {
                Ok(r) => r,
                Err(_) => Err(format!("no reply in {timeout:?}")),
            },
        }
    }

    /// One connection attempt, traced.
    async fn connect_once(&mut self, host: &str, port: u16) -> Result<RpcConn, Error> {
        let stream = turmoil::net::TcpStream::connect((host, port)).await?;
        self.note(format_args!(
            "C   connect {host}:{port} from {}",
            stream.local_addr()?
        ));
        Ok(RpcConn::new(format!("{host}:{port}"), stream))
    }

    /// One NFSv3 call over `link`, retransmitted as needed; a NFS3ERR_JUKEBOX answer is
    /// followed by a pause and a new call. Any other status is returned in the reply.
    pub async fn nfs3_link(
        &mut self,
        link: &mut Link,
        call: &nfs3::Call<'_>,
    ) -> Result<Called<nfs3::Reply>, Error> {
        let p = call.proc_();
        let what = format!("NFS3 {}", p.name());
        let mut jukeboxes = 0;
        let mut crashed = false;
        loop {
            let args_summary = describe_call(&mut self.handles_mut(), call);
            let called = self
                .call_link(
                    link,
                    (nfs3::PROGRAM, nfs3::VERSION, p.as_u32()),
                    &what,
                    call,
                    args_summary,
                    crate::client::nfs3_decode(p),
                )
                .await?;
            crashed |= called.crashed;
            if called.value.status() != NfsStat3::JUKEBOX {
                return Ok(Called {
                    value: called.value,
                    sends: called.sends,
                    jukeboxes,
                    crashed,
                });
            }
            jukeboxes += 1;
            tokio::time::sleep(link.jukebox_pause).await;
        }
    }
}

impl SimClient {
    /// MOUNT v3 MNT of `path` over `link`: the export's root handle.
    pub async fn mnt_link(
        &mut self,
        link: &mut Link,
        path: &str,
    ) -> Result<nfs3::NfsFh3Buf, Error> {
        use protocol::mount3::{self, MountProc};
        let call = mount3::Call::Mnt(mount3::DirPath(path.as_bytes()));
        let called = self
            .call_link(
                link,
                (mount3::PROGRAM, mount3::VERSION, MountProc::Mnt.as_u32()),
                "MOUNT MNT",
                &call,
                format!("path={path:?}"),
                crate::client::mnt_decode,
            )
            .await?;
        crate::client::mnt_root(called.value, path)
    }
}
