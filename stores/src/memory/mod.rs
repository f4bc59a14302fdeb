//! In-memory stores: [`MemoryMetadata`] and [`MemoryContent`].
//!
//! They are real backends (engine `memory`) and they back the deterministic simulator, so they
//! implement the whole contract and model the weakest durability of any real backend: each keeps
//! a *live* copy that every call reads and changes, and a *durable* copy that only `sync` brings
//! up to date. `crash()` throws the live copy away and restarts from the durable one, as a
//! machine crash (power loss) would.
//!
//! Costs: metadata keeps a redo journal of the operations completed since the last `sync`;
//! `sync` replays it onto the durable copy, so it costs O(operations since the last sync), not
//! O(namespace). Content is kept in [`BLOCK_SIZE`] blocks shared (reference-counted) between the
//! two copies; `sync(key)` copies only the blocks of that key changed since its last sync.
//! `crash()` clones the durable copy, O(namespace) and O(blocks), which is fine: it is rare.
//!
//! Nothing here touches a clock or randomness: times come from the callers, the store id from
//! the constructor, so one seed reproduces one run.

mod content;
mod metadata;
mod namespace;

use crate::api::Generation;

pub use content::MemoryContent;
pub use metadata::MemoryMetadata;

/// Operations journaled before the metadata store makes them durable on its own. Bounds the
/// journal's memory when a workload never syncs. A real backend also writes back on its own
/// schedule, and the contract only promises durability *after* `sync`, so an early write-back
/// stays within it; the threshold depends only on the operation count, so runs stay
/// reproducible.
pub const JOURNAL_MAX: usize = 1 << 16;

/// Size of the blocks [`MemoryContent`] keeps a file in, in bytes. A sync copies (shares) only
/// the blocks written since the last one.
pub const BLOCK_SIZE: u64 = 64 * 1024;

/// Inode total reported by [`MemoryMetadata`]'s `usage` when no inode limit is set.
pub const UNBOUNDED_FILES_REPORTED: u64 = 1 << 32;

/// Byte total reported by [`MemoryContent`]'s `usage` when no capacity limit is set (1 PiB).
pub const UNBOUNDED_BYTES_REPORTED: u64 = 1 << 50;

/// The largest object [`MemoryContent`] holds: the largest offset a client's signed 64-bit
/// `off_t` can name. Blocks are sparse, so nothing smaller limits it.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// The generation of every inode. Inode ids are never reused (not even after `crash()`, see
/// [`MemoryMetadata::crash`]), so the id alone names one object forever.
const GENERATION: Generation = Generation(1);
