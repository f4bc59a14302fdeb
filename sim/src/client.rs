//! A simulated NFSv3 client built on the `protocol` crate: ONC RPC calls with AUTH_SYS
//! credentials over turmoil TCP, record marking on both directions, xids from a counter, and
//! a [`Trace`] line for every message sent and received.
//!
//! It sends one call at a time on a connection and waits for its reply, which keeps the trace
//! a plain sequence. `SimClient::call` is the plain form, on a connection the caller holds;
//! [`crate::link`] adds what real clients do when the network or the server misbehaves.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use protocol::mount3::{self, MountProc, MountRes3};
use protocol::nfs3::{
    self, Commit3Args, Commit3ResOk, Create3Args, Create3ResOk, CreateHow3, Fattr3, Nfs3Proc,
    Nfs3Res, NfsFh3Buf, PostOpAttr, Read3Args, Read3ResOk, Readdirplus3Args, Readdirplus3ResOk,
    SetTime, Write3Args, Write3ResOk,
};
use protocol::portmap::{self, Mapping, PortmapProc};
use protocol::rpc::{self, AuthFlavor, AuthSys, CallHeader, OpaqueAuth, RecordDecoder, Xid};
use protocol::wire::{DecodeError, Encode};
use protocol::xdr::Writer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::TcpStream;

use crate::Error;
use crate::trace::{HandleNames, Trace};

/// Attempts to connect before giving up: the server host may not have bound its port yet in
/// the first ticks of a simulation.
const CONNECT_ATTEMPTS: u32 = 100;

/// One TCP connection to a server.
#[derive(Debug)]
pub struct RpcConn {
    /// `host:port`, for the trace.
    peer: String,
    pub(crate) stream: TcpStream,
    decoder: RecordDecoder,
    buf: BytesMut,
}

/// The client: credentials, the xid counter, the trace and the handle names. Connections are
/// separate values so one client can talk to the portmapper and to NFS at once.
#[derive(Debug)]
pub struct SimClient {
    /// Encoded AUTH_SYS body sent with every call.
    cred: Vec<u8>,
    next_xid: u32,
    trace: Rc<RefCell<Trace>>,
    /// Put before every line of this client's (`"c1 "`), empty for a lone client.
    tag: String,
    handles: Rc<RefCell<HandleNames>>,
}

impl SimClient {
    /// A client that calls as `cred` and records into `trace`.
    pub fn new(cred: &AuthSys, trace: Trace) -> Self {
        Self::shared(
            cred,
            Rc::new(RefCell::new(trace)),
            Rc::default(),
            String::new(),
            1,
        )
    }

    /// One of several clients writing into one trace with one handle numbering; `tag` starts
    /// each of its lines and `first_xid` keeps xids apart between clients.
    pub fn shared(
        cred: &AuthSys,
        trace: Rc<RefCell<Trace>>,
        handles: Rc<RefCell<HandleNames>>,
        tag: String,
        first_xid: u32,
    ) -> Self {
        Self {
            cred: cred.to_body(),
            next_xid: first_xid,
            trace,
            tag,
            handles,
        }
    }

    /// The trace so far.
    pub fn trace(&self) -> Trace {
        self.trace.borrow().clone()
    }

    /// Ends the client, keeping its trace.
    pub fn into_trace(self) -> Trace {
        self.trace.borrow().clone()
    }

    /// Records a line at the current simulated time.
    pub fn note(&mut self, event: impl std::fmt::Display) {
        let line = format!("{}{event}", self.tag);
        self.trace.borrow_mut().push(now(), line);
    }

    /// The `fh#N` name of a handle.
    pub fn handle_name(&mut self, fh: &[u8]) -> String {
        self.handles.borrow_mut().name(fh)
    }

    /// The handle names, for describing messages.
    pub(crate) fn handles_mut(&self) -> std::cell::RefMut<'_, HandleNames> {
        self.handles.borrow_mut()
    }

    /// Takes the next xid.
    pub(crate) fn take_xid(&mut self) -> Xid {
        let xid = Xid(self.next_xid);
        self.next_xid = self.next_xid.wrapping_add(1);
        xid
    }

    /// Encodes one call as a whole record (marker included).
    pub(crate) fn encode_call(
        &self,
        xid: Xid,
        (prog, vers, proc_): (u32, u32, u32),
        args: &dyn Encode,
    ) -> Vec<u8> {
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
        rpc::encode_call(&mut w, &header);
        let header_len = w.as_slice().len();
        args.encode(&mut w);
        let record = rpc::encode_record(w.as_slice());
        corpus::call(prog, proc_, &record, &w.as_slice()[header_len..]);
        record
    }

    /// Traces a message line.
    pub(crate) fn trace_message(
        &mut self,
        dir: &str,
        what: &str,
        xid: Xid,
        record: &[u8],
        summary: &str,
    ) {
        let line = message(dir, what, xid, record, summary);
        self.note(line);
    }

    /// Decodes a reply record for `xid`: the result value and its summary, or the RPC-level
    /// failure. Traces the reply.
    pub(crate) fn finish_reply<T>(
        &mut self,
        what: &str,
        xid: Xid,
        reply: &[u8],
        reply_summary: impl FnOnce(&mut HandleNames, &[u8]) -> Result<(T, String), DecodeError>,
    ) -> Result<T, Error> {
        let header = rpc::decode_reply(reply).map_err(|source| Error::Decode {
            what: "RPC reply header",
            source,
        })?;
        if header.xid != xid {
            return Err(Error::XidMismatch {
                want: xid.0,
                got: header.xid.0,
            });
        }
        if !header.status.is_success() {
            let summary = format!("{:?}", header.status);
            self.trace_message("S→C", what, xid, reply, &summary);
            return Err(Error::Rpc {
                what: what.to_owned(),
                status: header.status,
            });
        }
        corpus::reply(reply, header.body);
        let result = reply_summary(&mut self.handles.borrow_mut(), header.body);
        let (value, summary) = result.map_err(|source| Error::Decode {
            what: "procedure results",
            source,
        })?;
        self.trace_message("S→C", what, xid, reply, &summary);
        Ok(value)
    }

    /// Opens a TCP connection to `host:port`, retrying while the server is not yet listening.
    pub async fn connect(&mut self, host: &str, port: u16) -> Result<RpcConn, Error> {
        let mut attempt = 1;
        let stream = loop {
            match TcpStream::connect((host, port)).await {
                Ok(s) => break s,
                Err(e) if attempt >= CONNECT_ATTEMPTS => return Err(e.into()),
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
        };
        let peer = format!("{host}:{port}");
        self.note(format_args!(
            "C   connect {peer} from {} (attempt {attempt})",
            stream.local_addr()?
        ));
        Ok(RpcConn::new(peer, stream))
    }

    /// Sends one call and returns the reply's result body. The call and the reply are both
    /// traced: `what` names the program and procedure, `args_summary` describes the arguments
    /// and `reply_summary` describes a successful result body (RPC-level failures are traced
    /// and returned as [`Error::Rpc`]).
    async fn call<T>(
        &mut self,
        conn: &mut RpcConn,
        (prog, vers, proc_): (u32, u32, u32),
        what: &str,
        args: &dyn Encode,
        args_summary: String,
        reply_summary: impl FnOnce(&mut HandleNames, &[u8]) -> Result<(T, String), DecodeError>,
    ) -> Result<T, Error> {
        let xid = self.take_xid();
        let record = self.encode_call(xid, (prog, vers, proc_), args);
        self.trace_message("C→S", what, xid, &record[4..], &args_summary);
        conn.stream.write_all(&record).await?;
        conn.stream.flush().await?;
        let reply = conn.read_record(xid).await?;
        self.finish_reply(what, xid, &reply, reply_summary)
    }

    /// Portmapper GETPORT for `prog`/`vers` over TCP: the port, or 0 if not registered.
    pub async fn getport(
        &mut self,
        conn: &mut RpcConn,
        prog: u32,
        vers: u32,
    ) -> Result<u16, Error> {
        let p = PortmapProc::Getport;
        let mapping = Mapping {
            prog,
            vers,
            prot: portmap::IPPROTO_TCP,
            port: 0,
        };
        let call = portmap::Call::Getport(mapping);
        let port = self
            .call(
                conn,
                (portmap::PROGRAM, portmap::VERSION, p.as_u32()),
                "PMAP GETPORT",
                &call,
                format!("prog={prog} vers={vers} prot=tcp"),
                |_, body| match portmap::decode_reply(p, body)? {
                    portmap::Reply::Getport(port) => Ok((port, format!("port={port}"))),
                    _ => unreachable!("decode_reply answers the procedure it was given"),
                },
            )
            .await?;
        u16::try_from(port).map_err(|_| Error::Check(format!("GETPORT returned port {port}")))
    }

    /// MOUNT v3 MNT of `path`: the export's root handle.
    pub async fn mnt(&mut self, conn: &mut RpcConn, path: &str) -> Result<NfsFh3Buf, Error> {
        let call = mount3::Call::Mnt(mount3::DirPath(path.as_bytes()));
        let res = self
            .call(
                conn,
                (mount3::PROGRAM, mount3::VERSION, MountProc::Mnt.as_u32()),
                "MOUNT MNT",
                &call,
                format!("path={path:?}"),
                mnt_decode,
            )
            .await?;
        mnt_root(res, path)
    }

    /// MOUNT v3 UMNT of `path`.
    pub async fn umnt(&mut self, conn: &mut RpcConn, path: &str) -> Result<(), Error> {
        let p = MountProc::Umnt;
        let call = mount3::Call::Umnt(mount3::DirPath(path.as_bytes()));
        self.call(
            conn,
            (mount3::PROGRAM, mount3::VERSION, p.as_u32()),
            "MOUNT UMNT",
            &call,
            format!("path={path:?}"),
            |_, body| mount3::decode_reply(p, body).map(|_| ((), String::new())),
        )
        .await
    }

    /// One NFSv3 call; the reply's status is traced and returned inside the [`nfs3::Reply`].
    pub async fn nfs3(
        &mut self,
        conn: &mut RpcConn,
        call: &nfs3::Call<'_>,
    ) -> Result<nfs3::Reply, Error> {
        let p = call.proc_();
        let what = format!("NFS3 {}", p.name());
        let args_summary = describe_call(&mut self.handles.borrow_mut(), call);
        self.call(
            conn,
            (nfs3::PROGRAM, nfs3::VERSION, p.as_u32()),
            &what,
            call,
            args_summary,
            nfs3_decode(p),
        )
        .await
    }

    /// CREATE; a failure status becomes [`Error::Nfs`].
    pub async fn create(
        &mut self,
        conn: &mut RpcConn,
        args: Create3Args<'_>,
    ) -> Result<Create3ResOk, Error> {
        match self.nfs3(conn, &nfs3::Call::Create(args)).await? {
            nfs3::Reply::Create(res) => ok(Nfs3Proc::Create, res),
            _ => unreachable!("decode_reply answers the procedure it was given"),
        }
    }

    /// WRITE; a failure status becomes [`Error::Nfs`].
    pub async fn write(
        &mut self,
        conn: &mut RpcConn,
        args: Write3Args<'_>,
    ) -> Result<Write3ResOk, Error> {
        match self.nfs3(conn, &nfs3::Call::Write(args)).await? {
            nfs3::Reply::Write(res) => ok(Nfs3Proc::Write, res),
            _ => unreachable!("decode_reply answers the procedure it was given"),
        }
    }

    /// COMMIT; a failure status becomes [`Error::Nfs`].
    pub async fn commit(
        &mut self,
        conn: &mut RpcConn,
        args: Commit3Args<'_>,
    ) -> Result<Commit3ResOk, Error> {
        match self.nfs3(conn, &nfs3::Call::Commit(args)).await? {
            nfs3::Reply::Commit(res) => ok(Nfs3Proc::Commit, res),
            _ => unreachable!("decode_reply answers the procedure it was given"),
        }
    }

    /// READ; a failure status becomes [`Error::Nfs`].
    pub async fn read(
        &mut self,
        conn: &mut RpcConn,
        args: Read3Args<'_>,
    ) -> Result<Read3ResOk, Error> {
        match self.nfs3(conn, &nfs3::Call::Read(args)).await? {
            nfs3::Reply::Read(res) => ok(Nfs3Proc::Read, res),
            _ => unreachable!("decode_reply answers the procedure it was given"),
        }
    }

    /// READDIRPLUS; a failure status becomes [`Error::Nfs`].
    pub async fn readdirplus(
        &mut self,
        conn: &mut RpcConn,
        args: Readdirplus3Args<'_>,
    ) -> Result<Readdirplus3ResOk, Error> {
        match self.nfs3(conn, &nfs3::Call::Readdirplus(args)).await? {
            nfs3::Reply::Readdirplus(res) => ok(Nfs3Proc::Readdirplus, res),
            _ => unreachable!("decode_reply answers the procedure it was given"),
        }
    }
}

impl RpcConn {
    /// Wraps a connected stream to `peer` (`host:port`).
    pub(crate) fn new(peer: String, stream: TcpStream) -> Self {
        Self {
            peer,
            stream,
            decoder: RecordDecoder::new(),
            buf: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// The `host:port` this connection goes to.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Reads until one whole record has arrived.
    pub(crate) async fn read_record(&mut self, xid: Xid) -> Result<Bytes, Error> {
        loop {
            if let Some(record) = self.decoder.decode(&mut self.buf)? {
                return Ok(record);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(Error::Closed { xid: xid.0 });
            }
        }
    }
}

/// Decodes and describes the result of NFSv3 procedure `p`.
pub(crate) fn nfs3_decode(
    p: Nfs3Proc,
) -> impl FnOnce(&mut HandleNames, &[u8]) -> Result<(nfs3::Reply, String), DecodeError> {
    move |names, body| {
        let reply = nfs3::decode_reply(p, body)?;
        let summary = describe_reply(names, &reply);
        Ok((reply, summary))
    }
}

/// Decodes and describes a MNT reply.
pub(crate) fn mnt_decode(
    names: &mut HandleNames,
    body: &[u8],
) -> Result<(MountRes3, String), DecodeError> {
    match mount3::decode_reply(MountProc::Mnt, body)? {
        mount3::Reply::Mnt(res) => {
            let summary = match &res {
                MountRes3::Ok(ok) => format!(
                    "MNT3_OK root={} flavors={:?}",
                    names.name(&ok.fhandle),
                    ok.auth_flavors
                ),
                MountRes3::Fail(stat) => stat.to_string(),
            };
            Ok((res, summary))
        }
        _ => unreachable!("decode_reply answers the procedure it was given"),
    }
}

/// The root handle of a MNT result, or why there is none.
pub(crate) fn mnt_root(res: MountRes3, path: &str) -> Result<NfsFh3Buf, Error> {
    match res {
        MountRes3::Ok(ok) => NfsFh3Buf::new(&ok.fhandle)
            .ok_or_else(|| Error::Check("MNT returned a handle over 64 bytes".to_owned())),
        MountRes3::Fail(status) => Err(Error::Mount {
            path: path.to_owned(),
            status,
        }),
    }
}

/// Simulated time since the simulation started.
fn now() -> std::time::Duration {
    turmoil::sim_elapsed().expect("the simulated client runs inside a turmoil simulation")
}

/// One message line: direction, program and procedure, xid, then the record's length and
/// hash, then the summary.
fn message(dir: &str, what: &str, xid: Xid, record: &[u8], summary: &str) -> String {
    let mut line = format!(
        "{dir} {what} xid={} len={} fnv={:016x}",
        xid.0,
        record.len(),
        actors::runtime::fnv1a64(record)
    );
    if !summary.is_empty() {
        line.push(' ');
        line.push_str(summary);
    }
    line
}

/// The success body of an NFSv3 result, or [`Error::Nfs`].
fn ok<T, F>(proc_: Nfs3Proc, res: Nfs3Res<T, F>) -> Result<T, Error> {
    match res {
        Nfs3Res::Ok(t) => Ok(t),
        Nfs3Res::Fail(status, _) => Err(Error::Nfs {
            proc_: proc_.name(),
            status,
        }),
    }
}

/// Eight verifier bytes as hex.
fn hex8(v: &[u8; 8]) -> String {
    v.iter().fold(String::with_capacity(16), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The attributes a trace shows: type, mode, size, file id and mtime.
fn attrs(a: &Fattr3) -> String {
    format!(
        "{:?} mode={:o} size={} fileid={} mtime={}.{:09}",
        a.ftype, a.mode, a.size, a.fileid, a.mtime.seconds, a.mtime.nseconds
    )
}

fn post_op(a: &PostOpAttr) -> String {
    a.0.as_ref().map_or_else(|| "-".to_owned(), attrs)
}

/// CREATE's mode and the attributes it sets, e.g. `UNCHECKED(mode=644)`.
fn describe_how(how: &CreateHow3) -> String {
    let (mode, attrs) = match how {
        CreateHow3::Unchecked(a) => ("UNCHECKED", a),
        CreateHow3::Guarded(a) => ("GUARDED", a),
        CreateHow3::Exclusive(v) => return format!("EXCLUSIVE(verf={})", hex8(&v.0)),
    };
    let mut set = Vec::new();
    if let Some(m) = attrs.mode {
        set.push(format!("mode={m:o}"));
    }
    if let Some(u) = attrs.uid {
        set.push(format!("uid={u}"));
    }
    if let Some(g) = attrs.gid {
        set.push(format!("gid={g}"));
    }
    if let Some(n) = attrs.size {
        set.push(format!("size={n}"));
    }
    if attrs.atime != SetTime::DontChange {
        set.push(format!("atime={:?}", attrs.atime));
    }
    if attrs.mtime != SetTime::DontChange {
        set.push(format!("mtime={:?}", attrs.mtime));
    }
    format!("{mode}({})", set.join(" "))
}

/// The attributes a SETATTR or MKDIR sets, e.g. `(mode=755 size=0)`.
fn describe_sattr(a: &nfs3::Sattr3) -> String {
    let mut set = Vec::new();
    if let Some(m) = a.mode {
        set.push(format!("mode={m:o}"));
    }
    if let Some(u) = a.uid {
        set.push(format!("uid={u}"));
    }
    if let Some(g) = a.gid {
        set.push(format!("gid={g}"));
    }
    if let Some(n) = a.size {
        set.push(format!("size={n}"));
    }
    format!("({})", set.join(" "))
}

/// A readable summary of the arguments of the procedures the scenarios use; other
/// procedures are identified by the message line alone.
pub(crate) fn describe_call(names: &mut HandleNames, call: &nfs3::Call<'_>) -> String {
    match call {
        nfs3::Call::Create(a) => format!(
            "dir={} name={:?} how={}",
            names.name(a.where_.dir.as_bytes()),
            String::from_utf8_lossy(a.where_.name),
            describe_how(&a.how)
        ),
        nfs3::Call::Write(a) => format!(
            "file={} offset={} count={} stable={:?} data.fnv={:016x}",
            names.name(a.file.as_bytes()),
            a.offset,
            a.data.len(),
            a.stable,
            actors::runtime::fnv1a64(a.data)
        ),
        nfs3::Call::Commit(a) => format!(
            "file={} offset={} count={}",
            names.name(a.file.as_bytes()),
            a.offset,
            a.count
        ),
        nfs3::Call::Read(a) => format!(
            "file={} offset={} count={}",
            names.name(a.file.as_bytes()),
            a.offset,
            a.count
        ),
        nfs3::Call::Getattr(a) => format!("obj={}", names.name(a.object.as_bytes())),
        nfs3::Call::Setattr(a) => format!(
            "obj={} set={}",
            names.name(a.object.as_bytes()),
            describe_sattr(&a.new_attributes)
        ),
        nfs3::Call::Lookup(a) => format!(
            "dir={} name={:?}",
            names.name(a.what.dir.as_bytes()),
            String::from_utf8_lossy(a.what.name)
        ),
        nfs3::Call::Mkdir(a) => format!(
            "dir={} name={:?} set={}",
            names.name(a.where_.dir.as_bytes()),
            String::from_utf8_lossy(a.where_.name),
            describe_sattr(&a.attributes)
        ),
        nfs3::Call::Remove(nfs3::Remove3Args { object: a })
        | nfs3::Call::Rmdir(nfs3::Rmdir3Args { object: a }) => format!(
            "dir={} name={:?}",
            names.name(a.dir.as_bytes()),
            String::from_utf8_lossy(a.name)
        ),
        nfs3::Call::Rename(a) => format!(
            "from={}/{:?} to={}/{:?}",
            names.name(a.from.dir.as_bytes()),
            String::from_utf8_lossy(a.from.name),
            names.name(a.to.dir.as_bytes()),
            String::from_utf8_lossy(a.to.name)
        ),
        nfs3::Call::Readdirplus(a) => format!(
            "dir={} cookie={} dircount={} maxcount={}",
            names.name(a.dir.as_bytes()),
            a.cookie.0,
            a.dircount,
            a.maxcount
        ),
        _ => String::new(),
    }
}

/// A readable summary of a result: its status, then for the procedures the scenarios use the
/// fields they check.
pub(crate) fn describe_reply(names: &mut HandleNames, reply: &nfs3::Reply) -> String {
    let detail = match reply {
        nfs3::Reply::Create(Nfs3Res::Ok(ok)) => format!(
            " obj={} attrs=[{}]",
            ok.obj
                .0
                .as_ref()
                .map_or_else(|| "-".to_owned(), |fh| names.name(fh.as_bytes())),
            post_op(&ok.obj_attributes)
        ),
        nfs3::Reply::Write(Nfs3Res::Ok(ok)) => format!(
            " count={} committed={:?} verf={} after=[{}]",
            ok.count,
            ok.committed,
            hex8(&ok.verf.0),
            post_op(&ok.file_wcc.after)
        ),
        nfs3::Reply::Commit(Nfs3Res::Ok(ok)) => format!(
            " verf={} after=[{}]",
            hex8(&ok.verf.0),
            post_op(&ok.file_wcc.after)
        ),
        nfs3::Reply::Read(Nfs3Res::Ok(ok)) => format!(
            " count={} eof={} data.fnv={:016x}",
            ok.data.len(),
            ok.eof,
            actors::runtime::fnv1a64(&ok.data)
        ),
        nfs3::Reply::Getattr(Nfs3Res::Ok(ok)) => format!(" attrs=[{}]", attrs(&ok.obj_attributes)),
        nfs3::Reply::Lookup(Nfs3Res::Ok(ok)) => format!(
            " obj={} attrs=[{}]",
            names.name(ok.object.as_bytes()),
            post_op(&ok.obj_attributes)
        ),
        nfs3::Reply::Mkdir(Nfs3Res::Ok(ok)) => format!(
            " obj={} attrs=[{}]",
            ok.obj
                .0
                .as_ref()
                .map_or_else(|| "-".to_owned(), |fh| names.name(fh.as_bytes())),
            post_op(&ok.obj_attributes)
        ),
        nfs3::Reply::Setattr(Nfs3Res::Ok(ok)) => format!(" after=[{}]", post_op(&ok.obj_wcc.after)),
        nfs3::Reply::Readdirplus(Nfs3Res::Ok(ok)) => {
            let mut s = format!(" eof={} entries=[", ok.eof);
            for (i, e) in ok.entries.iter().enumerate() {
                let fh = e
                    .name_handle
                    .0
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |fh| names.name(fh.as_bytes()));
                let _ = write!(
                    s,
                    "{}{:?} cookie={} {fh} {}",
                    if i == 0 { "" } else { "; " },
                    String::from_utf8_lossy(&e.name),
                    e.cookie.0,
                    post_op(&e.name_attributes)
                );
            }
            s.push(']');
            s
        }
        _ => String::new(),
    };
    format!("{}{detail}", reply.status())
}

/// Collects the messages simulated clients send and receive as seed inputs for the fuzz
/// targets in `fuzz/` (`sim corpus <dir>` writes them out), in each target's input format.
pub mod corpus {
    use std::cell::RefCell;

    thread_local! {
        static INPUTS: RefCell<Option<Inputs>> = const { RefCell::new(None) };
    }

    /// Inputs by fuzz target name, and the program and procedure of the last call (so its
    /// reply can be filed under the right target).
    #[derive(Debug, Default)]
    struct Inputs {
        by_target: Vec<(&'static str, Vec<u8>)>,
        last: (u32, u32),
    }

    /// Starts collecting on this thread.
    pub fn start() {
        INPUTS.with(|i| *i.borrow_mut() = Some(Inputs::default()));
    }

    /// Stops collecting and returns (target, input) pairs.
    pub fn take() -> Vec<(&'static str, Vec<u8>)> {
        INPUTS.with(|i| {
            i.borrow_mut()
                .take()
                .map(|i| i.by_target)
                .unwrap_or_default()
        })
    }

    fn push(f: impl FnOnce(&mut Inputs)) {
        INPUTS.with(|i| {
            if let Some(i) = i.borrow_mut().as_mut() {
                f(i);
            }
        });
    }

    fn with_proc(proc_: u32, body: &[u8]) -> Vec<u8> {
        let mut v = proc_.to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    pub(super) fn call(prog: u32, proc_: u32, record: &[u8], args: &[u8]) {
        push(|i| {
            i.last = (prog, proc_);
            i.by_target.push(("record", record.to_vec()));
            i.by_target.push(("rpc_call", record[4..].to_vec()));
            match prog {
                protocol::nfs3::PROGRAM => i.by_target.push(("nfs3_call", with_proc(proc_, args))),
                protocol::mount3::PROGRAM => i.by_target.push(("mount", args.to_vec())),
                protocol::portmap::PROGRAM => i.by_target.push(("portmap", args.to_vec())),
                _ => {}
            }
        });
    }

    pub(super) fn reply(record: &[u8], body: &[u8]) {
        push(|i| {
            i.by_target.push(("rpc_call", record.to_vec()));
            match i.last.0 {
                protocol::nfs3::PROGRAM => {
                    let p = i.last.1;
                    i.by_target.push(("nfs3_reply", with_proc(p, body)));
                }
                protocol::mount3::PROGRAM => i.by_target.push(("mount", body.to_vec())),
                protocol::portmap::PROGRAM => i.by_target.push(("portmap", body.to_vec())),
                _ => {}
            }
        });
    }
}
