//! Content in an S3 bucket (feature `s3`): [`S3Content`].
//!
//! A file's bytes are cut into fixed-size blocks; every upload of a block is a new immutable
//! object, and each synced state of a file is a new immutable manifest naming its blocks
//! (layout in [`layout`]). [`ContentStore::sync`] uploads the staged blocks, then the
//! manifest, and returns the manifest's [`ContentVersion`]; the server records it with the
//! size in the metadata store ([`crate::MetadataStore::record_write`]), which is the atomic
//! switch: a reader, and a restart, sees the recorded version, never a half-uploaded one.
//!
//! Which version to read: the store keeps, per file, a head (the version it reads plus the
//! changes staged on it). [`ContentStore::adopt`] tells it the version metadata recorded;
//! the server calls it before it reads or changes a file's content. A head with local
//! changes not yet recorded keeps them (they are newer); otherwise the head moves to the
//! recorded version if that one is newer than its own. After a restart every head starts from
//! what metadata recorded, never from a newer unrecorded manifest.
//!
//! Writes are staged in the local [`cache::DiskCache`] (bounded; a writer waits for uploads
//! when the staged part is full); reads are served from it, or from S3 (a whole block into
//! the cache, or a range GET when the block cannot be cached).
//!
//! Several gateways may share one bucket (and one metadata store): every object is
//! create-only, each version is stamped above the version it builds on, and the server
//! records a version only over the one it built on ([`crate::MetadataStore::record_write_on`]);
//! a gateway that finds another version recorded re-bases ([`ContentStore::rebase`]) and
//! writes its changes again on top.
//!
//! Garbage: superseded manifests and blocks are deleted only by
//! [`S3Content::collect_garbage`], which asks metadata (through a callback) which version
//! each file has, then makes metadata durable, then deletes what that version does not
//! reference, once older than the grace period. Files that metadata no longer has lose
//! everything. The server removes a freed file's content itself, after the removal is
//! durable ([`ContentStore::remove`]).

pub mod cache;
pub mod client;
pub mod layout;
pub mod lease;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use s3::creds::Credentials;
use s3::{Bucket, BucketConfiguration, Region};
use tokio::sync::Semaphore;

use self::cache::DiskCache;
use self::client::{Client, Outcome};
use self::layout::{BlockRef, Manifest, Names, Object, stamp_at, stamp_ms, wall_ms};
use self::lease::Held;
use crate::api::{ContentKey, ContentStore, ContentVersion, StoreError, StoreResult, Usage};

/// The largest file: 1 PiB (what FSINFO reports).
pub const MAX_FILE_SIZE: u64 = 1 << 50;
/// Smallest block size accepted.
pub const BLOCK_SIZE_MIN: u64 = 64 * 1024;
/// Largest block size accepted.
pub const BLOCK_SIZE_MAX: u64 = 256 * 1024 * 1024;
/// Blocks of at least this many bytes go up as multipart uploads (rust-s3 cuts 8 MiB parts).
pub const MULTIPART_MIN: usize = 16 * 1024 * 1024;

/// Settings of an [`S3Content`]. `Debug` never prints the secret key.
#[derive(Clone)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Region (any name for S3-compatible servers).
    pub region: String,
    /// Endpoint URL (`http://127.0.0.1:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Prefix of every object name (empty or ending in `/`; one is added).
    pub prefix: String,
    /// Path-style URLs (`endpoint/bucket/key`), what most S3-compatible servers need.
    pub force_path_style: bool,
    /// Block size in bytes ([`BLOCK_SIZE_MIN`]..=[`BLOCK_SIZE_MAX`]).
    pub block_size: u64,
    /// Local cache directory.
    pub cache_dir: PathBuf,
    /// Bytes of local disk the cache may use: half for clean blocks, half for staged writes;
    /// at least 4 blocks.
    pub cache_size: u64,
    /// Access key id; `None` takes `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// Secret access key; `None` takes `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// Create the bucket if it does not exist (otherwise refuse to start).
    pub create_bucket: bool,
    /// Most block uploads in flight at once.
    pub max_uploads: usize,
    /// How long one S3 call retries transient failures before failing with `Busy`.
    pub retry_deadline: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Objects newer than their file's recorded version, and unreferenced blocks, are
    /// garbage only once older than this by their stamp (they may belong to an upload in
    /// flight, here or on another gateway). Gateways sharing the bucket must keep their clocks
    /// closer than this (see `collect_garbage`).
    pub gc_grace: Duration,
    /// How long a full garbage scan's lease (an object in the bucket) lasts before another
    /// instance may take it over; the holder renews it while it scans. Only one instance
    /// sharing the bucket and prefix runs a full scan at a time.
    pub gc_lease: Duration,
    /// Shifts this store's clock (the time in version and block stamps, garbage ages and the
    /// lease's expiry) by this many milliseconds. For tests that imitate gateways whose clocks
    /// disagree; 0 otherwise, and the daemon's configuration does not offer it.
    pub clock_offset_ms: i64,
}

impl S3Config {
    /// Settings with the defaults for everything but where the bucket is.
    pub fn new(bucket: &str, cache_dir: PathBuf) -> Self {
        Self {
            bucket: bucket.to_string(),
            region: "us-east-1".to_string(),
            endpoint: None,
            prefix: String::new(),
            force_path_style: false,
            block_size: 4 << 20,
            cache_dir,
            cache_size: 1 << 30,
            access_key_id: None,
            secret_access_key: None,
            create_bucket: false,
            max_uploads: 8,
            retry_deadline: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            gc_grace: Duration::from_secs(3600),
            gc_lease: Duration::from_secs(300),
            clock_offset_ms: 0,
        }
    }
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .field("force_path_style", &self.force_path_style)
            .field("block_size", &self.block_size)
            .field("cache_dir", &self.cache_dir)
            .field("cache_size", &self.cache_size)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("create_bucket", &self.create_bucket)
            .field("max_uploads", &self.max_uploads)
            .field("retry_deadline", &self.retry_deadline)
            .field("request_timeout", &self.request_timeout)
            .field("gc_grace", &self.gc_grace)
            .field("gc_lease", &self.gc_lease)
            .field("clock_offset_ms", &self.clock_offset_ms)
            .finish()
    }
}

/// What metadata says of a content key, for [`S3Content::collect_garbage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// The file exists; this is its recorded version.
    Live(Option<ContentVersion>),
    /// The file (this inode and generation) no longer exists: all its content is garbage.
    Gone,
    /// Not known to this metadata (another store's key): left alone.
    Unknown,
}

/// A future returned by a [`Resolver`].
pub type ResolveFuture = Pin<Box<dyn Future<Output = StoreResult<KeyState>> + Send>>;

/// Asks metadata what it holds for a content key. A closure, so this crate does not need to
/// know the metadata store's type.
pub type Resolver = dyn Fn(ContentKey) -> ResolveFuture + Send + Sync;

/// What one garbage collection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Keys looked at.
    pub keys: usize,
    /// Keys skipped (changes in flight here, or not known to metadata).
    pub skipped: usize,
    /// Manifests deleted.
    pub manifests: usize,
    /// Blocks deleted.
    pub blocks: usize,
    /// A full scan was asked for, but another instance holds the scan lease: only the files
    /// this instance saw superseded were looked at.
    pub full_skipped: bool,
}

/// One block of a head.
#[derive(Debug)]
enum Slot {
    /// In a block object.
    Stored(BlockRef),
    /// Staged in the cache: `len` bytes of the block in the file at `path`.
    Dirty { path: PathBuf, len: u64 },
}

/// The state of one file the store works on. See the module docs.
#[derive(Debug)]
struct Head {
    /// Whether `len` and `blocks` hold `version`'s manifest (plus staged changes).
    loaded: bool,
    /// The version the head is based on: the one adopted (or rebased to), or the last one
    /// synced here. New stamps are made greater than it.
    version: Option<u64>,
    len: u64,
    block_size: u64,
    blocks: BTreeMap<u64, Slot>,
    /// Whether there are changes since `version`.
    changed: bool,
    /// The version the next sync publishes (what `write` returns).
    pending: Option<u64>,
    /// Versions published here that metadata has not yet been seen to record.
    unconfirmed: Vec<u64>,
}

impl Head {
    fn at(version: Option<u64>, block_size: u64) -> Self {
        Self {
            loaded: version.is_none(),
            version,
            len: 0,
            block_size,
            blocks: BTreeMap::new(),
            changed: false,
            pending: None,
            unconfirmed: Vec::new(),
        }
    }

    fn has_dirty(&self) -> bool {
        self.blocks
            .values()
            .any(|s| matches!(s, Slot::Dirty { .. }))
    }

    /// Whether the head holds anything metadata has not recorded.
    fn busy(&self) -> bool {
        self.changed || !self.unconfirmed.is_empty() || self.has_dirty()
    }
}

type HeadRef = Arc<tokio::sync::Mutex<Head>>;

struct Inner {
    client: Client,
    names: Names,
    cache: DiskCache,
    block_size: u64,
    uploads: Semaphore,
    max_uploads: usize,
    heads: Mutex<HashMap<ContentKey, HeadRef>>,
    /// Keys with superseded versions, for the next garbage collection.
    gc_candidates: Mutex<BTreeSet<ContentKey>>,
    gc_grace: Duration,
    /// The last stamp handed out (stamps only grow within a process).
    last_stamp: AtomicU64,
    /// Names this instance in the garbage scan lease.
    holder: u64,
    /// The settings (for reconnecting; `Debug` redacts the secret).
    config: S3Config,
}

/// Most heads kept; clean ones beyond this are dropped (they are rebuilt from their manifest).
const HEADS_MAX: usize = 16 * 1024;
/// Most keys remembered for garbage collection; beyond this, a full scan finds them.
const GC_CANDIDATES_MAX: usize = 64 * 1024;

/// Content in S3. Cheap to clone.
#[derive(Clone)]
pub struct S3Content {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for S3Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Content")
            .field("client", &self.inner.client)
            .field("prefix", &self.inner.names.prefix)
            .field("block_size", &self.inner.block_size)
            .finish_non_exhaustive()
    }
}

fn backend(msg: String) -> StoreError {
    StoreError::Backend(msg.into())
}

fn io_err(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io(std::io::Error::new(
        e.kind(),
        format!("S3 cache: {what}: {e}"),
    ))
}

/// Checks the settings; the message says which one to change.
fn validate(c: &S3Config) -> StoreResult<()> {
    let bad = |m: String| Err(StoreError::Backend(m.into()));
    if c.bucket.is_empty() {
        return bad("s3: `bucket` is empty; name the bucket".into());
    }
    if !(BLOCK_SIZE_MIN..=BLOCK_SIZE_MAX).contains(&c.block_size) {
        return bad(format!(
            "s3: block_size {} is outside {BLOCK_SIZE_MIN}..={BLOCK_SIZE_MAX} bytes",
            c.block_size
        ));
    }
    if c.cache_size < 4 * c.block_size {
        return bad(format!(
            "s3: cache_size {} is less than 4 blocks of {} bytes; raise cache_size or lower block_size",
            c.cache_size, c.block_size
        ));
    }
    if c.max_uploads == 0 {
        return bad("s3: max_uploads must be at least 1".into());
    }
    Ok(())
}

/// The region, with the endpoint of an S3-compatible server if one is set.
fn region(c: &S3Config) -> StoreResult<Region> {
    Ok(match &c.endpoint {
        Some(endpoint) => Region::Custom {
            region: c.region.clone(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
        },
        None => c
            .region
            .parse()
            .map_err(|e| backend(format!("s3: region {:?}: {e}", c.region)))?,
    })
}

/// The credentials: from the settings, else from `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN` if set).
fn credentials(c: &S3Config) -> StoreResult<Credentials> {
    let from_env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let (key, secret) = match (&c.access_key_id, &c.secret_access_key) {
        (Some(k), Some(s)) => (k.clone(), s.clone()),
        (None, None) => match (
            from_env("AWS_ACCESS_KEY_ID"),
            from_env("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(k), Some(s)) => (k, s),
            _ => {
                return Err(backend(
                    "s3: no credentials: set access_key_id and secret_access_key in the config, \
                     or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
                        .into(),
                ));
            }
        },
        _ => {
            return Err(backend(
                "s3: access_key_id and secret_access_key must be given together".into(),
            ));
        }
    };
    let token = from_env("AWS_SESSION_TOKEN");
    Credentials::new(Some(&key), Some(&secret), None, token.as_deref(), None)
        .map_err(|e| backend(format!("s3: credentials: {e}")))
}

impl S3Content {
    /// Connects to the bucket (creating it if it does not exist and `create_bucket` is set,
    /// refusing otherwise) and opens the local cache: [`S3Content::new`], then
    /// [`S3Content::connect`].
    pub async fn open(config: S3Config) -> StoreResult<Self> {
        let store = Self::new(config)?;
        store.connect().await?;
        Ok(store)
    }

    /// Checks the settings and the credentials and opens the local cache, without talking to
    /// S3 yet (for a caller that is not async; [`S3Content::connect`] then checks the bucket).
    pub fn new(config: S3Config) -> StoreResult<Self> {
        validate(&config)?;
        // Retries are this store's own (jittered, to a deadline), not the library's.
        s3::set_retries(0);
        let region = region(&config)?;
        let creds = credentials(&config)?;
        let mut bucket = Bucket::new(&config.bucket, region, creds)
            .map_err(|e| backend(format!("s3: bucket {:?}: {e}", config.bucket)))?;
        if config.force_path_style {
            bucket.set_path_style();
        }
        bucket.set_request_timeout(Some(config.request_timeout));
        let client = Client {
            bucket,
            deadline: config.retry_deadline,
        };
        let names = Names::new(&config.prefix);
        let half = config.cache_size / 2;
        let cache = DiskCache::open(&config.cache_dir, half, half)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                names,
                cache,
                block_size: config.block_size,
                uploads: Semaphore::new(config.max_uploads),
                max_uploads: config.max_uploads,
                heads: Mutex::new(HashMap::new()),
                gc_candidates: Mutex::new(BTreeSet::new()),
                gc_grace: config.gc_grace,
                last_stamp: AtomicU64::new(0),
                holder: layout::stamp(0),
                config,
            }),
        })
    }

    /// Checks that the bucket answers; creates it if it does not exist and `create_bucket`
    /// is set, otherwise fails with a message saying what to do.
    pub async fn connect(&self) -> StoreResult<()> {
        let c = &self.inner.config;
        ensure_bucket(
            &self.inner.client,
            c,
            region(c)?,
            credentials(c)?,
            &self.inner.names,
        )
        .await
    }

    /// Bytes of clean blocks in the local cache now.
    pub fn cache_clean_bytes(&self) -> u64 {
        self.inner.cache.clean_used()
    }

    /// Bytes of staged (not yet uploaded) blocks now.
    pub fn cache_dirty_bytes(&self) -> u64 {
        self.inner.cache.dirty_used()
    }

    /// The object names under this store's prefix (for tests and tools).
    pub async fn list_objects(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .inner
            .client
            .list(&self.inner.names.prefix)
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect())
    }

    /// The client (for tests of the conditional requests).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// This store's clock in milliseconds since the epoch (with the test offset).
    fn now_ms(&self) -> u64 {
        wall_ms(self.inner.config.clock_offset_ms)
    }

    /// A new stamp: `max(now, after + 1, last + 1)` in stamp units, so a version or block
    /// built on `after` is always greater than it, whatever this machine's clock says.
    fn next_stamp(&self, after: Option<u64>) -> u64 {
        let now = self.now_ms();
        let mut prev = self.inner.last_stamp.load(Ordering::SeqCst);
        loop {
            let s = stamp_at(now, prev.max(after.unwrap_or(0)));
            match self.inner.last_stamp.compare_exchange(
                prev,
                s,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return s,
                Err(p) => prev = p,
            }
        }
    }

    fn heads(&self) -> std::sync::MutexGuard<'_, HashMap<ContentKey, HeadRef>> {
        self.inner.heads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The head of `key`, created (empty, unversioned) if there is none.
    fn head(&self, key: ContentKey) -> HeadRef {
        let mut heads = self.heads();
        if heads.len() >= HEADS_MAX {
            // Drop clean heads nobody is using; they come back from their manifest.
            heads
                .retain(|_, h| Arc::strong_count(h) > 1 || h.try_lock().map_or(true, |g| g.busy()));
        }
        heads
            .entry(key)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Head::at(
                    None,
                    self.inner.block_size,
                )))
            })
            .clone()
    }

    /// Loads the head's manifest if it was not yet.
    async fn load(&self, key: &ContentKey, g: &mut Head) -> StoreResult<()> {
        if g.loaded {
            return Ok(());
        }
        let Some(v) = g.version else {
            g.loaded = true;
            return Ok(());
        };
        let name = self.inner.names.manifest(key, v);
        let answer = self.inner.client.get(&name).await?;
        if answer.outcome != Outcome::Done {
            return Err(backend(format!(
                "S3 manifest {name} of the recorded version is missing"
            )));
        }
        let m = Manifest::decode(&answer.body)?;
        g.len = m.len;
        g.block_size = m.block_size;
        g.blocks = m
            .blocks
            .into_iter()
            .map(|(i, b)| (i, Slot::Stored(b)))
            .collect();
        g.loaded = true;
        Ok(())
    }

    /// Bytes `[from, to)` of a stored block (`to <= b.len`).
    async fn stored(
        &self,
        key: &ContentKey,
        index: u64,
        b: BlockRef,
        from: u64,
        to: u64,
    ) -> StoreResult<Bytes> {
        let name = self.inner.names.block(key, index, b.id);
        let cut = |all: Bytes| -> StoreResult<Bytes> {
            if (all.len() as u64) < b.len {
                return Err(backend(format!(
                    "S3 block {name} has {} bytes, its manifest says {}",
                    all.len(),
                    b.len
                )));
            }
            Ok(all.slice(from as usize..to as usize))
        };
        if let Some(part) = self.inner.cache.get_range(&name, from, to, b.len).await {
            return Ok(part);
        }
        let missing = || backend(format!("S3 block {name} named by a manifest is missing"));
        // A miss: a read from the block's start (a sequential reader, or a whole block)
        // fetches the whole block into the cache; a read inside it fetches just its range.
        if from == 0 && self.inner.cache.fits(b.len) {
            let answer = self.inner.client.get(&name).await?;
            if answer.outcome != Outcome::Done {
                return Err(missing());
            }
            self.inner.cache.put(&name, &answer.body).await;
            return cut(answer.body);
        }
        if to == from {
            return Ok(Bytes::new());
        }
        let answer = self.inner.client.get_range(&name, from, to - from).await?;
        if answer.outcome != Outcome::Done {
            return Err(missing());
        }
        let got = answer.body.len() as u64;
        if got == to - from {
            Ok(answer.body)
        } else if got >= b.len {
            // The server ignored the range and sent the whole object.
            cut(answer.body)
        } else {
            Err(backend(format!(
                "S3 block {name}: a range read of {} bytes at {from} returned {got}",
                to - from
            )))
        }
    }

    /// Makes block `index` of the head staged, copying its stored bytes first; waits for room
    /// in the cache (uploading staged blocks) when the staged part is full.
    async fn stage(&self, key: &ContentKey, g: &mut Head, index: u64) -> StoreResult<PathBuf> {
        if let Some(Slot::Dirty { path, .. }) = g.blocks.get(&index) {
            return Ok(path.clone());
        }
        let bs = g.block_size;
        while !self.inner.cache.try_reserve_dirty(bs) {
            if g.has_dirty() {
                // Backpressure: upload this file's staged blocks to make room.
                self.upload_dirty(key, g).await?;
            } else if !self.spill_other(key).await? {
                let freed = self.inner.cache.dirty_freed.notified();
                let _ = tokio::time::timeout(Duration::from_millis(50), freed).await;
            }
        }
        let base = match g.blocks.get(&index) {
            Some(Slot::Stored(b)) => {
                let b = *b;
                match self.stored(key, index, b, 0, b.len).await {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        self.inner.cache.release_dirty(bs);
                        return Err(e);
                    }
                }
            }
            _ => Bytes::new(),
        };
        let path = self.inner.cache.dirty_path();
        if let Err(e) = tokio::fs::write(&path, &base).await {
            self.inner.cache.release_dirty(bs);
            return Err(io_err("cannot stage a block", e));
        }
        g.blocks.insert(
            index,
            Slot::Dirty {
                path: path.clone(),
                len: base.len() as u64,
            },
        );
        Ok(path)
    }

    /// Uploads the staged blocks of another file whose head is free, to make room.
    async fn spill_other(&self, own: &ContentKey) -> StoreResult<bool> {
        let others: Vec<(ContentKey, HeadRef)> = self
            .heads()
            .iter()
            .filter(|(k, _)| *k != own)
            .map(|(k, h)| (*k, h.clone()))
            .collect();
        for (k, h) in others {
            if let Ok(mut g) = h.try_lock()
                && g.has_dirty()
            {
                self.upload_dirty(&k, &mut g).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Uploads every staged block of the head as a new block object (in parallel, at most
    /// `max_uploads` at once); each becomes stored and its staged file a clean cached copy.
    async fn upload_dirty(&self, key: &ContentKey, g: &mut Head) -> StoreResult<()> {
        let staged: Vec<(u64, PathBuf, u64)> = g
            .blocks
            .iter()
            .filter_map(|(i, s)| match s {
                Slot::Dirty { path, len } => Some((*i, path.clone(), *len)),
                Slot::Stored(_) => None,
            })
            .collect();
        if staged.is_empty() {
            return Ok(());
        }
        let bs = g.block_size;
        let base = g.version;
        let mut tasks = tokio::task::JoinSet::new();
        for (index, path, len) in staged {
            let this = self.clone();
            let key = *key;
            tasks.spawn(async move {
                let r = this.upload_one(&key, index, &path, len, base).await;
                (index, r)
            });
        }
        let mut first_err = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, Ok(b))) => {
                    match b {
                        Some(b) => g.blocks.insert(index, Slot::Stored(b)),
                        None => g.blocks.remove(&index),
                    };
                    self.inner.cache.release_dirty(bs);
                }
                Ok((_, Err(e))) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    first_err.get_or_insert(backend(format!("S3 upload task failed: {e}")));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Uploads one staged block under a fresh name, stamped after `base` (the version the
    /// head builds on); `None` for an empty block.
    async fn upload_one(
        &self,
        key: &ContentKey,
        index: u64,
        path: &PathBuf,
        len: u64,
        base: Option<u64>,
    ) -> StoreResult<Option<BlockRef>> {
        let _permit = self
            .inner
            .uploads
            .acquire()
            .await
            .map_err(|_| backend("S3 upload limiter closed".into()))?;
        let data = Bytes::from(
            tokio::fs::read(path)
                .await
                .map_err(|e| io_err("cannot read a staged block", e))?,
        );
        let data = data.slice(..(len as usize).min(data.len()));
        if data.is_empty() {
            let _ = tokio::fs::remove_file(path).await;
            return Ok(None);
        }
        loop {
            let id = self.next_stamp(base);
            let name = self.inner.names.block(key, index, id);
            let outcome = self
                .inner
                .client
                .put_new(
                    &name,
                    data.clone(),
                    MULTIPART_MIN,
                    self.inner.max_uploads.min(4),
                )
                .await?;
            if outcome == Outcome::PreconditionFailed {
                // A name collision (another gateway drew the same stamp): draw again.
                continue;
            }
            self.inner
                .cache
                .adopt_file(path, &name, data.len() as u64)
                .await;
            return Ok(Some(BlockRef {
                id,
                len: data.len() as u64,
            }));
        }
    }

    /// Notes a change: the head will publish a new version at its next sync.
    fn changed(&self, g: &mut Head) -> u64 {
        g.changed = true;
        match g.pending {
            Some(p) => p,
            None => {
                let p = self.next_stamp(g.version);
                g.pending = Some(p);
                p
            }
        }
    }

    /// Drops a slot, freeing its staged room and file.
    async fn drop_slot(&self, bs: u64, slot: Slot) {
        if let Slot::Dirty { path, .. } = slot {
            let _ = tokio::fs::remove_file(&path).await;
            self.inner.cache.release_dirty(bs);
        }
    }

    /// Takes the full scan lease if nobody holds it or its holder's time ran out; `None` if
    /// another instance holds it.
    async fn take_lease(&self) -> StoreResult<Option<Held>> {
        let name = self.inner.names.lease();
        let client = &self.inner.client;
        let now = self.now_ms();
        let ttl = self.inner.config.gc_lease.as_millis() as u64;
        let body = lease::encode(self.inner.holder, now.saturating_add(ttl));
        let (outcome, etag) = client.put_tagged(&name, body.clone(), None).await?;
        if outcome == Outcome::Done {
            return self.held(&name, etag, now).await;
        }
        let (answer, etag) = client.get_tagged(&name).await?;
        let Some(etag) = etag.filter(|_| answer.outcome == Outcome::Done) else {
            // Ended and removed meanwhile, or no ETag to replace it by: next time.
            return Ok(None);
        };
        let expires = lease::decode(&answer.body).map_or(0, |(_, e)| e);
        if now <= expires {
            return Ok(None);
        }
        let (outcome, etag) = client.put_tagged(&name, body, Some(&etag)).await?;
        if outcome == Outcome::Done {
            return self.held(&name, etag, now).await;
        }
        // Another instance took it over first.
        Ok(None)
    }

    /// The lease just written, with its ETag (asked for if the PUT's answer had none).
    async fn held(&self, name: &str, etag: Option<String>, now: u64) -> StoreResult<Option<Held>> {
        let etag = match etag {
            Some(e) => Some(e),
            None => self.inner.client.etag(name).await?,
        };
        Ok(etag.map(|etag| Held {
            etag,
            written_ms: now,
        }))
    }

    /// Renews the lease once a third of its time has passed; `false` if another instance
    /// took it over (its time ran out: this instance stalled, or the clocks disagree).
    async fn renew_lease(&self, held: &mut Held) -> StoreResult<bool> {
        let now = self.now_ms();
        let ttl = self.inner.config.gc_lease.as_millis() as u64;
        if now.saturating_sub(held.written_ms) < ttl / 3 {
            return Ok(true);
        }
        let name = self.inner.names.lease();
        let body = lease::encode(self.inner.holder, now.saturating_add(ttl));
        let (outcome, etag) = self
            .inner
            .client
            .put_tagged(&name, body, Some(&held.etag))
            .await?;
        if outcome != Outcome::Done {
            return Ok(false);
        }
        match self.held(&name, etag, now).await? {
            Some(h) => {
                *held = h;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Ends the lease (an expiry in the past), so the next full scan anywhere may start at
    /// once. Best effort: a lease left behind expires by itself.
    async fn end_lease(&self, held: Held) {
        let name = self.inner.names.lease();
        let body = lease::encode(self.inner.holder, 0);
        if let Err(e) = self
            .inner
            .client
            .put_tagged(&name, body, Some(&held.etag))
            .await
        {
            tracing::debug!(error = %e, "could not end the garbage scan lease; it expires by itself");
        }
    }

    fn note_gc(&self, key: ContentKey) {
        let mut c = self
            .inner
            .gc_candidates
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if c.len() < GC_CANDIDATES_MAX {
            c.insert(key);
        }
    }

    /// Deletes garbage: manifests other than the recorded one and blocks no kept manifest
    /// names, once older than the grace period by their stamps, and everything of files
    /// metadata no longer has.
    ///
    /// `full` lists the whole prefix (what the daemon runs at start, and what finds a crash's
    /// orphans); otherwise only files whose versions this process saw superseded are looked
    /// at. A full scan runs only while this instance holds the scan lease, an object in the
    /// bucket (see [`lease`]): of the instances sharing the bucket one scans at a time; the
    /// others look at their own candidates instead ([`GcStats::full_skipped`]).
    ///
    /// Order, which is what makes it safe: ask `resolve` for each file's state, then
    /// `sync_meta` (make metadata durable), then delete. Whatever was read from metadata is
    /// durable before anything it stopped referencing goes. Files with changes in flight here
    /// are skipped (and looked at again next time). Changes in flight on another gateway
    /// sharing the bucket are invisible here; what protects them is age: nothing younger
    /// than `gc_grace` by its stamp is deleted unless its file is gone, and new stamps are
    /// the writer's clock (or above the version they build on, which only makes them
    /// younger). So the gateways' clocks must disagree by less than `gc_grace` minus the
    /// longest time from a block's upload to its version's record; a gateway whose clock is
    /// further behind would stamp uploads that another gateway's scan takes for old garbage.
    pub async fn collect_garbage<S>(
        &self,
        full: bool,
        resolve: &Resolver,
        sync_meta: S,
    ) -> StoreResult<GcStats>
    where
        S: Future<Output = StoreResult<()>>,
    {
        if !full {
            return self.collect(false, resolve, sync_meta, None).await;
        }
        // Full scans list the whole prefix: one instance at a time (the lease). The others
        // look at their own candidates meanwhile.
        let Some(mut held) = self.take_lease().await? else {
            let mut stats = self.collect(false, resolve, sync_meta, None).await?;
            stats.full_skipped = true;
            return Ok(stats);
        };
        let result = self
            .collect(true, resolve, sync_meta, Some(&mut held))
            .await;
        self.end_lease(held).await;
        result
    }

    /// [`S3Content::collect_garbage`] once the lease question is settled: a full scan renews
    /// `lease` as it goes and stops early if it lost it.
    async fn collect<S>(
        &self,
        full: bool,
        resolve: &Resolver,
        sync_meta: S,
        mut lease: Option<&mut Held>,
    ) -> StoreResult<GcStats>
    where
        S: Future<Output = StoreResult<()>>,
    {
        let names = &self.inner.names;
        let mut objects: BTreeMap<ContentKey, Vec<Object>> = BTreeMap::new();
        if full {
            for (name, _) in self.inner.client.list(&names.prefix).await? {
                if let Some(o) = names.parse(&name) {
                    let key = match &o {
                        Object::Manifest { key, .. } | Object::Block { key, .. } => *key,
                    };
                    objects.entry(key).or_default().push(o);
                }
            }
        } else {
            let keys = std::mem::take(
                &mut *self
                    .inner
                    .gc_candidates
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            for key in keys {
                let mut list = Vec::new();
                for prefix in [names.manifests_of(&key), names.blocks_of(&key)] {
                    for (name, _) in self.inner.client.list(&prefix).await? {
                        list.extend(names.parse(&name));
                    }
                }
                objects.insert(key, list);
            }
        }
        let mut stats = GcStats::default();
        let mut states = Vec::new();
        for (key, list) in objects {
            if let Some(held) = lease.as_deref_mut()
                && !self.renew_lease(held).await?
            {
                tracing::warn!(
                    "lost the garbage scan lease (its time ran out); stopping this full scan"
                );
                lease = None;
                break;
            }
            stats.keys += 1;
            if self.busy(&key) {
                stats.skipped += 1;
                self.note_gc(key);
                continue;
            }
            let state = resolve(key).await?;
            if state == KeyState::Unknown {
                stats.skipped += 1;
                continue;
            }
            states.push((key, state, list));
        }
        if let Err(e) = sync_meta.await {
            // Nothing deleted; look at the same files next time.
            for (key, _, _) in &states {
                self.note_gc(*key);
            }
            return Err(e);
        }
        for (key, state, list) in states {
            if let Some(held) = lease.as_deref_mut()
                && !self.renew_lease(held).await?
            {
                tracing::warn!(
                    "lost the garbage scan lease (its time ran out); stopping this full scan"
                );
                break;
            }
            if self.busy(&key) {
                stats.skipped += 1;
                self.note_gc(key);
                continue;
            }
            self.collect_key(&key, state, list, &mut stats).await?;
        }
        Ok(stats)
    }

    fn busy(&self, key: &ContentKey) -> bool {
        self.heads()
            .get(key)
            .is_some_and(|h| h.try_lock().map_or(true, |g| g.busy()))
    }

    async fn collect_key(
        &self,
        key: &ContentKey,
        state: KeyState,
        list: Vec<Object>,
        stats: &mut GcStats,
    ) -> StoreResult<()> {
        let names = &self.inner.names;
        let now_ms = self.now_ms();
        let grace_ms = self.inner.gc_grace.as_millis() as u64;
        let young = |s: u64| now_ms.saturating_sub(stamp_ms(s)) < grace_ms;
        let recorded = match state {
            KeyState::Live(v) => v.map(|v| v.0),
            KeyState::Gone => {
                self.heads().remove(key);
                None
            }
            KeyState::Unknown => return Ok(()),
        };
        let gone = state == KeyState::Gone;
        let mut keep = Vec::new();
        let mut doomed = Vec::new();
        for o in &list {
            // A manifest other than the recorded one goes once it is older than the grace
            // period by its stamp. A younger one above the recorded version may be in flight
            // (synced, about to be recorded, here or on another gateway); one below it can
            // never be recorded again (a switch happens only over the recorded version, and
            // every new version is stamped above the one it builds on, so a file's recorded
            // versions only grow), but a gateway that adopted it a moment ago may still be
            // loading it to read.
            if let Object::Manifest { version, .. } = o {
                let v = *version;
                if !gone && (Some(v) == recorded || young(v)) {
                    keep.push(v);
                } else {
                    doomed.push(names.manifest(key, v));
                }
            }
        }
        let mut referenced = BTreeSet::new();
        for v in &keep {
            let name = names.manifest(key, *v);
            let answer = self.inner.client.get(&name).await?;
            if answer.outcome != Outcome::Done {
                // The recorded manifest should exist; delete no block on a doubt.
                tracing::warn!(manifest = %name, "manifest to keep is missing; leaving the file's blocks alone");
                return Ok(());
            }
            for (i, b) in Manifest::decode(&answer.body)?.blocks {
                referenced.insert((i, b.id));
            }
        }
        if recorded.is_some() && !keep.contains(&recorded.unwrap_or(0)) {
            tracing::warn!(key = %key.to_hex(), "the recorded manifest is not in the bucket; leaving the file's objects alone");
            return Ok(());
        }
        let mut blocks = Vec::new();
        for o in &list {
            // An unreferenced block goes only once it is older than the grace period by its
            // stamp: a younger one may be an upload of another gateway (or of a flush here)
            // whose manifest is not recorded yet, even if its id is below the recorded
            // version (that gateway's clock may be behind). Only a gone file loses its
            // young blocks.
            if let Object::Block { index, id, .. } = o
                && !referenced.contains(&(*index, *id))
                && (gone || !young(*id))
            {
                blocks.push(names.block(key, *index, *id));
            }
        }
        // Blocks first: a manifest is never left naming a deleted block of a kept version.
        for name in &blocks {
            self.inner.client.delete(name).await?;
            stats.blocks += 1;
        }
        for name in &doomed {
            self.inner.client.delete(name).await?;
            stats.manifests += 1;
        }
        Ok(())
    }
}

/// Checks that the bucket answers; creates it if it does not exist and `create_bucket` is
/// set, otherwise refuses with a message saying what to do.
async fn ensure_bucket(
    client: &Client,
    config: &S3Config,
    region: Region,
    creds: Credentials,
    names: &Names,
) -> StoreResult<()> {
    let probe = format!("{}.dittofs-probe", names.prefix);
    let r = client
        .bucket
        .get_object(&probe)
        .await
        .map_err(|e| backend(format!("s3: cannot reach bucket {:?}: {e}", config.bucket)))?;
    let status = r.status_code();
    let body = String::from_utf8_lossy(r.as_slice());
    let missing = status == 404 && body.contains("NoSuchBucket");
    if !missing {
        return match status {
            200..=299 | 404 => Ok(()),
            _ => Err(backend(format!(
                "s3: bucket {:?} answered HTTP {status}; check the endpoint, region and credentials: {}",
                config.bucket,
                &body[..body.len().min(300)]
            ))),
        };
    }
    if !config.create_bucket {
        return Err(backend(format!(
            "s3: bucket {:?} does not exist; create it, or set `create_bucket: true` to let dittofs create it",
            config.bucket
        )));
    }
    let (code, text) = if config.region == "us-east-1" {
        // us-east-1 takes no location constraint (AWS refuses one naming it), which the
        // library always sends: a PUT of the bucket itself with no body is CreateBucket.
        let r = client
            .bucket
            .put_object_builder("", b"")
            .execute()
            .await
            .map_err(|e| backend(format!("s3: cannot create bucket {:?}: {e}", config.bucket)))?;
        (
            r.status_code(),
            String::from_utf8_lossy(r.as_slice()).into_owned(),
        )
    } else {
        let r = if config.force_path_style {
            Bucket::create_with_path_style(
                &config.bucket,
                region,
                creds,
                BucketConfiguration::default(),
            )
            .await
        } else {
            Bucket::create(
                &config.bucket,
                region,
                creds,
                BucketConfiguration::default(),
            )
            .await
        }
        .map_err(|e| backend(format!("s3: cannot create bucket {:?}: {e}", config.bucket)))?;
        (r.response_code, r.response_text)
    };
    if !(200..300).contains(&code) {
        return Err(backend(format!(
            "s3: creating bucket {:?} failed with HTTP {code}: {text}",
            config.bucket
        )));
    }
    tracing::info!(bucket = %config.bucket, "created the S3 bucket");
    Ok(())
}

/// Reads `n` bytes at `at` of a staged block file (fewer at its end): one positioned read on
/// the blocking pool.
async fn read_staged(path: &Path, at: u64, n: u64) -> StoreResult<Bytes> {
    use std::os::unix::fs::FileExt;
    let path = path.to_path_buf();
    crate::fs::run_blocking(move || {
        let f = std::fs::File::open(&path)?;
        let mut buf = vec![0; usize::try_from(n).unwrap_or(usize::MAX)];
        let mut filled = 0;
        while filled < buf.len() {
            match f.read_at(&mut buf[filled..], at + filled as u64) {
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(filled);
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(|e| io_err("cannot read a staged block", e))
}

/// Writes `data` at `at` of a staged block file: one positioned write on the blocking pool,
/// done when this returns (so a read through another descriptor sees it).
async fn write_staged(path: PathBuf, at: u64, data: Bytes) -> StoreResult<()> {
    use std::os::unix::fs::FileExt;
    crate::fs::run_blocking(move || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)?
            .write_all_at(&data, at)
    })
    .await
    .map_err(|e| io_err("cannot write a staged block", e))
}

/// A part of a read: where its bytes come from.
enum Piece {
    Zeros,
    Ready(Bytes),
    Stored(u64, BlockRef, u64, u64),
}

impl ContentStore for S3Content {
    async fn read(&self, key: ContentKey, offset: u64, len: u32) -> StoreResult<Bytes> {
        let head = self.head(key);
        let mut pieces = Vec::new();
        let (start, end) = {
            let mut g = head.lock().await;
            self.load(&key, &mut g).await?;
            let end = offset.saturating_add(u64::from(len)).min(g.len);
            if offset >= end {
                return Ok(Bytes::new());
            }
            let bs = g.block_size;
            let mut at = offset;
            while at < end {
                let index = at / bs;
                let bstart = index * bs;
                let to = (bstart + bs).min(end);
                let (from_in, to_in) = (at - bstart, to - bstart);
                let piece = match g.blocks.get(&index) {
                    None => Piece::Zeros,
                    Some(Slot::Dirty { path, len }) => {
                        let upto = to_in.min(*len);
                        if from_in >= upto {
                            Piece::Zeros
                        } else {
                            Piece::Ready(read_staged(path, from_in, upto - from_in).await?)
                        }
                    }
                    Some(Slot::Stored(b)) => {
                        let upto = to_in.min(b.len);
                        if from_in >= upto {
                            Piece::Zeros
                        } else {
                            Piece::Stored(index, *b, from_in, upto)
                        }
                    }
                };
                pieces.push((at, to, piece));
                at = to;
            }
            (offset, end)
        };
        // Stored blocks are immutable: read them without holding the head.
        let mut out = BytesMut::zeroed((end - start) as usize);
        for (from, _to, piece) in pieces {
            let bytes = match piece {
                Piece::Zeros => continue,
                Piece::Ready(b) => b,
                Piece::Stored(index, b, f, t) => self.stored(&key, index, b, f, t).await?,
            };
            let at = (from - start) as usize;
            out[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        Ok(out.freeze())
    }

    async fn write(
        &self,
        key: ContentKey,
        offset: u64,
        data: Bytes,
    ) -> StoreResult<Option<ContentVersion>> {
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= MAX_FILE_SIZE)
            .ok_or(StoreError::FileTooLarge)?;
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(&key, &mut g).await?;
        if data.is_empty() {
            // Nothing changes; name the bytes as they are (the version the next sync
            // publishes if there are changes, or a reserved one for a key never written).
            let v = match (g.changed, g.version, g.pending) {
                (false, Some(v), _) | (_, _, Some(v)) => v,
                _ => {
                    let p = self.next_stamp(g.version);
                    g.pending = Some(p);
                    p
                }
            };
            return Ok(Some(ContentVersion(v)));
        }
        let bs = g.block_size;
        let mut at = offset;
        while at < end {
            let index = at / bs;
            let bstart = index * bs;
            let to = (bstart + bs).min(end);
            let path = self.stage(&key, &mut g, index).await?;
            let piece = data.slice((at - offset) as usize..(to - offset) as usize);
            write_staged(path, at - bstart, piece).await?;
            if let Some(Slot::Dirty { len, .. }) = g.blocks.get_mut(&index) {
                *len = (*len).max(to - bstart);
            }
            at = to;
        }
        g.len = g.len.max(end);
        Ok(Some(ContentVersion(self.changed(&mut g))))
    }

    async fn truncate(&self, key: ContentKey, len: u64) -> StoreResult<()> {
        if len > MAX_FILE_SIZE {
            return Err(StoreError::FileTooLarge);
        }
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(&key, &mut g).await?;
        if len == g.len {
            return Ok(());
        }
        if len < g.len {
            let bs = g.block_size;
            let first_gone = len.div_ceil(bs);
            let gone: Vec<u64> = g.blocks.range(first_gone..).map(|(i, _)| *i).collect();
            for i in gone {
                if let Some(slot) = g.blocks.remove(&i) {
                    self.drop_slot(bs, slot).await;
                }
            }
            let within = len % bs;
            if within != 0 {
                let index = len / bs;
                match g.blocks.get_mut(&index) {
                    Some(Slot::Stored(b)) => b.len = b.len.min(within),
                    Some(Slot::Dirty { path, len: l }) if *l > within => {
                        let f = tokio::fs::OpenOptions::new()
                            .write(true)
                            .open(&*path)
                            .await
                            .map_err(|e| io_err("cannot open a staged block", e))?;
                        f.set_len(within)
                            .await
                            .map_err(|e| io_err("cannot cut a staged block", e))?;
                        *l = within;
                    }
                    _ => {}
                }
            }
        }
        g.len = len;
        self.changed(&mut g);
        Ok(())
    }

    async fn len(&self, key: ContentKey) -> StoreResult<u64> {
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(&key, &mut g).await?;
        Ok(g.len)
    }

    async fn remove(&self, key: ContentKey) -> StoreResult<()> {
        let head = self.head(key);
        let mut g = head.lock().await;
        let bs = g.block_size;
        for (_, slot) in std::mem::take(&mut g.blocks) {
            self.drop_slot(bs, slot).await;
        }
        let names = &self.inner.names;
        // Blocks first, then manifests: a manifest is never left naming a deleted block.
        for prefix in [names.blocks_of(&key), names.manifests_of(&key)] {
            for (name, _) in self.inner.client.list(&prefix).await? {
                self.inner.client.delete(&name).await?;
            }
        }
        *g = Head::at(None, self.inner.block_size);
        drop(g);
        self.heads().remove(&key);
        Ok(())
    }

    async fn sync(&self, key: ContentKey) -> StoreResult<Option<ContentVersion>> {
        let head = self.head(key);
        let mut g = head.lock().await;
        if !g.changed {
            return Ok(g.version.map(ContentVersion));
        }
        self.upload_dirty(&key, &mut g).await?;
        let manifest = Manifest {
            len: g.len,
            block_size: g.block_size,
            blocks: g
                .blocks
                .iter()
                .filter_map(|(i, s)| match s {
                    Slot::Stored(b) => Some((*i, *b)),
                    Slot::Dirty { .. } => None,
                })
                .collect(),
        };
        let body = Bytes::from(manifest.encode());
        let mut v = self.changed(&mut g);
        loop {
            let name = self.inner.names.manifest(&key, v);
            match self
                .inner
                .client
                .put_new(&name, body.clone(), usize::MAX, 1)
                .await?
            {
                Outcome::PreconditionFailed => {
                    // Another writer published this version name: draw another.
                    v = self.next_stamp(Some(v));
                }
                _ => break,
            }
        }
        g.version = Some(v);
        g.unconfirmed.push(v);
        g.changed = false;
        g.pending = None;
        Ok(Some(ContentVersion(v)))
    }

    async fn probe(&self) -> StoreResult<()> {
        // One HEAD request: any answer of the bucket's (the name need not exist) will do.
        let name = format!("{}ready-probe", self.inner.names.prefix);
        self.inner.client.etag(&name).await.map(|_| ())
    }

    async fn usage(&self) -> StoreResult<Usage> {
        // A bucket has no fixed capacity: report the largest file as both.
        Ok(Usage {
            bytes_total: MAX_FILE_SIZE,
            bytes_free: MAX_FILE_SIZE,
            ..Usage::default()
        })
    }

    async fn allocated(
        &self,
        key: ContentKey,
        offset: u64,
        len: u64,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(&key, &mut g).await?;
        let end = offset.saturating_add(len).min(g.len);
        let bs = g.block_size;
        let mut out: Vec<(u64, u64)> = Vec::new();
        if offset >= end {
            return Ok(out);
        }
        for (i, slot) in g.blocks.range(offset / bs..=(end - 1) / bs) {
            let used = match slot {
                Slot::Stored(b) => b.len,
                Slot::Dirty { len, .. } => *len,
            };
            let from = (i * bs).max(offset);
            let to = (i * bs + used).min(end);
            if to <= from {
                continue;
            }
            match out.last_mut() {
                Some((o, l)) if *o + *l == from => *l += to - from,
                _ => out.push((from, to - from)),
            }
        }
        Ok(out)
    }

    async fn adopt(&self, key: ContentKey, version: Option<ContentVersion>) -> StoreResult<()> {
        let v = version.map(|v| v.0);
        let head = {
            let mut heads = self.heads();
            match heads.get(&key) {
                Some(h) => h.clone(),
                None => {
                    heads.insert(
                        key,
                        Arc::new(tokio::sync::Mutex::new(Head::at(v, self.inner.block_size))),
                    );
                    return Ok(());
                }
            }
        };
        let mut g = head.lock().await;
        if let Some(r) = v
            && g.unconfirmed.contains(&r)
        {
            // Metadata recorded one of ours: it and everything before it are settled, and
            // the versions before it are garbage once that record is durable.
            g.unconfirmed.retain(|&u| u > r);
            self.note_gc(key);
            return Ok(());
        }
        if g.busy() || v <= g.version {
            // Our own unrecorded changes are newer; an older version is a stale report.
            return Ok(());
        }
        // Recorded elsewhere (a restart's first use, or another gateway): read that version.
        *g = Head::at(v, self.inner.block_size);
        Ok(())
    }

    async fn rebase(&self, key: ContentKey, version: Option<ContentVersion>) -> StoreResult<()> {
        let v = version.map(|v| v.0);
        let head = self.head(key);
        let mut g = head.lock().await;
        if !g.busy() && g.version == v {
            return Ok(());
        }
        let abandoned = g.busy();
        let bs = g.block_size;
        for (_, slot) in std::mem::take(&mut g.blocks) {
            self.drop_slot(bs, slot).await;
        }
        *g = Head::at(v, self.inner.block_size);
        if abandoned {
            // What was uploaded and published for the dropped changes is garbage now (once
            // older than the grace period).
            self.note_gc(key);
        }
        Ok(())
    }

    fn has_versions(&self) -> bool {
        true
    }

    fn max_file_size(&self) -> u64 {
        MAX_FILE_SIZE
    }
}
