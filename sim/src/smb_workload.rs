//! What a simulated SMB client does during a run, and what it checks, beside the NFS
//! [`crate::workload::Worker`]s on the same share.
//!
//! Each SMB client logs in as `alice` (a dialect set drawn from its seed), owns a directory
//! `sN` with up to four files it writes, flushes and reads, and a directory `sN\many` of
//! [`MANY`] empty files it enumerates with a small output buffer. A call that gets no answer
//! (partition, reset, crash) loses the connection: the client reconnects, sets up a new
//! session and reopens every file by path, and checks it:
//!
//! - **Durability**: every byte acknowledged by FLUSH or by a write-through WRITE (and not
//!   written since) is there, and the file is at least as long as flushed, across crashes.
//! - **Same object**: a file reopened by path is the object the client created (the on-disk
//!   file id from QFid), once its creation was flushed or while the server did not crash.
//! - **Reads**: while the server stays up, READ returns exactly the acknowledged bytes
//!   (bytes of writes whose outcome is unknown excepted).
//! - **Enumeration**: QUERY_DIRECTORY paged with a small buffer over `many` (which nothing
//!   changes) returns each entry exactly once: every name if no crash happened since the
//!   names were made durable... which the set-up flushes by a FLUSH of one of them.

use std::rc::Rc;
use std::time::Duration;

use protocol::smb2::create::CreateDisposition;
use protocol::smb2::fileid::FileId;
use protocol::smb2::status::NtStatus;
use rand::{Rng, RngCore};

use crate::Error;
use crate::smb_client::{ALICE_PASSWORD, Lost, SmbClient, pick_dialects};
use crate::spec::Scenario;
use crate::workload::{WorkerStats, check};

/// Entries in each client's `many` directory.
pub const MANY: usize = 24;
/// Files per client.
const FILES: usize = 4;

/// Simulated time since the start (zero outside the simulation).
pub(crate) fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// Statuses a store fault may cause (the stores answer busy or fail with an I/O error, a
/// flush refused for good answers "disk full").
pub(crate) fn transient(st: NtStatus) -> bool {
    st == NtStatus::DEVICE_NOT_READY || st == NtStatus::IO_DEVICE_ERROR || st == NtStatus::DISK_FULL
}

#[derive(Debug, Default)]
struct FileModel {
    path: String,
    /// The handle on the current session.
    fid: Option<FileId>,
    /// The on-disk id the file had when created (QFid).
    disk_id: u64,
    /// Whether the creation was made durable by a FLUSH.
    durable_created: bool,
    /// The acknowledged bytes.
    content: Vec<u8>,
    /// Per byte: the value a crash cannot take away.
    durable: Vec<Option<u8>>,
    /// Bytes of writes whose outcome is unknown (since the last check).
    unknown: Vec<(usize, usize)>,
    /// A FLUSH answered STATUS_LOST_WRITEBEHIND_DATA: unflushed bytes may be gone.
    lost_writes: bool,
}

impl FileModel {
    fn is_unknown(&self, i: usize) -> bool {
        self.unknown.iter().any(|&(a, b)| (a..b).contains(&i))
    }

    fn durable_len(&self) -> usize {
        self.durable
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1)
    }

    fn forget(&mut self, a: usize, b: usize) {
        if self.durable.len() < b {
            self.durable.resize(b, None);
        }
        self.durable[a..b].fill(None);
    }
}

/// One simulated SMB client.
pub struct SmbWorker {
    name: String,
    c: SmbClient,
    spec: Rc<Scenario>,
    dialects: &'static [u16],
    files: Vec<FileModel>,
    many_ready: bool,
    many_crashes: u64,
    seen_crashes: u64,
    /// A new session whose files are not all reopened and checked yet.
    recovering: bool,
    /// Buggify is on: a flush refused for good may drop unflushed bytes while the server is
    /// up, and SMB has no signal for it before the next FLUSH (which must report it).
    lenient: bool,
    stats: WorkerStats,
}

impl std::fmt::Debug for SmbWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbWorker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn lost<T>(r: Result<T, Lost>) -> Option<T> {
    r.ok()
}

impl SmbWorker {
    /// A worker named `name` (`s1`, ...) using `c`.
    pub fn new(name: String, mut c: SmbClient, spec: Rc<Scenario>) -> Self {
        let dialects = pick_dialects(c.rng());
        let buggify = spec.buggify;
        Self {
            name,
            c,
            spec,
            dialects,
            files: Vec::new(),
            many_ready: false,
            many_crashes: 0,
            seen_crashes: 0,
            recovering: false,
            lenient: buggify,
            stats: WorkerStats::default(),
        }
    }

    fn crashes(&self) -> u64 {
        self.c.ctl().crashes.get()
    }

    /// Works until `fault_end`, then finishes: reconnects if needed, checks and flushes
    /// every file, reads everything back and enumerates `many`.
    pub async fn run(mut self, fault_end: Duration) -> Result<WorkerStats, Error> {
        self.seen_crashes = self.crashes();
        while now() < fault_end {
            let think = self.c.rng().random_range(0..100);
            tokio::time::sleep(Duration::from_millis(think)).await;
            if !self.c.connected() || self.recovering {
                self.reconnect().await?;
                continue;
            }
            self.step().await?;
            self.stats.ops += 1;
        }
        self.finish().await?;
        self.stats.finished_at = now();
        self.c.note(format_args!(
            "C   finished: {} ops, {} recoveries, {} errors",
            self.stats.ops, self.stats.recoveries, self.stats.errors
        ));
        Ok(self.stats)
    }

    async fn finish(&mut self) -> Result<(), Error> {
        loop {
            if !self.c.connected() || self.recovering {
                self.reconnect().await?;
                continue;
            }
            let mut ok = true;
            for i in 0..self.files.len() {
                if self.files[i].fid.is_none() {
                    continue;
                }
                if !self.flush(i).await? || !self.read_all_and_compare(i).await? {
                    ok = false;
                    break;
                }
            }
            if ok && self.list_many().await? {
                return Ok(());
            }
            if self.c.connected() {
                // A store error while the faults were stopping: try again.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Logs in (retrying until it works), makes the directories and reopens and checks every
    /// file.
    async fn reconnect(&mut self) -> Result<(), Error> {
        if !self.c.connected() {
            self.recovering = true;
            for f in &mut self.files {
                f.fid = None;
            }
        }
        while !self.c.connected() {
            match self
                .c
                .login(self.dialects, "alice", ALICE_PASSWORD, "export")
                .await?
            {
                Ok(NtStatus::SUCCESS) => {}
                Ok(st) => return Err(Error::Check(format!("login failed: {st}"))),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        let own = self.name.clone();
        let Some(ok) = self.ensure_dir(&own).await? else {
            return Ok(());
        };
        if !ok {
            return Ok(());
        }
        if !self.many_ready {
            let Some(ok) = self.make_many().await? else {
                return Ok(());
            };
            if !ok {
                return Ok(());
            }
        }
        let crashed = self.crashes() != self.seen_crashes;
        for i in 0..self.files.len() {
            let Some(ok) = self.reopen(i, crashed).await? else {
                return Ok(());
            };
            if !ok {
                return Ok(());
            }
        }
        self.seen_crashes = self.crashes();
        self.recovering = false;
        self.stats.recoveries += 1;
        self.c.note(format_args!(
            "C   session up; {} files reopened and checked{}",
            self.files.len(),
            if crashed { " after a crash" } else { "" }
        ));
        Ok(())
    }

    /// `None`: the connection was lost; `Some(false)`: a store fault.
    async fn ensure_dir(&mut self, path: &str) -> Result<Option<bool>, Error> {
        let Some((st, o)) = lost(
            self.c
                .create(path, CreateDisposition::OPEN_IF, true, false)
                .await?,
        ) else {
            return Ok(None);
        };
        if transient(st) {
            self.stats.errors += 1;
            return Ok(Some(false));
        }
        check(st == NtStatus::SUCCESS, || {
            format!("CREATE dir {path}: {st}")
        })?;
        if let Some(o) = o
            && lost(self.c.close(o.file_id).await?).is_none()
        {
            return Ok(None);
        }
        Ok(Some(true))
    }

    async fn make_many(&mut self) -> Result<Option<bool>, Error> {
        let dir = format!("{}\\many", self.name);
        match self.ensure_dir(&dir).await? {
            Some(true) => {}
            other => return Ok(other),
        }
        let mut last = None;
        for i in 0..MANY {
            let path = format!("{dir}\\e{i:02}");
            let Some((st, o)) = lost(
                self.c
                    .create(&path, CreateDisposition::OPEN_IF, false, false)
                    .await?,
            ) else {
                return Ok(None);
            };
            if transient(st) {
                self.stats.errors += 1;
                return Ok(Some(false));
            }
            check(st == NtStatus::SUCCESS, || format!("CREATE {path}: {st}"))?;
            let o = o.ok_or_else(|| Error::Check("CREATE without an open".into()))?;
            if let Some(prev) = last.replace(o.file_id)
                && lost(self.c.close(prev).await?).is_none()
            {
                return Ok(None);
            }
        }
        let Some(fid) = last else {
            return Ok(Some(false));
        };
        // FLUSH of the last entry syncs the metadata: every name is durable.
        let Some(st) = lost(self.c.flush(fid).await?) else {
            return Ok(None);
        };
        if st != NtStatus::SUCCESS {
            check(transient(st), || format!("FLUSH {dir}: {st}"))?;
            self.stats.errors += 1;
            return Ok(Some(false));
        }
        if lost(self.c.close(fid).await?).is_none() {
            return Ok(None);
        }
        self.many_ready = true;
        self.many_crashes = self.crashes();
        Ok(Some(true))
    }

    /// Reopens file `i` by path on the new session and checks what survived.
    async fn reopen(&mut self, i: usize, crashed: bool) -> Result<Option<bool>, Error> {
        let path = self.files[i].path.clone();
        self.files[i].fid = None;
        let Some((st, o)) = lost(
            self.c
                .create(&path, CreateDisposition::OPEN, false, false)
                .await?,
        ) else {
            return Ok(None);
        };
        if transient(st) {
            self.stats.errors += 1;
            return Ok(Some(false));
        }
        let f = &self.files[i];
        if st == NtStatus::OBJECT_NAME_NOT_FOUND {
            check(crashed && !f.durable_created, || {
                format!(
                    "{path} is gone after a reconnect ({}; its creation {} flushed)",
                    if crashed {
                        "the server crashed"
                    } else {
                        "no crash"
                    },
                    if f.durable_created { "was" } else { "was not" }
                )
            })?;
            self.c.note(format_args!(
                "C   {path}: creation lost in the crash; making it again"
            ));
            let Some((st, o)) = lost(
                self.c
                    .create(&path, CreateDisposition::OPEN_IF, false, false)
                    .await?,
            ) else {
                return Ok(None);
            };
            if transient(st) {
                self.stats.errors += 1;
                return Ok(Some(false));
            }
            check(st == NtStatus::SUCCESS, || format!("CREATE {path}: {st}"))?;
            let o = o.ok_or_else(|| Error::Check("CREATE without an open".into()))?;
            let f = &mut self.files[i];
            *f = FileModel {
                path,
                fid: Some(o.file_id),
                disk_id: o.disk_id,
                content: vec![0; o.size as usize],
                durable: Vec::new(),
                ..FileModel::default()
            };
            return Ok(Some(true));
        }
        check(st == NtStatus::SUCCESS, || format!("reopen {path}: {st}"))?;
        let o = o.ok_or_else(|| Error::Check("CREATE without an open".into()))?;
        if f.durable_created || !crashed {
            check(o.disk_id == f.disk_id, || {
                format!(
                    "{path} reopened by path is another object: disk id {} (created as {})",
                    o.disk_id, f.disk_id
                )
            })?;
        }
        self.files[i].fid = Some(o.file_id);
        self.files[i].disk_id = o.disk_id;
        let Some(data) = self.read_whole(i, o.size).await? else {
            return Ok(None);
        };
        let Some(data) = data else {
            return Ok(Some(false));
        };
        let f = &mut self.files[i];
        // Durability: what FLUSH or a write-through WRITE acknowledged is there.
        let dl = f.durable_len();
        check(data.len() >= dl, || {
            format!(
                "{path}: {} bytes after a reconnect, {dl} were flushed",
                data.len()
            )
        })?;
        for (j, d) in f.durable.iter().enumerate() {
            if let Some(b) = d {
                check(data[j] == *b, || {
                    format!(
                        "{path}: byte {j} is {:#04x}, {b:#04x} was flushed{}",
                        data[j],
                        if crashed { " (after a crash)" } else { "" }
                    )
                })?;
            }
        }
        if !crashed && !self.lenient && !f.lost_writes {
            // Nothing was lost: every acknowledged byte is there.
            if f.unknown.is_empty() {
                check(data.len() == f.content.len(), || {
                    format!(
                        "{path}: {} bytes after a reconnect without a crash, {} acknowledged",
                        data.len(),
                        f.content.len()
                    )
                })?;
            }
            for (j, b) in f.content.iter().enumerate() {
                if j < data.len() && !f.is_unknown(j) {
                    check(data[j] == *b, || {
                        format!(
                            "{path}: byte {j} is {:#04x}, {b:#04x} was acknowledged (no crash)",
                            data[j]
                        )
                    })?;
                }
            }
        }
        f.content = data;
        f.unknown.clear();
        f.lost_writes = false;
        Ok(Some(true))
    }

    /// Reads file `i` from 0 to `size`. `None`: lost; `Some(None)`: a store fault.
    async fn read_whole(&mut self, i: usize, size: u64) -> Result<Option<Option<Vec<u8>>>, Error> {
        let fid = self.files[i]
            .fid
            .ok_or_else(|| Error::Check("no open".into()))?;
        let mut data = Vec::new();
        while (data.len() as u64) < size {
            let want = (size - data.len() as u64).min(65_536) as u32;
            let Some((st, d)) = lost(self.c.read(fid, data.len() as u64, want).await?) else {
                return Ok(None);
            };
            if transient(st) {
                self.stats.errors += 1;
                return Ok(Some(None));
            }
            check(st == NtStatus::SUCCESS, || {
                format!("READ {} at {}: {st}", self.files[i].path, data.len())
            })?;
            check(!d.is_empty(), || {
                format!("READ {}: no bytes before EOF", self.files[i].path)
            })?;
            data.extend_from_slice(&d);
        }
        Ok(Some(Some(data)))
    }

    async fn step(&mut self) -> Result<(), Error> {
        let open: Vec<usize> = (0..self.files.len())
            .filter(|&i| self.files[i].fid.is_some())
            .collect();
        let roll = self.c.rng().random_range(0..13);
        if open.is_empty() || (roll == 0 && self.files.len() < FILES) {
            if self.files.len() < FILES {
                return self.create().await;
            }
            return Ok(());
        }
        let i = open[self.c.rng().random_range(0..open.len())];
        match roll {
            0..=6 => self.write(i).await,
            7..=8 => self.flush(i).await.map(drop),
            9..=11 => self.read(i).await,
            _ => self.list_many().await.map(drop),
        }
    }

    async fn create(&mut self) -> Result<(), Error> {
        let path = format!("{}\\f{}", self.name, self.files.len());
        let through = self.c.rng().random_range(0..4) == 0;
        let r = self
            .c
            .create(&path, CreateDisposition::OPEN_IF, false, through)
            .await?;
        let Some((st, o)) = lost(r) else {
            return Ok(());
        };
        if transient(st) {
            self.stats.errors += 1;
            return Ok(());
        }
        check(st == NtStatus::SUCCESS, || format!("CREATE {path}: {st}"))?;
        let o = o.ok_or_else(|| Error::Check("CREATE without an open".into()))?;
        self.files.push(FileModel {
            path,
            fid: Some(o.file_id),
            disk_id: o.disk_id,
            content: vec![0; o.size as usize],
            ..FileModel::default()
        });
        Ok(())
    }

    async fn write(&mut self, i: usize) -> Result<(), Error> {
        let (file_max, write_max) = (self.spec.file_max as usize, self.spec.write_max as usize);
        let len = self.c.rng().random_range(1..=write_max.min(file_max));
        let end_max = (self.files[i].content.len() + 8192).min(file_max);
        let offset = self.c.rng().random_range(0..=end_max.saturating_sub(len));
        let mut data = vec![0u8; len];
        self.c.rng().fill_bytes(&mut data);
        let through = self.c.rng().random_range(0..4) == 0;
        let fid = self.files[i]
            .fid
            .ok_or_else(|| Error::Check("no open".into()))?;
        self.files[i].forget(offset, offset + len);
        let r = self.c.write(fid, offset as u64, &data, through).await?;
        let f = &mut self.files[i];
        let Some((st, n)) = lost(r) else {
            f.unknown.push((offset, offset + len));
            return Ok(());
        };
        if transient(st) {
            self.stats.errors += 1;
            f.unknown.push((offset, offset + len));
            return Ok(());
        }
        check(st == NtStatus::SUCCESS && n as usize == len, || {
            format!("WRITE {} {offset}+{len}: {st} count={n}", f.path)
        })?;
        if f.content.len() < offset + len {
            f.content.resize(offset + len, 0);
        }
        f.content[offset..offset + len].copy_from_slice(&data);
        if through {
            for (j, b) in data.iter().enumerate() {
                f.durable[offset + j] = Some(*b);
            }
        }
        Ok(())
    }

    /// FLUSH file `i`; `false` when it did not succeed (lost or a store fault).
    async fn flush(&mut self, i: usize) -> Result<bool, Error> {
        let fid = self.files[i]
            .fid
            .ok_or_else(|| Error::Check("no open".into()))?;
        let Some(st) = lost(self.c.flush(fid).await?) else {
            return Ok(false);
        };
        let f = &mut self.files[i];
        if st == NtStatus::LOST_WRITEBEHIND_DATA || st == NtStatus::DISK_FULL {
            // The server dropped unflushed bytes and says so: what is durable stays; read
            // the file again on a new session.
            f.lost_writes = true;
            let path = f.path.clone();
            self.stats.errors += 1;
            self.c.note(format_args!(
                "C   {path}: write-behind data lost; reconnecting"
            ));
            self.c.disconnect();
            return Ok(false);
        }
        if transient(st) {
            self.stats.errors += 1;
            return Ok(false);
        }
        check(st == NtStatus::SUCCESS, || {
            format!("FLUSH {}: {st}", f.path)
        })?;
        f.durable = f.content.iter().map(|&b| Some(b)).collect();
        for &(a, b) in &f.unknown {
            let b = b.min(f.durable.len());
            if a < b {
                f.durable[a..b].fill(None);
            }
        }
        f.durable_created = true;
        Ok(true)
    }

    async fn read(&mut self, i: usize) -> Result<(), Error> {
        let len = self.files[i].content.len();
        let offset = self.c.rng().random_range(0..=len);
        let want = self.c.rng().random_range(1..=self.spec.write_max as usize) as u32;
        let fid = self.files[i]
            .fid
            .ok_or_else(|| Error::Check("no open".into()))?;
        let Some((st, d)) = lost(self.c.read(fid, offset as u64, want).await?) else {
            return Ok(());
        };
        let f = &self.files[i];
        if transient(st) {
            self.stats.errors += 1;
            return Ok(());
        }
        if offset >= len && f.unknown.is_empty() {
            check(st == NtStatus::END_OF_FILE, || {
                format!("READ {} at EOF {offset}: {st}", f.path)
            })?;
            return Ok(());
        }
        if st == NtStatus::END_OF_FILE && !f.unknown.is_empty() {
            return Ok(());
        }
        let short = st == NtStatus::END_OF_FILE
            || (st == NtStatus::SUCCESS && d.len() < (len - offset).min(want as usize));
        if self.lenient && short && offset + d.len() >= f.durable_len() {
            // An unflushed extension dropped while up (buggify): resynchronise.
            let path = f.path.clone();
            self.c.note(format_args!(
                "C   {path}: unflushed tail gone; reconnecting"
            ));
            self.files[i].lost_writes = true;
            self.c.disconnect();
            return Ok(());
        }
        check(st == NtStatus::SUCCESS, || {
            format!("READ {} at {offset}: {st}", f.path)
        })?;
        for (j, b) in d.iter().enumerate() {
            let at = offset + j;
            if f.is_unknown(at) {
                continue;
            }
            let want = f.content.get(at).copied();
            let durable = f.durable.get(at).copied().flatten();
            if self.lenient && want != Some(*b) && durable.is_none_or(|d| d == *b) {
                // Unflushed bytes dropped while the server was up (buggify): the next FLUSH
                // must say so; resynchronise from a new session.
                let path = f.path.clone();
                self.c.note(format_args!(
                    "C   {path}: unflushed bytes gone; reconnecting"
                ));
                self.files[i].lost_writes = true;
                self.c.disconnect();
                return Ok(());
            }
            check(
                want == Some(*b) || (want.is_none() && !f.unknown.is_empty()),
                || {
                    format!(
                        "READ {} byte {at} is {b:#04x}, the client wrote {want:?}",
                        f.path
                    )
                },
            )?;
        }
        if f.unknown.is_empty() {
            let expect = (len - offset).min(want as usize);
            check(d.len() == expect, || {
                format!(
                    "READ {} at {offset}: {} bytes, {expect} expected",
                    f.path,
                    d.len()
                )
            })?;
        }
        Ok(())
    }

    /// Enumerates `many` with a small buffer; `false` when it could not finish.
    async fn list_many(&mut self) -> Result<bool, Error> {
        if !self.many_ready {
            return Ok(true);
        }
        let dir = format!("{}\\many", self.name);
        let Some((st, o)) = lost(
            self.c
                .create(&dir, CreateDisposition::OPEN, true, false)
                .await?,
        ) else {
            return Ok(false);
        };
        if transient(st) {
            self.stats.errors += 1;
            return Ok(false);
        }
        check(st == NtStatus::SUCCESS, || format!("open {dir}: {st}"))?;
        let fid = o
            .ok_or_else(|| Error::Check("CREATE without an open".into()))?
            .file_id;
        let buffer = self.c.rng().random_range(200..700);
        let mut names = Vec::new();
        let mut first = true;
        loop {
            let Some((st, entries)) = lost(self.c.query_directory(fid, first, buffer).await?)
            else {
                return Ok(false);
            };
            first = false;
            if st == NtStatus::NO_MORE_FILES {
                break;
            }
            if transient(st) {
                self.stats.errors += 1;
                let _ = self.c.close(fid).await?;
                return Ok(false);
            }
            check(st == NtStatus::SUCCESS && !entries.is_empty(), || {
                format!("QUERY_DIRECTORY {dir}: {st} with {} entries", entries.len())
            })?;
            names.extend(entries.into_iter().map(|e| e.name));
        }
        let _ = self.c.close(fid).await?;
        let mut sorted = names.clone();
        sorted.sort();
        let before = sorted.len();
        sorted.dedup();
        check(sorted.len() == before, || {
            format!("QUERY_DIRECTORY {dir} paged with {buffer} bytes repeated a name: {names:?}")
        })?;
        let mut want: Vec<String> = vec![".".into(), "..".into()];
        want.extend((0..MANY).map(|i| format!("e{i:02}")));
        want.sort();
        // The names were flushed, so they survive any crash.
        check(sorted == want, || {
            format!(
                "QUERY_DIRECTORY {dir} paged with {buffer} bytes: {sorted:?}, expected {want:?}{}",
                if self.crashes() != self.many_crashes {
                    " (crash since)"
                } else {
                    ""
                }
            )
        })?;
        Ok(true)
    }

    async fn read_all_and_compare(&mut self, i: usize) -> Result<bool, Error> {
        let size = self.files[i].content.len() as u64;
        let Some(data) = self.read_whole(i, size).await? else {
            return Ok(false);
        };
        let Some(data) = data else {
            return Ok(false);
        };
        let f = &self.files[i];
        if f.unknown.is_empty() && !self.lenient {
            check(data == f.content, || {
                format!(
                    "{}: the final read differs from the acknowledged bytes",
                    f.path
                )
            })?;
        }
        Ok(true)
    }
}
