//! Durable opens kept in the share's metadata store, so that they survive a restart of the
//! server (graceful or not) where the store keeps them (`MetadataStore::keeps_durable_opens`:
//! RocksDB and PostgreSQL; the memory store keeps nothing, and there nothing changes).
//!
//! - **Written** when an open is granted durability (CREATE with DHnQ or DH2Q, in
//!   [`super::files`]), and written again with its current oplock or lease when it is
//!   preserved at a disconnect ([`Conn::disconnect_open`]), so a `kill -9` while the client is
//!   connected loses nothing the client was told.
//! - **Removed** when the open closes: CLOSE, TREE_DISCONNECT, the scavenger, a break that
//!   cannot be delivered, an AppInstanceId takeover ([`forget`], called by
//!   `Conn::release_open` and `durable::close`).
//! - **Restored** at start ([`restore`]): each record becomes a preserved (disconnected)
//!   durable open with its open-table entry (share access, oplock or lease), so a conflicting
//!   open behaves as beside an open preserved across a disconnect (a break it needs closes
//!   the restored open at once), and the scavenger closes it, delete-on-close carried out,
//!   when its timeout passes. The timeout counts from the restart, not from the disconnect:
//!   the server cannot know how long it was down, and the client needs the whole timeout to
//!   find the server again. A record whose file is gone is dropped.
//! - **Kept** at a graceful shutdown: the connections preserve their durable opens (their
//!   records rewritten) instead of closing them, the scavenger leaves the preserved ones
//!   alone, and the write-back cache's final flush commits their writes.
//!
//! Several gateways on one database: each record names the gateway that granted the open
//! (`SmbSettings::gateway_id`, from `state_dir/gateway-id`), and a gateway restores only its
//! own records, so a restart of one never takes over, times out or deletes (delete-on-close)
//! another's durable opens. A client reconnects its durable open through the gateway that
//! granted it.
//!
//! Byte-range locks: a durable open's locks are recorded beside it, under its persistent id
//! with [`LOCKS_BIT`] set ([`LockList`]), rewritten whenever they change (a LOCK or UNLOCK
//! answered, a blocking lock granted) before the client is told, and removed with the open.
//! A restored open takes them again in the share's lock manager, in the order they were
//! granted, before the first connection, so a client reconnecting its handle finds its locks
//! held and nobody else could take them meanwhile. A restored open whose locks cannot all be
//! taken again (more than [`RECORDED_LOCKS_MAX`] were held, the list does not read, or a lock
//! conflicts: on PostgreSQL, the locks of the gateway's previous process stay until its
//! session's `lock_session_ttl` passes) is dropped instead: its reconnect fails, so the
//! client learns it lost the handle, never that it silently lost a lock.
//!
//! Persistent FileIds are unique against every record on disk at start: the allocator starts
//! past the largest id found, and at a random point of a 2^40-wide range above
//! `durable::PERSISTENT_BASE`, so gateways sharing one PostgreSQL database do not pick the
//! same ids.
//!
//! The record is RON text (serde) with a version number, [`RECORD_VERSION`]; a record of
//! another version, or one that does not decode, is dropped with a warning.

use std::sync::Arc;
use std::time::Duration;

use protocol::smb2::create::OplockLevel;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::SmbServer;
use super::connection::{Conn, filetime};
use super::durable::{self, Durability, Preserved};
use super::oplocks::{HeldLease, LeaseId, NodeKey, OpenRef};
use super::state::{DirScan, Open, OpenKind, OpenLocks};
use crate::identity::Permission;
use crate::server::share::locks::{LockOwner, LockRange, Scope};
use crate::server::share::{Caller, Node, ShareHandle};

/// The version of [`Record`] this build writes and reads.
pub(crate) const RECORD_VERSION: u32 = 1;

/// The connection id restored opens are known by in the open table (real connections count
/// from 1); their FileId there is their persistent id.
pub(crate) const RESTORED_CONN: u64 = 0;

/// Set in the store id of a durable open's [`LockList`] (persistent ids stay below 2^49).
pub(crate) const LOCKS_BIT: u64 = 1 << 62;

/// Locks one durable open's list records at most (a few bytes each, so the list stays far
/// below the store's record bound); an open holding more is not restored.
pub(crate) const RECORDED_LOCKS_MAX: usize = 256;

/// The byte-range locks a durable open holds, as recorded for a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LockList {
    /// [`RECORD_VERSION`].
    pub(crate) version: u32,
    /// Each lock in the order it was granted: offset, length, exclusive.
    pub(crate) ranges: Vec<(u64, u64, bool)>,
    /// It held more than [`RECORDED_LOCKS_MAX`]: the list is incomplete.
    pub(crate) overflow: bool,
}

impl LockList {
    /// The list's bytes.
    fn encode(&self) -> Vec<u8> {
        ron::to_string(self)
            .expect("a list of integers always serialises")
            .into_bytes()
    }

    /// The ranges of a complete list of this version.
    fn decode(bytes: &[u8]) -> Result<Vec<LockRange>, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        let l: Self = ron::from_str(text).map_err(|e| e.to_string())?;
        if l.version != RECORD_VERSION {
            return Err(format!("lock list version {}", l.version));
        }
        if l.overflow {
            return Err(format!("more than {RECORDED_LOCKS_MAX} locks were held"));
        }
        Ok(l.ranges
            .into_iter()
            .map(|(offset, length, exclusive)| LockRange {
                offset,
                length,
                exclusive,
            })
            .collect())
    }
}

/// Records the locks `owner` (durable open `persistent`) holds on `node` in `share`'s
/// metadata store, or removes the list when it holds none. A failed write is logged: the
/// locks hold on, only a restart then drops the open.
pub(crate) async fn record_locks(
    share: &ShareHandle,
    node: Node,
    owner: LockOwner,
    persistent: u64,
) {
    let held = share.held_locks(node, owner).await;
    let id = persistent | LOCKS_BIT;
    let result = if held.is_empty() {
        share.remove_durable(server_caller(), id).await
    } else {
        let list = LockList {
            version: RECORD_VERSION,
            overflow: held.len() > RECORDED_LOCKS_MAX,
            ranges: held
                .iter()
                .take(RECORDED_LOCKS_MAX)
                .map(|r| (r.offset, r.length, r.exclusive))
                .collect(),
        };
        share.put_durable(server_caller(), id, list.encode()).await
    };
    if let Err(f) = result {
        tracing::warn!(persistent, error = %f.error, "durable open's locks not recorded; a restart drops the open");
    }
}

/// The lease a durable open held when its record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecordLease {
    /// LeaseKey.
    pub(crate) key: [u8; 16],
    /// Its state (R, W, H bits).
    pub(crate) state: u32,
    /// Its epoch (v2).
    pub(crate) epoch: u16,
    /// A v2 lease.
    pub(crate) v2: bool,
}

/// What a reconnect after a restart must check and restore of one durable open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// [`RECORD_VERSION`].
    pub(crate) version: u32,
    /// The gateway that granted the open (`SmbSettings::gateway_id`): only it restores the
    /// record, so a gateway restarting on a database it shares with others leaves their
    /// durable opens alone.
    #[serde(default)]
    pub(crate) gateway: u64,
    /// The file: inode and generation.
    pub(crate) ino: u64,
    /// The generation of `ino`.
    pub(crate) generation: u64,
    /// Its directory's inode.
    pub(crate) parent_ino: u64,
    /// Its directory's generation.
    pub(crate) parent_generation: u64,
    /// Its name in its directory, as stored.
    pub(crate) name: String,
    /// Its path from the share root (a lease reconnect must name it).
    pub(crate) path: String,
    /// The uid of the user who opened it: only that user reconnects it.
    pub(crate) owner: u32,
    /// Who the scavenger acts as when it closes it: the tree's caller at open.
    pub(crate) user: Option<String>,
    /// The caller's uid.
    pub(crate) uid: u32,
    /// The caller's primary group.
    pub(crate) gid: u32,
    /// The caller's supplementary groups.
    pub(crate) gids: Vec<u32>,
    /// The caller's share permission.
    pub(crate) permission: Permission,
    /// The session it was opened in (its preserved opens are bounded per session).
    pub(crate) session: u64,
    /// ClientGuid of its connection (a lease belongs to it).
    pub(crate) client_guid: [u8; 16],
    /// CreateGuid (v2; zeros for v1).
    pub(crate) create_guid: [u8; 16],
    /// A v2 (DH2Q) durable open.
    pub(crate) v2: bool,
    /// Its durable timeout in milliseconds.
    pub(crate) timeout_ms: u64,
    /// Its oplock level (LEASE with a lease).
    pub(crate) oplock: u8,
    /// Its lease.
    pub(crate) lease: Option<RecordLease>,
    /// Granted access mask.
    pub(crate) access: u32,
    /// Share access.
    pub(crate) share_access: u32,
    /// Delete when closed.
    pub(crate) delete_on_close: bool,
    /// Writes are FILE_SYNC.
    pub(crate) write_through: bool,
    /// FileModeInformation.
    pub(crate) mode: u32,
    /// Opened with the SMB 3.1.1 POSIX create context.
    pub(crate) posix_paths: bool,
    /// Its AppInstanceId.
    pub(crate) app_instance: Option<[u8; 16]>,
    /// When the record was written (FILETIME): at the grant, or at the disconnect that
    /// preserved it.
    pub(crate) recorded: u64,
    /// The ParentLeaseKey its v2 lease named (a change through it leaves that directory
    /// lease alone).
    #[serde(default)]
    pub(crate) parent_lease: Option<[u8; 16]>,
}

impl Record {
    /// The record's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        ron::to_string(self)
            .expect("a record of plain integers, strings and options always serialises")
            .into_bytes()
    }

    /// A record from its bytes, if they are one of this version.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        let r: Self = ron::from_str(text).map_err(|e| e.to_string())?;
        if r.version != RECORD_VERSION {
            return Err(format!(
                "record version {} (this build reads {RECORD_VERSION})",
                r.version
            ));
        }
        Ok(r)
    }

    fn node(&self) -> Node {
        Node {
            ino: stores::InodeId(self.ino),
            generation: stores::Generation(self.generation),
        }
    }

    fn caller(&self) -> Caller {
        Caller {
            user: self.user.as_deref().map(Arc::from),
            uid: self.uid,
            gid: self.gid,
            gids: self.gids.clone(),
            permission: self.permission,
        }
    }

    fn lease(&self) -> Option<HeldLease> {
        self.lease.map(|l| HeldLease {
            id: LeaseId {
                client: self.client_guid,
                key: l.key,
            },
            state: l.state,
            epoch: l.epoch,
            v2: l.v2,
        })
    }

    /// The open this record describes, as a preserved open holds it (persistent FileId `id`).
    fn open(&self, id: u64) -> Open {
        Open {
            session: self.session,
            tree: 0,
            kind: OpenKind::Node {
                node: self.node(),
                parent: Node {
                    ino: stores::InodeId(self.parent_ino),
                    generation: stores::Generation(self.parent_generation),
                },
                name: self.name.clone(),
                path: self.path.clone(),
                is_dir: false,
                stream: None,
            },
            access: self.access,
            share_access: self.share_access,
            delete_on_close: self.delete_on_close,
            write_through: self.write_through,
            dirty: false,
            unflushed: None,
            scan: DirScan::default(),
            position: 0,
            allocation: 0,
            posix_paths: self.posix_paths,
            archived: false,
            user_ctime: None,
            mode: self.mode,
            locks: OpenLocks::default(),
            persistent: id,
            durable: Some(Durability {
                timeout: Duration::from_millis(self.timeout_ms),
                v2: self.v2,
                create_guid: self.create_guid,
            }),
            create_guid: self.v2.then_some((self.create_guid, 1)),
            replay_eligible: false.into(),
            app_instance: self.app_instance,
            channel_sequence: 0.into(),
            parent_lease: self.parent_lease,
            wrote: stores::Modified::default(),
        }
    }
}

/// Who lists and removes records: the server itself (no permission applies to them).
fn server_caller() -> Caller {
    Caller::server(Permission::ReadWrite)
}

impl Conn {
    /// The record of durable open `id` as it is now, with its share: `None` when it is not
    /// durable, its share keeps no records, or it holds no oplock or lease right now (a break
    /// under way).
    fn durable_record(&self, id: u64) -> Option<(ShareHandle, Record)> {
        let open = self.opens.get(&id)?;
        let d = open.durable?;
        let OpenKind::Node {
            node,
            parent,
            name,
            path,
            is_dir: false,
            stream: None,
        } = &open.kind
        else {
            return None;
        };
        let owner = self.sessions.get(&open.session)?.user.as_ref()?.uid;
        let (share, caller) = self.share_of(open).ok()?;
        if !share.keeps_durable() {
            return None;
        }
        let (oplock, lease) = self.server.opens.caching_of(OpenRef {
            conn: self.id,
            file: id,
        })?;
        let record = Record {
            version: RECORD_VERSION,
            gateway: self.server.settings.gateway_id,
            ino: node.ino.0,
            generation: node.generation.0,
            parent_ino: parent.ino.0,
            parent_generation: parent.generation.0,
            name: name.clone(),
            path: path.clone(),
            owner,
            user: caller.user.as_deref().map(str::to_owned),
            uid: caller.uid,
            gid: caller.gid,
            gids: caller.gids.clone(),
            permission: caller.permission,
            session: open.session,
            client_guid: self.neg.as_ref().map_or([0; 16], |n| n.client_guid),
            create_guid: d.create_guid,
            v2: d.v2,
            timeout_ms: u64::try_from(d.timeout.as_millis()).unwrap_or(u64::MAX),
            oplock: oplock.0,
            lease: lease.map(|l| RecordLease {
                key: l.id.key,
                state: l.state,
                epoch: l.epoch,
                v2: l.v2,
            }),
            access: open.access,
            share_access: open.share_access,
            delete_on_close: open.delete_on_close,
            write_through: open.write_through,
            mode: open.mode,
            posix_paths: open.posix_paths,
            app_instance: open.app_instance,
            recorded: filetime(self.server.env.wall()),
            parent_lease: open.parent_lease,
        };
        Some((share, record))
    }

    /// Writes durable open `id`'s record to its share's metadata store (nothing where the
    /// store keeps none). A failed write is logged: the open stays durable for a lost
    /// connection, only not across a restart.
    pub(crate) async fn record_durable(&self, id: u64) {
        let Some((share, record)) = self.durable_record(id) else {
            return;
        };
        let persistent = self.opens.get(&id).map_or(0, |o| o.persistent);
        if let Err(f) = share
            .put_durable(server_caller(), persistent, record.encode())
            .await
        {
            tracing::warn!(persistent, error = %f.error, "durable open not recorded; a restart loses it");
        }
    }
}

/// Removes the record of `open` (closing) and its lock list from `share`, if it is a durable
/// open whose share keeps records.
pub(crate) async fn forget(share: &ShareHandle, open: &Open) {
    if open.durable.is_none() || !share.keeps_durable() {
        return;
    }
    if let Err(f) = share.remove_durable(server_caller(), open.persistent).await {
        tracing::warn!(persistent = open.persistent, error = %f.error, "durable open record not removed");
    }
    if open.locks.used
        && let Err(f) = share
            .remove_durable(server_caller(), open.persistent | LOCKS_BIT)
            .await
    {
        tracing::warn!(persistent = open.persistent, error = %f.error, "durable open's lock list not removed");
    }
}

/// Drops a durable open's record and lock list from `share` (it is not restored).
async fn drop_records(share: &ShareHandle, id: u64) {
    let _ = share.remove_durable(server_caller(), id).await;
    let _ = share.remove_durable(server_caller(), id | LOCKS_BIT).await;
}

/// Takes restored durable open `id`'s recorded locks (`list`, its lock list's bytes) on
/// `node` again, one at a time in the recorded order; on any failure releases what it took
/// and says why.
async fn retake_locks(
    share: &ShareHandle,
    node: Node,
    session: u64,
    id: u64,
    list: &[u8],
) -> Result<usize, String> {
    let ranges = LockList::decode(list)?;
    let owner = LockOwner::Smb {
        conn: RESTORED_CONN,
        session,
        open: id,
    };
    for r in &ranges {
        if let Err(e) = share.lock(node, owner.clone(), vec![*r], false).await {
            share
                .release_locks(Scope::Open {
                    conn: RESTORED_CONN,
                    open: id,
                })
                .await;
            return Err(format!(
                "lock at {} (+{}) not taken again: {e}",
                r.offset, r.length
            ));
        }
    }
    Ok(ranges.len())
}

/// Restores every durable open recorded in the shares' metadata stores as a preserved open
/// (see the [module docs](self)); run once at start, before the first connection.
pub(crate) async fn restore(server: &SmbServer) {
    let mut largest = None;
    let mut restored = 0usize;
    let mut others = 0usize;
    let mut any = false;
    for reg in server.registry.iter() {
        let share = reg.handle.clone();
        if !share.keeps_durable() {
            continue;
        }
        any = true;
        let records = match share.durable_opens(server_caller()).await {
            Ok(r) => r,
            Err(f) => {
                tracing::warn!(share = reg.name, error = %f.error, "durable opens not read; none restored");
                continue;
            }
        };
        let (lists, records): (Vec<_>, Vec<_>) =
            records.into_iter().partition(|(id, _)| id & LOCKS_BIT != 0);
        let mut lists: std::collections::HashMap<u64, Vec<u8>> = lists
            .into_iter()
            .map(|(id, bytes)| (id & !LOCKS_BIT, bytes))
            .collect();
        for (id, bytes) in records {
            largest = largest.max(Some(id));
            let list = lists.remove(&id);
            let r = match Record::decode(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(
                        share = reg.name,
                        id,
                        error = e,
                        "durable open record unreadable; dropped"
                    );
                    drop_records(&share, id).await;
                    continue;
                }
            };
            if r.gateway != server.settings.gateway_id {
                // Another gateway's open (a database several gateways share): its record
                // stays for that gateway to restore or remove.
                others += 1;
                continue;
            }
            let caller = r.caller();
            if share.getattr(caller.clone(), r.node()).await.is_err() {
                tracing::info!(
                    share = reg.name,
                    id,
                    "durable open of a file that is gone; dropped"
                );
                drop_records(&share, id).await;
                continue;
            }
            let mut open = r.open(id);
            if let Some(list) = list {
                match retake_locks(&share, r.node(), r.session, id, &list).await {
                    Ok(n) => {
                        open.locks.used = true;
                        tracing::debug!(id, locks = n, "restored durable open's locks taken again");
                    }
                    Err(e) => {
                        tracing::warn!(
                            share = reg.name,
                            id,
                            error = e,
                            "durable open's locks cannot be taken again; the open is dropped, so its reconnect fails"
                        );
                        drop_records(&share, id).await;
                        continue;
                    }
                }
            }
            let was = OpenRef {
                conn: RESTORED_CONN,
                file: id,
            };
            let key = NodeKey::new(share.id(), r.node());
            server.opens.restore(
                key,
                was,
                r.access,
                r.share_access,
                OplockLevel(r.oplock),
                r.lease(),
            );
            if let Some(app) = r.app_instance {
                server.durable.app_register(
                    app,
                    was,
                    r.client_guid,
                    share.id().0,
                    r.path.to_lowercase(),
                );
            }
            let p = Preserved::new(open, was, r.owner, share.clone(), caller, server.env.now());
            if let Err(p) = server.durable.preserve(p) {
                tracing::info!(id, "restored durable open closed: too many preserved opens");
                durable::close(server, *p).await;
                continue;
            }
            restored += 1;
        }
        // Lists whose open is gone (a crash between removing an open's record and its
        // list).
        for id in lists.into_keys() {
            let _ = share.remove_durable(server_caller(), id | LOCKS_BIT).await;
        }
    }
    if any {
        // A random start keeps gateways on one database apart; past every id on disk, so no
        // new open takes the id of a record still there.
        let random = server.env.rng("smb-durable-ids").next_u64() >> 24;
        let start = (durable::PERSISTENT_BASE + random).max(largest.map_or(0, |id| id + 1));
        server.durable.start_ids_at(start);
    }
    if restored > 0 || others > 0 {
        tracing::info!(
            restored,
            others,
            "durable opens restored from the metadata store (others: other gateways' records, left alone)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a record reads back as written, and a record of another version or a damaged
    /// one is refused (the server drops it). Method: encode, decode, compare; then change the
    /// version and cut the bytes.
    #[test]
    fn record_round_trip_and_version() {
        let r = Record {
            version: RECORD_VERSION,
            gateway: 9,
            ino: 42,
            generation: 7,
            parent_ino: 1,
            parent_generation: 1,
            name: "a.txt".into(),
            path: "dir\\a.txt".into(),
            owner: 1001,
            user: Some("alice".into()),
            uid: 1001,
            gid: 1001,
            gids: vec![5, 6],
            permission: Permission::ReadWrite,
            session: 9,
            client_guid: [3; 16],
            create_guid: [4; 16],
            v2: true,
            timeout_ms: 60_000,
            oplock: OplockLevel::LEASE.0,
            lease: Some(RecordLease {
                key: [5; 16],
                state: 7,
                epoch: 2,
                v2: true,
            }),
            access: 0x1F01FF,
            share_access: 7,
            delete_on_close: false,
            write_through: false,
            mode: 0,
            posix_paths: false,
            app_instance: None,
            recorded: 133_000_000_000_000_000,
            parent_lease: Some([6; 16]),
        };
        let bytes = r.encode();
        assert_eq!(Record::decode(&bytes), Ok(r.clone()));
        let other = Record {
            version: RECORD_VERSION + 1,
            ..r
        };
        assert!(Record::decode(&other.encode()).is_err());
        assert!(Record::decode(&bytes[..bytes.len() / 2]).is_err());
    }
}
