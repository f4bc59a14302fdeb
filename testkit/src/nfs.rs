//! NFSv3 client helpers over the `nfs3_client` crate. Calls that fail at the transport, or
//! answer an error status where the helper expects success, return an error naming the call.

use anyhow::{Context as _, bail};
use nfs3_client::nfs3_types::nfs3::{
    COMMIT3args, CREATE3args, GETATTR3args, LOOKUP3args, Nfs3Option, Nfs3Result, READ3args,
    READ3resok, WRITE3args, WRITE3resok, createhow3, diropargs3, fattr3, filename3, nfs_fh3,
    nfsstat3, sattr3, stable_how, writeverf3,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::{Nfs3Client, Nfs3Connection, Nfs3ConnectionBuilder};
use rand::{RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpStream;

/// The transport every helper uses: TCP through tokio, whose reads report the peer's close
/// as an error. `nfs3_client` 0.9.1's `async_read_exact` loops while a read returns 0 bytes, so
/// with the crate's own tokio wrapper a client of a killed server spins on a worker thread for
/// ever instead of failing (found by the multi-gateway tests, actors/tests/gateways.rs).
#[derive(Debug)]
pub struct Io(pub TcpStream);

impl nfs3_client::io::AsyncRead for Io {
    async fn async_read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = tokio::io::AsyncReadExt::read(&mut self.0, buf).await?;
        if n == 0 && !buf.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(n)
    }
}

impl nfs3_client::io::AsyncWrite for Io {
    async fn async_write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        tokio::io::AsyncWriteExt::write(&mut self.0, buf).await
    }
}

/// Connects [`Io`]s (from any local port: dittofs and Ganesha, as configured here, take
/// unprivileged ones).
#[derive(Debug, Clone, Copy, Default)]
pub struct Connector;

impl nfs3_client::net::Connector for Connector {
    type Connection = Io;

    async fn connect(&self, addr: std::net::SocketAddr) -> std::io::Result<Io> {
        Ok(Io(TcpStream::connect(addr).await?))
    }

    async fn connect_with_port(
        &self,
        addr: std::net::SocketAddr,
        _local_port: u16,
    ) -> std::io::Result<Io> {
        self.connect(addr).await
    }
}
/// A mounted export: the MOUNT result plus an NFSv3 client (it derefs to [`Nfs3Client`]).
pub type Conn = Nfs3Connection<Io>;

/// Bytes per READ when [`contents`] reads a whole file.
pub const READ_CHUNK: u32 = 1 << 20;

/// An AUTH_SYS credential for `uid`/`gid`, no supplementary groups.
pub fn cred(uid: u32, gid: u32) -> opaque_auth<'static> {
    opaque_auth::auth_unix(&auth_unix {
        stamp: 1,
        machinename: Opaque::borrowed(b"dittofs-testkit"),
        uid,
        gid,
        gids: Vec::new(),
    })
}

/// A file name argument.
pub fn name(s: &str) -> filename3<'_> {
    filename3(Opaque::borrowed(s.as_bytes()))
}

/// A (directory, name) argument.
pub fn dirop<'a>(dir: &nfs_fh3, n: &'a str) -> diropargs3<'a> {
    diropargs3 {
        dir: dir.clone(),
        name: name(n),
    }
}

/// Attributes that set only the mode.
pub fn mode(m: u32) -> sattr3 {
    sattr3 {
        mode: Nfs3Option::Some(m),
        ..sattr3::default()
    }
}

/// `len` pseudo-random bytes, the same for the same `seed`.
pub fn seeded_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0; len];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// The value of a call that must succeed; panics with `what` and the status otherwise.
#[track_caller]
pub fn ok<T, E: std::fmt::Debug>(r: Nfs3Result<T, E>, what: &str) -> T {
    match r {
        Nfs3Result::Ok(v) => v,
        Nfs3Result::Err(e) => panic!("{what}: {e:?}"),
    }
}

/// The status and failure body of a call that must fail; panics with `what` if it succeeded.
#[track_caller]
pub fn fail<T: std::fmt::Debug, E>(r: Nfs3Result<T, E>, what: &str) -> (nfsstat3, E) {
    match r {
        Nfs3Result::Ok(ok) => panic!("{what}: expected an error status, got {ok:?}"),
        Nfs3Result::Err(e) => e,
    }
}

/// Just the status of a call that must fail.
#[track_caller]
pub fn status<T: std::fmt::Debug, E>(r: Nfs3Result<T, E>, what: &str) -> nfsstat3 {
    fail(r, what).0
}

/// Mounts `export` on `host` as `uid`/`gid`, finding the MOUNT and NFS ports through the
/// portmapper on `portmapper_port` (dittofs answers all three on one port).
pub async fn mount(
    host: &str,
    portmapper_port: u16,
    export: &str,
    uid: u32,
    gid: u32,
) -> anyhow::Result<Conn> {
    Nfs3ConnectionBuilder::new(Connector, host, export)
        .portmapper_port(portmapper_port)
        .connect_from_privileged_port(false)
        .credential(cred(uid, gid))
        .mount()
        .await
        .with_context(|| format!("mounting {host}:{export} (portmapper port {portmapper_port})"))
}

/// Mounts `export` on `host` as root at known MOUNT and NFS ports, without a portmapper (how
/// the benchmark reaches NFS-Ganesha).
pub async fn mount_at(
    host: &str,
    export: &str,
    mount_port: u16,
    nfs_port: u16,
) -> anyhow::Result<Conn> {
    Nfs3ConnectionBuilder::new(Connector, host, export)
        .mount_port(mount_port)
        .nfs3_port(nfs_port)
        .connect_from_privileged_port(false)
        .credential(cred(0, 0))
        .mount()
        .await
        .with_context(|| format!("mounting {host}:{export}"))
}

/// LOOKUP of `n` in `dir`: its handle.
pub async fn lookup(c: &mut Nfs3Client<Io>, dir: &nfs_fh3, n: &str) -> anyhow::Result<nfs_fh3> {
    match c
        .lookup(&LOOKUP3args {
            what: dirop(dir, n),
        })
        .await?
    {
        Nfs3Result::Ok(ok) => Ok(ok.object),
        Nfs3Result::Err((s, _)) => bail!("LOOKUP {n}: {s:?}"),
    }
}

/// CREATE UNCHECKED of `n` in `dir` with mode `m`: the new file's handle (looked up when the
/// reply carries none).
pub async fn create(
    c: &mut Nfs3Client<Io>,
    dir: &nfs_fh3,
    n: &str,
    m: u32,
) -> anyhow::Result<nfs_fh3> {
    let r = c
        .create(&CREATE3args {
            where_: dirop(dir, n),
            how: createhow3::UNCHECKED(mode(m)),
        })
        .await?;
    match r {
        Nfs3Result::Ok(ok) => match ok.obj {
            Nfs3Option::Some(h) => Ok(h),
            Nfs3Option::None => lookup(c, dir, n).await,
        },
        Nfs3Result::Err((s, _)) => bail!("CREATE {n}: {s:?}"),
    }
}

/// WRITE of `data` at `offset`; the reply (which may report a short write).
pub async fn write(
    c: &mut Nfs3Client<Io>,
    f: &nfs_fh3,
    offset: u64,
    data: &[u8],
    stable: stable_how,
) -> anyhow::Result<WRITE3resok> {
    let r = c
        .write(&WRITE3args {
            file: f.clone(),
            offset,
            count: u32::try_from(data.len())?,
            stable,
            data: Opaque::borrowed(data),
        })
        .await?;
    match r {
        Nfs3Result::Ok(ok) => Ok(ok),
        Nfs3Result::Err((s, _)) => bail!("WRITE: {s:?}"),
    }
}

/// WRITE of `data` at `offset` that must take every byte; the write verifier it answered.
pub async fn write_all(
    c: &mut Nfs3Client<Io>,
    f: &nfs_fh3,
    offset: u64,
    data: &[u8],
    stable: stable_how,
) -> anyhow::Result<writeverf3> {
    let ok = write(c, f, offset, data, stable).await?;
    if ok.count as usize != data.len() {
        bail!("short WRITE: {} of {}", ok.count, data.len());
    }
    Ok(ok.verf)
}

/// READ of `count` bytes at `offset`.
pub async fn read(
    c: &mut Nfs3Client<Io>,
    f: &nfs_fh3,
    offset: u64,
    count: u32,
) -> anyhow::Result<READ3resok<'static>> {
    match c
        .read(&READ3args {
            file: f.clone(),
            offset,
            count,
        })
        .await?
    {
        Nfs3Result::Ok(ok) => Ok(ok),
        Nfs3Result::Err((s, _)) => bail!("READ: {s:?}"),
    }
}

/// The whole file, in [`READ_CHUNK`] READs up to the one that reports eof.
pub async fn contents(c: &mut Nfs3Client<Io>, f: &nfs_fh3) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let r = read(c, f, out.len() as u64, READ_CHUNK).await?;
        out.extend_from_slice(&r.data);
        if r.eof {
            return Ok(out);
        }
        if r.count == 0 {
            bail!("READ returned nothing before eof");
        }
    }
}

/// COMMIT of the whole file; the write verifier it answered.
pub async fn commit(c: &mut Nfs3Client<Io>, f: &nfs_fh3) -> anyhow::Result<writeverf3> {
    match c
        .commit(&COMMIT3args {
            file: f.clone(),
            offset: 0,
            count: 0,
        })
        .await?
    {
        Nfs3Result::Ok(ok) => Ok(ok.verf),
        Nfs3Result::Err((s, _)) => bail!("COMMIT: {s:?}"),
    }
}

/// GETATTR: the attributes, or the status it failed with (a stale handle is an answer here).
pub async fn getattr_status(
    c: &mut Nfs3Client<Io>,
    f: &nfs_fh3,
) -> anyhow::Result<Result<fattr3, nfsstat3>> {
    Ok(
        match c.getattr(&GETATTR3args { object: f.clone() }).await? {
            Nfs3Result::Ok(ok) => Ok(ok.obj_attributes),
            Nfs3Result::Err((s, _)) => Err(s),
        },
    )
}

/// GETATTR that must succeed.
pub async fn getattr(c: &mut Nfs3Client<Io>, f: &nfs_fh3) -> anyhow::Result<fattr3> {
    match getattr_status(c, f).await? {
        Ok(a) => Ok(a),
        Err(s) => bail!("GETATTR: {s:?}"),
    }
}
