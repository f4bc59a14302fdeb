//! Object names, versions and the manifest format.
//!
//! Layout under the configured prefix (every object is written once, create-only, and never
//! changed):
//! - `b/<key>/<index:016x>-<id:016x>`: one block of a file: the bytes at
//!   `index * block_size ..`, at most `block_size` of them. `id` is unique per upload.
//! - `m/<key>/<version:016x>`: a manifest: the file's length, its block size and, for each
//!   block that holds data, the block's id and how many of its bytes count. Blocks missing
//!   from a manifest, and bytes of a block past its count, are holes (zeros).
//!
//! `<key>` is [`ContentKey::to_hex`]. A version and a block id are both a [`stamp`]: the
//! milliseconds since the Unix epoch in the high 44 bits and 20 random bits below, made
//! larger than the last one this process issued and than the version the new one builds on
//! (`max(now, base + 1)`), so a gateway whose clock is behind another's still names its new
//! version above the one it replaces. Versions therefore grow along each file's history,
//! which garbage collection relies on (older than the recorded version means superseded), and
//! two gateways or two runs never publish the same name: the PUT is create-only, so a
//! collision is detected and a new stamp drawn. A stamp's time part is also its age for
//! garbage collection's grace period (see `collect_garbage`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

use crate::api::{ContentKey, Generation, InodeId, StoreError, StoreId, StoreResult};

/// A fresh stamp greater than `after`: time in milliseconds above 20 random bits.
pub fn stamp(after: u64) -> u64 {
    stamp_at(wall_ms(0), after)
}

/// A fresh stamp for the time `now_ms` (milliseconds since the epoch), greater than `after`.
#[expect(
    clippy::disallowed_methods,
    reason = "object names need fresh randomness across processes; this backend never runs in the simulator"
)]
pub fn stamp_at(now_ms: u64, after: u64) -> u64 {
    let fresh = (now_ms << 20) | rand::rng().random_range(0..1u64 << 20);
    fresh.max(after.saturating_add(1))
}

/// Milliseconds since the Unix epoch on this machine's clock, shifted by `offset_ms` (a test
/// imitating a gateway whose clock is off; 0 otherwise).
#[expect(
    clippy::disallowed_methods,
    reason = "object names and garbage ages need wall time shared across processes; this backend never runs in the simulator"
)]
pub fn wall_ms(offset_ms: i64) -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    ms.saturating_add_signed(offset_ms)
}

/// The milliseconds since the epoch a stamp was made at.
pub fn stamp_ms(stamp: u64) -> u64 {
    stamp >> 20
}

/// Object names under one prefix.
#[derive(Debug, Clone)]
pub struct Names {
    /// Empty or ending in `/`.
    pub prefix: String,
}

impl Names {
    /// Names under `prefix` (a `/` is added unless empty or present).
    pub fn new(prefix: &str) -> Self {
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self { prefix }
    }

    /// The block `index` with upload id `id` of `key`.
    pub fn block(&self, key: &ContentKey, index: u64, id: u64) -> String {
        format!("{}b/{}/{index:016x}-{id:016x}", self.prefix, key.to_hex())
    }

    /// The manifest of `version` of `key`.
    pub fn manifest(&self, key: &ContentKey, version: u64) -> String {
        format!("{}m/{}/{version:016x}", self.prefix, key.to_hex())
    }

    /// The garbage scan lease of this prefix (see [`super::lease`]); outside the `b/` and
    /// `m/` trees, so no scan parses it as content.
    pub fn lease(&self) -> String {
        format!("{}gc-lease", self.prefix)
    }

    /// Where the blocks of `key` are listed.
    pub fn blocks_of(&self, key: &ContentKey) -> String {
        format!("{}b/{}/", self.prefix, key.to_hex())
    }

    /// Where the manifests of `key` are listed.
    pub fn manifests_of(&self, key: &ContentKey) -> String {
        format!("{}m/{}/", self.prefix, key.to_hex())
    }

    /// Parses an object name of this layout.
    pub fn parse(&self, name: &str) -> Option<Object> {
        let rest = name.strip_prefix(&self.prefix)?;
        let (kind, rest) = rest.split_at_checked(2)?;
        let (key, last) = rest.split_once('/')?;
        let key = parse_key(key)?;
        match kind {
            "m/" => Some(Object::Manifest {
                key,
                version: parse_hex16(last)?,
            }),
            "b/" => {
                let (index, id) = last.split_once('-')?;
                Some(Object::Block {
                    key,
                    index: parse_hex16(index)?,
                    id: parse_hex16(id)?,
                })
            }
            _ => None,
        }
    }
}

/// One object of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A manifest.
    Manifest {
        /// Whose.
        key: ContentKey,
        /// Which version.
        version: u64,
    },
    /// A block.
    Block {
        /// Whose.
        key: ContentKey,
        /// Its index in the file.
        index: u64,
        /// Its upload id.
        id: u64,
    },
}

fn parse_hex16(s: &str) -> Option<u64> {
    if s.len() != 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Parses [`ContentKey::to_hex`].
pub fn parse_key(s: &str) -> Option<ContentKey> {
    if s.len() != 48 || !s.is_ascii() {
        return None;
    }
    Some(ContentKey {
        store: StoreId(parse_hex16(&s[..16])?),
        ino: InodeId(parse_hex16(&s[16..32])?),
        generation: Generation(parse_hex16(&s[32..])?),
    })
}

/// A stored block as a manifest names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Its upload id.
    pub id: u64,
    /// How many of its bytes count (the rest of the block, up to the file length, is zeros).
    pub len: u64,
}

/// One version of a file: its length and blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The file's length.
    pub len: u64,
    /// The block size the blocks were cut with.
    pub block_size: u64,
    /// Blocks holding data, by index.
    pub blocks: BTreeMap<u64, BlockRef>,
}

const MAGIC: &str = "dittofs-manifest 1";

impl Manifest {
    /// The text form: a header line, `len N`, `block_size N`, then `index id len` per block
    /// (index and id in hex).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = format!(
            "{MAGIC}\nlen {}\nblock_size {}\n",
            self.len, self.block_size
        );
        for (index, b) in &self.blocks {
            s.push_str(&format!("{index:x} {:x} {}\n", b.id, b.len));
        }
        s.into_bytes()
    }

    /// Parses [`Manifest::encode`]'s form; a damaged manifest is an error, never an empty file.
    pub fn decode(bytes: &[u8]) -> StoreResult<Self> {
        let bad = |why: &str| StoreError::Backend(format!("damaged S3 manifest: {why}").into());
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(bad("unknown header"));
        }
        let mut field = |name: &str| -> StoreResult<u64> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|v| v.strip_prefix(' '))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(name))
        };
        let len = field("len")?;
        let block_size = field("block_size")?;
        if block_size == 0 {
            return Err(bad("block size 0"));
        }
        let mut blocks = BTreeMap::new();
        for line in lines {
            let mut parts = line.split(' ');
            let (Some(i), Some(id), Some(n), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("block line"));
            };
            let index = u64::from_str_radix(i, 16).map_err(|_| bad("block index"))?;
            let id = u64::from_str_radix(id, 16).map_err(|_| bad("block id"))?;
            let n: u64 = n.parse().map_err(|_| bad("block length"))?;
            if n > block_size {
                return Err(bad("block longer than the block size"));
            }
            blocks.insert(index, BlockRef { id, len: n });
        }
        Ok(Self {
            len,
            block_size,
            blocks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: names and manifests round-trip, and damaged manifests are refused.
    #[test]
    fn names_and_manifests_round_trip() {
        let names = Names::new("pre/fix");
        let key = ContentKey {
            store: StoreId(1),
            ino: InodeId(0xabc),
            generation: Generation(7),
        };
        let b = names.block(&key, 3, 0x55);
        assert_eq!(
            names.parse(&b),
            Some(Object::Block {
                key,
                index: 3,
                id: 0x55
            })
        );
        let m = names.manifest(&key, 9);
        assert!(m.starts_with("pre/fix/m/"));
        assert_eq!(names.parse(&m), Some(Object::Manifest { key, version: 9 }));
        assert_eq!(names.parse("pre/fix/x/abc"), None);
        let mut man = Manifest {
            len: 10_000,
            block_size: 4096,
            blocks: BTreeMap::new(),
        };
        man.blocks.insert(0, BlockRef { id: 1, len: 4096 });
        man.blocks.insert(2, BlockRef { id: 2, len: 10 });
        assert_eq!(Manifest::decode(&man.encode()).unwrap(), man);
        assert!(Manifest::decode(b"garbage").is_err());
        assert!(Manifest::decode(b"dittofs-manifest 1\nlen 1\n").is_err());
        assert!(stamp(u64::MAX - 1) == u64::MAX && stamp(5) > 5);
    }
}
