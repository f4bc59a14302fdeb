//! The content checks: every rule of the [`ContentStore`] contract.

use std::future::Future;

use bytes::Bytes;

use super::{CheckGuard, ok};
use crate::api::{
    ContentKey, ContentStore, ContentVersion, Generation, InodeId, StoreError, StoreId,
};

/// Runs every content check against `store`; panics on the first violation.
pub async fn content_suite<C: ContentStore>(store: &C) {
    let cx = Content { store };
    checks!(&cx;
        content_empty_key,
        content_write_read,
        content_overwrite_middle,
        content_hole_zeros,
        content_short_reads,
        content_truncate,
        content_truncate_fresh_key,
        content_remove,
        content_keys_independent,
        content_block_boundaries,
        content_appends,
        content_empty_write,
        content_large_sparse,
        content_random_ops_match_model,
        content_sync_and_usage,
        content_versions,
        content_max_size,
        content_allocated_and_punch,
        content_adopt,
    );
}

/// Context of one content run.
struct Content<'a, C> {
    store: &'a C,
}

/// Store id the content checks use for their keys.
const CONTENT_STORE: StoreId = StoreId(0xC0FF_EE00_C0FF_EE00);

impl<C: ContentStore> Content<'_, C> {
    /// Key `n`, emptied first so the suite can run again on the same store.
    async fn key(&self, n: u64) -> ContentKey {
        let key = ContentKey {
            store: CONTENT_STORE,
            ino: InodeId(n),
            generation: Generation(1),
        };
        ok(self.store.remove(key).await, "remove before the check");
        key
    }

    async fn write(&self, key: ContentKey, offset: u64, data: &[u8]) {
        ok(
            self.store
                .write(key, offset, Bytes::copy_from_slice(data))
                .await,
            &format!("write {} bytes at {offset}", data.len()),
        );
    }

    async fn read(&self, key: ContentKey, offset: u64, len: u32) -> Bytes {
        ok(
            self.store.read(key, offset, len).await,
            &format!("read {len} at {offset}"),
        )
    }

    async fn len(&self, key: ContentKey) -> u64 {
        ok(self.store.len(key).await, "len")
    }

    /// Checks that the whole object equals `model`.
    async fn same(&self, key: ContentKey, model: &[u8], what: &str) {
        assert_eq!(self.len(key).await, model.len() as u64, "{what}: length");
        let got = self.read(key, 0, u32::MAX).await;
        if got[..] != model[..] {
            let at = got.iter().zip(model).position(|(a, b)| a != b);
            panic!("{what}: content differs (first difference at {at:?})");
        }
    }
}

/// A byte pattern that differs at every position of a block, so misplaced bytes show.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(u64::from(seed)) as u8 ^ (i >> 8) as u8)
        .collect()
}

/// A key never written reads empty everywhere; sync and remove of it succeed.
async fn content_empty_key<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(1).await;
    assert!(cx.read(k, 0, 100).await.is_empty());
    assert!(cx.read(k, 1 << 40, 100).await.is_empty());
    assert_eq!(cx.len(k).await, 0);
    ok(cx.store.sync(k).await, "sync of a never-written key");
    ok(cx.store.remove(k).await, "remove of a never-written key");
}

/// Bytes written read back, whole and in parts.
async fn content_write_read<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(2).await;
    cx.write(k, 0, b"hello world").await;
    assert_eq!(&cx.read(k, 0, 11).await[..], b"hello world");
    assert_eq!(&cx.read(k, 6, 5).await[..], b"world");
    assert_eq!(&cx.read(k, 3, 2).await[..], b"lo");
    assert_eq!(cx.len(k).await, 11);
}

/// An overwrite inside the object changes only its range.
async fn content_overwrite_middle<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(3).await;
    cx.write(k, 0, b"abcdefghijklmnopqrstuvwxyz").await;
    cx.write(k, 10, b"XYZ").await;
    cx.same(k, b"abcdefghijXYZnopqrstuvwxyz", "overwrite").await;
    cx.write(k, 24, b"1234").await;
    cx.same(
        k,
        b"abcdefghijXYZnopqrstuvwx1234",
        "overwrite across the end",
    )
    .await;
}

/// Writing past the end leaves a hole of zeros.
async fn content_hole_zeros<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(4).await;
    cx.write(k, 1000, b"end").await;
    assert_eq!(cx.len(k).await, 1003);
    assert_eq!(&cx.read(k, 0, 1000).await[..], &[0u8; 1000][..]);
    assert_eq!(&cx.read(k, 998, 5).await[..], b"\0\0end");
    cx.write(k, 0, b"start").await;
    cx.write(k, 200_000, b"far").await;
    let mut model = vec![0u8; 200_003];
    model[..5].copy_from_slice(b"start");
    model[1000..1003].copy_from_slice(b"end");
    model[200_000..].copy_from_slice(b"far");
    cx.same(k, &model, "two holes").await;
}

/// Reads past the end are short or empty, never padded; a huge length does not matter.
async fn content_short_reads<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(5).await;
    cx.write(k, 0, b"0123456789").await;
    assert_eq!(&cx.read(k, 5, 100).await[..], b"56789");
    assert_eq!(&cx.read(k, 0, u32::MAX).await[..], b"0123456789");
    assert!(cx.read(k, 10, 10).await.is_empty());
    assert!(cx.read(k, 11, 1).await.is_empty());
    assert!(cx.read(k, u64::MAX - 1, 10).await.is_empty());
    assert!(cx.read(k, 0, 0).await.is_empty());
}

/// truncate sets the length exactly; growing exposes zeros, never old bytes.
async fn content_truncate<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(6).await;
    let data = pattern(150_000, 6);
    cx.write(k, 0, &data).await;
    ok(cx.store.truncate(k, 100_000).await, "shrink");
    cx.same(k, &data[..100_000], "after shrink").await;
    ok(cx.store.truncate(k, 140_000).await, "grow");
    let mut model = data[..100_000].to_vec();
    model.resize(140_000, 0);
    cx.same(k, &model, "after grow (old bytes must not come back)")
        .await;
    ok(cx.store.truncate(k, 140_000).await, "same length");
    cx.same(k, &model, "after a truncate to the same length")
        .await;
    ok(
        cx.store.truncate(k, 7).await,
        "shrink inside the first block",
    );
    ok(cx.store.truncate(k, 20).await, "grow again");
    let mut model = data[..7].to_vec();
    model.resize(20, 0);
    cx.same(k, &model, "after shrink and grow within a block")
        .await;
    ok(cx.store.truncate(k, 0).await, "truncate to 0");
    assert_eq!(cx.len(k).await, 0);
    assert!(cx.read(k, 0, 100).await.is_empty());
}

/// Truncating a never-written key grows it into a hole.
async fn content_truncate_fresh_key<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(7).await;
    ok(cx.store.truncate(k, 4096).await, "truncate fresh key");
    cx.same(k, &[0u8; 4096], "fresh key grown by truncate")
        .await;
    let k0 = cx.key(8).await;
    ok(cx.store.truncate(k0, 0).await, "truncate fresh key to 0");
    assert_eq!(cx.len(k0).await, 0);
}

/// remove empties the key; removing twice succeeds; a later write starts from nothing.
async fn content_remove<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(9).await;
    cx.write(k, 0, b"some data").await;
    ok(cx.store.sync(k).await, "sync");
    ok(cx.store.remove(k).await, "remove");
    assert_eq!(cx.len(k).await, 0);
    assert!(cx.read(k, 0, 100).await.is_empty());
    ok(cx.store.remove(k).await, "remove again");
    cx.write(k, 5, b"b").await;
    cx.same(k, b"\0\0\0\0\0b", "write after remove").await;
}

/// Keys differing in store id, inode id or generation are separate objects.
async fn content_keys_independent<C: ContentStore>(cx: &Content<'_, C>) {
    let a = cx.key(10).await;
    let b = cx.key(11).await;
    let c = ContentKey {
        store: StoreId(CONTENT_STORE.0 + 1),
        ..a
    };
    // The same inode id reused with a new generation (after a crash) is another object: the
    // old bytes never show through it.
    let g = ContentKey {
        generation: Generation(a.generation.0 + 1),
        ..a
    };
    ok(cx.store.remove(c).await, "remove");
    ok(cx.store.remove(g).await, "remove");
    cx.write(g, 0, b"gg").await;
    cx.same(g, b"gg", "other generation").await;
    cx.write(a, 0, b"aaaa").await;
    cx.write(b, 0, b"bb").await;
    cx.write(c, 0, b"c").await;
    cx.same(a, b"aaaa", "key a").await;
    cx.same(b, b"bb", "key b").await;
    cx.same(c, b"c", "same inode, other store").await;
    ok(cx.store.remove(c).await, "remove c");
    cx.same(a, b"aaaa", "key a after removing c").await;
    cx.same(g, b"gg", "other generation after a's writes").await;
    ok(cx.store.remove(a).await, "remove a");
    cx.same(g, b"gg", "other generation after removing a").await;
    ok(cx.store.remove(g).await, "remove g");
}

/// Writes and reads at unaligned offsets across many block sizes' boundaries.
async fn content_block_boundaries<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(12).await;
    let data = pattern(300_000, 12);
    cx.write(k, 65_000, &data).await;
    let mut model = vec![0u8; 65_000];
    model.extend_from_slice(&data);
    for (offset, len) in [
        (131_070, 10),
        (4095, 2),
        (65_535, 65_537),
        (262_143, 3),
        (0, 1),
    ] {
        let patch = pattern(len, offset as u8);
        cx.write(k, offset as u64, &patch).await;
        model[offset..offset + len].copy_from_slice(&patch);
    }
    cx.same(k, &model, "after unaligned writes").await;
    let mut offset = 0;
    while offset < model.len() {
        let len = 77_777.min(model.len() - offset);
        let got = cx.read(k, offset as u64, len as u32).await;
        assert!(
            got[..] == model[offset..offset + len],
            "read of {len} at {offset}"
        );
        offset += 77_777;
    }
}

/// Many small sequential writes build the object in order.
async fn content_appends<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(13).await;
    let data = pattern(100 * 333, 13);
    for (i, chunk) in data.chunks(333).enumerate() {
        cx.write(k, (i * 333) as u64, chunk).await;
    }
    cx.same(k, &data, "after appends").await;
}

/// A zero-length write changes nothing, not even the length.
async fn content_empty_write<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(14).await;
    cx.write(k, 0, b"0123456789").await;
    cx.write(k, 100, b"").await;
    assert_eq!(cx.len(k).await, 10, "an empty write extended the object");
    let fresh = cx.key(15).await;
    cx.write(fresh, 100, b"").await;
    assert_eq!(cx.len(fresh).await, 0);
}

/// 1 MiB written beyond 4 GiB reads back; everything before it is a hole.
async fn content_large_sparse<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(16).await;
    let offset = (5u64 << 30) + 12_345;
    let data = pattern(1 << 20, 16);
    cx.write(k, offset, &data).await;
    assert_eq!(cx.len(k).await, offset + (1 << 20));
    assert!(
        cx.read(k, offset, 1 << 20).await[..] == data[..],
        "data beyond 4 GiB"
    );
    assert!(
        cx.read(k, 4 << 30, 4096).await.iter().all(|&b| b == 0),
        "hole at 4 GiB"
    );
    assert_eq!(
        &cx.read(k, offset - 2, 4).await[..],
        &[0, 0, data[0], data[1]]
    );
    ok(cx.store.sync(k).await, "sync sparse");
    ok(cx.store.truncate(k, (4 << 30) + 10).await, "shrink sparse");
    assert_eq!(cx.len(k).await, (4 << 30) + 10);
    ok(cx.store.remove(k).await, "remove sparse");
}

/// A deterministic random sequence of writes, truncates and reads matches a byte-vector model.
async fn content_random_ops_match_model<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(17).await;
    let mut model: Vec<u8> = Vec::new();
    // A fixed linear congruential generator: reproducible and needs no dependency.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    for step in 0..300 {
        match next(10) {
            0..=5 => {
                let offset = next(400_000) as usize;
                let bound = if next(4) == 0 { 140_000 } else { 3_000 };
                let len = 1 + next(bound) as usize;
                let data = pattern(len, step as u8);
                cx.write(k, offset as u64, &data).await;
                if model.len() < offset + len {
                    model.resize(offset + len, 0);
                }
                model[offset..offset + len].copy_from_slice(&data);
            }
            6 => {
                let len = next(420_000) as usize;
                ok(cx.store.truncate(k, len as u64).await, "truncate");
                model.resize(len, 0);
            }
            7 => {
                ok(cx.store.sync(k).await, "sync");
            }
            _ => {
                let offset = next(450_000) as usize;
                let len = next(200_000) as usize;
                let got = cx.read(k, offset as u64, len as u32).await;
                let want = model
                    .get(offset..model.len().min(offset + len))
                    .unwrap_or(&[]);
                assert!(got[..] == want[..], "step {step}: read {len} at {offset}");
            }
        }
    }
    cx.same(k, &model, "after random operations").await;
}

/// sync and usage succeed; data stays readable after sync.
async fn content_sync_and_usage<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(18).await;
    cx.write(k, 0, b"durable").await;
    ok(cx.store.sync(k).await, "sync");
    ok(cx.store.sync(k).await, "sync twice");
    cx.same(k, b"durable", "after sync").await;
    let u = ok(cx.store.usage().await, "usage");
    assert!(
        u.bytes_free <= u.bytes_total,
        "more free bytes than bytes: {u:?}"
    );
}

/// A store has versions or it has not: `write` and `sync` agree on it; a store with versions
/// names changed bytes with a new version.
async fn content_versions<C: ContentStore>(cx: &Content<'_, C>) {
    let k = cx.key(16).await;
    let written = ok(
        cx.store.write(k, 0, Bytes::from_static(b"one")).await,
        "write",
    );
    let synced = ok(cx.store.sync(k).await, "sync");
    assert_eq!(
        written.is_some(),
        synced.is_some(),
        "write and sync disagree on whether the store has versions"
    );
    let rewritten = ok(
        cx.store.write(k, 0, Bytes::from_static(b"two")).await,
        "second write",
    );
    let resynced = ok(cx.store.sync(k).await, "second sync");
    assert_eq!(rewritten.is_some(), resynced.is_some());
    if let (Some(first), Some(second)) = (synced, resynced) {
        assert_ne!(first, second, "different bytes under one version");
    }
    cx.same(k, b"two", "bytes after two versions").await;
}

/// Nothing grows beyond `max_file_size`: such a write or truncate is `FileTooLarge` and
/// changes nothing; up to it, bytes land where asked.
async fn content_max_size<C: ContentStore>(cx: &Content<'_, C>) {
    let max = cx.store.max_file_size();
    assert!(
        max > 0 && max <= i64::MAX as u64,
        "max_file_size {max} outside 1..=i64::MAX"
    );
    let k = cx.key(17).await;
    assert_err!(
        cx.store.write(k, max, Bytes::from_static(b"x")).await,
        StoreError::FileTooLarge,
        "a write ending one byte beyond the maximum"
    );
    assert_err!(
        cx.store.write(k, u64::MAX, Bytes::from_static(b"x")).await,
        StoreError::FileTooLarge,
        "a write ending beyond u64"
    );
    assert_err!(
        cx.store.truncate(k, max + 1).await,
        StoreError::FileTooLarge,
        "a truncate beyond the maximum"
    );
    assert_eq!(cx.len(k).await, 0, "a refused call changed the length");
    cx.write(k, max - 1, b"z").await;
    assert_eq!(cx.len(k).await, max);
    assert_eq!(&cx.read(k, max - 1, 10).await[..], b"z");
    ok(cx.store.truncate(k, max).await, "truncate to the maximum");
    ok(cx.store.remove(k).await, "remove");
}

/// `allocated` reports every written byte inside the range and nothing past the length, in
/// order and disjoint; `punch_hole` zeroes exactly its range (cut to the length), never
/// changes the length, and a range it deallocated may then be a hole.
async fn content_allocated_and_punch<C: ContentStore>(cx: &Content<'_, C>) {
    let s = cx.store;
    let k = cx.key(90).await;
    assert!(ok(s.allocated(k, 0, u64::MAX).await, "allocated of a new key").is_empty());
    ok(s.punch_hole(k, 0, 100).await, "punch a key never written");
    assert_eq!(cx.len(k).await, 0, "punching never extends");
    let far = 300_000u64;
    cx.write(k, 0, &[b'a'; 100]).await;
    cx.write(k, far, &[b'b'; 100]).await;
    let len = far + 100;
    let check = |ranges: &[(u64, u64)], lo: u64, hi: u64, what: &str| {
        let mut prev_end = lo;
        for &(o, l) in ranges {
            assert!(l > 0, "{what}: empty range");
            assert!(
                o >= prev_end,
                "{what}: ranges out of order or overlapping: {ranges:?}"
            );
            assert!(o + l <= hi, "{what}: range past the end: {ranges:?}");
            prev_end = o + l;
        }
    };
    let covers = |ranges: &[(u64, u64)], from: u64, to: u64| {
        (from..to)
            .step_by(7)
            .all(|b| ranges.iter().any(|&(o, l)| o <= b && b < o + l))
    };
    let all = ok(s.allocated(k, 0, u64::MAX).await, "allocated, everything");
    check(&all, 0, len, "everything");
    assert!(
        covers(&all, 0, 100) && covers(&all, far, len),
        "written bytes: {all:?}"
    );
    let part = ok(s.allocated(k, 50, 10).await, "allocated inside");
    check(&part, 50, 60, "inside");
    assert!(covers(&part, 50, 60), "written bytes inside: {part:?}");
    assert!(ok(s.allocated(k, len, 1000).await, "allocated past the end").is_empty());
    // Punch inside the first piece and across the end of the second.
    ok(s.punch_hole(k, 10, 20).await, "punch 10..30");
    ok(
        s.punch_hole(k, far + 50, 1 << 20).await,
        "punch across the end",
    );
    assert_eq!(cx.len(k).await, len, "punching keeps the length");
    let mut model = vec![0u8; usize::try_from(len).unwrap_or(0)];
    model[..100].fill(b'a');
    model[10..30].fill(0);
    let far_at = usize::try_from(far).unwrap_or(0);
    model[far_at..far_at + 50].fill(b'b');
    cx.same(k, &model, "after punching").await;
    let after = ok(
        s.allocated(k, 0, u64::MAX).await,
        "allocated after punching",
    );
    check(&after, 0, len, "after punching");
    assert!(
        covers(&after, 0, 10) && covers(&after, 30, 100) && covers(&after, far, far + 50),
        "bytes still written: {after:?}"
    );
    // Punching everything leaves zeros of the same length.
    ok(s.punch_hole(k, 0, u64::MAX).await, "punch everything");
    cx.same(k, &vec![0u8; model.len()], "after punching everything")
        .await;
}

/// `adopt` never makes a store serve older bytes than its own: a store without versions
/// ignores it (even for a version it never issued); a store with versions keeps serving what
/// it wrote after the adopted version, keeps its synced version against a stale (older)
/// report, and keeps serving the version that is adopted back.
async fn content_adopt<C: ContentStore>(cx: &Content<'_, C>) {
    let s = cx.store;
    let k = cx.key(91).await;
    cx.write(k, 0, b"first").await;
    let v1 = ok(s.sync(k).await, "sync first");
    assert_eq!(
        v1.is_some(),
        s.has_versions(),
        "has_versions disagrees with sync"
    );
    ok(s.adopt(k, v1).await, "adopt the synced version");
    cx.same(k, b"first", "after adopting the synced version")
        .await;
    if !s.has_versions() {
        ok(
            s.adopt(k, Some(ContentVersion(12_345))).await,
            "adopt on a store without versions",
        );
        ok(
            s.adopt(k, None).await,
            "adopt None on a store without versions",
        );
        cx.same(k, b"first", "adopt changed a store without versions")
            .await;
        return;
    }
    cx.write(k, 0, b"second").await;
    ok(s.adopt(k, v1).await, "adopt while changes are staged");
    cx.same(k, b"second", "staged changes lost to an adopt")
        .await;
    let v2 = ok(s.sync(k).await, "sync second");
    assert!(v2 > v1, "a later version is not larger: {v1:?} then {v2:?}");
    ok(s.adopt(k, v1).await, "a stale report of the older version");
    cx.same(k, b"second", "a stale adopt brought back older bytes")
        .await;
    ok(s.adopt(k, v2).await, "adopt the new version");
    cx.same(k, b"second", "after adopting the new version")
        .await;
}

/// The hand-off across a restart, for stores with versions: a version synced but never
/// recorded (the crash came before `record_write`) is not what a reopened store serves once
/// told the recorded version; a newer version recorded elsewhere is served once adopted.
/// `reopen` opens a second instance on the same storage (as after a restart). Stores
/// without versions pass trivially.
pub async fn content_adopt_after_restart<C, F, Fut>(store: &C, mut reopen: F)
where
    C: ContentStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let _guard = CheckGuard("content_adopt_after_restart");
    let cx = Content { store };
    let k = cx.key(92).await;
    cx.write(k, 0, b"recorded bytes").await;
    let recorded = ok(store.sync(k).await, "sync the recorded version");
    cx.write(k, 0, b"NEWER").await;
    let unrecorded = ok(store.sync(k).await, "sync a version never recorded");
    if !store.has_versions() {
        return;
    }
    let again = reopen().await;
    let cx2 = Content { store: &again };
    ok(again.adopt(k, recorded).await, "adopt the recorded version");
    cx2.same(
        k,
        b"recorded bytes",
        "a reopened store after adopting the recorded version",
    )
    .await;
    // Writes continue from the recorded version, not the unrecorded one.
    cx2.write(k, 14, b"!").await;
    let next = ok(again.sync(k).await, "sync after the restart");
    assert!(
        next > unrecorded && next > recorded,
        "versions went backwards"
    );
    cx2.same(k, b"recorded bytes!", "bytes written after the restart")
        .await;
    // Another instance recorded a newer version: adopting it switches a clean head.
    let third = reopen().await;
    let cx3 = Content { store: &third };
    ok(third.adopt(k, recorded).await, "adopt the old version");
    cx3.same(k, b"recorded bytes", "third instance, old version")
        .await;
    ok(third.adopt(k, next).await, "adopt the newer version");
    cx3.same(k, b"recorded bytes!", "third instance, newer version")
        .await;
    ok(store.remove(k).await, "remove");
}
