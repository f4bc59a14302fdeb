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
