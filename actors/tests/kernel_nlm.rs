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

use testkit::Daemon;
use testkit::vm::{repo, require, run_vm};

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
/// their holders; a lock held across a `kill -9` and restart of the server is reclaimed in the
/// grace period (after the server's SM_NOTIFY) and still excludes other processes.
/// Method: `ci/vm/workloads/nlm.sh` in the VM; a thread here watches the console for the
/// workload's restart marker and restarts the daemon.
#[test]
fn kernel_fcntl_locks_over_nlm() {
    require("qemu-system-x86_64");
    require("socat");
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(env!("CARGO_BIN_EXE_dittofs"), dir.path());
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
        stdout.contains("all NLM kernel-client checks passed"),
        "the workload exited 0 without reaching its end"
    );
    let log = d.log();
    assert!(
        log.contains("SM_NOTIFY sent"),
        "the restarted server did not notify the client:\n{log}"
    );
    assert_eq!(d.terminate(), Some(0), "graceful shutdown must exit 0");
}
