//! End-to-end: the production `actors::server::serve` running in-process on a loopback listener
//! with memory stores, driven by the `nfs3_client` crate, an NFSv3 client nobody here wrote.
//!
//! Goal: every MOUNT v3 procedure (NULL, MNT, DUMP, UMNT, UMNTALL, EXPORT), every NFSv3
//! procedure (NULL through COMMIT, 22 of them) and the common error statuses answer what
//! RFC 1813 says, as seen by an independent client implementation.
//!
//! Method: each test starts its own server (fresh memory stores, port 0, portmapper on the
//! same port), connects only over TCP and asserts the values in the replies: contents, sizes,
//! link counts, modes, verifiers and cookies, never just success. Where a reply alone cannot
//! show a property (COMMIT durability), the test also looks into the memory stores behind the
//! server. `nfs3_client` exposes all 28 procedures, lets us set AUTH_SYS credentials and send
//! arbitrary handle bytes, so no call here needs the project's own `protocol` codecs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use actors::runtime::{Env, RealClock};
use actors::server::nfs::export::{NfsExport, Squash};
use actors::server::nfs::filehandle::FILE_HANDLE_LEN as HANDLE_LEN;
use actors::server::{self, ServerConfig, ShareSpec, StoreSet};
use anyhow::Context as _;
use nfs3_client::nfs3_types::mount::{self, dirpath, mountstat3};
use nfs3_client::nfs3_types::nfs3::{
    self, ACCESS3_DELETE, ACCESS3_EXECUTE, ACCESS3_EXTEND, ACCESS3_LOOKUP, ACCESS3_MODIFY,
    ACCESS3_READ, ACCESS3args, COMMIT3args, CREATE3args, CREATE3res, FSF3_CANSETTIME, FSF3_LINK,
    FSF3_SYMLINK, FSINFO3args, FSSTAT3args, GETATTR3args, LINK3args, LOOKUP3args, MKDIR3args,
    MKNOD3args, Nfs3Option, Nfs3Result, PATHCONF3args, READ3args, READDIR3args, READDIRPLUS3args,
    READLINK3args, REMOVE3args, RENAME3args, RMDIR3args, SETATTR3args, SYMLINK3args, WRITE3args,
    cookieverf3, createhow3, createverf3, devicedata3, fattr3, ftype3, mknoddata3, nfs_fh3,
    nfspath3, nfsstat3, nfstime3, sattr3, set_atime, set_mtime, specdata3, stable_how,
    symlinkdata3,
};
use nfs3_client::nfs3_types::portmap::IPPROTO_TCP;
use nfs3_client::nfs3_types::rpc::opaque_auth;
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::{MountClient, MountError, Nfs3Client, PortmapperClient};
use stores::memory::{MemoryContent, MemoryMetadata};
use stores::{ContentStore, InodeId, MetadataStore, StoreId};
use testkit::nfs::{Conn, Io, cred, dirop, fail, getattr, mode, read, seeded_bytes, status, write};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The one share every test mounts.
const EXPORT: &str = "/export";
/// A second share that admits nobody on loopback, to see MNT refuse and EXPORT list groups.
const FENCED: &str = "/fenced";
/// The network `FENCED` admits.
const FENCED_NET: &str = "10.0.0.0/8";
/// Inode limit of the metadata store, so FSSTAT reports exact file counts.
const FILES_MAX: u64 = 10_000;
/// Capacity of the content store, so FSSTAT reports exact byte counts.
const BYTES_MAX: u64 = 64 << 20;
/// Largest READ and WRITE the server takes (FSINFO rtmax/wtmax).
const IO_MAX: u32 = 1 << 20;
/// Root's uid and gid.
const ROOT: u32 = 0;
/// An ordinary user.
const USER: u32 = 1000;
/// Another ordinary user, in no group of `USER`'s.
const OTHER: u32 = 2000;

/// A server running on its own tasks; `stop` shuts it down and reports how `serve` ended.
struct TestServer {
    port: u16,
    meta: Arc<MemoryMetadata>,
    content: Arc<MemoryContent>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), server::Error>>,
}

impl TestServer {
    /// Wires `serve` the way `actors::daemon` does, with memory stores and a loopback listener
    /// on an ephemeral port that serves NFS, MOUNT and the portmapper alike.
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let meta = Arc::new(MemoryMetadata::new(StoreId(1)).with_inode_limit(FILES_MAX));
        let content = Arc::new(MemoryContent::new().with_capacity_limit(BYTES_MAX));
        let spec = |name: &str, allowed_clients: Vec<actors::config::Cidr>| ShareSpec {
            name: name.to_owned(),
            metadata_store: "mem".to_owned(),
            content_store: "mem".to_owned(),
            read_only: false,
            root_mode: 0o755,
            root_uid: ROOT,
            root_gid: ROOT,
            nfs: NfsExport {
                squash: Squash::None,
                anon_uid: 65534,
                anon_gid: 65534,
                allowed_clients,
                require_privileged_port: false,
            },
            smb: Default::default(),
        };
        let shares = vec![
            spec(EXPORT, Vec::new()),
            spec(FENCED, vec![FENCED_NET.parse()?]),
        ];
        let mut config = ServerConfig::new(shares, [7; 32]);
        // Portmapper GETPORT answers this, so it must be the port we actually got.
        config.nfs_port = port;
        let stores = StoreSet {
            metadata: BTreeMap::from([("mem".to_owned(), meta.clone())]),
            content: BTreeMap::from([("mem".to_owned(), content.clone())]),
        };
        let env = Env::new(Arc::new(RealClock), 0x00d1_770f);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server::serve(
            env,
            config,
            stores,
            server::Listeners {
                nfs: vec![listener],
                smb: Vec::new(),
            },
            shutdown.clone(),
        ));
        Ok(Self {
            port,
            meta,
            content,
            shutdown,
            task,
        })
    }

    /// A plain TCP connection to the server's port.
    async fn tcp(&self) -> anyhow::Result<Io> {
        Ok(Io(TcpStream::connect(("127.0.0.1", self.port)).await?))
    }

    /// Mounts `EXPORT` as `uid`/`gid` the way the crate's users do: portmapper lookups for the
    /// MOUNT and NFS ports, MNT, then an NFS connection carrying the AUTH_SYS credential.
    async fn mount(&self, uid: u32, gid: u32) -> anyhow::Result<Conn> {
        testkit::nfs::mount("127.0.0.1", self.port, EXPORT, uid, gid).await
    }

    /// Cancels the server and checks that it flushed and stopped cleanly.
    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await??;
        Ok(())
    }
}

fn fh(bytes: &[u8]) -> nfs_fh3 {
    nfs_fh3 {
        data: Opaque::owned(bytes.to_vec()),
    }
}

fn path(p: &str) -> dirpath<'_> {
    dirpath(Opaque::borrowed(p.as_bytes()))
}

async fn lookup(
    c: &mut Nfs3Client<Io>,
    dir: &nfs_fh3,
    name: &str,
) -> anyhow::Result<(nfs_fh3, fattr3)> {
    let r = c
        .lookup(&LOOKUP3args {
            what: dirop(dir, name),
        })
        .await?;
    let ok = r.expect("LOOKUP");
    Ok((ok.object, ok.obj_attributes.unwrap()))
}

async fn create(
    c: &mut Nfs3Client<Io>,
    dir: &nfs_fh3,
    name: &str,
    how: createhow3,
) -> anyhow::Result<CREATE3res> {
    Ok(c.create(&CREATE3args {
        where_: dirop(dir, name),
        how,
    })
    .await?)
}

/// CREATE UNCHECKED with `m` as mode; returns the new handle and attributes.
async fn create_file(
    c: &mut Nfs3Client<Io>,
    dir: &nfs_fh3,
    name: &str,
    m: u32,
) -> anyhow::Result<(nfs_fh3, fattr3)> {
    let ok = create(c, dir, name, createhow3::UNCHECKED(mode(m)))
        .await?
        .expect("CREATE UNCHECKED");
    Ok((ok.obj.unwrap(), ok.obj_attributes.unwrap()))
}

async fn mkdir(
    c: &mut Nfs3Client<Io>,
    dir: &nfs_fh3,
    name: &str,
    m: u32,
) -> anyhow::Result<(nfs_fh3, fattr3)> {
    let r = c
        .mkdir(&MKDIR3args {
            where_: dirop(dir, name),
            attributes: mode(m),
        })
        .await?;
    let ok = r.expect("MKDIR");
    Ok((ok.obj.unwrap(), ok.obj_attributes.unwrap()))
}

/// Reads a whole (small) file.
async fn contents(c: &mut Nfs3Client<Io>, f: &nfs_fh3) -> anyhow::Result<Vec<u8>> {
    let r = read(c, f, 0, IO_MAX).await?;
    anyhow::ensure!(r.eof, "a whole-file READ must report eof");
    Ok(r.data.to_vec())
}

/// ACCESS for `want`; returns the granted bits after checking the reply carries attributes.
async fn access(c: &mut Nfs3Client<Io>, obj: &nfs_fh3, want: u32) -> anyhow::Result<u32> {
    let r = c
        .access(&ACCESS3args {
            object: obj.clone(),
            access: want,
        })
        .await?;
    let ok = r.expect("ACCESS");
    anyhow::ensure!(ok.obj_attributes.is_some(), "ACCESS without attributes");
    Ok(ok.access)
}

async fn remove(c: &mut Nfs3Client<Io>, dir: &nfs_fh3, name: &str) -> anyhow::Result<()> {
    let r = c
        .remove(&REMOVE3args {
            object: dirop(dir, name),
        })
        .await?;
    r.expect("REMOVE");
    Ok(())
}

async fn lookup_status(
    c: &mut Nfs3Client<Io>,
    dir: &nfs_fh3,
    name: &str,
) -> anyhow::Result<nfsstat3> {
    let r = c
        .lookup(&LOOKUP3args {
            what: dirop(dir, name),
        })
        .await?;
    Ok(match r {
        Nfs3Result::Ok(_) => nfsstat3::NFS3_OK,
        Nfs3Result::Err((s, _)) => s,
    })
}

/// Goal: the portmapper answers for MOUNT and NFS on the server's own port, and every MOUNT v3
/// procedure behaves: EXPORT lists both shares with their groups, MNT hands out the root
/// handle (and refuses unknown or fenced exports), DUMP tracks MNT/UMNT/UMNTALL, and the
/// handle MNT gave is usable over NFS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mount_protocol_and_portmapper() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let port = u32::from(s.port);

    let mut pm = PortmapperClient::new(s.tcp().await?);
    pm.null().await?;
    assert_eq!(
        pm.getport(mount::PROGRAM, mount::VERSION, IPPROTO_TCP)
            .await?,
        s.port
    );
    assert_eq!(
        pm.getport(nfs3::PROGRAM, nfs3::VERSION, IPPROTO_TCP)
            .await?,
        s.port
    );
    let maps: BTreeSet<(u32, u32, u32, u32)> = pm
        .dump()
        .await?
        .into_iter()
        .map(|m| (m.prog, m.vers, m.prot, m.port))
        .collect();
    assert!(
        maps.contains(&(nfs3::PROGRAM, 3, IPPROTO_TCP, port)),
        "{maps:?}"
    );
    assert!(
        maps.contains(&(mount::PROGRAM, 3, IPPROTO_TCP, port)),
        "{maps:?}"
    );

    let mut m =
        MountClient::new_with_auth(s.tcp().await?, cred(ROOT, ROOT), opaque_auth::default());
    m.null().await?;

    let exports: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = m
        .export()
        .await?
        .into_inner()
        .into_iter()
        .map(|e| {
            let groups = e.ex_groups.into_inner().into_iter().map(|g| g.0.to_vec());
            (e.ex_dir.0.to_vec(), groups.collect())
        })
        .collect();
    assert_eq!(
        exports,
        BTreeMap::from([
            (EXPORT.as_bytes().to_vec(), vec![]),
            (
                FENCED.as_bytes().to_vec(),
                vec![FENCED_NET.as_bytes().to_vec()]
            ),
        ])
    );

    assert!(
        m.dump().await?.into_inner().is_empty(),
        "nobody mounted yet"
    );
    let ok = m.mnt(path(EXPORT)).await?;
    assert_eq!(ok.fhandle.0.len(), HANDLE_LEN);
    // AUTH_SYS (1) first, then AUTH_NONE (0).
    assert_eq!(ok.auth_flavors, vec![1, 0]);
    let root = fh(&ok.fhandle.0);
    let again = m.mnt(path("/export/")).await?;
    assert_eq!(
        fh(&again.fhandle.0),
        root,
        "a trailing slash names the same export"
    );
    match m.mnt(path("/nonexistent")).await {
        Err(MountError::Denied(mountstat3::MNT3ERR_NOENT)) => {}
        other => panic!("MNT of an unknown export: {other:?}"),
    }
    match m.mnt(path(FENCED)).await {
        Err(MountError::Denied(mountstat3::MNT3ERR_ACCES)) => {}
        other => panic!("MNT of an export that excludes loopback: {other:?}"),
    }

    let dump = |list: mount::mountlist<'static, 'static>| {
        list.into_inner()
            .into_iter()
            .map(|b| {
                (
                    String::from_utf8_lossy(&b.ml_hostname.0).into_owned(),
                    String::from_utf8_lossy(&b.ml_directory.0).into_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let mounted = vec![("127.0.0.1".to_owned(), EXPORT.to_owned())];
    assert_eq!(dump(m.dump().await?), mounted);
    m.umnt(path(EXPORT)).await?;
    assert_eq!(dump(m.dump().await?), vec![]);
    m.mnt(path(EXPORT)).await?;
    assert_eq!(dump(m.dump().await?), mounted);
    m.umntall().await?;
    assert_eq!(dump(m.dump().await?), vec![]);

    // The handle works over NFS: the root directory with the configured owner and mode.
    let mut c = Nfs3Client::new_with_auth(s.tcp().await?, cred(ROOT, ROOT), opaque_auth::default());
    c.null().await?;
    let a = getattr(&mut c, &root).await?;
    assert_eq!(a.type_, ftype3::NF3DIR);
    assert_eq!(a.mode, 0o755);
    assert_eq!((a.uid, a.gid), (ROOT, ROOT));
    assert_eq!(a.nlink, 2);
    assert_eq!(a.fsid, u64::from(server::share_id(EXPORT).0));

    // The builder resolves both ports through the portmapper and mounts the same root.
    let conn = s.mount(ROOT, ROOT).await?;
    assert_eq!((conn.mount_port, conn.nfs3_port), (s.port, s.port));
    assert_eq!(conn.root_nfs_fh3(), root);
    assert_eq!(dump(m.dump().await?), mounted);
    conn.unmount().await?;
    assert_eq!(dump(m.dump().await?), vec![]);

    s.stop().await
}

/// Goal: GETATTR, SETATTR (plain, guarded with a stale ctime -> NOT_SYNC and nothing changed,
/// guarded with the current ctime), LOOKUP (names, ".", "..", NOENT with directory
/// attributes) and ACCESS for owner, root and others report the real attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_lookup_and_access() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let mut c = s.mount(ROOT, ROOT).await?;
    c.null().await?;
    let root = c.root_nfs_fh3();
    let root_attr = getattr(&mut c, &root).await?;

    let (f, a) = create_file(&mut c, &root, "attrs", 0o644).await?;
    assert_eq!(a.type_, ftype3::NF3REG);
    assert_eq!(a.mode, 0o644);
    assert_eq!((a.uid, a.gid, a.size, a.nlink), (ROOT, ROOT, 0, 1));
    write(&mut c, &f, 0, b"hello world", stable_how::FILE_SYNC).await?;
    let a = getattr(&mut c, &f).await?;
    assert_eq!(a.size, 11);

    // SETATTR without a guard: mode, owner, group, size and a client-chosen mtime.
    let mtime = nfstime3 {
        seconds: 1_000_000_000,
        nseconds: 123_456_789,
    };
    let ok = c
        .setattr(&SETATTR3args {
            object: f.clone(),
            new_attributes: sattr3 {
                mode: Nfs3Option::Some(0o600),
                uid: Nfs3Option::Some(USER),
                gid: Nfs3Option::Some(USER),
                size: Nfs3Option::Some(5),
                atime: set_atime::DONT_CHANGE,
                mtime: set_mtime::SET_TO_CLIENT_TIME(mtime),
            },
            guard: Nfs3Option::None,
        })
        .await?
        .expect("SETATTR");
    assert_eq!(ok.obj_wcc.before.unwrap().size, 11);
    let after = ok.obj_wcc.after.unwrap();
    assert_eq!(after.mode, 0o600);
    assert_eq!((after.uid, after.gid, after.size), (USER, USER, 5));
    assert_eq!(after.mtime, mtime);
    assert_eq!(contents(&mut c, &f).await?, b"hello");
    let a = getattr(&mut c, &f).await?;
    assert_eq!((a.mode, a.uid, a.size, a.mtime), (0o600, USER, 5, mtime));

    // A guard that is not the current ctime: NOT_SYNC, and nothing changes.
    let stale = nfstime3 {
        seconds: a.ctime.seconds.wrapping_sub(1),
        nseconds: a.ctime.nseconds,
    };
    let r = c
        .setattr(&SETATTR3args {
            object: f.clone(),
            new_attributes: sattr3 {
                size: Nfs3Option::Some(0),
                ..mode(0o777)
            },
            guard: Nfs3Option::Some(stale),
        })
        .await?;
    let (st, body) = fail(r, "SETATTR with a stale guard");
    assert_eq!(st, nfsstat3::NFS3ERR_NOT_SYNC);
    let a2 = body.obj_wcc.after.unwrap();
    assert_eq!((a2.mode, a2.size), (0o600, 5));
    assert_eq!(contents(&mut c, &f).await?, b"hello");

    // The current ctime as the guard: applied.
    let ok = c
        .setattr(&SETATTR3args {
            object: f.clone(),
            new_attributes: mode(0o640),
            guard: Nfs3Option::Some(a.ctime),
        })
        .await?
        .expect("SETATTR with a matching guard");
    assert_eq!(ok.obj_wcc.after.unwrap().mode, 0o640);

    // LOOKUP returns the same handle CREATE did, and the directory's attributes.
    let ok = c
        .lookup(&LOOKUP3args {
            what: dirop(&root, "attrs"),
        })
        .await?
        .expect("LOOKUP");
    assert_eq!(ok.object, f);
    let oa = ok.obj_attributes.unwrap();
    assert_eq!((oa.fileid, oa.size, oa.mode), (a.fileid, 5, 0o640));
    assert_eq!(ok.dir_attributes.unwrap().fileid, root_attr.fileid);
    let r = c
        .lookup(&LOOKUP3args {
            what: dirop(&root, "missing"),
        })
        .await?;
    let (st, body) = fail(r, "LOOKUP of a missing name");
    assert_eq!(st, nfsstat3::NFS3ERR_NOENT);
    assert_eq!(body.dir_attributes.unwrap().fileid, root_attr.fileid);
    let (sub, sub_attr) = mkdir(&mut c, &root, "sub", 0o755).await?;
    assert_eq!(lookup(&mut c, &sub, ".").await?.1.fileid, sub_attr.fileid);
    assert_eq!(lookup(&mut c, &sub, "..").await?.1.fileid, root_attr.fileid);
    assert_eq!(
        lookup(&mut c, &root, "..").await?.1.fileid,
        root_attr.fileid
    );

    // ACCESS: what each caller may do, by mode bits.
    let all = ACCESS3_READ
        | ACCESS3_LOOKUP
        | ACCESS3_MODIFY
        | ACCESS3_EXTEND
        | ACCESS3_DELETE
        | ACCESS3_EXECUTE;
    let (g, _) = create_file(&mut c, &root, "script", 0o754).await?;
    let mut user = s.mount(USER, USER).await?;
    let mut other = s.mount(OTHER, OTHER).await?;
    let dir_rw = ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE;
    let file_rw = ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND;
    assert_eq!(
        access(&mut c, &root, all).await?,
        dir_rw,
        "root on the root dir"
    );
    assert_eq!(
        access(&mut user, &root, all).await?,
        ACCESS3_READ | ACCESS3_LOOKUP,
        "user on root's 0755 dir"
    );
    // "attrs" is 0640 and owned by USER: root reads and writes but never executes a file
    // without an x bit; OTHER gets nothing.
    assert_eq!(access(&mut c, &f, all).await?, file_rw, "root on attrs");
    assert_eq!(access(&mut user, &f, all).await?, file_rw, "owner on attrs");
    assert_eq!(access(&mut other, &f, all).await?, 0, "other on attrs");
    assert_eq!(
        access(&mut c, &g, all).await?,
        file_rw | ACCESS3_EXECUTE,
        "root on a 0754 file"
    );
    assert_eq!(
        access(&mut other, &g, all).await?,
        ACCESS3_READ,
        "other on a 0754 file"
    );
    // Only the bits asked for come back.
    assert_eq!(
        access(&mut c, &f, ACCESS3_READ | ACCESS3_EXECUTE).await?,
        ACCESS3_READ
    );

    s.stop().await
}

/// Goal: FSSTAT counts exactly what the stores hold (one more file and its 4 KiB show up),
/// FSINFO advertises 1 MiB reads and writes, PATHCONF the POSIX name rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsstat_fsinfo_pathconf() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let mut c = s.mount(ROOT, ROOT).await?;
    let root = c.root_nfs_fh3();
    let root_attr = getattr(&mut c, &root).await?;

    let st = c
        .fsstat(&FSSTAT3args {
            fsroot: root.clone(),
        })
        .await?
        .expect("FSSTAT");
    assert_eq!(st.obj_attributes.unwrap().fileid, root_attr.fileid);
    assert_eq!(
        (st.tbytes, st.fbytes, st.abytes),
        (BYTES_MAX, BYTES_MAX, BYTES_MAX)
    );
    // Two share roots (EXPORT and FENCED) live in the one metadata store.
    let used = u64::try_from(s.meta.inode_count())?;
    assert_eq!(used, 2);
    assert_eq!(st.tfiles, FILES_MAX);
    assert_eq!((st.ffiles, st.afiles), (FILES_MAX - used, FILES_MAX - used));

    let (f, _) = create_file(&mut c, &root, "block", 0o644).await?;
    write(&mut c, &f, 0, &seeded_bytes(4096, 1), stable_how::FILE_SYNC).await?;
    let st = c
        .fsstat(&FSSTAT3args {
            fsroot: root.clone(),
        })
        .await?
        .expect("FSSTAT after a write");
    assert_eq!(st.fbytes, BYTES_MAX - 4096);
    assert_eq!(st.ffiles, FILES_MAX - used - 1);

    let info = c
        .fsinfo(&FSINFO3args {
            fsroot: root.clone(),
        })
        .await?
        .expect("FSINFO");
    assert_eq!((info.rtmax, info.wtmax), (IO_MAX, IO_MAX));
    assert_eq!((info.rtpref, info.wtpref), (IO_MAX, IO_MAX));
    assert_eq!(info.maxfilesize, i64::MAX as u64);
    assert_eq!(
        info.time_delta,
        nfstime3 {
            seconds: 0,
            nseconds: 1
        }
    );
    let props = FSF3_LINK | FSF3_SYMLINK | FSF3_CANSETTIME;
    assert_eq!(info.properties & props, props);
    assert_eq!(info.obj_attributes.unwrap().fileid, root_attr.fileid);

    let pc = c
        .pathconf(&PATHCONF3args { object: f.clone() })
        .await?
        .expect("PATHCONF");
    assert_eq!(pc.name_max, 255);
    assert!(pc.linkmax >= 2);
    assert!(pc.no_trunc && pc.chown_restricted && pc.case_preserving);
    assert!(!pc.case_insensitive);

    s.stop().await
}

/// Goal: WRITE UNSTABLE and FILE_SYNC report what they did and one verifier, READ returns the
/// bytes with a correct eof flag at every position (inside, at the end, past the end), and
/// COMMIT returns the WRITE verifier with the data durable in the content store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_commit() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let mut c = s.mount(ROOT, ROOT).await?;
    let root = c.root_nfs_fh3();
    let (f, a) = create_file(&mut c, &root, "data", 0o644).await?;
    let data = seeded_bytes(300_000, 2);

    let w1 = write(&mut c, &f, 0, &data[..200_000], stable_how::UNSTABLE).await?;
    assert_eq!(w1.count, 200_000);
    assert_eq!(w1.committed, stable_how::UNSTABLE);
    assert_eq!(w1.file_wcc.before.unwrap().size, 0);
    assert_eq!(w1.file_wcc.after.unwrap().size, 200_000);
    let w2 = write(&mut c, &f, 200_000, &data[200_000..], stable_how::FILE_SYNC).await?;
    assert_eq!(w2.count, 100_000);
    assert_eq!(w2.committed, stable_how::FILE_SYNC);
    assert_eq!(w2.verf, w1.verf, "one verifier per server boot");
    assert_eq!(w2.file_wcc.after.unwrap().size, 300_000);
    assert_eq!(getattr(&mut c, &f).await?.size, 300_000);

    let r = read(&mut c, &f, 0, IO_MAX).await?;
    assert_eq!((r.count, r.eof), (300_000, true));
    assert!(
        r.data.as_ref() == data.as_slice(),
        "whole-file READ differs"
    );
    assert_eq!(r.file_attributes.unwrap().size, 300_000);
    let r = read(&mut c, &f, 4096, 1000).await?;
    assert_eq!((r.count, r.eof), (1000, false));
    assert!(r.data.as_ref() == &data[4096..5096]);
    let r = read(&mut c, &f, 299_000, 5000).await?;
    assert_eq!(
        (r.count, r.eof),
        (1000, true),
        "a READ crossing the end is short"
    );
    assert!(r.data.as_ref() == &data[299_000..]);
    for offset in [300_000, 1_000_000] {
        let r = read(&mut c, &f, offset, 10).await?;
        assert_eq!(
            (r.count, r.eof, r.data.len()),
            (0, true, 0),
            "READ at {offset}"
        );
    }

    // Overwrite a range in the middle, unstable, then COMMIT.
    let patch = seeded_bytes(10_000, 3);
    let w3 = write(&mut c, &f, 50_000, &patch, stable_how::UNSTABLE).await?;
    assert_eq!(
        w3.file_wcc.after.unwrap().size,
        300_000,
        "an overwrite does not grow"
    );
    let mut expected = data.clone();
    expected[50_000..60_000].copy_from_slice(&patch);
    let ok = c
        .commit(&COMMIT3args {
            file: f.clone(),
            offset: 0,
            count: 0,
        })
        .await?
        .expect("COMMIT");
    assert_eq!(
        ok.verf, w1.verf,
        "COMMIT verifier equals WRITE's: nothing was lost"
    );
    assert_eq!(ok.file_wcc.after.unwrap().size, 300_000);
    assert!(contents(&mut c, &f).await? == expected);

    // What COMMIT acknowledged survives losing everything unsynced in both stores.
    s.content.crash();
    s.meta.crash();
    let ino = InodeId(a.fileid);
    let key = s.meta.getattr(ino).await?.content_key(s.meta.id());
    let stored = s.content.read(key, 0, 400_000).await?;
    assert!(
        stored.as_ref() == expected.as_slice(),
        "committed bytes lost"
    );
    assert_eq!(s.meta.getattr(ino).await?.size, 300_000);

    s.stop().await
}

/// Goal: CREATE UNCHECKED truncates an existing file when asked, GUARDED refuses an existing
/// name with EXIST, EXCLUSIVE is idempotent for a retried verifier and refuses another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_modes() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let mut c = s.mount(ROOT, ROOT).await?;
    let root = c.root_nfs_fh3();

    let (u, ua) = create_file(&mut c, &root, "u", 0o600).await?;
    assert_eq!((ua.mode, ua.size), (0o600, 0));
    write(&mut c, &u, 0, b"abc", stable_how::FILE_SYNC).await?;
    let ok = create(
        &mut c,
        &root,
        "u",
        createhow3::UNCHECKED(sattr3 {
            size: Nfs3Option::Some(0),
            ..sattr3::default()
        }),
    )
    .await?
    .expect("CREATE UNCHECKED over an existing file");
    assert_eq!(
        ok.obj.unwrap(),
        u,
        "UNCHECKED on an existing name opens that file"
    );
    assert_eq!(ok.obj_attributes.unwrap().size, 0);
    assert_eq!(contents(&mut c, &u).await?, b"");

    let r = create(&mut c, &root, "u", createhow3::GUARDED(mode(0o644))).await?;
    let (st, body) = fail(r, "CREATE GUARDED over an existing file");
    assert_eq!(st, nfsstat3::NFS3ERR_EXIST);
    assert!(body.dir_wcc.after.is_some());
    let ok = create(&mut c, &root, "g", createhow3::GUARDED(mode(0o640)))
        .await?
        .expect("CREATE GUARDED");
    let ga = ok.obj_attributes.unwrap();
    assert_eq!((ga.type_, ga.mode, ga.size), (ftype3::NF3REG, 0o640, 0));

    let v1 = createverf3(*b"\x00\x01\x02\x03\x04\x05\x06\x07");
    let v2 = createverf3(*b"\x07\x06\x05\x04\x03\x02\x01\x00");
    let first = create(&mut c, &root, "x", createhow3::EXCLUSIVE(v1))
        .await?
        .expect("CREATE EXCLUSIVE");
    let xh = first.obj.unwrap();
    let xa = first.obj_attributes.unwrap();
    assert_eq!((xa.type_, xa.size), (ftype3::NF3REG, 0));
    // A retransmission (same verifier) after the reply was lost succeeds with the same file.
    let retry = create(&mut c, &root, "x", createhow3::EXCLUSIVE(v1))
        .await?
        .expect("CREATE EXCLUSIVE retried with the same verifier");
    assert_eq!(retry.obj.unwrap(), xh);
    assert_eq!(retry.obj_attributes.unwrap().fileid, xa.fileid);
    let r = create(&mut c, &root, "x", createhow3::EXCLUSIVE(v2)).await?;
    assert_eq!(
        status(r, "CREATE EXCLUSIVE with another verifier"),
        nfsstat3::NFS3ERR_EXIST
    );
    let r = create(&mut c, &root, "g", createhow3::EXCLUSIVE(v1)).await?;
    assert_eq!(
        status(r, "CREATE EXCLUSIVE over a GUARDED file"),
        nfsstat3::NFS3ERR_EXIST
    );
    // Clients set the real attributes after an exclusive create.
    let ok = c
        .setattr(&SETATTR3args {
            object: xh.clone(),
            new_attributes: sattr3 {
                atime: set_atime::SET_TO_SERVER_TIME,
                mtime: set_mtime::SET_TO_SERVER_TIME,
                ..mode(0o644)
            },
            guard: Nfs3Option::None,
        })
        .await?
        .expect("SETATTR after CREATE EXCLUSIVE");
    assert_eq!(ok.obj_wcc.after.unwrap().mode, 0o644);

    s.stop().await
}

/// Goal: MKDIR, SYMLINK/READLINK, MKNOD (fifo, socket, and a character device as root only),
/// REMOVE, RMDIR (NOTEMPTY, NOTDIR), RENAME (plain, over an existing file, across directories)
/// and LINK (link counts) change the namespace exactly as asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_operations() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let mut c = s.mount(ROOT, ROOT).await?;
    let root = c.root_nfs_fh3();
    let root_nlink = getattr(&mut c, &root).await?.nlink;

    let r = c
        .mkdir(&MKDIR3args {
            where_: dirop(&root, "d"),
            attributes: mode(0o750),
        })
        .await?
        .expect("MKDIR");
    let d = r.obj.unwrap();
    let da = r.obj_attributes.unwrap();
    assert_eq!(
        (da.type_, da.mode, da.nlink, da.uid),
        (ftype3::NF3DIR, 0o750, 2, ROOT)
    );
    assert!(r.dir_wcc.before.is_some());
    assert_eq!(
        r.dir_wcc.after.unwrap().nlink,
        root_nlink + 1,
        "the new '..' links the parent"
    );
    let r = c
        .mkdir(&MKDIR3args {
            where_: dirop(&root, "d"),
            attributes: mode(0o750),
        })
        .await?;
    assert_eq!(
        status(r, "MKDIR of an existing name"),
        nfsstat3::NFS3ERR_EXIST
    );

    let target = "../some/target";
    let r = c
        .symlink(&SYMLINK3args {
            where_: dirop(&d, "l"),
            symlink: symlinkdata3 {
                symlink_attributes: sattr3::default(),
                symlink_data: nfspath3(Opaque::borrowed(target.as_bytes())),
            },
        })
        .await?
        .expect("SYMLINK");
    let l = r.obj.unwrap();
    let la = r.obj_attributes.unwrap();
    assert_eq!(la.type_, ftype3::NF3LNK);
    assert_eq!(la.size, target.len() as u64);
    let rl = c
        .readlink(&READLINK3args { symlink: l.clone() })
        .await?
        .expect("READLINK");
    assert_eq!(rl.data.as_ref(), target.as_bytes());
    assert_eq!(rl.symlink_attributes.unwrap().fileid, la.fileid);

    let r = c
        .mknod(&MKNOD3args {
            where_: dirop(&d, "fifo"),
            what: mknoddata3::NF3FIFO(mode(0o620)),
        })
        .await?
        .expect("MKNOD fifo");
    let fa = r.obj_attributes.unwrap();
    assert_eq!((fa.type_, fa.mode, fa.size), (ftype3::NF3FIFO, 0o620, 0));
    let r = c
        .mknod(&MKNOD3args {
            where_: dirop(&d, "sock"),
            what: mknoddata3::NF3SOCK(mode(0o600)),
        })
        .await?
        .expect("MKNOD socket");
    assert_eq!(r.obj_attributes.unwrap().type_, ftype3::NF3SOCK);
    let null = specdata3 {
        specdata1: 1,
        specdata2: 3,
    };
    let r = c
        .mknod(&MKNOD3args {
            where_: dirop(&d, "null"),
            what: mknoddata3::NF3CHR(devicedata3 {
                dev_attributes: mode(0o666),
                spec: null.clone(),
            }),
        })
        .await?
        .expect("MKNOD char device as root");
    let na = r.obj_attributes.unwrap();
    assert_eq!(
        (na.type_, na.mode, na.rdev),
        (ftype3::NF3CHR, 0o666, null.clone())
    );
    assert_eq!(getattr(&mut c, &r.obj.unwrap()).await?.rdev, null);
    // Device nodes are root's business.
    c.setattr(&SETATTR3args {
        object: d.clone(),
        new_attributes: mode(0o777),
        guard: Nfs3Option::None,
    })
    .await?
    .expect("SETATTR d 0777");
    let mut user = s.mount(USER, USER).await?;
    let r = user
        .mknod(&MKNOD3args {
            where_: dirop(&d, "null2"),
            what: mknoddata3::NF3CHR(devicedata3 {
                dev_attributes: mode(0o666),
                spec: null.clone(),
            }),
        })
        .await?;
    assert_eq!(
        status(r, "MKNOD char device as a user"),
        nfsstat3::NFS3ERR_PERM
    );
    assert_eq!(
        lookup_status(&mut c, &d, "null2").await?,
        nfsstat3::NFS3ERR_NOENT
    );

    // RMDIR of a non-empty directory, REMOVE of a directory, RMDIR of a file.
    let r = c
        .rmdir(&RMDIR3args {
            object: dirop(&root, "d"),
        })
        .await?;
    assert_eq!(
        status(r, "RMDIR of a non-empty dir"),
        nfsstat3::NFS3ERR_NOTEMPTY
    );
    assert_eq!(lookup(&mut c, &root, "d").await?.1.fileid, da.fileid);
    let r = c
        .remove(&REMOVE3args {
            object: dirop(&root, "d"),
        })
        .await?;
    assert_eq!(status(r, "REMOVE of a directory"), nfsstat3::NFS3ERR_ISDIR);
    let r = c
        .rmdir(&RMDIR3args {
            object: dirop(&d, "fifo"),
        })
        .await?;
    assert_eq!(status(r, "RMDIR of a fifo"), nfsstat3::NFS3ERR_NOTDIR);
    for name in ["l", "fifo", "sock", "null"] {
        let ok = c
            .remove(&REMOVE3args {
                object: dirop(&d, name),
            })
            .await?
            .expect("REMOVE");
        assert!(ok.dir_wcc.after.is_some());
        assert_eq!(
            lookup_status(&mut c, &d, name).await?,
            nfsstat3::NFS3ERR_NOENT,
            "{name}"
        );
    }
    let ok = c
        .rmdir(&RMDIR3args {
            object: dirop(&root, "d"),
        })
        .await?
        .expect("RMDIR of the emptied dir");
    assert_eq!(ok.dir_wcc.after.unwrap().nlink, root_nlink);
    assert_eq!(
        lookup_status(&mut c, &root, "d").await?,
        nfsstat3::NFS3ERR_NOENT
    );

    // RENAME a -> b, then b over an existing c, then into another directory.
    let (a, aa) = create_file(&mut c, &root, "a", 0o644).await?;
    write(&mut c, &a, 0, b"AAA", stable_how::FILE_SYNC).await?;
    let ok = c
        .rename(&RENAME3args {
            from: dirop(&root, "a"),
            to: dirop(&root, "b"),
        })
        .await?
        .expect("RENAME");
    assert!(ok.fromdir_wcc.after.is_some() && ok.todir_wcc.after.is_some());
    assert_eq!(
        lookup_status(&mut c, &root, "a").await?,
        nfsstat3::NFS3ERR_NOENT
    );
    let (b, ba) = lookup(&mut c, &root, "b").await?;
    assert_eq!(ba.fileid, aa.fileid);
    assert_eq!(contents(&mut c, &b).await?, b"AAA");
    let (old_c, _) = create_file(&mut c, &root, "c", 0o644).await?;
    write(&mut c, &old_c, 0, b"old c", stable_how::FILE_SYNC).await?;
    c.rename(&RENAME3args {
        from: dirop(&root, "b"),
        to: dirop(&root, "c"),
    })
    .await?
    .expect("RENAME over an existing file");
    assert_eq!(
        lookup_status(&mut c, &root, "b").await?,
        nfsstat3::NFS3ERR_NOENT
    );
    let (cc, ca) = lookup(&mut c, &root, "c").await?;
    assert_eq!(ca.fileid, aa.fileid);
    assert_eq!(contents(&mut c, &cc).await?, b"AAA");
    let r = c
        .getattr(&GETATTR3args {
            object: old_c.clone(),
        })
        .await?;
    assert_eq!(
        status(r, "GETATTR of the replaced file"),
        nfsstat3::NFS3ERR_STALE
    );
    let (e, _) = mkdir(&mut c, &root, "e", 0o755).await?;
    c.rename(&RENAME3args {
        from: dirop(&root, "c"),
        to: dirop(&e, "moved"),
    })
    .await?
    .expect("RENAME across directories");
    assert_eq!(lookup(&mut c, &e, "moved").await?.1.fileid, aa.fileid);
    assert_eq!(
        lookup_status(&mut c, &root, "c").await?,
        nfsstat3::NFS3ERR_NOENT
    );

    // LINK: a second name, link counts up and down, content shared.
    let (o, oa) = create_file(&mut c, &root, "orig", 0o644).await?;
    write(&mut c, &o, 0, b"linked", stable_how::FILE_SYNC).await?;
    let ok = c
        .link(&LINK3args {
            file: o.clone(),
            link: dirop(&e, "hard"),
        })
        .await?
        .expect("LINK");
    assert_eq!(ok.file_attributes.unwrap().nlink, 2);
    assert!(ok.linkdir_wcc.after.is_some());
    assert_eq!(getattr(&mut c, &o).await?.nlink, 2);
    let (h, ha) = lookup(&mut c, &e, "hard").await?;
    assert_eq!((ha.fileid, ha.nlink), (oa.fileid, 2));
    let r = c
        .link(&LINK3args {
            file: o.clone(),
            link: dirop(&e, "hard"),
        })
        .await?;
    assert_eq!(
        status(r, "LINK to an existing name"),
        nfsstat3::NFS3ERR_EXIST
    );
    let r = c
        .link(&LINK3args {
            file: e.clone(),
            link: dirop(&root, "dirlink"),
        })
        .await?;
    assert_eq!(status(r, "LINK of a directory"), nfsstat3::NFS3ERR_ISDIR);
    remove(&mut c, &root, "orig").await?;
    assert_eq!(getattr(&mut c, &h).await?.nlink, 1);
    assert_eq!(
        getattr(&mut c, &o).await?.nlink,
        1,
        "the handle outlives one of its names"
    );
    assert_eq!(contents(&mut c, &h).await?, b"linked");

    s.stop().await
}

/// One entry as a listing saw it.
#[derive(Debug)]
struct Seen {
    fileid: u64,
    cookie: u64,
}

/// Goal: READDIR and READDIRPLUS page through 250 entries plus "." and ".." by cookie with a
/// small reply size: every name exactly once, the right file ids, many pages, eof only on the
/// last; READDIRPLUS also returns working handles and attributes. Too small a count gets
/// TOOSMALL, a foreign cookie verifier BAD_COOKIE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readdir_paging() -> anyhow::Result<()> {
    const FILES: usize = 250;
    let s = TestServer::start().await?;
    let mut c = s.mount(ROOT, ROOT).await?;
    let root = c.root_nfs_fh3();
    let root_id = getattr(&mut c, &root).await?.fileid;
    let (dir, dir_attr) = mkdir(&mut c, &root, "many", 0o755).await?;
    let mut expected = BTreeMap::from([
        (".".to_owned(), dir_attr.fileid),
        ("..".to_owned(), root_id),
    ]);
    for i in 0..FILES {
        let name = format!("file-{i:03}");
        let (_, a) = create_file(&mut c, &dir, &name, 0o644).await?;
        expected.insert(name, a.fileid);
    }

    // READDIR with 512-byte replies.
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let (mut cookie, mut verf, mut pages) = (0, cookieverf3::default(), 0);
    loop {
        let ok = c
            .readdir(&READDIR3args {
                dir: dir.clone(),
                cookie,
                cookieverf: verf,
                count: 512,
            })
            .await?
            .expect("READDIR");
        pages += 1;
        anyhow::ensure!(pages < 1000, "READDIR does not terminate");
        verf = ok.cookieverf;
        let entries = ok.reply.entries.into_inner();
        assert!(
            !entries.is_empty() || ok.reply.eof,
            "an empty page must be the last"
        );
        for e in entries {
            let name = String::from_utf8_lossy(e.name.as_ref()).into_owned();
            let prev = seen.insert(
                name.clone(),
                Seen {
                    fileid: e.fileid,
                    cookie: e.cookie,
                },
            );
            assert!(prev.is_none(), "READDIR repeated {name:?} (page {pages})");
            cookie = e.cookie;
        }
        if ok.reply.eof {
            break;
        }
    }
    assert!(
        pages >= 10,
        "512-byte pages over 252 entries: only {pages} pages"
    );
    let got: BTreeMap<String, u64> = seen.iter().map(|(n, s)| (n.clone(), s.fileid)).collect();
    assert_eq!(got, expected, "READDIR skipped or invented entries");
    let cookies: BTreeSet<u64> = seen.values().map(|s| s.cookie).collect();
    assert_eq!(cookies.len(), seen.len(), "cookies are unique");

    // READDIRPLUS with small dircount and maxcount.
    let mut seen_plus = BTreeMap::new();
    let (mut cookie, mut verf, mut pages) = (0, cookieverf3::default(), 0);
    loop {
        let ok = c
            .readdirplus(&READDIRPLUS3args {
                dir: dir.clone(),
                cookie,
                cookieverf: verf,
                dircount: 256,
                maxcount: 2048,
            })
            .await?
            .expect("READDIRPLUS");
        pages += 1;
        anyhow::ensure!(pages < 1000, "READDIRPLUS does not terminate");
        verf = ok.cookieverf;
        let entries = ok.reply.entries.into_inner();
        assert!(
            !entries.is_empty() || ok.reply.eof,
            "an empty page must be the last"
        );
        for e in entries {
            let name = String::from_utf8_lossy(e.name.as_ref()).into_owned();
            let attr = e.name_attributes.unwrap();
            let handle = e.name_handle.unwrap();
            assert_eq!(attr.fileid, e.fileid, "{name}");
            if name.starts_with("file-") {
                assert_eq!(
                    (attr.type_, attr.mode, attr.size),
                    (ftype3::NF3REG, 0o644, 0)
                );
            } else {
                assert_eq!(attr.type_, ftype3::NF3DIR, "{name}");
            }
            assert_eq!(getattr(&mut c, &handle).await?.fileid, e.fileid, "{name}");
            let prev = seen_plus.insert(name.clone(), e.fileid);
            assert!(
                prev.is_none(),
                "READDIRPLUS repeated {name:?} (page {pages})"
            );
            cookie = e.cookie;
        }
        if ok.reply.eof {
            break;
        }
    }
    assert!(
        pages >= 10,
        "2 KiB pages over 252 entries: only {pages} pages"
    );
    assert_eq!(
        seen_plus, expected,
        "READDIRPLUS skipped or invented entries"
    );

    // A reply too small for a single entry, and a cookie verifier we never handed out.
    let r = c
        .readdir(&READDIR3args {
            dir: dir.clone(),
            cookie: 0,
            cookieverf: cookieverf3::default(),
            count: 40,
        })
        .await?;
    assert_eq!(
        status(r, "READDIR with a tiny count"),
        nfsstat3::NFS3ERR_TOOSMALL
    );
    let mid = seen["file-100"].cookie;
    let r = c
        .readdir(&READDIR3args {
            dir: dir.clone(),
            cookie: mid,
            cookieverf: cookieverf3(*b"notours!"),
            count: 4096,
        })
        .await?;
    assert_eq!(
        status(r, "READDIR with a foreign verifier"),
        nfsstat3::NFS3ERR_BAD_COOKIE
    );
    // Resuming from the middle lists exactly the entries after it.
    let ok = c
        .readdir(&READDIR3args {
            dir: dir.clone(),
            cookie: mid,
            cookieverf: verf,
            count: 64 * 1024,
        })
        .await?
        .expect("READDIR from a middle cookie");
    assert!(ok.reply.eof);
    let rest: Vec<String> = ok
        .reply
        .entries
        .into_inner()
        .into_iter()
        .map(|e| String::from_utf8_lossy(e.name.as_ref()).into_owned())
        .collect();
    let mut after: Vec<(u64, &String)> = seen
        .iter()
        .filter(|(_, e)| e.cookie > mid)
        .map(|(n, e)| (e.cookie, n))
        .collect();
    after.sort();
    let want: Vec<String> = after.into_iter().map(|(_, n)| n.clone()).collect();
    assert_eq!(want.len(), FILES - 101, "creation order is cookie order");
    assert_eq!(rest, want);

    s.stop().await
}

/// Goal: the error statuses a client meets most: STALE for a removed file and a forged
/// handle, BADHANDLE for bytes that are not a handle, ACCES for a user touching another's 0600
/// file, PERM for chmod by a non-owner, NOTDIR and ISDIR for the wrong kind of object; and
/// none of the refused calls changed anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let mut c = s.mount(ROOT, ROOT).await?;
    let mut user = s.mount(USER, USER).await?;
    let root = c.root_nfs_fh3();

    // STALE: a handle whose file is gone, and a handle with a broken MAC.
    let (gone, _) = create_file(&mut c, &root, "gone", 0o644).await?;
    write(&mut c, &gone, 0, b"bye", stable_how::FILE_SYNC).await?;
    remove(&mut c, &root, "gone").await?;
    let r = c
        .getattr(&GETATTR3args {
            object: gone.clone(),
        })
        .await?;
    assert_eq!(
        status(r, "GETATTR of a removed file"),
        nfsstat3::NFS3ERR_STALE
    );
    let r = c
        .read(&READ3args {
            file: gone.clone(),
            offset: 0,
            count: 10,
        })
        .await?;
    assert_eq!(status(r, "READ of a removed file"), nfsstat3::NFS3ERR_STALE);
    let r = c
        .write(&WRITE3args {
            file: gone.clone(),
            offset: 0,
            count: 1,
            stable: stable_how::FILE_SYNC,
            data: Opaque::borrowed(b"x"),
        })
        .await?;
    assert_eq!(
        status(r, "WRITE to a removed file"),
        nfsstat3::NFS3ERR_STALE
    );
    let mut forged = root.data.to_vec();
    *forged.last_mut().context("handles are not empty")? ^= 0x01;
    let r = c
        .getattr(&GETATTR3args {
            object: fh(&forged),
        })
        .await?;
    assert_eq!(
        status(r, "GETATTR with a forged MAC"),
        nfsstat3::NFS3ERR_STALE
    );

    // BADHANDLE: bytes that are no handle of ours at all.
    for bytes in [&b""[..], &b"\x01\x02\x03\x04\x05"[..], &[0xff; 64][..]] {
        let r = c.getattr(&GETATTR3args { object: fh(bytes) }).await?;
        assert_eq!(
            status(r, "GETATTR of garbage"),
            nfsstat3::NFS3ERR_BADHANDLE,
            "{bytes:?}"
        );
    }
    let r = c
        .lookup(&LOOKUP3args {
            what: dirop(&fh(b"\x01\x02\x03\x04\x05"), "x"),
        })
        .await?;
    assert_eq!(status(r, "LOOKUP in garbage"), nfsstat3::NFS3ERR_BADHANDLE);

    // ACCES: USER may not read, write or chmod root's 0600 file, nor create in root's 0755 dir.
    let (secret, sa) = create_file(&mut c, &root, "secret", 0o600).await?;
    write(&mut c, &secret, 0, b"top secret", stable_how::FILE_SYNC).await?;
    let r = user
        .write(&WRITE3args {
            file: secret.clone(),
            offset: 0,
            count: 5,
            stable: stable_how::FILE_SYNC,
            data: Opaque::borrowed(b"owned"),
        })
        .await?;
    let (st, body) = fail(r, "WRITE by a non-owner");
    assert_eq!(st, nfsstat3::NFS3ERR_ACCES);
    assert_eq!(body.file_wcc.after.unwrap().size, 10);
    let r = user
        .read(&READ3args {
            file: secret.clone(),
            offset: 0,
            count: 10,
        })
        .await?;
    assert_eq!(status(r, "READ by a non-owner"), nfsstat3::NFS3ERR_ACCES);
    let r = user
        .setattr(&SETATTR3args {
            object: secret.clone(),
            new_attributes: mode(0o666),
            guard: Nfs3Option::None,
        })
        .await?;
    assert_eq!(status(r, "chmod by a non-owner"), nfsstat3::NFS3ERR_PERM);
    let r = create(&mut user, &root, "mine", createhow3::GUARDED(mode(0o644))).await?;
    assert_eq!(
        status(r, "CREATE in root's 0755 dir"),
        nfsstat3::NFS3ERR_ACCES
    );
    assert_eq!(
        lookup_status(&mut c, &root, "mine").await?,
        nfsstat3::NFS3ERR_NOENT
    );
    assert_eq!(contents(&mut c, &secret).await?, b"top secret");
    assert_eq!(getattr(&mut c, &secret).await?.mode, sa.mode);

    // NOTDIR: a file used as a directory.
    let r = c
        .lookup(&LOOKUP3args {
            what: dirop(&secret, "x"),
        })
        .await?;
    assert_eq!(status(r, "LOOKUP in a file"), nfsstat3::NFS3ERR_NOTDIR);
    let r = create(&mut c, &secret, "x", createhow3::UNCHECKED(mode(0o644))).await?;
    assert_eq!(status(r, "CREATE in a file"), nfsstat3::NFS3ERR_NOTDIR);
    let r = c
        .mkdir(&MKDIR3args {
            where_: dirop(&secret, "x"),
            attributes: mode(0o755),
        })
        .await?;
    assert_eq!(status(r, "MKDIR in a file"), nfsstat3::NFS3ERR_NOTDIR);
    let r = c
        .readdir(&READDIR3args {
            dir: secret.clone(),
            cookie: 0,
            cookieverf: cookieverf3::default(),
            count: 4096,
        })
        .await?;
    assert_eq!(status(r, "READDIR of a file"), nfsstat3::NFS3ERR_NOTDIR);

    // ISDIR: a directory used as a file.
    let r = c
        .read(&READ3args {
            file: root.clone(),
            offset: 0,
            count: 10,
        })
        .await?;
    assert_eq!(status(r, "READ of a directory"), nfsstat3::NFS3ERR_ISDIR);
    let r = c
        .write(&WRITE3args {
            file: root.clone(),
            offset: 0,
            count: 1,
            stable: stable_how::UNSTABLE,
            data: Opaque::borrowed(b"x"),
        })
        .await?;
    assert_eq!(status(r, "WRITE to a directory"), nfsstat3::NFS3ERR_ISDIR);
    let r = c
        .setattr(&SETATTR3args {
            object: root.clone(),
            new_attributes: sattr3 {
                size: Nfs3Option::Some(0),
                ..sattr3::default()
            },
            guard: Nfs3Option::None,
        })
        .await?;
    assert_eq!(
        status(r, "truncate of a directory"),
        nfsstat3::NFS3ERR_ISDIR
    );
    let r = c
        .readlink(&READLINK3args {
            symlink: secret.clone(),
        })
        .await?;
    assert_eq!(status(r, "READLINK of a file"), nfsstat3::NFS3ERR_INVAL);

    s.stop().await
}
