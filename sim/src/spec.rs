//! Scenarios, written in RON (`sim/scenarios/*.ron`): how many clients, what they do, which
//! faults the nemesis and the stores inject, and for how long.
//!
//! ```ron
//! Scenario(
//!     name: "mixed",
//!     clients: 3,
//!     fault_secs: 20,
//!     liveness_secs: 60,
//!     mix: Mix(create: 3, write: 6, commit: 2, read: 3, remove: 1, rename: 1, mkdir: 1,
//!              truncate: 1, getattr: 1, list: 1, shared: 2),
//!     nemesis: Nemesis(partitions: 1, holds: 1, latency_spikes: 1, resets: 2, crashes: 1,
//!                      clock_jumps: 1),
//!     store_faults: FaultPlan(error_per_mille: 5, busy_per_mille: 10, slow_per_mille: 40,
//!                             latency_max_ms: 200),
//!     buggify: true,
//! )
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::faulty::FaultPlan;

/// One scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (the file name without `.ron`).
    pub name: String,
    /// Simulated clients, each on its own host.
    pub clients: u32,
    /// Simulated SMB clients (`s1`…), beside the NFS ones, on the same share
    /// ([`crate::smb_workload::SmbWorker`]).
    #[serde(default)]
    pub smb_clients: u32,
    /// Simulated SMB lock clients (`l1`…): byte-range locks, I/O under them and leases on
    /// shared files ([`crate::lock_workload::LockWorker`], checked by [`crate::lock_board`]).
    #[serde(default)]
    pub lock_clients: u32,
    /// Simulated seconds during which clients work and faults happen.
    pub fault_secs: u64,
    /// Simulated seconds after the faults stop within which every client must finish.
    pub liveness_secs: u64,
    /// Relative weights of the operations.
    pub mix: Mix,
    /// Network and server faults.
    #[serde(default)]
    pub nemesis: Nemesis,
    /// The most the stores may misbehave; each seed draws its own rates up to these.
    #[serde(default)]
    pub store_faults: FaultPlan,
    /// Whether the server's buggify sites are switched on for this scenario's seeds.
    #[serde(default)]
    pub buggify: bool,
    /// Whether every buggify site is switched on (each still fires 5% of the time),
    /// rather than a seed-chosen quarter of them.
    #[serde(default)]
    pub buggify_all: bool,
    /// Longest file a client writes.
    #[serde(default = "default_file_max")]
    pub file_max: u64,
    /// Longest single WRITE.
    #[serde(default = "default_write_max")]
    pub write_max: u64,
    /// Gateways (`gw1`…): with more than zero, every gateway runs `serve()` over one metadata
    /// store and one content store on host `db`, reached through the simulated network
    /// ([`crate::remote`], [`crate::gateways`]); client `cN` starts on gateway
    /// `(N - 1) % gateways + 1`. Zero: the single `server` host with local stores.
    #[serde(default)]
    pub gateways: u32,
    /// How many clients (`c1`…) move to another gateway, keeping their handles, when theirs
    /// crashes (the others wait for it to restart).
    #[serde(default)]
    pub failover: u32,
    /// With gateways: what the shared content store on `db` is ([`ContentKind`]).
    #[serde(default)]
    pub content: ContentKind,
}

/// The content store the gateways share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    /// A [`crate::disk::SimDisk`]: bytes overwritten in place, no versions.
    #[default]
    Disk,
    /// A versioned object store modelled on the S3 one ([`crate::objects`]): immutable
    /// versions, unsynced changes in each gateway's memory, records as compare-and-swap.
    Objects,
}

fn default_file_max() -> u64 {
    128 * 1024
}

fn default_write_max() -> u64 {
    16 * 1024
}

/// Relative weights of the operations a client picks from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    /// CREATE a new file.
    pub create: u32,
    /// WRITE (UNSTABLE or FILE_SYNC) to a file.
    pub write: u32,
    /// COMMIT a file (resending unstable writes if the verifier changed).
    pub commit: u32,
    /// READ a range and compare.
    pub read: u32,
    /// REMOVE a file.
    pub remove: u32,
    /// RENAME a file, to a new name or over another file.
    pub rename: u32,
    /// MKDIR (or RMDIR) a subdirectory.
    pub mkdir: u32,
    /// SETATTR size.
    pub truncate: u32,
    /// GETATTR and compare.
    pub getattr: u32,
    /// READDIRPLUS the own directory page by page and compare.
    pub list: u32,
    /// Create or remove a name in the shared directory and page through it.
    pub shared: u32,
    /// LOOKUP, GETATTR and READ a file another client committed (through another gateway,
    /// when there is one) and compare with what it committed: close-to-open.
    pub peek: u32,
    /// Write the client's own range of the one file every client writes (`joint`), COMMIT,
    /// and READ the whole file: every range another client committed (through another
    /// gateway, when there is one) must be there ([`crate::board`]).
    pub joint: u32,
}

impl Mix {
    /// The weights in a fixed order, for drawing.
    pub fn weights(&self) -> [u32; 13] {
        [
            self.create,
            self.write,
            self.commit,
            self.read,
            self.remove,
            self.rename,
            self.mkdir,
            self.truncate,
            self.getattr,
            self.list,
            self.shared,
            self.peek,
            self.joint,
        ]
    }
}

/// How many of each network or server fault happen during the fault window; each one's time,
/// target and length are drawn from the seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Nemesis {
    /// A client cut off from the server for 1–6 s (messages dropped).
    pub partitions: u32,
    /// Messages between a client and the server held for 0.5–3 s, then delivered at once.
    pub holds: u32,
    /// A link's latency raised to up to 800 ms for 1–5 s.
    pub latency_spikes: u32,
    /// A client's connection reset.
    pub resets: u32,
    /// The server host crashes (unsynced store state lost or torn) and restarts 0.5–3 s later.
    pub crashes: u32,
    /// The server's wall clock jumps by up to an hour, forwards or backwards.
    pub clock_jumps: u32,
    /// With gateways: a gateway cut off from `db` for 1–6 s.
    pub db_partitions: u32,
    /// With gateways: messages between a gateway and `db` held for 0.5–3 s, then delivered.
    pub db_holds: u32,
}

/// Where the committed scenarios live.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Reads `sim/scenarios/<name>.ron`; the error names the file and what is wrong.
pub fn load(name: &str) -> Result<Scenario, String> {
    let path = scenario_dir().join(format!("{name}.ron"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (scenarios are in sim/scenarios/)", path.display()))?;
    let s: Scenario = ron::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if s.name != name {
        return Err(format!(
            "{}: name is {:?}, expected {name:?} (the file's name)",
            path.display(),
            s.name
        ));
    }
    if (s.clients == 0 && s.smb_clients + s.lock_clients == 0)
        || (s.clients > 0 && s.mix.weights().iter().all(|&w| w == 0))
    {
        return Err(format!(
            "{}: needs at least one client, and NFS clients one operation with a weight",
            path.display()
        ));
    }
    if s.gateways > 0 && s.lock_clients > 0 {
        return Err(format!(
            "{}: lock clients run against the single server only",
            path.display()
        ));
    }
    if s.gateways == 0 && (s.failover > 0 || s.nemesis.db_partitions > 0 || s.nemesis.db_holds > 0)
    {
        return Err(format!(
            "{}: failover, db_partitions and db_holds need gateways",
            path.display()
        ));
    }
    if s.gateways == 0 && (s.content != ContentKind::Disk || s.mix.joint > 0) {
        return Err(format!(
            "{}: content and joint need gateways",
            path.display()
        ));
    }
    if s.write_max == 0 || s.write_max > s.file_max {
        return Err(format!(
            "{}: write_max must be between 1 and file_max",
            path.display()
        ));
    }
    Ok(s)
}

/// The committed seed list (`sim/seeds.ron`): (scenario, seed) pairs the tests replay.
pub fn committed_seeds() -> Result<Vec<(String, u64)>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds.ron");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let list: SeedList = ron::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(list
        .runs
        .into_iter()
        .flat_map(|r| {
            let name = r.scenario;
            let mut seeds: Vec<u64> = (r.first..r.first + r.count).collect();
            seeds.extend(r.extra);
            seeds.into_iter().map(move |s| (name.clone(), s))
        })
        .collect())
}

/// `sim/seeds.ron`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedList {
    /// Ranges of seeds per scenario.
    pub runs: Vec<SeedRun>,
}

/// A range of seeds for one scenario, plus single seeds (regressions).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRun {
    /// The scenario's name.
    pub scenario: String,
    /// First seed of the range.
    pub first: u64,
    /// Seeds in the range.
    pub count: u64,
    /// Further seeds: failures found by a sweep and fixed, kept as regressions.
    #[serde(default)]
    pub extra: Vec<u64>,
}
