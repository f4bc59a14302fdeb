//! SMB protocol-trace snapshots: the simulator's SMB client against the production server,
//! one line per message (encrypted messages rendered after decryption, marked `enc`), pinned
//! with insta like the NFS traces in `traces.rs`. Each test also asserts its outcome.

use protocol::smb2::create::CreateDisposition;
use protocol::smb2::status::NtStatus;
use sim::script::{SmbScriptSetup, run_smb_script};
use sim::smb_client::{ALICE_PASSWORD, MALLORY_PASSWORD, SmbClient};
use sim::{Error, Trace};

const SEED: u64 = 0x5b0;
const SMB311: &[u16] = &[0x0210, 0x0300, 0x0302, 0x0311];

fn run<F>(setup: SmbScriptSetup, script: F) -> Trace
where
    F: AsyncFnOnce(&mut SmbClient) -> Result<(), Error> + 'static,
{
    run_smb_script(SEED, setup, script).unwrap_or_else(|e| panic!("script failed: {e}"))
}

fn expect(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::Check(what.to_owned()))
    }
}

fn up<T>(r: Result<T, sim::smb_client::Lost>) -> Result<T, Error> {
    r.map_err(|l| Error::Check(format!("connection lost: {}", l.0)))
}

async fn login(c: &mut SmbClient, user: &str, password: &str) -> Result<NtStatus, Error> {
    up(c.login(SMB311, user, password, "export").await?)
}

/// Goal: the handshake: NEGOTIATE 3.1.1 (preauth, cipher and signing contexts), SPNEGO/NTLMv2
/// SESSION_SETUP in two legs with a signed final response, TREE_CONNECT.
#[test]
fn negotiate_session_setup_tree_connect() {
    let trace = run(SmbScriptSetup::default(), async |c| {
        expect(
            login(c, "alice", ALICE_PASSWORD).await? == NtStatus::SUCCESS,
            "login",
        )
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: CREATE, WRITE, FLUSH, CLOSE, then a new open reads the bytes back.
#[test]
fn create_write_flush_close() {
    let trace = run(SmbScriptSetup::default(), async |c| {
        expect(
            login(c, "alice", ALICE_PASSWORD).await? == NtStatus::SUCCESS,
            "login",
        )?;
        let (st, o) = up(c
            .create("hello.txt", CreateDisposition::CREATE, false, false)
            .await?)?;
        expect(st == NtStatus::SUCCESS, "CREATE")?;
        let fid = o
            .map(|o| o.file_id)
            .ok_or_else(|| Error::Check("no open".into()))?;
        let (st, n) = up(c.write(fid, 0, b"hello, smb\n", false).await?)?;
        expect(st == NtStatus::SUCCESS && n == 11, "WRITE")?;
        expect(up(c.flush(fid).await?)? == NtStatus::SUCCESS, "FLUSH")?;
        expect(up(c.close(fid).await?)? == NtStatus::SUCCESS, "CLOSE")?;
        let (st, o) = up(c
            .create("hello.txt", CreateDisposition::OPEN, false, false)
            .await?)?;
        expect(st == NtStatus::SUCCESS, "reopen")?;
        let o = o.ok_or_else(|| Error::Check("no open".into()))?;
        expect(o.size == 11, "size")?;
        let (st, data) = up(c.read(o.file_id, 0, 4096).await?)?;
        expect(st == NtStatus::SUCCESS && data == b"hello, smb\n", "READ")?;
        expect(up(c.close(o.file_id).await?)? == NtStatus::SUCCESS, "CLOSE")
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: QUERY_DIRECTORY with a small output buffer pages through 12 files: every name once,
/// then STATUS_NO_MORE_FILES.
#[test]
fn query_directory_paging() {
    let trace = run(SmbScriptSetup::default(), async |c| {
        expect(
            login(c, "alice", ALICE_PASSWORD).await? == NtStatus::SUCCESS,
            "login",
        )?;
        let (st, d) = up(c
            .create("many", CreateDisposition::CREATE, true, false)
            .await?)?;
        expect(st == NtStatus::SUCCESS, "mkdir")?;
        let d = d.ok_or_else(|| Error::Check("no open".into()))?;
        for i in 0..12 {
            let (st, o) = up(c
                .create(
                    &format!("many\\f{i:02}"),
                    CreateDisposition::CREATE,
                    false,
                    false,
                )
                .await?)?;
            expect(st == NtStatus::SUCCESS, "create")?;
            let o = o.ok_or_else(|| Error::Check("no open".into()))?;
            up(c.close(o.file_id).await?)?;
        }
        let mut seen = Vec::new();
        let mut first = true;
        loop {
            let (st, entries) = up(c.query_directory(d.file_id, first, 400).await?)?;
            first = false;
            if st == NtStatus::NO_MORE_FILES {
                break;
            }
            expect(st == NtStatus::SUCCESS && !entries.is_empty(), "a page")?;
            seen.extend(entries.into_iter().map(|e| e.name));
        }
        let mut want: Vec<String> = [".", ".."].iter().map(|s| (*s).to_owned()).collect();
        want.extend((0..12).map(|i| format!("f{i:02}")));
        seen.sort();
        want.sort();
        expect(seen == want, "every entry exactly once")?;
        expect(up(c.close(d.file_id).await?)? == NtStatus::SUCCESS, "CLOSE")
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: a wrong password fails the second SESSION_SETUP leg with STATUS_LOGON_FAILURE.
#[test]
fn wrong_password() {
    let trace = run(SmbScriptSetup::default(), async |c| {
        let st = login(c, "alice", "not-the-password").await?;
        expect(st == NtStatus::LOGON_FAILURE, "LOGON_FAILURE")
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: a user whose permission on the share is `none` logs in but TREE_CONNECT answers
/// STATUS_ACCESS_DENIED.
#[test]
fn access_denied() {
    let trace = run(SmbScriptSetup::default(), async |c| {
        let st = login(c, "mallory", MALLORY_PASSWORD).await?;
        expect(st == NtStatus::ACCESS_DENIED, "ACCESS_DENIED")
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: with encryption required, the session is encrypted (SESSION_SETUP says
/// ENCRYPT_DATA) and every later message travels in a transform frame; the trace shows the
/// messages after decryption.
#[test]
fn encrypted_session() {
    let setup = SmbScriptSetup {
        encryption: actors::server::Encryption::Required,
    };
    let trace = run(setup, async |c| {
        expect(
            login(c, "alice", ALICE_PASSWORD).await? == NtStatus::SUCCESS,
            "login",
        )?;
        let (st, o) = up(c
            .create("secret.bin", CreateDisposition::CREATE, false, false)
            .await?)?;
        expect(st == NtStatus::SUCCESS, "CREATE")?;
        let fid = o
            .map(|o| o.file_id)
            .ok_or_else(|| Error::Check("no open".into()))?;
        let (st, _) = up(c.write(fid, 0, &[7u8; 3000], true).await?)?;
        expect(st == NtStatus::SUCCESS, "WRITE")?;
        let (st, data) = up(c.read(fid, 0, 4096).await?)?;
        expect(st == NtStatus::SUCCESS && data == [7u8; 3000], "READ")?;
        expect(up(c.close(fid).await?)? == NtStatus::SUCCESS, "CLOSE")
    });
    let text = trace.readable();
    assert!(text.contains(" enc"), "no encrypted message in the trace");
    insta::assert_snapshot!(text);
}
