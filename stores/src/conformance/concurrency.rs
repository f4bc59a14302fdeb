//! The concurrency checks: callers racing on one directory or one file, on a multi-threaded
//! runtime, followed by a check of every invariant the contract promises. A share runs many
//! requests at once and several shares may use one store, so a store must keep every
//! operation atomic on its own.
//!
//! The checks spawn tasks, so they need a multi-threaded tokio runtime
//! (`#[tokio::test(flavor = "multi_thread")]`) and a store behind an [`Arc`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;

use super::{dir, file, ok, t};
use crate::api::{
    Attr, ContentKey, ContentStore, ContentVersion, Cookie, FileKind, Generation, InodeId,
    MetadataStore, Recorded, Removed, StoreError, StoreId, StoreResult,
};

/// Operations each racing task runs in [`metadata_concurrency`].
const METADATA_ROUNDS: u32 = 2000;

/// Writes the writer makes in [`content_concurrency`].
const CONTENT_ROUNDS: u8 = 120;

/// Names the racing tasks fight over: few, so that they collide often.
const NAMES: [&[u8]; 6] = [b"a", b"b", b"c", b"d", b"e", b"f"];

/// A small deterministic generator (xorshift64*), so each task's sequence of operations is
/// reproducible without a dependency on `rand`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 33) as usize % n
    }
}

/// What one racing task saw happen: inodes it created and inodes whose last link it removed.
#[derive(Default)]
struct Seen {
    created: BTreeSet<InodeId>,
    freed: BTreeSet<InodeId>,
}

impl Seen {
    fn removed(&mut self, r: &Removed) {
        if r.freed {
            self.freed.insert(r.attr.ino);
        }
    }
}

/// Fails on any error but the ones a race can legitimately cause (the name taken, gone, of the
/// wrong kind, a directory not empty or moved under itself).
fn allowed<T>(r: StoreResult<T>, what: &str) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(
            StoreError::Exists
            | StoreError::NotFound
            | StoreError::NotEmpty
            | StoreError::NotDir
            | StoreError::IsDir
            | StoreError::Invalid(_),
        ) => None,
        Err(e) => panic!("{what}: error a race cannot explain: {e:?}"),
    }
}

/// Two callers create, link, rename and remove entries among a few names in one directory
/// and one subdirectory at once, while a third lists and looks up. Afterwards: every listed
/// name resolves to the listed inode, names are unique, every inode created and not freed is
/// reachable (nothing lost) and nothing freed is, nlink counts the names (and subdirectories),
/// every directory's parent is right, and listings resumed by cookie agree with one listing.
pub async fn metadata_concurrency<M: MetadataStore>(store: Arc<M>) {
    let top = ok(
        store.share_root("conformance-concurrency", dir(0)).await,
        "share_root",
    );
    let mut n = 0u32;
    let base = loop {
        match store
            .create(top.ino, format!("race-{n}").as_bytes(), dir(0))
            .await
        {
            Ok(a) => break a,
            Err(StoreError::Exists) => n += 1,
            Err(e) => panic!("creating the race directory: {e:?}"),
        }
    };
    let sub = ok(store.create(base.ino, b"sub", dir(0)).await, "mkdir sub");
    let dirs = [base.ino, sub.ino];

    let done = Arc::new(AtomicBool::new(false));
    let mut racers = Vec::new();
    for seed in [0x9e37_79b9_7f4a_7c15_u64, 0xd1b5_4a32_d192_ed03] {
        let store = Arc::clone(&store);
        racers.push(tokio::spawn(async move {
            let mut rng = Rng(seed);
            let mut seen = Seen::default();
            for round in 0..METADATA_ROUNDS {
                let now = t(i64::from(round));
                let d = dirs[rng.below(2)];
                let name = NAMES[rng.below(NAMES.len())];
                match rng.below(7) {
                    0 | 1 => {
                        if let Some(a) = allowed(store.create(d, name, file(1)).await, "create") {
                            seen.created.insert(a.ino);
                        }
                    }
                    2 => {
                        if let Some(a) = allowed(store.create(d, name, dir(1)).await, "mkdir") {
                            seen.created.insert(a.ino);
                        }
                    }
                    3 => {
                        if let Some(r) = allowed(store.unlink(d, name, now).await, "unlink") {
                            seen.removed(&r);
                        }
                    }
                    4 => {
                        if let Some(r) = allowed(store.rmdir(d, name, now).await, "rmdir") {
                            seen.removed(&r);
                        }
                    }
                    5 => {
                        let to_dir = dirs[rng.below(2)];
                        let to = NAMES[rng.below(NAMES.len())];
                        if let Some(r) =
                            allowed(store.rename(d, name, to_dir, to, now).await, "rename")
                            && let Some(replaced) = &r.replaced
                        {
                            seen.removed(replaced);
                        }
                    }
                    _ => {
                        // A hard link to whatever the name holds now.
                        if let Some(a) = allowed(store.lookup(d, name).await, "lookup")
                            && a.kind == FileKind::Regular
                        {
                            let to_dir = dirs[rng.below(2)];
                            let to = NAMES[rng.below(NAMES.len())];
                            match store.link(a.ino, to_dir, to, now).await {
                                // The file may have lost its last link meanwhile.
                                Err(StoreError::Stale) => {}
                                r => drop(allowed(r, "link")),
                            }
                        }
                    }
                }
            }
            seen
        }));
    }
    let observer = {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut listings = 0u64;
            while !done.load(Ordering::Acquire) || listings == 0 {
                for d in dirs {
                    let page = ok(store.readdir(d, Cookie::START, 100).await, "racing readdir");
                    assert!(page.eof, "a listing of at most 12 names fits in one page");
                    let names: BTreeSet<&[u8]> =
                        page.entries.iter().map(|e| e.name.as_slice()).collect();
                    assert_eq!(names.len(), page.entries.len(), "a name listed twice");
                    assert!(
                        page.entries.windows(2).all(|w| w[0].cookie < w[1].cookie),
                        "cookies out of order"
                    );
                    for e in &page.entries {
                        assert!(e.attr.nlink >= 1, "a listed inode without links");
                        // The name may be gone or reused by now, but never be broken.
                        match store.lookup(d, &e.name).await {
                            Ok(_) | Err(StoreError::NotFound) => {}
                            Err(err) => panic!("racing lookup: {err:?}"),
                        }
                    }
                    listings += 1;
                }
                tokio::task::yield_now().await;
            }
            listings
        })
    };
    let mut created = BTreeSet::new();
    let mut freed = BTreeSet::new();
    for racer in racers {
        let seen = racer.await.expect("a racing task panicked");
        created.extend(seen.created);
        freed.extend(seen.freed);
    }
    done.store(true, Ordering::Release);
    assert!(observer.await.expect("the observer panicked") > 0);

    // Every name resolves to its listed inode; count names per inode.
    let mut names_of: BTreeMap<InodeId, u32> = BTreeMap::new();
    let mut subdirs: BTreeMap<InodeId, u32> = BTreeMap::new();
    let mut attrs: BTreeMap<InodeId, Attr> = BTreeMap::new();
    for d in dirs {
        let whole = ok(store.readdir(d, Cookie::START, 100).await, "final readdir");
        assert!(whole.eof);
        // The same listing one entry at a time, resumed by cookie.
        let mut paged = Vec::new();
        let mut after = Cookie::START;
        loop {
            let page = ok(store.readdir(d, after, 1).await, "paged readdir");
            paged.extend(page.entries.iter().map(|e| e.name.clone()));
            match page.entries.last() {
                Some(e) if !page.eof => after = e.cookie,
                _ => break,
            }
        }
        let names: Vec<Vec<u8>> = whole.entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(paged, names, "paged and whole listings differ");
        for e in &whole.entries {
            let found = ok(store.lookup(d, &e.name).await, "lookup of a listed name");
            assert_eq!(found.ino, e.attr.ino, "a listed name resolves elsewhere");
            *names_of.entry(e.attr.ino).or_default() += 1;
            if e.attr.kind == FileKind::Directory {
                *subdirs.entry(d).or_default() += 1;
                assert_eq!(
                    ok(store.parent(e.attr.ino).await, "parent"),
                    d,
                    "a directory's parent is not the directory listing it"
                );
            }
            attrs.insert(e.attr.ino, found);
        }
    }
    // The racers name only `NAMES`, so `sub` stays where it is; count it like the rest.
    created.insert(sub.ino);
    for (ino, count) in &names_of {
        let attr = ok(store.getattr(*ino).await, "getattr of a listed inode");
        if attr.kind == FileKind::Directory {
            assert_eq!(*count, 1, "a directory with two names");
            let children = subdirs.get(ino).copied().unwrap_or(0);
            assert_eq!(attr.nlink, 2 + children, "nlink of a listed directory");
        } else {
            assert_eq!(attr.nlink, *count, "nlink differs from the names of a file");
        }
    }
    let reachable: BTreeSet<InodeId> = names_of.keys().copied().collect();
    let alive: BTreeSet<InodeId> = created.difference(&freed).copied().collect();
    // Entries only ever move between `base` and `sub`, and no other directory ever gets an
    // entry, so every live inode is listed in one of the two: anything else is a lost entry.
    for ino in &alive {
        if !reachable.contains(ino) {
            match store.getattr(*ino).await {
                Err(StoreError::Stale) => panic!("inode {ino:?} was freed but no caller saw it"),
                Ok(a) => panic!("live inode {ino:?} ({:?}) is in no directory", a.kind),
                Err(e) => panic!("getattr {ino:?}: {e:?}"),
            }
        }
    }
    for ino in &freed {
        assert!(
            !reachable.contains(ino),
            "freed inode {ino:?} is still listed"
        );
        match store.getattr(*ino).await {
            Err(StoreError::Stale) => {}
            other => panic!("freed inode {ino:?} answers {other:?}"),
        }
    }
    assert!(
        reachable.is_subset(&alive),
        "a listed inode no caller created"
    );
    let base_now = ok(store.getattr(base.ino).await, "getattr base");
    assert_eq!(
        base_now.nlink,
        2 + subdirs.get(&base.ino).copied().unwrap_or(0)
    );
}

/// Swaps each racing task makes in [`version_race`].
const SWAP_ROUNDS: u64 = 200;

/// Several callers, each through its own store handle (pass several handles of one shared
/// database to race gateways, or one handle several times), switch one file's content version
/// by compare-and-swap at once: read the recorded version, then `record_write_on` over it.
/// Afterwards the successful swaps form one chain from no version to the recorded one, each
/// over the version the one before recorded: no swap overwrote another's version unseen
/// (a lost update), and the size is the largest end any successful swap recorded.
pub async fn version_race<M: MetadataStore>(stores: &[Arc<M>]) {
    let first = &stores[0];
    let top = ok(
        first.share_root("conformance-version-race", dir(0)).await,
        "share_root",
    );
    let mut n = 0u32;
    let f = loop {
        match first
            .create(top.ino, format!("race-{n}").as_bytes(), file(0))
            .await
        {
            Ok(a) => break a,
            Err(StoreError::Exists) => n += 1,
            Err(e) => panic!("creating the race file: {e:?}"),
        }
    };
    let mut tasks = Vec::new();
    for (i, store) in stores.iter().chain(stores.iter()).enumerate() {
        let store = Arc::clone(store);
        let task = i as u64 + 1;
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for round in 0..SWAP_ROUNDS {
                let base = ok(store.content_version(f.ino).await, "content_version");
                let version = ContentVersion((task << 32) | (round + 1));
                let end = task * 1000 + round;
                match ok(
                    store.record_write_on(f.ino, end, t(2), base, version).await,
                    "record_write_on",
                ) {
                    Recorded::Done(_) => done.push((base, version, end)),
                    Recorded::Conflict(now) => assert_ne!(
                        now, base,
                        "a conflict must name a version other than the base"
                    ),
                }
                tokio::task::yield_now().await;
            }
            done
        }));
    }
    let mut swaps = Vec::new();
    for t in tasks {
        swaps.extend(t.await.expect("race task"));
    }
    assert!(!swaps.is_empty(), "no swap succeeded");
    let by_base: BTreeMap<Option<ContentVersion>, ContentVersion> =
        swaps.iter().map(|(b, v, _)| (*b, *v)).collect();
    assert_eq!(
        by_base.len(),
        swaps.len(),
        "two swaps succeeded over the same base: one overwrote the other unseen"
    );
    let mut at = None;
    let mut steps = 0;
    while let Some(next) = by_base.get(&at) {
        at = Some(*next);
        steps += 1;
    }
    assert_eq!(steps, swaps.len(), "the swaps do not form one chain");
    assert_eq!(
        ok(first.content_version(f.ino).await, "final version"),
        at,
        "the recorded version is the chain's last"
    );
    let max_end = swaps.iter().map(|(_, _, e)| *e).max().unwrap_or(0);
    assert_eq!(ok(first.getattr(f.ino).await, "getattr").size, max_end);
}

/// One writer rewrites a file while a reader reads it, at once. Round `i` writes `LEN` bytes of
/// value `i` from offset 0 in one call, then appends a chunk of `i` at `LEN + 16 * (i - 1)`.
/// A read that starts after round `i` completed must see, at every offset it returns, a value
/// of at least `i` and at most the round in progress when it ended (writes may be observed
/// page by page, never going back and never from the future), and never more bytes than were
/// written.
pub async fn content_concurrency<C: ContentStore>(store: Arc<C>) {
    const LEN: usize = 3 * 4096 + 100;
    const CHUNK: usize = 16;
    let key = ContentKey {
        store: StoreId(0xC0CC_0000_0000_0001),
        ino: InodeId(1),
        generation: Generation(1),
    };
    ok(store.remove(key).await, "remove before the check");
    // Rounds completed, and the round in progress (`started` >= `completed`).
    let completed = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicU64::new(0));
    let writer = {
        let store = Arc::clone(&store);
        let completed = Arc::clone(&completed);
        let started = Arc::clone(&started);
        tokio::spawn(async move {
            for round in 1..=CONTENT_ROUNDS {
                started.store(u64::from(round), Ordering::SeqCst);
                ok(
                    store.write(key, 0, Bytes::from(vec![round; LEN])).await,
                    "write",
                );
                let at = (LEN + CHUNK * usize::from(round - 1)) as u64;
                ok(
                    store.write(key, at, Bytes::from(vec![round; CHUNK])).await,
                    "append",
                );
                if round % 16 == 0 {
                    ok(store.sync(key).await, "sync");
                }
                completed.store(u64::from(round), Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let reader = {
        let store = Arc::clone(&store);
        let completed = Arc::clone(&completed);
        let started = Arc::clone(&started);
        tokio::spawn(async move {
            let mut reads = 0u32;
            loop {
                let low = completed.load(Ordering::SeqCst);
                let data = ok(store.read(key, 0, (2 * LEN) as u32).await, "racing read");
                let high = started.load(Ordering::SeqCst);
                let max_len = if high == 0 {
                    0
                } else {
                    LEN + CHUNK * high as usize
                };
                assert!(
                    data.len() <= max_len,
                    "read {} bytes, more than the {max_len} written",
                    data.len()
                );
                if low > 0 {
                    assert!(
                        data.len() >= LEN + CHUNK * low as usize,
                        "read {} bytes after round {low} completed",
                        data.len()
                    );
                }
                for (i, &b) in data[..data.len().min(LEN)].iter().enumerate() {
                    let b = u64::from(b);
                    assert!(
                        b >= low && b <= high,
                        "offset {i}: value {b} outside rounds {low}..={high} (torn or stale)"
                    );
                }
                // Each appended chunk holds its own round's value, or zeros only before it
                // was written (a hole left by a later append can never read as data).
                for (c, chunk) in data[data.len().min(LEN)..].chunks(CHUNK).enumerate() {
                    let round = c as u64 + 1;
                    assert!(
                        chunk.iter().all(|&b| u64::from(b) == round || b == 0),
                        "appended chunk {round} holds foreign bytes"
                    );
                    if round <= low {
                        assert!(
                            chunk.iter().all(|&b| u64::from(b) == round),
                            "chunk {round} not visible after its round completed"
                        );
                    }
                }
                reads += 1;
                if low == u64::from(CONTENT_ROUNDS) {
                    break reads;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    writer.await.expect("the writer panicked");
    assert!(reader.await.expect("the reader panicked") > 0);
    let end = LEN + CHUNK * usize::from(CONTENT_ROUNDS);
    let data = ok(store.read(key, 0, (2 * LEN) as u32).await, "final read");
    assert_eq!(data.len(), end);
    assert!(data[..LEN].iter().all(|&b| b == CONTENT_ROUNDS));
    ok(store.remove(key).await, "remove after the check");
}
