//! Runs the content conformance suite against the filesystem store in a temporary directory.

use stores::conformance::content_suite;
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
