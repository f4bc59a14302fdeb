//! The server-wide budget of unsent reply bytes: backpressure, never a failure.
//!
//! Goal: with `reply_bytes_max` far below one READ reply, concurrent READs on several
//! connections all complete with the right bytes: a reply that finds no room waits for the
//! others to be written (each charge above the budget takes all of it, one at a time) instead
//! of failing or deadlocking. The budget's accounting itself is unit-tested in
//! `server/nfs/rpc.rs`.
//!
//! Method: `serve()` on a loopback listener with memory stores and a 1 KiB reply budget; one
//! connection writes a 256 KiB file, then four connections (the `nfs3_client` crate, an NFSv3
//! client nobody here wrote) read it in 64 KiB pieces at once, under a time limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actors::runtime::{Env, RealClock};
use actors::server::{self, ServerConfig, ShareSpec, StoreSet};
use nfs3_client::Nfs3ConnectionBuilder;
use nfs3_client::nfs3_types::nfs3::{
    CREATE3args, Nfs3Option, Nfs3Result, READ3args, WRITE3args, createhow3, diropargs3, filename3,
    sattr3, stable_how,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::{TokioConnector, TokioIo};
use stores::StoreId;
use stores::memory::{MemoryContent, MemoryMetadata};
use tokio_util::sync::CancellationToken;

const FILE_LEN: usize = 256 << 10;
const PIECE: u32 = 64 << 10;

async fn mount(port: u16) -> nfs3_client::Nfs3Connection<TokioIo<tokio::net::TcpStream>> {
    Nfs3ConnectionBuilder::new(TokioConnector, "127.0.0.1", "/export")
        .portmapper_port(port)
        .connect_from_privileged_port(false)
        .credential(opaque_auth::auth_unix(&auth_unix {
            stamp: 1,
            machinename: Opaque::borrowed(b"reply-budget"),
            uid: 0,
            gid: 0,
            gids: Vec::new(),
        }))
        .mount()
        .await
        .expect("mount")
}

fn ok<T, E: std::fmt::Debug>(r: Nfs3Result<T, E>, what: &str) -> T {
    match r {
        Nfs3Result::Ok(v) => v,
        Nfs3Result::Err(e) => panic!("{what}: {e:?}"),
    }
}

/// Goal and method: see the module comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_reply_budget_slows_replies_but_never_fails_them() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let share = ShareSpec {
        name: "/export".to_owned(),
        metadata_store: "mem".to_owned(),
        content_store: "mem".to_owned(),
        read_only: false,
        root_mode: 0o777,
        root_uid: 0,
        root_gid: 0,
        nfs: server::nfs::export::NfsExport::default(),
        smb: Default::default(),
    };
    let mut config = ServerConfig::new(vec![share], [7; 32]);
    config.nfs_port = port;
    config.reply_bytes_max = 1024;
    let stores = StoreSet {
        metadata: BTreeMap::from([("mem".to_owned(), Arc::new(MemoryMetadata::new(StoreId(1))))]),
        content: BTreeMap::from([("mem".to_owned(), Arc::new(MemoryContent::new()))]),
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server::serve(
        Env::new(Arc::new(RealClock), 3),
        config,
        stores,
        server::Listeners {
            nfs: vec![listener],
            smb: Vec::new(),
        },
        shutdown.clone(),
    ));

    let data: Vec<u8> = (0..FILE_LEN).map(|i| (i % 251) as u8).collect();
    let mut writer = mount(port).await;
    let root = writer.root_nfs_fh3();
    let created = writer
        .nfs3_client
        .create(&CREATE3args {
            where_: diropargs3 {
                dir: root,
                name: filename3(Opaque::borrowed(b"f")),
            },
            how: createhow3::UNCHECKED(sattr3 {
                mode: Nfs3Option::Some(0o644),
                ..sattr3::default()
            }),
        })
        .await
        .expect("create");
    let file = ok(created, "CREATE").obj.unwrap();
    let wrote = writer
        .nfs3_client
        .write(&WRITE3args {
            file: file.clone(),
            offset: 0,
            count: FILE_LEN as u32,
            stable: stable_how::FILE_SYNC,
            data: Opaque::borrowed(&data),
        })
        .await
        .expect("write");
    assert_eq!(ok(wrote, "WRITE").count as usize, FILE_LEN);

    let readers = (0..4).map(|r| {
        let file = file.clone();
        let data = data.clone();
        tokio::spawn(async move {
            let mut c = mount(port).await;
            for piece in 0..(FILE_LEN as u32 / PIECE) {
                // Each reader starts at another piece so their replies overlap in time.
                let off = u64::from(((piece + r) % (FILE_LEN as u32 / PIECE)) * PIECE);
                let got = c
                    .nfs3_client
                    .read(&READ3args {
                        file: file.clone(),
                        offset: off,
                        count: PIECE,
                    })
                    .await
                    .expect("read");
                let got = ok(got, "READ");
                let at = usize::try_from(off).expect("fits");
                assert_eq!(&got.data[..], &data[at..at + PIECE as usize]);
            }
        })
    });
    let all = futures_join(readers.collect()).await;
    assert!(all, "every reader finished");
    drop(writer);
    shutdown.cancel();
    task.await.expect("join").expect("clean stop");
}

/// Awaits every task within a time limit; false on a timeout or a failed task.
async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) -> bool {
    tokio::time::timeout(Duration::from_secs(30), async {
        for t in tasks {
            t.await.expect("reader");
        }
    })
    .await
    .is_ok()
}
