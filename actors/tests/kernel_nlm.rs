//! End-to-end: fcntl and flock locks through the Linux kernel NFSv3 client mounted without
//! `nolock`, in the test VM (ci/vm), against the real `dittofs` binary (NLM v4 + NSM).
//!
//! The guest has no rpcbind or rpc.statd, which the kernel's lock manager needs; it runs
//! `dittofs-vm-statd` (this package's test tool) for both. QEMU's user networking decides
//! the rest (documented in `ci/vm/workloads/nlm.sh`): the kernel finds the server's lock
//! manager through port 111 of the server's address, so the guest mounts 10.0.2.100, whose
//! ports 111 and the NFS port QEMU forwards to the daemon; the daemon reaches the guest's
//! portmapper, statd and lockd through host forwards on ports 27111 to 27113. Callbacks
//! through a host forward reach the guest from 10.0.2.2, not from the address the guest
//! mounted, so the kernel refuses a GRANTED callback (it matches the server by address) and
//! a blocked F_SETLKW is granted when the kernel re-sends its LOCK (every 30 s); the server's
//! SM_NOTIFY after a restart is matched by statd's cookie and does reach lockd.

#![expect(
    clippy::disallowed_methods,
    reason = "a thread watches the VM console while run_vm blocks; this test never runs simulated"
)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Seek};
use std::time::Duration;

use bytes::BytesMut;
use protocol::nlm4::{self, NetObj, Nlm4Lock, Nlm4LockArgs, Nlm4Stat, Nlm4UnlockArgs};
use protocol::rpc::{self, CallHeader, OpaqueAuth, RecordDecoder, Xid};
use protocol::wire::{Encode, encode_to_vec};
use protocol::xdr::Writer;
use testkit::Daemon;
use testkit::vm::{repo, require, run_vm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The host end of the forward to the guest's portmapper (port 111).
const CLIENT_PORTMAP: u16 = 27_111;
/// The guest's status monitor, forwarded at the same port.
const STATD: u16 = 27_112;
/// The guest's lockd (`/proc/sys/fs/nfs/nlm_tcpport`), forwarded at the same port.
const LOCKD: u16 = 27_113;
/// The server's grace period after its restart, in seconds.
const GRACE: u64 = 5;

/// Goal: with a plain `mount -t nfs -o vers=3` (no `nolock`), a write lock makes F_SETLK fail
/// with EAGAIN in another process, F_GETLK reports the holder's range, flock fails with
/// EWOULDBLOCK, F_SETLKW waits until the holder exits and then succeeds, and locks vanish with
/// their holders; a lock held over NFS makes the same range's F_SETLK through the kernel cifs
/// client (same VM, same share over SMB 3.1.1) fail, and the reverse; a lock held across a
/// `kill -9` and restart of the server is reclaimed in the grace period (after the server's
/// SM_NOTIFY) and still excludes other processes.
/// Method: `ci/vm/workloads/nlm.sh` in the VM; a thread here watches the console for the
/// workload's restart marker and restarts the daemon.
#[test]
fn kernel_fcntl_locks_over_nlm() {
    require("qemu-system-x86_64");
    require("socat");
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
        "",
    );
    d.add_user("dittofs", 1000, 1000, "dittofs-test");
    let smb_port = d.smb_port.unwrap();
    d.launcher = vec![
        OsString::from("env"),
        OsString::from(format!(
            "DITTOFS_ADAPTERS__NFS__LOCKING__GRACE_PERIOD={GRACE}s"
        )),
        OsString::from(format!(
            "DITTOFS_ADAPTERS__NFS__LOCKING__CLIENT_PORTMAPPER_PORT={CLIENT_PORTMAP}"
        )),
    ];
    d.spawn();
    let port = d.port;
    let console = dir.path().join("console.log");
    std::fs::write(&console, "").unwrap();

    // Restart the daemon when the workload asks (it holds a lock then).
    let watch = console.clone();
    let mut other = OtherClient::new(port);
    let restarter = std::thread::spawn(move || {
        let mut f = std::fs::File::open(&watch).unwrap();
        let mut pos = 0;
        for _ in 0..6000 {
            std::thread::sleep(Duration::from_millis(100));
            f.seek(std::io::SeekFrom::Start(pos)).unwrap();
            let mut r = BufReader::new(&f);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if !line.ends_with('\n') {
                    break;
                }
                pos += line.len() as u64;
                if let Some(name) = line.trim().strip_prefix("NLM-HOST-LOCK ") {
                    other.lock(name, true);
                }
                if line.contains("NLM-HOST-UNLOCK") {
                    other.lock("", false);
                }
                if line.contains("NLM-RESTART-NOW") {
                    d.kill9();
                    d.spawn();
                    return (d, true);
                }
                if line.contains("DITTOFS-VM-EXIT") {
                    return (d, false);
                }
                line.clear();
            }
        }
        (d, false)
    });

    let net = format!(
        ",guestfwd=tcp:10.0.2.100:111-cmd:socat - TCP:127.0.0.1:{port}\
         ,guestfwd=tcp:10.0.2.100:{port}-cmd:socat - TCP:127.0.0.1:{port}\
         ,hostfwd=tcp:127.0.0.1:{CLIENT_PORTMAP}-:111\
         ,hostfwd=tcp:127.0.0.1:{STATD}-:{STATD}\
         ,hostfwd=tcp:127.0.0.1:{LOCKD}-:{LOCKD}"
    );
    let statd = std::path::Path::new(env!("CARGO_BIN_EXE_dittofs-vm-statd"));
    let perl = std::path::Path::new("/usr/bin/perl");
    let lockf = repo().join("ci/vm/workloads/lockf.pl");
    let workload = repo().join("ci/vm/workloads/nlm.sh");
    let env = [
        format!("PORT={port}"),
        format!("STATD_PORT={STATD}"),
        format!("LOCKD_PORT={LOCKD}"),
        format!("GRACE={GRACE}"),
        "RESTART=1".to_owned(),
        format!("SMB_PORT={smb_port}"),
        "SMB_USER=dittofs".to_owned(),
        "SMB_PASS=dittofs-test".to_owned(),
    ];
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--net".as_ref(),
        net.as_ref(),
        "--bin".as_ref(),
        statd.as_os_str(),
        "--bin".as_ref(),
        perl.as_os_str(),
        "--file".as_ref(),
        lockf.as_os_str(),
        workload.as_os_str(),
    ];
    args.extend(env.iter().map(|e| std::ffi::OsStr::new(e.as_str())));
    let (status, stdout) = run_vm(dir.path(), &args);
    let (mut d, restarted) = restarter.join().unwrap();
    assert_eq!(
        status,
        Some(0),
        "the NLM workload failed; console above, server log:\n{}",
        d.stderr_tail()
    );
    assert!(restarted, "the workload never asked for the restart");
    assert!(
        stdout.contains("NLM-SERVER-BLOCKED-WAIT locked after"),
        "the F_SETLKW blocked by the other client never ended"
    );
    assert!(
        stdout.contains("NFS-SMB-LOCKS-EXCLUDE"),
        "the workload skipped the kernel NFS vs kernel cifs lock check"
    );
    assert!(
        stdout.contains("all NLM kernel-client checks passed"),
        "the workload exited 0 without reaching its end"
    );
    let log = d.log();
    let nlm_lines: Vec<&str> = log.lines().filter(|l| l.contains("nfs::nlm")).collect();
    println!("the server's lock manager log:\n{}", nlm_lines.join("\n"));
    assert!(
        log.contains("SM_NOTIFY sent"),
        "the restarted server did not notify the client:\n{log}"
    );
    assert_eq!(d.terminate(), Some(0), "graceful shutdown must exit 0");
}

/// Another NFS client, on the host: takes and releases an exclusive NLM lock on `[0, 50)` of a
/// file in the export's root, through the `protocol` codecs, when the workload asks.
struct OtherClient {
    port: u16,
    rt: tokio::runtime::Runtime,
    fh: Vec<u8>,
}

impl OtherClient {
    fn new(port: u16) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the other client");
        Self {
            port,
            rt,
            fh: Vec::new(),
        }
    }

    /// LOCK (`take`, on file `name`) or UNLOCK the range; panics unless the server grants it.
    fn lock(&mut self, name: &str, take: bool) {
        let port = self.port;
        if take {
            self.fh = self.rt.block_on(async {
                let mut m = testkit::nfs::mount("127.0.0.1", port, "/export", 0, 0)
                    .await
                    .expect("the other client mounts");
                let root = m.root_nfs_fh3();
                let f = testkit::nfs::lookup(&mut m, &root, name)
                    .await
                    .expect("the workload's file");
                f.data.0.to_vec()
            });
        }
        let alock = Nlm4Lock {
            caller_name: b"otherhost",
            fh: NetObj(&self.fh),
            oh: NetObj(b"1@otherhost"),
            svid: 1,
            l_offset: 0,
            l_len: 50,
        };
        let cookie = NetObj(b"o");
        let call = if take {
            nlm4::Call::Lock(Nlm4LockArgs {
                cookie,
                block: false,
                exclusive: true,
                alock,
                reclaim: false,
                state: 1,
            })
        } else {
            nlm4::Call::Unlock(Nlm4UnlockArgs { cookie, alock })
        };
        let p = call.proc_();
        let args = encode_to_vec(&call);
        let body = self.rt.block_on(async move {
            let mut w = Writer::new();
            CallHeader::new(
                Xid(9),
                nlm4::PROGRAM,
                nlm4::VERSION,
                p.as_u32(),
                OpaqueAuth::NONE,
            )
            .encode(&mut w);
            w.raw(&args);
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connecting to the daemon");
            s.write_all(&rpc::encode_record(w.as_slice()))
                .await
                .expect("sending");
            let mut dec = RecordDecoder::new();
            let mut buf = BytesMut::new();
            loop {
                if let Some(rec) = dec.decode(&mut buf).expect("record marking") {
                    return rpc::decode_reply(&rec).expect("an RPC reply").body.to_vec();
                }
                assert_ne!(
                    s.read_buf(&mut buf).await.expect("reading"),
                    0,
                    "daemon closed"
                );
            }
        });
        match nlm4::decode_reply(p, &body) {
            Ok(nlm4::Reply::Res(r)) => {
                assert_eq!(r.stat, Nlm4Stat::GRANTED, "the other client's {}", p.name())
            }
            other => panic!("the other client's {}: {other:?}", p.name()),
        }
    }
}
