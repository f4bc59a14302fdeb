//! The identity a running server resolves against: a snapshot that a polling task replaces
//! when the store changes, so `dittofs user add` and `grant` apply without a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::model::{Identity, IdentityData, ShareRules};
use super::store::{IdentityError, IdentityStore};
use super::{NamedUser, Principal, Resolver};

/// How often the server asks the identity store whether it changed.
pub const RELOAD_PERIOD: Duration = Duration::from_secs(1);

/// A live view of identity: cheap to clone, each clone sees the newest snapshot. It implements
/// [`Resolver`], which is what the server holds.
#[derive(Debug, Clone)]
pub struct LiveIdentity {
    current: watch::Receiver<Arc<Identity>>,
}

impl LiveIdentity {
    /// A view that never changes (tests, and configurations without a file).
    pub fn fixed(identity: Identity) -> Self {
        // The receiver keeps the last value after the sender is gone.
        let (_, current) = watch::channel(Arc::new(identity));
        Self { current }
    }

    /// Loads `store` once, then spawns a task that polls its version every `period` and
    /// swaps in a new snapshot when it changed and loads cleanly; a change that fails to load
    /// is logged and the previous snapshot stays. The task ends when `shutdown` is cancelled.
    pub async fn watch<S: IdentityStore>(
        store: S,
        shares: BTreeMap<String, ShareRules>,
        period: Duration,
        shutdown: CancellationToken,
    ) -> Result<(Self, JoinHandle<()>), IdentityError> {
        let version = store.version().await?;
        let data = store.load().await?;
        let (tx, current) = watch::channel(Arc::new(Identity::new(&data, &shares)));
        let task = tokio::spawn(poll(store, shares, tx, version, period, shutdown));
        Ok((Self { current }, task))
    }

    /// The snapshot in force now.
    pub fn snapshot(&self) -> Arc<Identity> {
        Arc::clone(&self.current.borrow())
    }

    /// Checks a password in constant time whether the user exists or not.
    pub fn verify_password(&self, username: &str, password: &str) -> bool {
        self.snapshot().verify_password(username, password)
    }
}

impl Resolver for LiveIdentity {
    fn unix(&self, share: &str, uid: u32, gid: u32, gids: &[u32]) -> Principal {
        self.current.borrow().unix(share, uid, gid, gids)
    }

    fn guest(&self, share: &str) -> Principal {
        self.current.borrow().guest(share)
    }

    fn user(&self, username: &str) -> Option<NamedUser> {
        self.current.borrow().user(username)
    }

    fn guest_enabled(&self) -> bool {
        self.current.borrow().guest_enabled()
    }
}

/// The reload loop: every `period`, and at once when the store reports a change, compare the
/// store's version with the snapshot's. Exit: `shutdown` cancelled (checked first).
async fn poll<S: IdentityStore>(
    store: S,
    shares: BTreeMap<String, ShareRules>,
    tx: watch::Sender<Arc<Identity>>,
    mut version: Vec<u8>,
    period: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Log a failing store once per failure, not once a second.
    let mut failing = false;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = store.changed() => {}
            _ = tick.tick() => {}
        }
        let now = match store.version().await {
            Ok(now) => now,
            Err(err) => {
                if !failing {
                    tracing::warn!(error = %err, "identity store unreadable; keeping the current users and groups");
                    failing = true;
                }
                continue;
            }
        };
        if now == version {
            continue;
        }
        version = now;
        match store.load().await {
            Ok(data) => {
                failing = false;
                apply(&tx, &data, &shares);
            }
            Err(err) => {
                failing = true;
                tracing::warn!(error = %err, "identity changed but does not load; keeping the current users and groups");
            }
        }
    }
}

fn apply(
    tx: &watch::Sender<Arc<Identity>>,
    data: &IdentityData,
    shares: &BTreeMap<String, ShareRules>,
) {
    let identity = Identity::new(data, shares);
    tracing::info!(
        users = identity.user_count(),
        groups = data.groups.len(),
        guest = data.guest.enabled,
        "identity reloaded"
    );
    tx.send_replace(Arc::new(identity));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigEnv;
    use crate::identity::Permission;
    use crate::identity::store::FileIdentityStore;

    const BASE: &str = "shares:\n  - name: /export\n    default_permission: none\n";

    /// Goal: a running resolver sees an edit of the file within a poll period or two, and
    /// keeps the old snapshot when the file becomes invalid. Method: a real file, the real
    /// store and poll task, a 50 ms period, real time.
    #[tokio::test]
    async fn reload_sees_file_changes() {
        const PERIOD: Duration = Duration::from_millis(50);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, BASE).expect("write");
        let env = ConfigEnv {
            home: Some(dir.path().to_owned()),
            ..ConfigEnv::default()
        };
        let store = FileIdentityStore::new(&path, env);
        let mut share = crate::config::ShareConfig::new("/export");
        share.default_permission = Some(Permission::None);
        let shares = Identity::share_rules(&[share]);
        let shutdown = CancellationToken::new();
        let (live, task) = LiveIdentity::watch(store, shares, PERIOD, shutdown.clone())
            .await
            .expect("loads");
        let resolver: Arc<dyn Resolver> = Arc::new(live.clone());
        let permission = || resolver.unix("/export", 1001, 1, &[]).permission;
        assert_eq!(permission(), Permission::None);

        let with_alice = format!(
            "{BASE}users:\n  - username: alice\n    uid: 1001\n    gid: 1\n    share_permissions: {{/export: read}}\n"
        );
        std::fs::write(&path, &with_alice).expect("edit");
        // Two periods plus scheduling slack on a busy machine.
        let mut waited = Duration::ZERO;
        while permission() != Permission::Read && waited < PERIOD * 20 {
            tokio::time::sleep(PERIOD / 5).await;
            waited += PERIOD / 5;
        }
        assert_eq!(
            permission(),
            Permission::Read,
            "not reloaded after {waited:?}"
        );
        let p = resolver.unix("/export", 1001, 1, &[]);
        assert_eq!(p.user.as_deref(), Some("alice"));
        assert_eq!(live.snapshot().user_count(), 1);

        // An invalid edit (a grant on a share that does not exist) is not applied.
        std::fs::write(
            &path,
            with_alice.replace("{/export: read}", "{/nope: read}"),
        )
        .expect("bad edit");
        tokio::time::sleep(PERIOD * 4).await;
        assert_eq!(permission(), Permission::Read);
        // A fixed view answers the same way without a task.
        let fixed = LiveIdentity::fixed((*live.snapshot()).clone());
        assert_eq!(
            fixed.unix("/export", 1001, 1, &[]).permission,
            Permission::Read
        );

        shutdown.cancel();
        task.await.expect("the poll task ends on shutdown");
    }
}
