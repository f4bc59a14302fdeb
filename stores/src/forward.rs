//! The store traits' forwarding, written once: [`forward_metadata_store!`](crate::forward_metadata_store!) and
//! [`forward_content_store!`](crate::forward_content_store!) implement [`MetadataStore`](crate::MetadataStore) or
//! [`ContentStore`](crate::ContentStore) for a wrapper (an enum of backends, a fault injector)
//! by handing every method to a small macro the wrapper defines, its "via" macro, which says how
//! one call reaches the wrapped store. A new trait method is added here once; each wrapper's via
//! macro changes only if the wrapper treats that method specially.
//!
//! The via macro is called as `via!(self, fn <method>, s => <call on s>)` for the synchronous
//! methods and `via!(self, async <method>, s => <call on s>.await)` for the async ones, where
//! `<method>` is the trait method's name. It must evaluate to the method's result, binding `s`
//! to the wrapped store, e.g. for an enum:
//!
//! ```text
//! macro_rules! via {
//!     ($this:ident, $kind:ident $op:ident, $s:ident => $e:expr) => {
//!         match $this {
//!             Any::Memory($s) => $e,
//!             Any::Rocks($s) => $e,
//!         }
//!     };
//! }
//! stores::forward_metadata_store!(impl[] for Any, via);
//! ```
//!
//! and for a wrapper that injects faults, with arms for the methods it treats differently
//! before a catch-all arm.

/// Implements [`MetadataStore`](crate::MetadataStore) for a wrapper through its via macro; see
/// the [module docs](crate::forward). Usage:
/// `forward_metadata_store!(impl[<generics>] for <type>, <via macro>);`
#[macro_export]
macro_rules! forward_metadata_store {
    (impl[$($gen:tt)*] for $ty:ty, $via:ident) => {
        impl<$($gen)*> $crate::MetadataStore for $ty {
            fn id(&self) -> $crate::StoreId {
                $via!(self, fn id, s => $crate::MetadataStore::id(s))
            }
            async fn share_root(
                &self,
                name: &str,
                root: $crate::NewNode,
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async share_root,
                    s => $crate::MetadataStore::share_root(s, name, root).await)
            }
            async fn getattr(&self, ino: $crate::InodeId) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async getattr, s => $crate::MetadataStore::getattr(s, ino).await)
            }
            async fn lookup(
                &self,
                dir: $crate::InodeId,
                name: &[u8],
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async lookup, s => $crate::MetadataStore::lookup(s, dir, name).await)
            }
            async fn lookup_folded(
                &self,
                dir: $crate::InodeId,
                name: &[u8],
            ) -> $crate::StoreResult<(::std::vec::Vec<u8>, $crate::Attr)> {
                $via!(self, async lookup_folded, s => $crate::MetadataStore::lookup_folded(s, dir, name).await)
            }
            async fn create(
                &self,
                dir: $crate::InodeId,
                name: &[u8],
                node: $crate::NewNode,
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async create,
                    s => $crate::MetadataStore::create(s, dir, name, node).await)
            }
            async fn link(
                &self,
                ino: $crate::InodeId,
                dir: $crate::InodeId,
                name: &[u8],
                now: $crate::Timestamp,
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async link,
                    s => $crate::MetadataStore::link(s, ino, dir, name, now).await)
            }
            async fn unlink(
                &self,
                dir: $crate::InodeId,
                name: &[u8],
                now: $crate::Timestamp,
            ) -> $crate::StoreResult<$crate::Removed> {
                $via!(self, async unlink,
                    s => $crate::MetadataStore::unlink(s, dir, name, now).await)
            }
            async fn rmdir(
                &self,
                dir: $crate::InodeId,
                name: &[u8],
                now: $crate::Timestamp,
            ) -> $crate::StoreResult<$crate::Removed> {
                $via!(self, async rmdir, s => $crate::MetadataStore::rmdir(s, dir, name, now).await)
            }
            async fn rename(
                &self,
                from_dir: $crate::InodeId,
                from_name: &[u8],
                to_dir: $crate::InodeId,
                to_name: &[u8],
                now: $crate::Timestamp,
            ) -> $crate::StoreResult<$crate::Renamed> {
                $via!(self, async rename,
                    s => $crate::MetadataStore::rename(
                        s, from_dir, from_name, to_dir, to_name, now,
                    ).await)
            }
            async fn setattr(
                &self,
                ino: $crate::InodeId,
                set: $crate::SetAttr,
                now: $crate::Timestamp,
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async setattr,
                    s => $crate::MetadataStore::setattr(s, ino, set, now).await)
            }
            async fn record_write(
                &self,
                ino: $crate::InodeId,
                end: u64,
                mtime: $crate::Timestamp,
                version: Option<$crate::ContentVersion>,
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async record_write,
                    s => $crate::MetadataStore::record_write(s, ino, end, mtime, version).await)
            }
            async fn record_write_on(
                &self,
                ino: $crate::InodeId,
                end: u64,
                mtime: $crate::Timestamp,
                base: Option<$crate::ContentVersion>,
                version: $crate::ContentVersion,
            ) -> $crate::StoreResult<$crate::Recorded> {
                $via!(self, async record_write_on,
                    s => $crate::MetadataStore::record_write_on(
                        s, ino, end, mtime, base, version).await)
            }
            async fn content_version(
                &self,
                ino: $crate::InodeId,
            ) -> $crate::StoreResult<Option<$crate::ContentVersion>> {
                $via!(self, async content_version,
                    s => $crate::MetadataStore::content_version(s, ino).await)
            }
            async fn readlink(&self, ino: $crate::InodeId) -> $crate::StoreResult<Vec<u8>> {
                $via!(self, async readlink, s => $crate::MetadataStore::readlink(s, ino).await)
            }
            async fn readdir(
                &self,
                dir: $crate::InodeId,
                after: $crate::Cookie,
                max_entries: usize,
            ) -> $crate::StoreResult<$crate::DirPage> {
                $via!(self, async readdir,
                    s => $crate::MetadataStore::readdir(s, dir, after, max_entries).await)
            }
            async fn parent(&self, dir: $crate::InodeId) -> $crate::StoreResult<$crate::InodeId> {
                $via!(self, async parent, s => $crate::MetadataStore::parent(s, dir).await)
            }
            async fn usage(&self) -> $crate::StoreResult<$crate::Usage> {
                $via!(self, async usage, s => $crate::MetadataStore::usage(s).await)
            }
            async fn sync(&self) -> $crate::StoreResult<()> {
                $via!(self, async sync, s => $crate::MetadataStore::sync(s).await)
            }
            async fn xattr(
                &self,
                ino: $crate::InodeId,
                name: &[u8],
            ) -> $crate::StoreResult<Option<Vec<u8>>> {
                $via!(self, async xattr, s => $crate::MetadataStore::xattr(s, ino, name).await)
            }
            async fn list_xattrs(
                &self,
                ino: $crate::InodeId,
            ) -> $crate::StoreResult<Vec<$crate::XattrEntry>> {
                $via!(self, async list_xattrs,
                    s => $crate::MetadataStore::list_xattrs(s, ino).await)
            }
            async fn set_xattr(
                &self,
                ino: $crate::InodeId,
                name: &[u8],
                value: Vec<u8>,
                now: $crate::Timestamp,
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async set_xattr,
                    s => $crate::MetadataStore::set_xattr(s, ino, name, value, now).await)
            }
            async fn remove_xattr(
                &self,
                ino: $crate::InodeId,
                name: &[u8],
                now: $crate::Timestamp,
            ) -> $crate::StoreResult<$crate::Attr> {
                $via!(self, async remove_xattr,
                    s => $crate::MetadataStore::remove_xattr(s, ino, name, now).await)
            }
            async fn secret(&self, name: &str) -> $crate::StoreResult<Option<Vec<u8>>> {
                $via!(self, async secret, s => $crate::MetadataStore::secret(s, name).await)
            }
            async fn init_secret(
                &self,
                name: &str,
                value: Vec<u8>,
            ) -> $crate::StoreResult<Vec<u8>> {
                $via!(self, async init_secret,
                    s => $crate::MetadataStore::init_secret(s, name, value).await)
            }
            fn shares_locks(&self) -> bool {
                $via!(self, fn shares_locks, s => $crate::MetadataStore::shares_locks(s))
            }
            async fn publish_locks(
                &self,
                ino: $crate::InodeId,
                owner: &[u8],
                wanted: &[$crate::RangeLock],
                held: &[$crate::RangeLock],
            ) -> $crate::StoreResult<Option<$crate::ForeignLock>> {
                $via!(self, async publish_locks,
                    s => $crate::MetadataStore::publish_locks(s, ino, owner, wanted, held).await)
            }
            async fn foreign_lock(
                &self,
                ino: $crate::InodeId,
                wanted: $crate::RangeLock,
            ) -> $crate::StoreResult<Option<$crate::ForeignLock>> {
                $via!(self, async foreign_lock,
                    s => $crate::MetadataStore::foreign_lock(s, ino, wanted).await)
            }
            fn shared_caching(
                &self,
            ) -> Option<std::sync::Arc<dyn $crate::SharedCaching>> {
                $via!(self, fn shared_caching, s => $crate::MetadataStore::shared_caching(s))
            }
            fn lock_news(
                &self,
            ) -> Option<::tokio::sync::broadcast::Receiver<$crate::LockNews>> {
                $via!(self, fn lock_news, s => $crate::MetadataStore::lock_news(s))
            }
            async fn foreign_locks(
                &self,
                ino: Option<$crate::InodeId>,
                limit: usize,
            ) -> $crate::StoreResult<Vec<($crate::InodeId, $crate::ForeignLock)>> {
                $via!(self, async foreign_locks,
                    s => $crate::MetadataStore::foreign_locks(s, ino, limit).await)
            }
            fn dir_changes(&self) -> Option<$crate::DirFeed> {
                $via!(self, fn dir_changes, s => $crate::MetadataStore::dir_changes(s))
            }
            async fn announce(
                &self,
                dir: $crate::InodeId,
                generation: $crate::Generation,
                entries: Vec<$crate::EntryChange>,
            ) -> $crate::StoreResult<()> {
                $via!(self, async announce,
                    s => $crate::MetadataStore::announce(s, dir, generation, entries).await)
            }
            fn keeps_durable_opens(&self) -> bool {
                $via!(self, fn keeps_durable_opens,
                    s => $crate::MetadataStore::keeps_durable_opens(s))
            }
            async fn put_durable_open(
                &self,
                share: &str,
                id: u64,
                record: Vec<u8>,
            ) -> $crate::StoreResult<()> {
                $via!(self, async put_durable_open,
                    s => $crate::MetadataStore::put_durable_open(s, share, id, record).await)
            }
            async fn remove_durable_open(&self, share: &str, id: u64) -> $crate::StoreResult<()> {
                $via!(self, async remove_durable_open,
                    s => $crate::MetadataStore::remove_durable_open(s, share, id).await)
            }
            async fn durable_opens(
                &self,
                share: &str,
            ) -> $crate::StoreResult<Vec<(u64, Vec<u8>)>> {
                $via!(self, async durable_opens,
                    s => $crate::MetadataStore::durable_opens(s, share).await)
            }
        }
    };
}

/// Implements [`ContentStore`](crate::ContentStore) for a wrapper through its via macro; see
/// the [module docs](crate::forward). Usage:
/// `forward_content_store!(impl[<generics>] for <type>, <via macro>);`
#[macro_export]
macro_rules! forward_content_store {
    (impl[$($gen:tt)*] for $ty:ty, $via:ident) => {
        impl<$($gen)*> $crate::ContentStore for $ty {
            async fn read(
                &self,
                key: $crate::ContentKey,
                offset: u64,
                len: u32,
            ) -> $crate::StoreResult<$crate::bytes::Bytes> {
                $via!(self, async read, s => $crate::ContentStore::read(s, key, offset, len).await)
            }
            async fn write(
                &self,
                key: $crate::ContentKey,
                offset: u64,
                data: $crate::bytes::Bytes,
            ) -> $crate::StoreResult<Option<$crate::ContentVersion>> {
                $via!(self, async write,
                    s => $crate::ContentStore::write(s, key, offset, data).await)
            }
            async fn truncate(&self, key: $crate::ContentKey, len: u64) -> $crate::StoreResult<()> {
                $via!(self, async truncate, s => $crate::ContentStore::truncate(s, key, len).await)
            }
            async fn len(&self, key: $crate::ContentKey) -> $crate::StoreResult<u64> {
                $via!(self, async len, s => $crate::ContentStore::len(s, key).await)
            }
            async fn remove(&self, key: $crate::ContentKey) -> $crate::StoreResult<()> {
                $via!(self, async remove, s => $crate::ContentStore::remove(s, key).await)
            }
            async fn sync(
                &self,
                key: $crate::ContentKey,
            ) -> $crate::StoreResult<Option<$crate::ContentVersion>> {
                $via!(self, async sync, s => $crate::ContentStore::sync(s, key).await)
            }
            async fn usage(&self) -> $crate::StoreResult<$crate::Usage> {
                $via!(self, async usage, s => $crate::ContentStore::usage(s).await)
            }
            async fn probe(&self) -> $crate::StoreResult<()> {
                $via!(self, async probe, s => $crate::ContentStore::probe(s).await)
            }
            async fn allocated(
                &self,
                key: $crate::ContentKey,
                offset: u64,
                len: u64,
            ) -> $crate::StoreResult<Vec<(u64, u64)>> {
                $via!(self, async allocated,
                    s => $crate::ContentStore::allocated(s, key, offset, len).await)
            }
            async fn punch_hole(
                &self,
                key: $crate::ContentKey,
                offset: u64,
                len: u64,
            ) -> $crate::StoreResult<Option<$crate::ContentVersion>> {
                $via!(self, async punch_hole,
                    s => $crate::ContentStore::punch_hole(s, key, offset, len).await)
            }
            async fn adopt(
                &self,
                key: $crate::ContentKey,
                version: Option<$crate::ContentVersion>,
            ) -> $crate::StoreResult<()> {
                $via!(self, async adopt, s => $crate::ContentStore::adopt(s, key, version).await)
            }
            async fn rebase(
                &self,
                key: $crate::ContentKey,
                version: Option<$crate::ContentVersion>,
            ) -> $crate::StoreResult<()> {
                $via!(self, async rebase, s => $crate::ContentStore::rebase(s, key, version).await)
            }
            fn has_versions(&self) -> bool {
                $via!(self, fn has_versions, s => $crate::ContentStore::has_versions(s))
            }
            fn max_file_size(&self) -> u64 {
                $via!(self, fn max_file_size, s => $crate::ContentStore::max_file_size(s))
            }
        }
    };
}
