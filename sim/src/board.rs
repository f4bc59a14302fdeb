//! The close-to-open board: files whose owner committed every byte, as the owner knows them,
//! for other clients (on other gateways) to look up and read.
//!
//! An owner publishes a file after a COMMIT that made all of it durable and takes it down
//! before it sends any call that may change it (WRITE, SETATTR, REMOVE or RENAME naming it).
//! Every client runs on the simulation's one thread, so a reader that finds the entry
//! unchanged (same `epoch`) when its reply arrives knows no change of the file was sent
//! between its call and that reply: the server must answer with what the owner committed,
//! whichever gateway it asks and whatever crashed meanwhile.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use protocol::nfs3::NfsFh3Buf;

/// A committed file.
#[derive(Debug, Clone)]
pub struct Published {
    /// The client that wrote and committed it.
    pub owner: String,
    /// The gateway the commit went through.
    pub gateway: String,
    /// Its directory.
    pub dir: NfsFh3Buf,
    /// Its name there.
    pub name: String,
    /// Its handle.
    pub fh: NfsFh3Buf,
    /// Its file id.
    pub fileid: u64,
    /// Its whole contents.
    pub data: Rc<Vec<u8>>,
    /// Distinguishes publications: a reader compares it before and after.
    pub epoch: u64,
}

/// A range of the joint file (`Mix::joint`) its owner committed.
#[derive(Debug, Clone)]
pub struct JointRange {
    /// The gateway the commit went through.
    pub gateway: String,
    /// Where the range starts.
    pub offset: u64,
    /// Its bytes.
    pub data: Rc<Vec<u8>>,
    /// Distinguishes publications.
    pub epoch: u64,
}

/// The entries, by owner and file id.
#[derive(Debug, Default)]
pub struct BoardInner {
    entries: BTreeMap<(String, u64), Published>,
    epoch: u64,
    /// Reads checked against an entry that stayed put.
    pub checked: u64,
    /// The joint file's committed ranges, by owner; the same rules as for files (taken down
    /// before the owner sends a WRITE of its range, put up after a COMMIT covered it).
    joint: BTreeMap<String, JointRange>,
    /// Which range of the joint file each client owns (in the order they first asked).
    joint_slots: BTreeMap<String, u64>,
    /// Ranges of the joint file committed by one client and checked in another's READ.
    pub joint_checked: u64,
    /// Of those, ranges committed through one gateway and read through another.
    pub joint_across: u64,
}

/// Shared by the clients of one run.
pub type Board = Rc<RefCell<BoardInner>>;

impl BoardInner {
    /// Publishes `p` (its `epoch` is set here).
    pub fn publish(&mut self, mut p: Published) {
        self.epoch += 1;
        p.epoch = self.epoch;
        self.entries.insert((p.owner.clone(), p.fileid), p);
    }

    /// Takes down `owner`'s entries for which `hit` holds.
    pub fn withdraw(&mut self, owner: &str, hit: impl Fn(&Published) -> bool) {
        self.entries.retain(|(o, _), p| o != owner || !hit(p));
    }

    /// Entries of owners other than `reader`, those committed through a gateway other than
    /// `gateway` first (all of them if there are none such).
    pub fn candidates(&self, reader: &str, gateway: &str) -> Vec<(String, u64)> {
        let others = || self.entries.iter().filter(|((o, _), _)| o != reader);
        let far: Vec<(String, u64)> = others()
            .filter(|(_, p)| p.gateway != gateway)
            .map(|(k, _)| k.clone())
            .collect();
        if far.is_empty() {
            others().map(|(k, _)| k.clone()).collect()
        } else {
            far
        }
    }

    /// The entry under `key`, if any.
    pub fn get(&self, key: &(String, u64)) -> Option<&Published> {
        self.entries.get(key)
    }

    /// The index of `owner`'s range of the joint file (assigned on first use).
    pub fn joint_slot(&mut self, owner: &str) -> u64 {
        let next = self.joint_slots.len() as u64;
        *self.joint_slots.entry(owner.to_owned()).or_insert(next)
    }

    /// Takes down `owner`'s range of the joint file (before it sends a WRITE of it).
    pub fn joint_withdraw(&mut self, owner: &str) {
        self.joint.remove(owner);
    }

    /// Puts up `owner`'s committed range (its `epoch` is set here).
    pub fn joint_publish(&mut self, owner: &str, mut r: JointRange) {
        self.epoch += 1;
        r.epoch = self.epoch;
        self.joint.insert(owner.to_owned(), r);
    }

    /// Every committed range of the joint file, by owner.
    pub fn joint_ranges(&self) -> Vec<(String, JointRange)> {
        self.joint
            .iter()
            .map(|(o, r)| (o.clone(), r.clone()))
            .collect()
    }

    /// Whether `owner`'s range is still publication `epoch`.
    pub fn joint_unchanged(&self, owner: &str, epoch: u64) -> bool {
        self.joint.get(owner).is_some_and(|r| r.epoch == epoch)
    }

    /// Whether the entry under `key` is still publication `epoch`.
    pub fn unchanged(&self, key: &(String, u64), epoch: u64) -> bool {
        self.entries.get(key).is_some_and(|p| p.epoch == epoch)
    }
}
