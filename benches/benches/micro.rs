//! Criterion micro-benchmarks of the server's hot paths, without a network:
//!
//! - `rpc`: what a connection does with a request and its reply: record-marking decode, ONC RPC
//!   call header and AUTH_SYS decode, argument decode; reply header and result encode. For
//!   READ (4 KiB and 1 MiB), WRITE (4 KiB and 1 MiB) and READDIRPLUS (100 entries).
//! - `handle`: file handle encode and verify (HMAC-SHA256/128), valid and forged.
//! - `meta/<backend>`: metadata store operations on the memory store and on RocksDB: create,
//!   lookup, getattr, record_write (the narrow size/mtime update of every flushed WRITE), a
//!   100-entry readdir page of a 1,000-entry directory, rename, and create + unlink.
//!
//! Run: `cargo bench -p benches --bench micro` (results in docs/BENCHMARKS.md).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actors::server::nfs::filehandle::{FileHandle, FileHandleCodec};
use actors::server::share::{Node, ShareId};
use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::nfs3::{
    Cookie3, Cookieverf3, Entryplus3, Fattr3, Ftype3, NfsFh3, NfsFh3Buf, Nfstime3, PostOpAttr,
    PostOpFh3, Read3Args, Read3Res, Read3ResOk, Readdirplus3Args, Readdirplus3Res,
    Readdirplus3ResOk, SpecData3, StableHow, WccData, Write3Args, Write3Res, Write3ResOk,
    Writeverf3,
};
use protocol::rpc::{
    self, AcceptStat, AuthFlavor, AuthSys, CallHeader, OpaqueAuth, RecordDecoder, Xid,
};
use protocol::wire::{Encode, decode_exact};
use protocol::xdr::Writer;
use stores::memory::MemoryMetadata;
use stores::rocksdb::RocksMetadata;
use stores::{
    Cookie, Device, FileKind, Generation, InodeId, MetadataStore, NewNode, StoreId, Timestamp,
};

const FH: [u8; 37] = [7; 37];

fn attrs(size: u64) -> Fattr3 {
    let t = Nfstime3 {
        seconds: 1_767_225_600,
        nseconds: 123_456_789,
    };
    Fattr3 {
        ftype: Ftype3::Reg,
        mode: 0o644,
        nlink: 1,
        uid: 1000,
        gid: 1000,
        size,
        used: size,
        rdev: SpecData3::default(),
        fsid: 1,
        fileid: 42,
        atime: t,
        mtime: t,
        ctime: t,
    }
}

/// A framed call: record header, call header with an AUTH_SYS credential, arguments.
fn framed_call(proc_: u32, args: &impl Encode) -> Vec<u8> {
    let cred = AuthSys {
        stamp: 1,
        machine_name: b"client.example".to_vec(),
        uid: 1000,
        gid: 1000,
        gids: vec![1000, 4, 24, 27],
    }
    .to_body();
    let mut w = Writer::new();
    CallHeader::new(
        Xid(7),
        protocol::nfs3::PROGRAM,
        3,
        proc_,
        OpaqueAuth {
            flavor: AuthFlavor::AUTH_SYS,
            body: &cred,
        },
    )
    .encode(&mut w);
    args.encode(&mut w);
    rpc::encode_record(&w.into_inner())
}

/// The server's receive path after framing: call header, credentials, decoded arguments.
fn receive<'a, T: protocol::wire::Decode<'a>>(record: &'a Bytes) -> T {
    let (call, args) = rpc::decode_call(record).expect("a valid call");
    black_box(rpc::Credentials::from_call(&call).expect("AUTH_SYS"));
    decode_exact::<T>(args, "args").expect("valid arguments")
}

fn deframe(framed: &[u8]) -> Bytes {
    let mut buf = BytesMut::from(framed);
    RecordDecoder::default()
        .decode(&mut buf)
        .expect("valid framing")
        .expect("a whole record")
}

/// A reply record: accepted header plus `result`.
fn reply(result: &impl Encode) -> Vec<u8> {
    let mut w = Writer::with_capacity(256);
    rpc::encode_accepted(&mut w, Xid(7), AcceptStat::SUCCESS);
    result.encode(&mut w);
    w.into_inner()
}

fn rpc_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("rpc");
    let fh = NfsFh3::new(&FH).expect("37 bytes fit");
    for size in [4usize << 10, 1 << 20] {
        let data = vec![0x5a; size];
        let write = framed_call(
            7,
            &Write3Args {
                file: fh,
                offset: 1 << 30,
                stable: StableHow::Unstable,
                data: &data,
            },
        );
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(
            BenchmarkId::new("write-call-decode", size),
            &write,
            |b, w| {
                b.iter(|| {
                    let record = deframe(w);
                    let args: Write3Args<'_> = receive(&record);
                    black_box(args.data.len())
                })
            },
        );
        let read_ok = Read3Res::Ok(Read3ResOk {
            file_attributes: PostOpAttr(Some(attrs(1 << 32))),
            eof: false,
            data: Bytes::from(data.clone()),
        });
        g.bench_with_input(
            BenchmarkId::new("read-reply-encode", size),
            &read_ok,
            |b, r| b.iter(|| black_box(rpc::encode_record(&reply(r)))),
        );
    }
    g.throughput(Throughput::Elements(1));
    let read = framed_call(
        6,
        &Read3Args {
            file: fh,
            offset: 1 << 30,
            count: 1 << 20,
        },
    );
    g.bench_function("read-call-decode", |b| {
        b.iter(|| {
            let record = deframe(&read);
            let args: Read3Args<'_> = receive(&record);
            black_box(args.count)
        })
    });
    let write_ok = Write3Res::Ok(Write3ResOk {
        file_wcc: WccData::default(),
        count: 1 << 20,
        committed: StableHow::Unstable,
        verf: Writeverf3([1; 8]),
    });
    g.bench_function("write-reply-encode", |b| {
        b.iter(|| black_box(rpc::encode_record(&reply(&write_ok))))
    });
    let rdp = framed_call(
        17,
        &Readdirplus3Args {
            dir: fh,
            cookie: Cookie3(0),
            cookieverf: Cookieverf3::default(),
            dircount: 8192,
            maxcount: 65536,
        },
    );
    g.bench_function("readdirplus-call-decode", |b| {
        b.iter(|| {
            let record = deframe(&rdp);
            let args: Readdirplus3Args<'_> = receive(&record);
            black_box(args.maxcount)
        })
    });
    let entries: Vec<Entryplus3> = (0..100u64)
        .map(|i| Entryplus3 {
            fileid: 1000 + i,
            name: format!("entry-with-a-longer-name-{i}").into_bytes(),
            cookie: Cookie3(i + 1),
            name_attributes: PostOpAttr(Some(attrs(i * 4096))),
            name_handle: PostOpFh3(Some(NfsFh3Buf::new(&FH).expect("fits"))),
        })
        .collect();
    let listing = Readdirplus3Res::Ok(Readdirplus3ResOk {
        dir_attributes: PostOpAttr(Some(attrs(4096))),
        cookieverf: Cookieverf3([3; 8]),
        entries,
        eof: true,
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("readdirplus-reply-encode-100", |b| {
        b.iter(|| black_box(rpc::encode_record(&reply(&listing))))
    });
    g.finish();
}

fn handle_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("handle");
    let codec = FileHandleCodec::new(&[9; 32]);
    let target = FileHandle {
        share: ShareId(0x1234_5678),
        node: Node {
            ino: InodeId(1 << 40),
            generation: Generation(3),
        },
    };
    let good = codec.encode(target);
    let mut forged = good;
    forged[20] ^= 1;
    g.bench_function("encode", |b| {
        b.iter(|| black_box(codec.encode(black_box(target))))
    });
    g.bench_function("verify", |b| {
        b.iter(|| black_box(codec.decode(black_box(&good)).expect("valid")))
    });
    g.bench_function("verify-forged", |b| {
        b.iter(|| black_box(codec.decode(black_box(&forged)).is_err()))
    });
    g.finish();
}

fn node(kind: FileKind) -> NewNode {
    NewNode {
        kind,
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        rdev: Device::default(),
        symlink_target: Vec::new(),
        now: Timestamp {
            secs: 1_767_225_600,
            nanos: 0,
        },
    }
}

fn meta_benches<M: MetadataStore>(c: &mut Criterion, backend: &str, store: Arc<M>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut g = c.benchmark_group(format!("meta/{backend}"));
    let root = rt
        .block_on(store.share_root("/bench", node(FileKind::Directory)))
        .expect("share root")
        .ino;
    let big = rt
        .block_on(store.create(root, b"big-dir", node(FileKind::Directory)))
        .expect("mkdir")
        .ino;
    for i in 0..1000 {
        rt.block_on(store.create(
            big,
            format!("entry-{i:04}").as_bytes(),
            node(FileKind::Regular),
        ))
        .expect("create");
    }
    let file = rt
        .block_on(store.create(root, b"file", node(FileKind::Regular)))
        .expect("create")
        .ino;
    let n = AtomicU64::new(0);
    g.bench_function("create", |b| {
        b.iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            rt.block_on(store.create(root, format!("c{i}").as_bytes(), node(FileKind::Regular)))
                .expect("create")
        })
    });
    g.bench_function("lookup", |b| {
        b.iter(|| {
            rt.block_on(store.lookup(big, b"entry-0500"))
                .expect("lookup")
        })
    });
    g.bench_function("getattr", |b| {
        b.iter(|| rt.block_on(store.getattr(file)).expect("getattr"))
    });
    let end = AtomicU64::new(0);
    g.bench_function("record_write", |b| {
        b.iter(|| {
            let e = end.fetch_add(4096, Ordering::Relaxed) + 4096;
            let now = Timestamp {
                secs: 1_767_225_600 + (e / 4096) as i64,
                nanos: 0,
            };
            rt.block_on(store.record_write(file, e, now, None))
                .expect("record_write")
        })
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("readdir-100", |b| {
        b.iter(|| {
            rt.block_on(store.readdir(big, Cookie(0), 100))
                .expect("readdir")
        })
    });
    g.throughput(Throughput::Elements(1));
    let flip = AtomicU64::new(0);
    g.bench_function("rename", |b| {
        b.iter(|| {
            let i = flip.fetch_add(1, Ordering::Relaxed);
            let (from, to): (&[u8], &[u8]) = if i.is_multiple_of(2) {
                (b"file", b"file2")
            } else {
                (b"file2", b"file")
            };
            rt.block_on(store.rename(root, from, root, to, node(FileKind::Regular).now))
                .expect("rename")
        })
    });
    g.bench_function("create+unlink", |b| {
        b.iter(|| {
            rt.block_on(store.create(root, b"tmp", node(FileKind::Regular)))
                .expect("create");
            rt.block_on(store.unlink(root, b"tmp", node(FileKind::Regular).now))
                .expect("unlink")
        })
    });
    g.finish();
}

fn store_benches(c: &mut Criterion) {
    meta_benches(c, "memory", Arc::new(MemoryMetadata::new(StoreId(1))));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rocks = RocksMetadata::open(dir.path()).expect("RocksDB opens");
    meta_benches(c, "rocksdb", Arc::new(rocks));
}

criterion_group!(benches, rpc_benches, handle_benches, store_benches);
criterion_main!(benches);
