//! The reference model a simulated client keeps of what it has done, and the checks that
//! compare the server with it.
//!
//! Each client owns one directory and the files in it, so its model is exact while the server
//! runs: READ must return the bytes written, a listing must show exactly the names created.
//! After a crash the model knows what may have been lost:
//!
//! - bytes: [`FileModel::stable`] holds, per byte, the value a crash must keep (acknowledged by
//!   COMMIT or a FILE_SYNC write and not overwritten since) or `None` when either the old or the
//!   new value is allowed;
//! - names: namespace changes are durable at the next metadata sync (a COMMIT), and a sync
//!   keeps a prefix of the changes, so the directory after a crash must equal the state after
//!   some prefix of the changes made since the last acknowledged COMMIT
//!   ([`DirModel::history`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use protocol::nfs3::NfsFh3Buf;

use crate::Error;

/// One regular file the client owns.
#[derive(Debug, Clone)]
pub struct FileModel {
    /// Its handle.
    pub fh: NfsFh3Buf,
    /// Its file id.
    pub fileid: u64,
    /// Its contents as the client wrote them: what READ must return.
    pub data: Vec<u8>,
    /// Per byte of `data`, the value a crash must keep, if any.
    pub stable: Vec<Option<u8>>,
    /// The least length a crash may leave.
    pub min_len: u64,
    /// Byte ranges written UNSTABLE since the last COMMIT, with the verifier of each reply:
    /// what a client resends when the verifier changes.
    pub unstable: Vec<(u64, u64, [u8; 8])>,
}

impl FileModel {
    /// A new, empty file.
    pub fn new(fh: NfsFh3Buf, fileid: u64) -> Self {
        Self {
            fh,
            fileid,
            data: Vec::new(),
            stable: Vec::new(),
            min_len: 0,
            unstable: Vec::new(),
        }
    }

    fn grow(&mut self, end: usize) {
        if self.data.len() < end {
            self.data.resize(end, 0);
            self.stable.resize(end, None);
        }
    }

    /// `bytes` were acknowledged at `offset`; `durable` if the reply said FILE_SYNC.
    pub fn wrote(&mut self, offset: u64, bytes: &[u8], durable: bool, verf: [u8; 8]) {
        let start = usize::try_from(offset).expect("simulated files are small");
        let end = start + bytes.len();
        self.grow(end);
        self.data[start..end].copy_from_slice(bytes);
        for (i, s) in self.stable[start..end].iter_mut().enumerate() {
            *s = durable.then_some(bytes[i]);
        }
        if !durable {
            self.unstable.push((offset, bytes.len() as u64, verf));
        }
    }

    /// A COMMIT was acknowledged with a verifier equal to every unstable write's.
    pub fn committed(&mut self) {
        for &(offset, len, _) in &self.unstable {
            let start = usize::try_from(offset).expect("small");
            let end = (start + usize::try_from(len).expect("small")).min(self.data.len());
            for i in start..end {
                self.stable[i] = Some(self.data[i]);
            }
        }
        self.unstable.clear();
        self.min_len = self.data.len() as u64;
    }

    /// SETATTR size was acknowledged.
    pub fn truncated(&mut self, len: u64) {
        let len = usize::try_from(len).expect("small");
        self.data.resize(len, 0);
        self.stable.resize(len, None);
        // Extending makes a hole: zeros now, but not durable until a COMMIT.
        self.min_len = self.min_len.min(len as u64);
        for s in self.stable.iter_mut().skip(len) {
            *s = None;
        }
    }

    /// A SETATTR size to `len` spanned a crash: it may or may not have happened.
    pub fn maybe_truncated(&mut self, len: u64) {
        self.min_len = self.min_len.min(len);
        let len = usize::try_from(len).expect("small");
        for s in self.stable.iter_mut().skip(len) {
            *s = None;
        }
    }

    /// Checks the bytes found after a crash against what had to survive.
    pub fn check_after_crash(&self, name: &str, found: &[u8]) -> Result<(), Error> {
        if (found.len() as u64) < self.min_len {
            return Err(Error::Check(format!(
                "{name}: {} bytes after the crash, but {} were committed",
                found.len(),
                self.min_len
            )));
        }
        for (i, (&got, want)) in found.iter().zip(&self.stable).enumerate() {
            if let Some(want) = *want
                && got != want
            {
                return Err(Error::Check(format!(
                    "{name}: byte {i} is {got:#04x} after the crash, but {want:#04x} had been \
                     committed"
                )));
            }
        }
        Ok(())
    }

    /// After a crash, once [`FileModel::check_after_crash`] passed: the server's bytes become
    /// the client's view. Only what was already known durable stays so: bytes read back after
    /// a restart may come from calls the restarted server ran but has not synced (a
    /// retransmission that landed after the restart), which the next crash may take.
    pub fn adopt(&mut self, found: Vec<u8>) {
        self.stable.resize(found.len(), None);
        self.min_len = self.min_len.min(found.len() as u64);
        self.data = found;
    }
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A regular file (its model is in [`DirModel::files`] under its file id).
    File,
    /// An empty subdirectory.
    Dir,
}

/// One name in the client's directory.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The object's file id.
    pub fileid: u64,
    /// Its handle.
    pub fh: NfsFh3Buf,
    /// File or directory.
    pub kind: Kind,
}

/// The client's directory: names, the files behind them, and the namespace states a crash may
/// leave.
#[derive(Debug, Clone, Default)]
pub struct DirModel {
    /// Names now.
    pub names: BTreeMap<String, Entry>,
    /// Regular files by file id.
    pub files: BTreeMap<u64, FileModel>,
    /// Name → file id after each namespace change since the last metadata sync; the first is
    /// the state at that sync.
    pub history: Vec<BTreeMap<String, u64>>,
}

impl DirModel {
    /// Name → file id now.
    pub fn state(&self) -> BTreeMap<String, u64> {
        self.names
            .iter()
            .map(|(n, e)| (n.clone(), e.fileid))
            .collect()
    }

    /// Records the current state as a possible outcome of a crash.
    pub fn remember(&mut self) {
        let s = self.state();
        if self.history.last() != Some(&s) {
            self.history.push(s);
        }
    }

    /// A metadata sync was acknowledged: only the current state may survive a crash.
    pub fn synced(&mut self) {
        self.history = vec![self.state()];
    }

    /// Drops file models no name refers to.
    pub fn forget_unnamed(&mut self) {
        let live: std::collections::BTreeSet<u64> = self.names.values().map(|e| e.fileid).collect();
        self.files.retain(|id, _| live.contains(id));
    }
}

/// Every handle any client has seen with the file id it named: a handle must never name
/// another object, across clients, crashes and restarts.
#[derive(Debug, Clone, Default)]
pub struct HandleRegistry(Rc<RefCell<BTreeMap<Vec<u8>, u64>>>);

impl HandleRegistry {
    /// Records or checks that `fh` names `fileid`.
    pub fn check(&self, fh: &[u8], fileid: u64, context: &str) -> Result<(), Error> {
        let mut map = self.0.borrow_mut();
        match map.get(fh) {
            Some(&known) if known != fileid => Err(Error::Check(format!(
                "{context}: a handle that named file id {known} now names file id {fileid}"
            ))),
            Some(_) => Ok(()),
            None => {
                map.insert(fh.to_vec(), fileid);
                Ok(())
            }
        }
    }

    /// Handles recorded.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether none are recorded.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fh() -> NfsFh3Buf {
        NfsFh3Buf::new(&[1, 2, 3]).expect("short handle")
    }

    /// Goal: the byte model keeps exactly what was acknowledged durable. Method: unstable
    /// write, commit, overwrite unstable, FILE_SYNC elsewhere, then check crash outcomes.
    #[test]
    fn stable_bytes_follow_commit_and_file_sync() {
        let mut f = FileModel::new(fh(), 5);
        f.wrote(0, &[1; 8], false, [0; 8]);
        assert!(
            f.check_after_crash("f", &[]).is_ok(),
            "nothing committed yet"
        );
        f.committed();
        assert_eq!(f.min_len, 8);
        f.wrote(4, &[2; 4], false, [0; 8]);
        f.wrote(8, &[3; 2], true, [0; 8]);
        // Old or new bytes at 4..8 are both fine; 0..4 and 8..10 are fixed.
        assert!(
            f.check_after_crash("f", &[1, 1, 1, 1, 2, 1, 2, 1, 3, 3])
                .is_ok()
        );
        assert!(f.check_after_crash("f", &[1, 1, 1, 1, 2, 2, 2, 2]).is_ok());
        assert!(f.check_after_crash("f", &[1, 1, 1, 0, 2, 2, 2, 2]).is_err());
        assert!(f.check_after_crash("f", &[1, 1, 1, 1, 2, 2, 2]).is_err());
        assert!(
            f.check_after_crash("f", &[1, 1, 1, 1, 2, 2, 2, 2, 3, 0])
                .is_err()
        );
        f.truncated(2);
        assert!(f.check_after_crash("f", &[1, 1]).is_ok());
    }

    /// Goal: the handle registry catches a handle that names a second object.
    #[test]
    fn registry_catches_a_reused_handle() {
        let r = HandleRegistry::default();
        r.check(b"a", 1, "t").expect("first sight");
        r.check(b"a", 1, "t").expect("same object");
        assert!(r.check(b"a", 2, "t").is_err());
    }
}
