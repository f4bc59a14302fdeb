//! A simulated client at work: a random mix of operations in its own directory and in a shared
//! one, each result checked against its [`DirModel`], recovery checks after every server crash,
//! and a final phase (after the faults stop) that commits and verifies everything.
//!
//! The checks, each failing the run with [`Error::Check`]:
//! - READ, GETATTR and listings agree with the model (a single writer per file and directory);
//! - after a crash: the directory is the state after a prefix of the changes made since the
//!   last acknowledged sync, every byte acknowledged by COMMIT or FILE_SYNC is there, a surviving
//!   file keeps its handle, and the handle of a file that did not survive is NFS3ERR_STALE;
//! - a handle never names another object ([`HandleRegistry`]), and the handle of a file
//!   replaced by RENAME is NFS3ERR_STALE;
//! - a non-idempotent call that was retransmitted (or answered JUKEBOX first) without a crash
//!   in between gets the first execution's reply: REMOVE never says NOENT, CREATE and MKDIR
//!   never say EXIST, RENAME never says NOENT for its own source;
//! - a listing paged by cookie repeats no name and skips none of the names that did not change
//!   while it ran.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use protocol::nfs3::{
    self, Commit3Args, Cookie3, Cookieverf3, Create3Args, CreateHow3, DirOpArgs3, Ftype3,
    Getattr3Args, Lookup3Args, Mkdir3Args, Nfs3Res, NfsFh3Buf, NfsStat3, Read3Args,
    Readdirplus3Args, Remove3Args, Rename3Args, Sattr3, Setattr3Args, StableHow, Write3Args,
};
use rand::seq::IndexedRandom;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use crate::Error;
use crate::board::{Board, JointRange, Published};
use crate::client::SimClient;
use crate::link::{Called, Link};
use crate::model::{DirModel, Entry, FileModel, HandleRegistry, Kind};
use crate::spec::Scenario;

/// Bytes per READ when a client reads a whole file back.
const READ_CHUNK: u32 = 32 * 1024;
/// READDIRPLUS `maxcount`: small, so listings take several pages.
const LIST_MAXCOUNT: u32 = 1024;
/// Attempts at an operation that keeps failing with an I/O error before the client gives up
/// on knowing the file's contents.
const IO_RETRIES: u32 = 20;
/// The file every client writes its own range of (`Mix::joint`), in the export's root.
const JOINT: &str = "joint";
/// Bytes of the joint file each client owns: client slots are disjoint, and not aligned to
/// anything, so neighbours share pages.
const JOINT_RANGE: u64 = 3000;

/// What a client did, for the run's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Operations run.
    pub ops: u64,
    /// Calls retransmitted (same xid).
    pub retransmits: u64,
    /// Calls answered NFS3ERR_JUKEBOX.
    pub jukeboxes: u64,
    /// Recoveries after a server crash.
    pub recoveries: u64,
    /// Times a COMMIT's verifier differed and writes were resent.
    pub resends: u64,
    /// Operations answered with an error the model allowed (faults).
    pub errors: u64,
    /// Simulated time the client finished at.
    pub finished_at: Duration,
}

/// One simulated client.
pub struct Worker {
    name: String,
    c: SimClient,
    link: Link,
    rng: ChaCha8Rng,
    spec: Rc<Scenario>,
    root: NfsFh3Buf,
    dir: NfsFh3Buf,
    shared: NfsFh3Buf,
    model: DirModel,
    /// Names this client created in the shared directory.
    shared_names: BTreeSet<String>,
    registry: HandleRegistry,
    seen_crashes: u64,
    /// The namespace change whose call spanned a crash: it may have run before the crash (and
    /// been lost or kept) or after the restart, on whatever state survived.
    inflight: Option<Effect>,
    next_name: u32,
    /// Files whose contents the client no longer knows (a write kept failing).
    poisoned: BTreeSet<u64>,
    /// Where committed files are published for other clients ([`crate::board`]).
    board: Option<Board>,
    /// The joint file's handle, once created or found.
    joint: Option<NfsFh3Buf>,
    stats: WorkerStats,
}

/// `Ok` when `ok`, else a check failure saying `what()`.
pub(crate) fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::Check(what()))
    }
}

fn now() -> Duration {
    turmoil::sim_elapsed().expect("inside the simulation")
}

fn name_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What one COMMIT told the client.
enum Commit {
    /// Every unstable write is durable (the verifier matched them all).
    Safe,
    /// The verifier differed: the unstable writes were resent.
    Resent,
    /// The COMMIT failed (an I/O error or no space): the writes are still unstable.
    Failed,
    /// The server crashed meanwhile: the recovery resends and checks.
    Crashed,
}

/// A listed entry: file id, handle and type.
type Listed = BTreeMap<String, (u64, Option<NfsFh3Buf>, Option<Ftype3>)>;

impl Worker {
    /// A client named `name` (its directory's name too) with the root handle of the export.
    pub fn new(
        name: String,
        c: SimClient,
        link: Link,
        rng: ChaCha8Rng,
        spec: Rc<Scenario>,
        root: NfsFh3Buf,
        registry: HandleRegistry,
    ) -> Self {
        let seen_crashes = link.ctl().crashes.get();
        Self {
            name,
            c,
            link,
            rng,
            spec,
            root,
            dir: root,
            shared: root,
            model: DirModel::default(),
            shared_names: BTreeSet::new(),
            registry,
            seen_crashes,
            inflight: None,
            next_name: 0,
            poisoned: BTreeSet::new(),
            board: None,
            joint: None,
            stats: WorkerStats::default(),
        }
    }

    /// Publishes committed files on `board` and reads others' from it (the `peek` operation).
    pub fn with_board(mut self, board: Board) -> Self {
        self.board = Some(board);
        self
    }

    /// Runs the client: set up, work until `fault_end`, then finish and verify everything.
    pub async fn run(mut self, fault_end: Duration) -> Result<WorkerStats, Error> {
        self.setup().await?;
        while now() < fault_end {
            let think = self.rng.random_range(0..100);
            tokio::time::sleep(Duration::from_millis(think)).await;
            self.recover_if_crashed().await?;
            self.step().await?;
            self.stats.ops += 1;
        }
        self.finish().await?;
        self.stats.finished_at = now();
        self.c.note(format_args!(
            "C   finished: {} ops, {} retransmissions, {} jukebox, {} recoveries, {} resends, {} errors",
            self.stats.ops,
            self.stats.retransmits,
            self.stats.jukeboxes,
            self.stats.recoveries,
            self.stats.resends,
            self.stats.errors
        ));
        Ok(self.stats)
    }

    async fn nfs(&mut self, call: &nfs3::Call<'_>) -> Result<Called<nfs3::Reply>, Error> {
        self.withdraw(call);
        let mut called = self.c.nfs3_link(&mut self.link, call).await?;
        // A crash this client has not yet recovered from, even one before the call was sent,
        // makes the model's expectations for this answer void.
        called.crashed |= self.link.ctl().crashes.get() != self.seen_crashes;
        self.stats.retransmits += u64::from(called.sends - 1);
        self.stats.jukeboxes += u64::from(called.jukeboxes);
        Ok(called)
    }

    /// Fails if a repeated non-idempotent call (retransmitted or after JUKEBOX, no crash in
    /// between) got `bad`, the answer only a second execution would give.
    fn once_only<T>(
        &self,
        called: &Called<T>,
        status: NfsStat3,
        bad: NfsStat3,
        op: &str,
    ) -> Result<(), Error> {
        let repeated = called.sends > 1 || called.jukeboxes > 0;
        check(!(repeated && !called.crashed && status == bad), || {
            format!(
                "{op} sent {} times ({} after JUKEBOX) without a crash got {bad}: it ran twice \
                 (the duplicate request cache must answer a retransmission)",
                called.sends, called.jukeboxes
            )
        })
    }

    /// Takes the files `call` may change off the board before it is sent.
    fn withdraw(&self, call: &nfs3::Call<'_>) {
        let Some(board) = &self.board else {
            return;
        };
        let names = |d: &DirOpArgs3<'_>| {
            let (dir, name) = (d.dir.as_bytes().to_vec(), name_of(d.name));
            move |p: &Published| p.dir.as_bytes() == dir.as_slice() && p.name == name
        };
        let mut board = board.borrow_mut();
        match call {
            nfs3::Call::Write(a) => {
                board.withdraw(&self.name, |p| p.fh.as_bytes() == a.file.as_bytes());
            }
            nfs3::Call::Setattr(a) => {
                board.withdraw(&self.name, |p| p.fh.as_bytes() == a.object.as_bytes());
            }
            nfs3::Call::Remove(a) => board.withdraw(&self.name, names(&a.object)),
            nfs3::Call::Rename(a) => {
                board.withdraw(&self.name, names(&a.from));
                board.withdraw(&self.name, names(&a.to));
            }
            _ => {}
        }
    }

    /// After a COMMIT made every byte of `id` durable: publishes it, if the client knows its
    /// contents and name exactly.
    fn publish(&self, id: u64) {
        let Some(board) = &self.board else {
            return;
        };
        let Some(f) = self.model.files.get(&id) else {
            return;
        };
        // The model's bytes are what READ must return; after a COMMIT of every unstable write
        // they are durable up to the whole length (holes included: zeros).
        let exact = f.unstable.is_empty() && f.min_len == f.data.len() as u64;
        if !exact
            || self.poisoned.contains(&id)
            || self.inflight.is_some()
            || self.link.ctl().crashes.get() != self.seen_crashes
        {
            return;
        }
        let Some(name) = self.name_of_file(id) else {
            return;
        };
        board.borrow_mut().publish(Published {
            owner: self.name.clone(),
            gateway: self.link.host().to_owned(),
            dir: self.dir,
            name,
            fh: f.fh,
            fileid: id,
            data: Rc::new(f.data.clone()),
            epoch: 0,
        });
    }

    /// Close-to-open: LOOKUP, GETATTR and READ a file another client committed (through
    /// another gateway if any did) and compare with what it committed. A check counts only if
    /// the owner sent no change of the file meanwhile (the entry is still the same publication
    /// when the reply comes).
    async fn op_peek(&mut self) -> Result<(), Error> {
        let Some(board) = self.board.clone() else {
            return Ok(());
        };
        let keys = board.borrow().candidates(&self.name, self.link.host());
        let Some(key) = keys.choose(&mut self.rng).cloned() else {
            return Ok(());
        };
        let p = board.borrow().get(&key).cloned().expect("a candidate");
        let here = self.link.host().to_owned();
        let what = |step: &str| {
            format!(
                "close-to-open: {step} of {}/{} (file id {}) through {here} after {} committed                  {} bytes through {}",
                p.owner,
                p.name,
                p.fileid,
                p.owner,
                p.data.len(),
                p.gateway
            )
        };
        let r = self
            .nfs(&nfs3::Call::Lookup(Lookup3Args {
                what: DirOpArgs3 {
                    dir: p.dir.as_fh(),
                    name: p.name.as_bytes(),
                },
            }))
            .await?;
        if !board.borrow().unchanged(&key, p.epoch) {
            return Ok(());
        }
        match r.value {
            nfs3::Reply::Lookup(Nfs3Res::Ok(ok)) => {
                let a = ok.obj_attributes.0;
                check(
                    ok.object == p.fh
                        && a.is_some_and(|a| a.fileid == p.fileid && a.size == p.data.len() as u64),
                    || format!("{}: found {:?} {a:?}", what("LOOKUP"), ok.object),
                )?;
            }
            other if other.status() == NfsStat3::IO => {
                self.stats.errors += 1;
                return Ok(());
            }
            other => {
                return Err(Error::Check(format!(
                    "{}: {}",
                    what("LOOKUP"),
                    other.status()
                )));
            }
        }
        let a = self.getattr(p.fh).await?;
        if !board.borrow().unchanged(&key, p.epoch) {
            return Ok(());
        }
        check(
            a.as_ref()
                .is_ok_and(|a| a.fileid == p.fileid && a.size == p.data.len() as u64),
            || format!("{}: {a:?}", what("GETATTR")),
        )?;
        let bytes = self.read_all(p.fh).await?;
        if !board.borrow().unchanged(&key, p.epoch) {
            return Ok(());
        }
        check(bytes.as_deref() == Some(p.data.as_slice()), || {
            let got = bytes.as_ref().map(|b| {
                let first = b.iter().zip(p.data.iter()).position(|(x, y)| x != y);
                format!("{} bytes, first difference at {first:?}", b.len())
            });
            format!("{}: READ gave {got:?}", what("READ"))
        })?;
        board.borrow_mut().checked += 1;
        self.c.note(format_args!(
            "C   close-to-open: {}/{} ({} bytes, committed through {}) read back through {here}",
            p.owner,
            p.name,
            p.data.len(),
            p.gateway
        ));
        Ok(())
    }

    /// The joint file: every client writes its own range with UNSTABLE WRITEs, COMMITs, and
    /// READs the whole file through its gateway. Every range committed (by this client or
    /// another, through any gateway) whose owner sent no WRITE of it meanwhile must read back
    /// as committed: with gateways on a versioned store, both gateways' flushes of the file
    /// race to record their version, and the loser must re-base and write again, never drop
    /// the winner's bytes or its own.
    async fn op_joint(&mut self) -> Result<(), Error> {
        let Some(board) = self.board.clone() else {
            return Ok(());
        };
        let fh = match self.joint {
            Some(fh) => fh,
            None => {
                let root = self.root;
                let r = self
                    .nfs(&nfs3::Call::Create(Create3Args {
                        where_: DirOpArgs3 {
                            dir: root.as_fh(),
                            name: JOINT.as_bytes(),
                        },
                        // UNCHECKED without a size: an existing file is left as it is.
                        how: CreateHow3::Unchecked(Sattr3 {
                            mode: Some(0o666),
                            ..Sattr3::default()
                        }),
                    }))
                    .await?;
                match r.value {
                    nfs3::Reply::Create(Nfs3Res::Ok(ok)) if ok.obj.0.is_some() => {
                        let fh = ok.obj.0.expect("checked");
                        if let Some(a) = ok.obj_attributes.0 {
                            self.registry.check(fh.as_bytes(), a.fileid, "CREATE")?;
                        }
                        self.joint = Some(fh);
                        fh
                    }
                    _ => {
                        self.stats.errors += 1;
                        return Ok(());
                    }
                }
            }
        };
        let offset = board.borrow_mut().joint_slot(&self.name) * JOINT_RANGE;
        let mut data = vec![0u8; JOINT_RANGE as usize];
        self.rng.fill_bytes(&mut data);
        board.borrow_mut().joint_withdraw(&self.name);
        let mut done = 0usize;
        let mut verfs = Vec::new();
        while done < data.len() {
            let r = self
                .nfs(&nfs3::Call::Write(Write3Args {
                    file: fh.as_fh(),
                    offset: offset + done as u64,
                    stable: StableHow::Unstable,
                    data: &data[done..],
                }))
                .await?;
            match r.value {
                nfs3::Reply::Write(Nfs3Res::Ok(ok)) if !r.crashed => {
                    let n = ok.count as usize;
                    check(n > 0 && n <= data.len() - done, || {
                        format!(
                            "joint WRITE of {} bytes acknowledged {n}",
                            data.len() - done
                        )
                    })?;
                    verfs.push(ok.verf.0);
                    done += n;
                }
                // A crash or an error: the range stays down until a later COMMIT covers it.
                _ => {
                    self.stats.errors += 1;
                    return Ok(());
                }
            }
        }
        let r = self
            .nfs(&nfs3::Call::Commit(Commit3Args {
                file: fh.as_fh(),
                offset: 0,
                count: 0,
            }))
            .await?;
        match r.value {
            nfs3::Reply::Commit(Nfs3Res::Ok(ok))
                if !r.crashed && verfs.iter().all(|v| *v == ok.verf.0) =>
            {
                board.borrow_mut().joint_publish(
                    &self.name,
                    JointRange {
                        gateway: self.link.host().to_owned(),
                        offset,
                        data: Rc::new(data),
                        epoch: 0,
                    },
                );
            }
            _ => {
                self.stats.errors += 1;
                return Ok(());
            }
        }
        let ranges = board.borrow().joint_ranges();
        let Some(bytes) = self.read_all(fh).await? else {
            return Err(Error::Check(format!("joint file {JOINT} is stale")));
        };
        let here = self.link.host().to_owned();
        let mut b = board.borrow_mut();
        let (mut others, mut across) = (0, 0);
        for (owner, r) in ranges {
            if !b.joint_unchanged(&owner, r.epoch) {
                continue;
            }
            let at = r.offset as usize;
            let got = bytes.get(at..at + r.data.len());
            check(got == Some(r.data.as_slice()), || {
                let first = got.map(|g| g.iter().zip(r.data.iter()).position(|(x, y)| x != y));
                format!(
                    "joint: {owner}'s committed range {at}..{} (through {}) read through {here} \
                     by {}: file has {} bytes, first difference at {first:?}: a lost write",
                    at + r.data.len(),
                    r.gateway,
                    self.name,
                    bytes.len()
                )
            })?;
            if owner != self.name {
                others += 1;
                across += u64::from(r.gateway != here);
            }
        }
        b.joint_checked += others;
        b.joint_across += across;
        drop(b);
        self.c.note(format_args!(
            "C   joint: {others} ranges of others ({across} committed through another gateway) \
             read back through {here}"
        ));
        Ok(())
    }

    fn fresh_name(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    // -----------------------------------------------------------------------------------------
    // Set-up, recovery, finish
    // -----------------------------------------------------------------------------------------

    /// Finds or makes the client's directory and the shared one, and makes both durable.
    async fn setup(&mut self) -> Result<(), Error> {
        let own = self.name.clone();
        self.dir = self.ensure_dir(self.root, &own).await?;
        self.shared = self.ensure_dir(self.root, "shared").await?;
        loop {
            let dir = self.dir;
            let r = self
                .nfs(&nfs3::Call::Commit(Commit3Args {
                    file: dir.as_fh(),
                    offset: 0,
                    count: 0,
                }))
                .await?;
            if r.value.status() == NfsStat3::OK && !r.crashed {
                break;
            }
            // A crash before the sync may have taken the directories: look again (nothing
            // else of this client's exists yet to check).
            self.seen_crashes = self.link.ctl().crashes.get();
            self.dir = self.ensure_dir(self.root, &own).await?;
            self.shared = self.ensure_dir(self.root, "shared").await?;
        }
        self.seen_crashes = self.link.ctl().crashes.get();
        self.model.synced();
        self.c
            .note("C   set up: own and shared directories durable");
        Ok(())
    }

    async fn lookup(
        &mut self,
        dir: NfsFh3Buf,
        name: &str,
    ) -> Result<Option<(NfsFh3Buf, u64, Ftype3)>, Error> {
        loop {
            let r = self
                .nfs(&nfs3::Call::Lookup(Lookup3Args {
                    what: DirOpArgs3 {
                        dir: dir.as_fh(),
                        name: name.as_bytes(),
                    },
                }))
                .await?;
            match r.value {
                nfs3::Reply::Lookup(Nfs3Res::Ok(ok)) => {
                    let a = ok.obj_attributes.0.ok_or_else(|| {
                        Error::Check(format!("LOOKUP {name} returned no attributes"))
                    })?;
                    self.registry
                        .check(ok.object.as_bytes(), a.fileid, "LOOKUP")?;
                    return Ok(Some((ok.object, a.fileid, a.ftype)));
                }
                nfs3::Reply::Lookup(Nfs3Res::Fail(NfsStat3::NOENT, _)) => return Ok(None),
                other if other.status() == NfsStat3::IO => {
                    self.stats.errors += 1;
                }
                other => {
                    return Err(Error::Check(format!(
                        "LOOKUP {name}: unexpected {}",
                        other.status()
                    )));
                }
            }
        }
    }

    async fn ensure_dir(&mut self, parent: NfsFh3Buf, name: &str) -> Result<NfsFh3Buf, Error> {
        loop {
            if let Some((fh, _, ftype)) = self.lookup(parent, name).await? {
                check(ftype == Ftype3::Dir, || {
                    format!("{name} is not a directory")
                })?;
                return Ok(fh);
            }
            let r = self
                .nfs(&nfs3::Call::Mkdir(Mkdir3Args {
                    where_: DirOpArgs3 {
                        dir: parent.as_fh(),
                        name: name.as_bytes(),
                    },
                    attributes: Sattr3 {
                        mode: Some(0o777),
                        ..Sattr3::default()
                    },
                }))
                .await?;
            if let nfs3::Reply::Mkdir(Nfs3Res::Ok(ok)) = r.value
                && let Some(fh) = ok.obj.0
            {
                return Ok(fh);
            }
            // EXIST (another client, or our own call done before a crash), a fault: look again.
        }
    }

    async fn recover_if_crashed(&mut self) -> Result<(), Error> {
        while self.link.ctl().crashes.get() != self.seen_crashes {
            self.seen_crashes = self.link.ctl().crashes.get();
            self.recover().await?;
        }
        Ok(())
    }

    /// After a server crash: checks what survived against what had to, then adopts it and
    /// resends unstable writes, as a client that saw the verifier change would.
    async fn recover(&mut self) -> Result<(), Error> {
        self.stats.recoveries += 1;
        self.c.note(format_args!(
            "C   server crashed (crash {}); checking what survived",
            self.seen_crashes
        ));
        let dir = self.dir;
        let Some(listed) = self.list(dir).await? else {
            return Err(Error::Check(
                "the client's directory, made durable at set-up, is gone after a crash".to_owned(),
            ));
        };
        if self.link.ctl().crashes.get() != self.seen_crashes {
            return Ok(()); // crashed again: the caller's loop starts over
        }
        let state: BTreeMap<String, u64> = listed.iter().map(|(n, e)| (n.clone(), e.0)).collect();
        let matches = |h: &BTreeMap<String, u64>| {
            h.len() == state.len()
                && h.iter()
                    .zip(&state)
                    .all(|((hn, &hid), (sn, &sid))| hn == sn && (hid == 0 || hid == sid))
        };
        // Kept until a recovery completes: a crash during this one starts it over, and the
        // in-flight change may still be what the store holds.
        let inflight = self.inflight.clone();
        // The states the store may really hold: the listing may show the in-flight change run
        // by the restarted server and not yet synced.
        let durable: Vec<BTreeMap<String, u64>> = self
            .model
            .history
            .iter()
            .filter(|h| {
                matches(h)
                    || inflight
                        .as_ref()
                        .and_then(|e| e.apply(h))
                        .is_some_and(|h| matches(&h))
            })
            .cloned()
            .collect();
        check(!durable.is_empty(), || {
            format!(
                "after the crash the directory holds {state:?}, which is no prefix of the \
                 changes since the last sync: {:?} (in flight: {inflight:?})",
                self.model.history
            )
        })?;

        // Handles: a survivor keeps its handle; a file that did not survive is STALE.
        let mut found: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (name, (fileid, fh, ftype)) in &listed {
            if let Some(e) = self.model.names.get(name)
                && e.fileid == *fileid
                && let Some(fh) = fh
            {
                check(fh == &e.fh, || {
                    format!("{name} has a new handle after the restart")
                })?;
            }
            if *ftype == Some(Ftype3::Reg) {
                found.insert(*fileid, Vec::new());
            }
        }
        let lost: Vec<(u64, NfsFh3Buf)> = self
            .model
            .files
            .iter()
            .filter(|(id, _)| !listed.values().any(|e| e.0 == **id))
            .map(|(id, f)| (*id, f.fh))
            .collect();
        for (id, fh) in lost {
            match self.getattr(fh).await? {
                Err(NfsStat3::STALE) => {}
                Err(s) => return Err(Error::Check(format!("GETATTR of lost file {id}: {s}"))),
                Ok(a) => {
                    // Linked elsewhere is impossible here: every file lives in this directory.
                    return Err(Error::Check(format!(
                        "file id {id} is not in its directory after the crash, yet its handle \
                         answers GETATTR (file id {})",
                        a.fileid
                    )));
                }
            }
        }

        // Bytes: everything acknowledged durable is there.
        for (name, (fileid, fh, ftype)) in &listed {
            if *ftype != Some(Ftype3::Reg) {
                continue;
            }
            let fh = match fh {
                Some(fh) => *fh,
                None => match self.lookup(dir, name).await? {
                    Some((fh, _, _)) => fh,
                    None => continue,
                },
            };
            let Some(bytes) = self.read_all(fh).await? else {
                continue;
            };
            if let Some(f) = self.model.files.get(fileid)
                && !self.poisoned.contains(fileid)
            {
                f.check_after_crash(name, &bytes)?;
            }
            found.insert(*fileid, bytes);
        }
        if self.link.ctl().crashes.get() != self.seen_crashes {
            return Ok(());
        }

        // Adopt what survived; resend what was written unstable since the last COMMIT.
        let old = std::mem::take(&mut self.model);
        for (name, (fileid, fh, ftype)) in listed {
            let Some(fh) = fh.or_else(|| old.names.get(&name).map(|e| e.fh)) else {
                continue;
            };
            let kind = if ftype == Some(Ftype3::Dir) {
                Kind::Dir
            } else {
                Kind::File
            };
            self.model.names.insert(name, Entry { fileid, fh, kind });
            if kind == Kind::File {
                let mut f = old
                    .files
                    .get(&fileid)
                    .cloned()
                    .unwrap_or_else(|| FileModel::new(fh, fileid));
                let view = std::mem::take(&mut f.data);
                let unstable = std::mem::take(&mut f.unstable);
                f.adopt(found.remove(&fileid).unwrap_or_default());
                self.model.files.insert(fileid, f);
                for (offset, len, _) in unstable {
                    let start = usize::try_from(offset).expect("small");
                    let end = (start + usize::try_from(len).expect("small")).min(view.len());
                    if start < end {
                        let bytes = view[start..end].to_vec();
                        self.write_range(fileid, offset, &bytes, StableHow::Unstable)
                            .await?;
                    }
                }
            }
        }
        // What the store holds durably is one of `durable`; the listing may add the in-flight
        // change, unsynced: all of them are what a further crash may leave.
        self.model.history = durable;
        self.model.remember();
        self.inflight = None;
        // The shared directory: keep the own names that survived.
        let shared = self.shared;
        if let Some(listed) = self.list(shared).await? {
            let prefix = format!("{}-", self.name);
            self.shared_names = listed
                .keys()
                .filter(|n| n.starts_with(&prefix))
                .cloned()
                .collect();
        }
        self.c.note(format_args!(
            "C   recovered: {} names, {} files checked",
            self.model.names.len(),
            self.model.files.len()
        ));
        Ok(())
    }

    /// After the faults stopped: commit every file and check everything against the model.
    async fn finish(&mut self) -> Result<(), Error> {
        self.recover_if_crashed().await?;
        let ids: Vec<u64> = self.model.files.keys().copied().collect();
        for id in &ids {
            self.commit(*id).await?;
        }
        self.recover_if_crashed().await?;
        let dir = self.dir;
        self.list_and_compare(dir).await?;
        for id in ids {
            if self.poisoned.contains(&id) {
                continue;
            }
            let Some(f) = self.model.files.get(&id) else {
                continue;
            };
            let fh = f.fh;
            let Some(bytes) = self.read_all(fh).await? else {
                return Err(Error::Check(format!("file id {id} vanished at the end")));
            };
            let f = &self.model.files[&id];
            check(bytes == f.data, || {
                format!(
                    "file id {id}: {} bytes read back at the end differ from the {} written",
                    bytes.len(),
                    f.data.len()
                )
            })?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Reading helpers
    // -----------------------------------------------------------------------------------------

    async fn getattr(&mut self, fh: NfsFh3Buf) -> Result<Result<nfs3::Fattr3, NfsStat3>, Error> {
        loop {
            let r = self
                .nfs(&nfs3::Call::Getattr(Getattr3Args { object: fh.as_fh() }))
                .await?;
            match r.value {
                nfs3::Reply::Getattr(Nfs3Res::Ok(ok)) => {
                    self.registry
                        .check(fh.as_bytes(), ok.obj_attributes.fileid, "GETATTR")?;
                    return Ok(Ok(ok.obj_attributes));
                }
                other if other.status() == NfsStat3::IO => self.stats.errors += 1,
                other => return Ok(Err(other.status())),
            }
        }
    }

    /// The whole file, or `None` if its handle is stale.
    async fn read_all(&mut self, fh: NfsFh3Buf) -> Result<Option<Vec<u8>>, Error> {
        let mut out = Vec::new();
        loop {
            let r = self
                .nfs(&nfs3::Call::Read(Read3Args {
                    file: fh.as_fh(),
                    offset: out.len() as u64,
                    count: READ_CHUNK,
                }))
                .await?;
            match r.value {
                nfs3::Reply::Read(Nfs3Res::Ok(ok)) => {
                    out.extend_from_slice(&ok.data);
                    if ok.eof {
                        return Ok(Some(out));
                    }
                    check(
                        !ok.data.is_empty()
                            || ok
                                .file_attributes
                                .0
                                .is_some_and(|a| a.size > out.len() as u64),
                        || "READ returned nothing before the end of the file".to_owned(),
                    )?;
                }
                nfs3::Reply::Read(Nfs3Res::Fail(NfsStat3::STALE, _)) => return Ok(None),
                other if other.status() == NfsStat3::IO => self.stats.errors += 1,
                other => {
                    return Err(Error::Check(format!("READ: unexpected {}", other.status())));
                }
            }
        }
    }

    /// Pages through `dir` by cookie; `None` if the handle is stale. Fails if a name repeats.
    async fn list(&mut self, dir: NfsFh3Buf) -> Result<Option<Listed>, Error> {
        'again: loop {
            let crashes = self.link.ctl().crashes.get();
            let mut out = Listed::new();
            let mut cookie = Cookie3(0);
            let mut verf = Cookieverf3::default();
            loop {
                let r = self
                    .nfs(&nfs3::Call::Readdirplus(Readdirplus3Args {
                        dir: dir.as_fh(),
                        cookie,
                        cookieverf: verf,
                        dircount: LIST_MAXCOUNT / 2,
                        maxcount: LIST_MAXCOUNT,
                    }))
                    .await?;
                match r.value {
                    nfs3::Reply::Readdirplus(Nfs3Res::Ok(ok)) => {
                        verf = ok.cookieverf;
                        for e in ok.entries {
                            cookie = e.cookie;
                            let name = name_of(&e.name);
                            if name == "." || name == ".." {
                                continue;
                            }
                            if let Some(fh) = &e.name_handle.0 {
                                self.registry
                                    .check(fh.as_bytes(), e.fileid, "READDIRPLUS")?;
                            }
                            let ftype = e.name_attributes.0.map(|a| a.ftype);
                            if out
                                .insert(name.clone(), (e.fileid, e.name_handle.0, ftype))
                                .is_some()
                            {
                                if self.link.ctl().crashes.get() != crashes {
                                    // Pages from two server lives: names re-made after the
                                    // crash got new cookies. Start again.
                                    continue 'again;
                                }
                                return Err(Error::Check(format!(
                                    "READDIRPLUS paged by cookie listed {name:?} twice"
                                )));
                            }
                        }
                        if ok.eof {
                            if self.link.ctl().crashes.get() != crashes {
                                continue 'again;
                            }
                            return Ok(Some(out));
                        }
                    }
                    nfs3::Reply::Readdirplus(Nfs3Res::Fail(NfsStat3::STALE, _)) => return Ok(None),
                    nfs3::Reply::Readdirplus(Nfs3Res::Fail(NfsStat3::BAD_COOKIE, _)) => {
                        // The server restarted and no longer knows the verifier: start over.
                        continue 'again;
                    }
                    other if other.status() == NfsStat3::IO => {
                        self.stats.errors += 1;
                    }
                    other => {
                        return Err(Error::Check(format!(
                            "READDIRPLUS: unexpected {}",
                            other.status()
                        )));
                    }
                }
            }
        }
    }

    /// Lists the own directory and compares names, file ids and handles with the model.
    async fn list_and_compare(&mut self, dir: NfsFh3Buf) -> Result<(), Error> {
        let Some(listed) = self.list(dir).await? else {
            return Err(Error::Check("the client's directory went stale".to_owned()));
        };
        if self.link.ctl().crashes.get() != self.seen_crashes {
            return Ok(()); // the recovery check covers it
        }
        let want: BTreeMap<&String, u64> = self
            .model
            .names
            .iter()
            .map(|(n, e)| (n, e.fileid))
            .collect();
        let got: BTreeMap<&String, u64> = listed.iter().map(|(n, e)| (n, e.0)).collect();
        check(want == got, || {
            format!("READDIRPLUS lists {got:?}, but the directory holds {want:?}")
        })?;
        for (name, (_, fh, _)) in &listed {
            if let Some(fh) = fh {
                check(*fh == self.model.names[name].fh, || {
                    format!("READDIRPLUS gives {name} another handle than CREATE did")
                })?;
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Operations
    // -----------------------------------------------------------------------------------------

    async fn step(&mut self) -> Result<(), Error> {
        let weights = self.spec.mix.weights();
        let total: u32 = weights.iter().sum();
        let mut roll = self.rng.random_range(0..total);
        let mut op = 0;
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                op = i;
                break;
            }
            roll -= w;
        }
        let file = self.pick_file();
        match (op, file) {
            (0, _) | (1..=5 | 7 | 8, None) => self.op_create().await,
            (1, Some(id)) => self.op_write(id).await,
            (2, Some(id)) => self.commit(id).await,
            (3, Some(id)) => self.op_read(id).await,
            (4, Some(id)) => self.op_remove(id).await,
            (5, Some(id)) => self.op_rename(id).await,
            (6, _) => self.op_mkdir().await,
            (7, Some(id)) => self.op_truncate(id).await,
            (8, Some(id)) => self.op_getattr(id).await,
            (9, _) => {
                let dir = self.dir;
                self.list_and_compare(dir).await
            }
            (11, _) => self.op_peek().await,
            (12, _) => self.op_joint().await,
            _ => self.op_shared().await,
        }
    }

    fn pick_file(&mut self) -> Option<u64> {
        let ids: Vec<u64> = self.model.files.keys().copied().collect();
        ids.choose(&mut self.rng).copied()
    }

    fn name_of_file(&self, id: u64) -> Option<String> {
        self.model
            .names
            .iter()
            .find(|(_, e)| e.fileid == id)
            .map(|(n, _)| n.clone())
    }

    /// After an unexpected answer for `name`: looks it up and makes the model agree.
    async fn resync(&mut self, name: &str) -> Result<(), Error> {
        let dir = self.dir;
        match self.lookup(dir, name).await? {
            Some((fh, fileid, ftype)) => {
                let kind = if ftype == Ftype3::Dir {
                    Kind::Dir
                } else {
                    Kind::File
                };
                self.model
                    .names
                    .insert(name.to_owned(), Entry { fileid, fh, kind });
                if kind == Kind::File && !self.model.files.contains_key(&fileid) {
                    self.model.files.insert(fileid, FileModel::new(fh, fileid));
                    // Its bytes are whatever the server has: learn them.
                    if let Some(bytes) = self.read_all(fh).await? {
                        let f = self.model.files.get_mut(&fileid).expect("just inserted");
                        f.data = bytes;
                        f.stable = vec![None; f.data.len()];
                    }
                }
            }
            None => {
                self.model.names.remove(name);
            }
        }
        self.model.forget_unnamed();
        self.model.remember();
        Ok(())
    }

    async fn op_create(&mut self) -> Result<(), Error> {
        let name = self.fresh_name("f");
        let mut candidate = self.model.state();
        candidate.insert(name.clone(), 0);
        self.model.history.push(candidate);
        let dir = self.dir;
        let r = self
            .nfs(&nfs3::Call::Create(Create3Args {
                where_: DirOpArgs3 {
                    dir: dir.as_fh(),
                    name: name.as_bytes(),
                },
                how: CreateHow3::Guarded(Sattr3 {
                    mode: Some(0o644),
                    ..Sattr3::default()
                }),
            }))
            .await?;
        let status = r.value.status();
        self.once_only(&r, status, NfsStat3::EXIST, "CREATE GUARDED")?;
        match r.value {
            nfs3::Reply::Create(Nfs3Res::Ok(ok)) if !r.crashed => {
                let (Some(fh), Some(a)) = (ok.obj.0, ok.obj_attributes.0) else {
                    self.model.history.pop();
                    return self.resync(&name).await;
                };
                self.registry.check(fh.as_bytes(), a.fileid, "CREATE")?;
                check(a.size == 0 && a.ftype == Ftype3::Reg, || {
                    format!("CREATE made {a:?}")
                })?;
                self.model.history.pop();
                self.model.names.insert(
                    name,
                    Entry {
                        fileid: a.fileid,
                        fh,
                        kind: Kind::File,
                    },
                );
                self.model
                    .files
                    .insert(a.fileid, FileModel::new(fh, a.fileid));
                self.model.remember();
                Ok(())
            }
            _ if r.crashed => {
                self.inflight = Some(Effect::Add(name));
                Ok(())
            }
            _ => {
                self.stats.errors += 1;
                self.model.history.pop();
                self.resync(&name).await
            }
        }
    }

    /// Writes `bytes` at `offset`, resending the rest after a short write and retrying after
    /// an I/O error; updates the model with what was acknowledged.
    async fn write_range(
        &mut self,
        id: u64,
        offset: u64,
        bytes: &[u8],
        how: StableHow,
    ) -> Result<(), Error> {
        let fh = self.model.files[&id].fh;
        let mut done = 0usize;
        let mut failures = 0;
        while done < bytes.len() {
            let at = offset + done as u64;
            let r = self
                .nfs(&nfs3::Call::Write(Write3Args {
                    file: fh.as_fh(),
                    offset: at,
                    stable: how,
                    data: &bytes[done..],
                }))
                .await?;
            match r.value {
                nfs3::Reply::Write(Nfs3Res::Ok(ok)) => {
                    let n = ok.count as usize;
                    check(n > 0 && n <= bytes.len() - done, || {
                        format!("WRITE of {} bytes acknowledged {n}", bytes.len() - done)
                    })?;
                    // A reply from the server's next life says nothing about what the crash
                    // kept of the namespace: only a reply without a crash in between is a
                    // sync point.
                    let durable = ok.committed != StableHow::Unstable && !r.crashed;
                    if let Some(a) = ok.file_wcc.after.0 {
                        self.registry.check(fh.as_bytes(), a.fileid, "WRITE")?;
                    }
                    let f = self
                        .model
                        .files
                        .get_mut(&id)
                        .expect("picked from the model");
                    f.wrote(at, &bytes[done..done + n], durable, ok.verf.0);
                    if ok.committed == StableHow::FileSync && !r.crashed {
                        f.min_len = f.min_len.max(at + n as u64);
                        // FILE_SYNC flushes the file and syncs the metadata store.
                        self.model.synced();
                    }
                    done += n;
                }
                nfs3::Reply::Write(Nfs3Res::Fail(NfsStat3::STALE, _)) if r.crashed => return Ok(()),
                other => {
                    self.stats.errors += 1;
                    failures += 1;
                    check(
                        matches!(
                            other.status(),
                            NfsStat3::IO | NfsStat3::NOSPC | NfsStat3::STALE
                        ),
                        || format!("WRITE: unexpected {}", other.status()),
                    )?;
                    if other.status() == NfsStat3::STALE || failures >= IO_RETRIES {
                        // Part of the range may be in the file: its contents are unknown now.
                        self.poisoned.insert(id);
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    async fn op_write(&mut self, id: u64) -> Result<(), Error> {
        let max = self.spec.write_max;
        let len = self.rng.random_range(1..=max);
        let offset = self.rng.random_range(0..=self.spec.file_max - len);
        let mut bytes = vec![0u8; usize::try_from(len).expect("small")];
        self.rng.fill_bytes(&mut bytes);
        let how = if self.rng.random_bool(0.3) {
            StableHow::FileSync
        } else {
            StableHow::Unstable
        };
        self.write_range(id, offset, &bytes, how).await
    }

    /// COMMIT; if the verifier differs from an unstable write's, resend them all and commit
    /// again.
    async fn commit(&mut self, id: u64) -> Result<(), Error> {
        for _ in 0..IO_RETRIES {
            match self.commit_once(id).await? {
                Commit::Safe | Commit::Crashed => return Ok(()),
                Commit::Resent | Commit::Failed => {}
            }
        }
        Ok(())
    }

    /// One COMMIT of `id`; resends the unstable writes when its verifier differs from one of
    /// theirs (the server lost them: a flush that failed for good, or a reboot).
    async fn commit_once(&mut self, id: u64) -> Result<Commit, Error> {
        let Some(f) = self.model.files.get(&id) else {
            return Ok(Commit::Safe);
        };
        let fh = f.fh;
        let r = self
            .nfs(&nfs3::Call::Commit(Commit3Args {
                file: fh.as_fh(),
                offset: 0,
                count: 0,
            }))
            .await?;
        if r.crashed {
            return Ok(Commit::Crashed); // recovery resends and checks
        }
        match r.value {
            nfs3::Reply::Commit(Nfs3Res::Ok(ok)) => {
                let f = self.model.files.get_mut(&id).expect("present above");
                if f.unstable.iter().all(|w| w.2 == ok.verf.0) {
                    f.committed();
                    self.model.synced();
                    self.publish(id);
                    return Ok(Commit::Safe);
                }
                self.stats.resends += 1;
                let writes = std::mem::take(&mut f.unstable);
                let view = f.data.clone();
                self.c.note(format_args!(
                    "C   COMMIT verifier changed: resending {} writes",
                    writes.len()
                ));
                for (offset, len, _) in writes {
                    let start = usize::try_from(offset).expect("small");
                    let end = (start + usize::try_from(len).expect("small")).min(view.len());
                    if start < end {
                        self.write_range(id, offset, &view[start..end], StableHow::Unstable)
                            .await?;
                    }
                }
                Ok(Commit::Resent)
            }
            nfs3::Reply::Commit(Nfs3Res::Fail(s, _)) => {
                self.stats.errors += 1;
                check(matches!(s, NfsStat3::IO | NfsStat3::NOSPC), || {
                    format!("COMMIT: unexpected {s}")
                })?;
                Ok(Commit::Failed)
            }
            other => Err(Error::Check(format!("COMMIT answered {other:?}"))),
        }
    }

    /// A READ or GETATTR of `id` disagreed with the model (`what`). The server may do that only
    /// after it dropped unstable writes (a flush that failed for good), and then it must have
    /// changed its write verifier: a COMMIT must answer a verifier other than the dropped
    /// writes', and the client resends them. A COMMIT whose verifier equals every unstable
    /// write's tells the client bytes are safe that the server does not have: that fails.
    async fn explain_by_dropped_writes(&mut self, id: u64, what: String) -> Result<(), Error> {
        self.c.note(format_args!(
            "C   {what}: asking COMMIT whether the server dropped unstable writes"
        ));
        for _ in 0..IO_RETRIES {
            match self.commit_once(id).await? {
                Commit::Resent | Commit::Crashed => return Ok(()),
                Commit::Safe => {
                    return Err(Error::Check(format!(
                        "{what}, yet COMMIT answered the verifier of every unstable write: the \
                         server says bytes are safe that it does not have"
                    )));
                }
                Commit::Failed => {}
            }
        }
        // COMMIT kept failing: the client no longer knows what the file holds.
        self.poisoned.insert(id);
        Ok(())
    }

    async fn op_read(&mut self, id: u64) -> Result<(), Error> {
        if self.poisoned.contains(&id) {
            return Ok(());
        }
        let f = &self.model.files[&id];
        let (fh, len) = (f.fh, f.data.len() as u64);
        let offset = self.rng.random_range(0..=len);
        let count = self.rng.random_range(1..=READ_CHUNK);
        let r = self
            .nfs(&nfs3::Call::Read(Read3Args {
                file: fh.as_fh(),
                offset,
                count,
            }))
            .await?;
        if r.crashed {
            return Ok(());
        }
        match r.value {
            nfs3::Reply::Read(Nfs3Res::Ok(ok)) => {
                let f = &self.model.files[&id];
                let start = usize::try_from(offset).expect("small");
                let n = ok.data.len();
                check(n <= count as usize && start + n <= f.data.len(), || {
                    format!("READ {offset}+{count} of a {len}-byte file returned {n} bytes")
                })?;
                let differs = if ok.data[..] != f.data[start..start + n] {
                    Some(format!(
                        "READ {offset}+{n} returned other bytes than were written"
                    ))
                } else if ok.eof && start + n != f.data.len() {
                    Some(format!("READ {offset}+{n} said eof in a {len}-byte file"))
                } else {
                    ok.file_attributes
                        .0
                        .filter(|a| a.size != len)
                        .map(|a| format!("READ: size {} but {len} written", a.size))
                };
                match differs {
                    Some(what) => self.explain_by_dropped_writes(id, what).await,
                    None => Ok(()),
                }
            }
            other => {
                self.stats.errors += 1;
                check(other.status() == NfsStat3::IO, || {
                    format!("READ: unexpected {}", other.status())
                })
            }
        }
    }

    async fn op_getattr(&mut self, id: u64) -> Result<(), Error> {
        let f = &self.model.files[&id];
        let (fh, len) = (f.fh, f.data.len() as u64);
        let r = self.getattr(fh).await?;
        if self.link.ctl().crashes.get() != self.seen_crashes || self.poisoned.contains(&id) {
            return Ok(());
        }
        match r {
            Ok(a) if a.fileid == id && a.ftype == Ftype3::Reg && a.size != len => {
                let what = format!("GETATTR: size {} but {len} written", a.size);
                self.explain_by_dropped_writes(id, what).await
            }
            Ok(a) => check(a.fileid == id && a.ftype == Ftype3::Reg, || {
                format!("GETATTR: {a:?}, expected file id {id} of {len} bytes")
            }),
            Err(s) => Err(Error::Check(format!("GETATTR of a live file: {s}"))),
        }
    }

    async fn op_remove(&mut self, id: u64) -> Result<(), Error> {
        let Some(name) = self.name_of_file(id) else {
            return Ok(());
        };
        self.unlink_name(name, false).await
    }

    /// REMOVE (`dir == false`) or RMDIR of `name` in the client's directory, checked against
    /// the model.
    async fn unlink_name(&mut self, name: String, dir: bool) -> Result<(), Error> {
        let mut candidate = self.model.state();
        candidate.remove(&name);
        self.model.history.push(candidate);
        let dir_fh = self.dir;
        let object = DirOpArgs3 {
            dir: dir_fh.as_fh(),
            name: name.as_bytes(),
        };
        let (call, what) = if dir {
            (nfs3::Call::Rmdir(nfs3::Rmdir3Args { object }), "RMDIR")
        } else {
            (nfs3::Call::Remove(Remove3Args { object }), "REMOVE")
        };
        let r = self.nfs(&call).await?;
        let status = r.value.status();
        self.once_only(&r, status, NfsStat3::NOENT, what)?;
        if r.crashed {
            self.inflight = Some(Effect::Remove(name));
            return Ok(());
        }
        self.model.history.pop();
        if status == NfsStat3::OK {
            self.model.names.remove(&name);
            self.model.forget_unnamed();
            self.model.remember();
            Ok(())
        } else {
            self.stats.errors += 1;
            self.resync(&name).await
        }
    }

    async fn op_rename(&mut self, id: u64) -> Result<(), Error> {
        let Some(from) = self.name_of_file(id) else {
            return Ok(());
        };
        let others: Vec<String> = self
            .model
            .names
            .iter()
            .filter(|(n, e)| **n != from && e.kind == Kind::File)
            .map(|(n, _)| n.clone())
            .collect();
        let to = match others.choose(&mut self.rng) {
            Some(t) if self.rng.random_bool(0.5) => t.clone(),
            _ => self.fresh_name("f"),
        };
        let replaced = self.model.names.get(&to).cloned();
        let mut candidate = self.model.state();
        let moved = candidate.remove(&from).expect("from is in the model");
        candidate.insert(to.clone(), moved);
        self.model.history.push(candidate);
        let dir = self.dir;
        let r = self
            .nfs(&nfs3::Call::Rename(Rename3Args {
                from: DirOpArgs3 {
                    dir: dir.as_fh(),
                    name: from.as_bytes(),
                },
                to: DirOpArgs3 {
                    dir: dir.as_fh(),
                    name: to.as_bytes(),
                },
            }))
            .await?;
        let status = r.value.status();
        self.once_only(&r, status, NfsStat3::NOENT, "RENAME")?;
        if r.crashed {
            self.inflight = Some(Effect::Rename(from, to));
            return Ok(());
        }
        self.model.history.pop();
        if status != NfsStat3::OK {
            self.stats.errors += 1;
            self.resync(&from).await?;
            return self.resync(&to).await;
        }
        let e = self.model.names.remove(&from).expect("present");
        self.model.names.insert(to.clone(), e);
        self.model.forget_unnamed();
        self.model.remember();
        if let Some(old) = replaced {
            // The replaced file had one link: its handle must be stale now, never the new file.
            let r = self.getattr(old.fh).await?;
            if self.link.ctl().crashes.get() == self.seen_crashes {
                check(r == Err(NfsStat3::STALE), || {
                    format!("the handle of {to}'s replaced file answers {r:?}, not NFS3ERR_STALE")
                })?;
            }
        }
        Ok(())
    }

    async fn op_mkdir(&mut self) -> Result<(), Error> {
        let existing: Vec<String> = self
            .model
            .names
            .iter()
            .filter(|(_, e)| e.kind == Kind::Dir)
            .map(|(n, _)| n.clone())
            .collect();
        if let Some(name) = existing.choose(&mut self.rng).cloned() {
            return self.unlink_name(name, true).await;
        }
        let dir = self.dir;
        let mut candidate = self.model.state();
        let name = self.fresh_name("d");
        candidate.insert(name.clone(), 0);
        self.model.history.push(candidate);
        let r = self
            .nfs(&nfs3::Call::Mkdir(Mkdir3Args {
                where_: DirOpArgs3 {
                    dir: dir.as_fh(),
                    name: name.as_bytes(),
                },
                attributes: Sattr3 {
                    mode: Some(0o755),
                    ..Sattr3::default()
                },
            }))
            .await?;
        let status = r.value.status();
        self.once_only(&r, status, NfsStat3::EXIST, "MKDIR")?;
        if r.crashed {
            self.inflight = Some(Effect::Add(name));
            return Ok(());
        }
        self.model.history.pop();
        match r.value {
            nfs3::Reply::Mkdir(Nfs3Res::Ok(ok))
                if ok.obj.0.is_some() && ok.obj_attributes.0.is_some() =>
            {
                let fh = ok.obj.0.expect("checked");
                let a = ok.obj_attributes.0.expect("checked");
                self.registry.check(fh.as_bytes(), a.fileid, "MKDIR")?;
                self.model.names.insert(
                    name,
                    Entry {
                        fileid: a.fileid,
                        fh,
                        kind: Kind::Dir,
                    },
                );
                self.model.remember();
                Ok(())
            }
            _ => {
                self.stats.errors += 1;
                self.resync(&name).await
            }
        }
    }

    async fn op_truncate(&mut self, id: u64) -> Result<(), Error> {
        let fh = self.model.files[&id].fh;
        let len = self.rng.random_range(0..=self.spec.file_max);
        let r = self
            .nfs(&nfs3::Call::Setattr(Setattr3Args {
                object: fh.as_fh(),
                new_attributes: Sattr3 {
                    size: Some(len),
                    ..Sattr3::default()
                },
                guard: None,
            }))
            .await?;
        if r.crashed {
            // Old or new length: the recovery adopts whichever survived.
            self.model
                .files
                .get_mut(&id)
                .expect("present")
                .maybe_truncated(len);
            return Ok(());
        }
        match r.value.status() {
            NfsStat3::OK => {
                self.model
                    .files
                    .get_mut(&id)
                    .expect("present")
                    .truncated(len);
                Ok(())
            }
            s => {
                self.stats.errors += 1;
                check(matches!(s, NfsStat3::IO | NfsStat3::NOSPC), || {
                    format!("SETATTR size: unexpected {s}")
                })?;
                self.poisoned.insert(id);
                Ok(())
            }
        }
    }

    async fn resync_shared(&mut self, name: &str) -> Result<(), Error> {
        let shared = self.shared;
        if self.lookup(shared, name).await?.is_some() {
            self.shared_names.insert(name.to_owned());
        } else {
            self.shared_names.remove(name);
        }
        Ok(())
    }

    async fn op_shared(&mut self) -> Result<(), Error> {
        let shared = self.shared;
        let mine: Vec<String> = self.shared_names.iter().cloned().collect();
        if let Some(name) = mine
            .choose(&mut self.rng)
            .cloned()
            .filter(|_| self.rng.random_bool(0.4))
        {
            let r = self
                .nfs(&nfs3::Call::Remove(Remove3Args {
                    object: DirOpArgs3 {
                        dir: shared.as_fh(),
                        name: name.as_bytes(),
                    },
                }))
                .await?;
            let status = r.value.status();
            self.once_only(&r, status, NfsStat3::NOENT, "REMOVE (shared)")?;
            if r.crashed {
                return Ok(()); // the recovery relists the shared directory
            }
            if status != NfsStat3::OK {
                self.stats.errors += 1;
                self.resync_shared(&name).await?;
            } else {
                self.shared_names.remove(&name);
            }
        } else {
            let n = self.fresh_name("");
            let name = format!("{}-{n}", self.name);
            let r = self
                .nfs(&nfs3::Call::Create(Create3Args {
                    where_: DirOpArgs3 {
                        dir: shared.as_fh(),
                        name: name.as_bytes(),
                    },
                    how: CreateHow3::Guarded(Sattr3::default()),
                }))
                .await?;
            let status = r.value.status();
            self.once_only(&r, status, NfsStat3::EXIST, "CREATE (shared)")?;
            if r.crashed {
                return Ok(());
            }
            if status == NfsStat3::OK {
                self.shared_names.insert(name);
            } else {
                self.stats.errors += 1;
                self.resync_shared(&name).await?;
            }
        }
        // Page through while other clients change the directory: our own names, unchanged
        // during the listing, appear exactly once; no name appears twice (checked in list).
        let Some(listed) = self.list(shared).await? else {
            return Err(Error::Check("the shared directory went stale".to_owned()));
        };
        if self.link.ctl().crashes.get() != self.seen_crashes {
            return Ok(());
        }
        let prefix = format!("{}-", self.name);
        let listed_mine: BTreeSet<String> = listed
            .keys()
            .filter(|n| n.starts_with(&prefix))
            .cloned()
            .collect();
        check(listed_mine == self.shared_names, || {
            format!(
                "paging the shared directory by cookie showed {listed_mine:?} of this client's \
                 names, which are {:?}",
                self.shared_names
            )
        })
    }
}

/// A namespace change, to replay on a state that survived a crash.
#[derive(Debug, Clone)]
enum Effect {
    /// A name was created (its file id unknown to the client).
    Add(String),
    /// A name was removed.
    Remove(String),
    /// A name was renamed (possibly over another).
    Rename(String, String),
}

impl Effect {
    /// The state after this change on `h`, if it applies there.
    fn apply(&self, h: &BTreeMap<String, u64>) -> Option<BTreeMap<String, u64>> {
        let mut h = h.clone();
        match self {
            Self::Add(n) => {
                h.insert(n.clone(), 0);
            }
            Self::Remove(n) => {
                h.remove(n)?;
            }
            Self::Rename(from, to) => {
                let id = h.remove(from)?;
                h.insert(to.clone(), id);
            }
        }
        Some(h)
    }
}

/// Shared handle numbering for all clients of a run.
pub type SharedNames = Rc<RefCell<crate::trace::HandleNames>>;
