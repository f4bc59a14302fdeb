//! A simulated ONC RPC client on turmoil's TCP, built on the project's `protocol` codecs, that
//! writes a [`Trace`] line for every message it sends and receives.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use anyhow::{Context as _, bail, ensure};
use protocol::rpc::{self, AuthFlavor, AuthSys, CallHeader, OpaqueAuth, ReplyStatus, Xid};
use protocol::wire::{Decode, Encode, decode_exact};
use protocol::xdr::Writer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::TcpStream;

/// Largest reply record the client accepts: a 1 MiB READ plus headers.
const REPLY_MAX: usize = (1 << 20) + (64 << 10);

/// What the clients of one simulation saw, one line per message, in simulated time.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    lines: Vec<String>,
}

impl Trace {
    /// Appends a line, prefixed with the simulated time.
    pub fn push(&mut self, line: String) {
        let t = turmoil::sim_elapsed().unwrap_or_default();
        self.lines
            .push(format!("{:>12.6}s {line}", t.as_secs_f64()));
    }

    /// The whole trace, one line per message.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// A stable 64-bit digest of [`Trace::text`].
    pub fn hash(&self) -> u64 {
        actors::runtime::fnv1a64(self.text().as_bytes())
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// A trace shared by the clients of one simulation (they all run on turmoil's thread).
pub type SharedTrace = Rc<RefCell<Trace>>;

/// One client connection: AUTH_SYS credentials, sequential xids, every message traced.
pub struct SimClient {
    name: String,
    stream: TcpStream,
    next_xid: u32,
    cred: Vec<u8>,
    trace: SharedTrace,
}

impl std::fmt::Debug for SimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClient")
            .field("name", &self.name)
            .field("next_xid", &self.next_xid)
            .finish_non_exhaustive()
    }
}

impl SimClient {
    /// Connects to `host:port` as `uid`/`gid`.
    pub async fn connect(
        name: &str,
        host: &str,
        port: u16,
        uid: u32,
        gid: u32,
        trace: SharedTrace,
    ) -> anyhow::Result<Self> {
        let stream = TcpStream::connect((host, port))
            .await
            .with_context(|| format!("{name}: connecting to {host}:{port}"))?;
        let cred = AuthSys {
            stamp: 0,
            machine_name: name.as_bytes().to_vec(),
            uid,
            gid,
            gids: Vec::new(),
        }
        .to_body();
        trace
            .borrow_mut()
            .push(format!("{name} connected to {host}:{port}"));
        Ok(Self {
            name: name.to_owned(),
            stream,
            next_xid: 1,
            cred,
            trace,
        })
    }

    /// Calls `prog`/`vers`/`proc_` with `args` and decodes the SUCCESS result as `R`.
    pub async fn call<A: Encode, R: for<'a> Decode<'a>>(
        &mut self,
        prog: u32,
        vers: u32,
        proc_: u32,
        args: &A,
    ) -> anyhow::Result<R> {
        let body = self.call_raw(prog, vers, proc_, args).await?;
        decode_exact(&body, "result").with_context(|| {
            format!(
                "{}: decoding the result of {}",
                self.name,
                proc_name(prog, proc_)
            )
        })
    }

    /// Calls and returns the SUCCESS result's bytes; any other reply is an error.
    pub async fn call_raw<A: Encode>(
        &mut self,
        prog: u32,
        vers: u32,
        proc_: u32,
        args: &A,
    ) -> anyhow::Result<Vec<u8>> {
        let xid = Xid(self.next_xid);
        self.next_xid += 1;
        let header = CallHeader::new(
            xid,
            prog,
            vers,
            proc_,
            OpaqueAuth {
                flavor: AuthFlavor::AUTH_SYS,
                body: &self.cred,
            },
        );
        let mut w = Writer::new();
        header.encode(&mut w);
        args.encode(&mut w);
        let record = w.into_inner();
        self.trace.borrow_mut().push(format!(
            "{} -> xid={} {} {}B #{:016x}",
            self.name,
            xid.0,
            proc_name(prog, proc_),
            record.len(),
            actors::runtime::fnv1a64(&record)
        ));
        self.stream
            .write_all(&rpc::encode_record(&record))
            .await
            .with_context(|| format!("{}: sending xid {}", self.name, xid.0))?;
        let reply = self.read_record().await?;
        let head = rpc::decode_reply(&reply)
            .with_context(|| format!("{}: undecodable reply to xid {}", self.name, xid.0))?;
        let mut line = format!(
            "{} <- xid={} {:?} {}B #{:016x}",
            self.name,
            head.xid.0,
            head.status,
            reply.len(),
            actors::runtime::fnv1a64(&reply)
        );
        if head.status.is_success() && prog == protocol::nfs3::PROGRAM {
            // The NFS status word leads every NFSv3 result.
            if let Some(s) = head.body.get(..4) {
                let _ = write!(
                    line,
                    " nfsstat3={}",
                    u32::from_be_bytes([s[0], s[1], s[2], s[3]])
                );
            }
        }
        self.trace.borrow_mut().push(line);
        ensure!(
            head.xid == xid,
            "{}: reply for xid {} while waiting for {}",
            self.name,
            head.xid.0,
            xid.0
        );
        match head.status {
            ReplyStatus::Accepted(s) if head.status.is_success() => {
                let _ = s;
                Ok(head.body.to_vec())
            }
            other => bail!(
                "{}: {} answered {other:?}",
                self.name,
                proc_name(prog, proc_)
            ),
        }
    }

    async fn read_record(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut rec = Vec::new();
        loop {
            let h = self.stream.read_u32().await.context("reading a reply")?;
            let len = (h & 0x7fff_ffff) as usize;
            ensure!(
                rec.len() + len <= REPLY_MAX,
                "reply larger than {REPLY_MAX} bytes"
            );
            let at = rec.len();
            rec.resize(at + len, 0);
            self.stream
                .read_exact(&mut rec[at..])
                .await
                .context("reading a reply")?;
            if h & 0x8000_0000 != 0 {
                return Ok(rec);
            }
        }
    }
}

/// A readable name for a procedure, for traces.
pub fn proc_name(prog: u32, proc_: u32) -> String {
    const NFS: [&str; 22] = [
        "NULL",
        "GETATTR",
        "SETATTR",
        "LOOKUP",
        "ACCESS",
        "READLINK",
        "READ",
        "WRITE",
        "CREATE",
        "MKDIR",
        "SYMLINK",
        "MKNOD",
        "REMOVE",
        "RMDIR",
        "RENAME",
        "LINK",
        "READDIR",
        "READDIRPLUS",
        "FSSTAT",
        "FSINFO",
        "PATHCONF",
        "COMMIT",
    ];
    const MOUNT: [&str; 6] = ["NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT"];
    let (p, names): (&str, &[&str]) = match prog {
        protocol::nfs3::PROGRAM => ("NFS3", &NFS),
        protocol::mount3::PROGRAM => ("MOUNT3", &MOUNT),
        _ => return format!("{prog}.{proc_}"),
    };
    match names.get(proc_ as usize) {
        Some(n) => format!("{p}.{n}"),
        None => format!("{p}.{proc_}"),
    }
}
