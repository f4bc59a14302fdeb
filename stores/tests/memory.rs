//! Runs the conformance suites against the in-memory stores.

use std::sync::Arc;

use stores::conformance::{
    content_concurrency, content_suite, metadata_concurrency, metadata_suite, version_race,
};
use stores::memory::{MemoryContent, MemoryMetadata};
use stores::{MetadataStore, StoreId};

/// Goal: the memory metadata store meets every rule of the metadata contract. Method: run the
/// whole suite twice on one store, as a reopened persistent store would see it.
#[tokio::test]
async fn memory_metadata_conformance() {
    let store = MemoryMetadata::new(StoreId(0x5eed));
    metadata_suite(&store).await;
    metadata_suite(&store).await;
}

/// Goal: the suite's changes survive sync and crash like any other. Method: run the suite,
/// sync, crash, and run it again on the recovered state.
#[tokio::test]
async fn memory_metadata_conformance_after_crash() {
    let store = MemoryMetadata::new(StoreId(1));
    metadata_suite(&store).await;
    store.sync().await.unwrap();
    store.crash();
    metadata_suite(&store).await;
}

/// Goal: the memory content store meets every rule of the content contract, also when run
/// again on the same store.
#[tokio::test]
async fn memory_content_conformance() {
    let store = MemoryContent::new();
    content_suite(&store).await;
    content_suite(&store).await;
}

/// Goal: racing callers on one directory and on one file keep the memory stores consistent.
/// Method: run both concurrency checks on a multi-threaded runtime, twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_concurrency() {
    let meta = Arc::new(MemoryMetadata::new(StoreId(2)));
    metadata_concurrency(Arc::clone(&meta)).await;
    version_race(&[Arc::clone(&meta)]).await;
    metadata_concurrency(meta).await;
    let content = Arc::new(MemoryContent::new());
    content_concurrency(Arc::clone(&content)).await;
    content_concurrency(content).await;
}
