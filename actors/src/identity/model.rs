//! One immutable snapshot of who exists and what they may do: users, groups, the guest and each
//! share's guest and default rules. Resolution is pure code over a snapshot, so it is tested
//! without files or tasks; [`super::LiveIdentity`] swaps snapshots when the store changes.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;

use super::secret::{self, StoredHashes};
use super::{NamedUser, Permission, Principal};
use crate::config::{GroupConfig, GuestConfig, ShareConfig, UserConfig};

/// Users, groups and the guest: what an identity store holds, whatever backs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityData {
    /// Users, in the order they were added.
    pub users: Vec<UserConfig>,
    /// Groups, in the order they were added.
    pub groups: Vec<GroupConfig>,
    /// The guest.
    pub guest: GuestConfig,
}

/// What a share decides on its own: whether guests may come in, and what callers without a
/// grant get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareRules {
    /// `allow_guest`.
    pub allow_guest: bool,
    /// `default_permission`, with the read-only rule applied.
    pub default_permission: Permission,
}

impl ShareRules {
    /// The rules of a configured share.
    pub fn of(share: &ShareConfig) -> Self {
        Self {
            allow_guest: share.allow_guest,
            default_permission: share.effective_default_permission(),
        }
    }
}

/// A resolved user: the configuration entry plus the best grant per share over the user's own
/// and their groups'.
#[derive(Debug, Clone)]
struct ResolvedUser {
    name: Arc<str>,
    config: UserConfig,
    /// Share name → permission, for shares where the user or a group has a grant.
    grants: BTreeMap<String, Permission>,
    /// The gids of the named groups that exist (supplementary groups).
    gids: Vec<u32>,
}

/// A snapshot of identity, ready to answer per call.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    users: Vec<ResolvedUser>,
    /// uid → index in `users`. (A lookup map only; never iterated.)
    by_uid: HashMap<u32, usize>,
    /// username → index in `users`.
    by_name: HashMap<String, usize>,
    /// ASCII-lowercased username → index in `users` (Windows matches names without case).
    by_folded_name: HashMap<String, usize>,
    guest: GuestConfig,
    shares: BTreeMap<String, ShareRules>,
}

impl Identity {
    /// Builds a snapshot. The data is assumed validated ([`crate::config::Config::validate`]);
    /// should two users share a uid anyway, the first wins, and a group name that matches no
    /// group grants nothing.
    pub fn new(data: &IdentityData, shares: &BTreeMap<String, ShareRules>) -> Self {
        let groups: BTreeMap<&str, &GroupConfig> =
            data.groups.iter().map(|g| (g.name.as_str(), g)).collect();
        let mut identity = Self {
            guest: data.guest,
            shares: shares.clone(),
            ..Self::default()
        };
        for user in &data.users {
            let mut grants: BTreeMap<String, Permission> = BTreeMap::new();
            // The best grant among the user's groups: the named ones and the primary group.
            let member_of = user
                .groups
                .iter()
                .filter_map(|name| groups.get(name.as_str()).copied())
                .chain(data.groups.iter().filter(|g| g.gid == user.gid));
            for group in member_of {
                for (share, &permission) in &group.share_permissions {
                    let best = grants.entry(share.clone()).or_insert(permission);
                    *best = (*best).max(permission);
                }
            }
            // The user's own grant wins over the groups', even when it is weaker: that is how
            // one member of a read-write group is limited to read.
            for (share, &permission) in &user.share_permissions {
                grants.insert(share.clone(), permission);
            }
            let index = identity.users.len();
            identity.by_uid.entry(user.uid).or_insert(index);
            identity
                .by_name
                .entry(user.username.clone())
                .or_insert(index);
            identity
                .by_folded_name
                .entry(user.username.to_ascii_lowercase())
                .or_insert(index);
            let mut gids: Vec<u32> = user
                .groups
                .iter()
                .filter_map(|name| groups.get(name.as_str()).map(|g| g.gid))
                .filter(|&gid| gid != user.gid)
                .collect();
            gids.sort_unstable();
            gids.dedup();
            identity.users.push(ResolvedUser {
                name: Arc::from(user.username.as_str()),
                config: user.clone(),
                grants,
                gids,
            });
        }
        identity
    }

    /// Share rules from a list of configured shares.
    pub fn share_rules(shares: &[ShareConfig]) -> BTreeMap<String, ShareRules> {
        shares
            .iter()
            .map(|s| (s.name.clone(), ShareRules::of(s)))
            .collect()
    }

    /// The permission on `share` of the user with `uid`: their grant, else the best of their
    /// groups', else the share's default. A uid with no user gets the default. An unknown
    /// share gets `none`.
    pub fn permission(&self, share: &str, uid: u32) -> (Option<Arc<str>>, Permission) {
        let Some(rules) = self.shares.get(share) else {
            return (None, Permission::None);
        };
        match self.by_uid.get(&uid).map(|&i| &self.users[i]) {
            Some(user) => (
                Some(Arc::clone(&user.name)),
                user.grants
                    .get(share)
                    .copied()
                    .unwrap_or(rules.default_permission),
            ),
            None => (None, rules.default_permission),
        }
    }

    /// A Unix caller (NFS AUTH_SYS): the caller's own ids, which POSIX mode checks use, with
    /// the share permission of the user their uid matches.
    pub fn unix(&self, share: &str, uid: u32, gid: u32, gids: &[u32]) -> Principal {
        let (user, permission) = self.permission(share, uid);
        Principal {
            user,
            uid,
            gid,
            gids: gids.to_vec(),
            permission,
        }
    }

    /// A caller without credentials (NFS AUTH_NONE): the guest, with the share's default
    /// permission, when `guest.enabled` and the share's `allow_guest` are both true; otherwise
    /// refused (`none`), as the guest's ids.
    pub fn guest(&self, share: &str) -> Principal {
        let permission = match self.shares.get(share) {
            Some(rules) if self.guest.enabled && rules.allow_guest => rules.default_permission,
            _ => Permission::None,
        };
        Principal {
            user: None,
            uid: self.guest.uid,
            gid: self.guest.gid,
            gids: Vec::new(),
            permission,
        }
    }

    /// Checks a user's password in the same time whether `username` exists or not (see
    /// [`secret::verify_password`]). A user without a password never verifies.
    pub fn verify_password(&self, username: &str, password: &str) -> bool {
        let stored = self
            .by_name
            .get(username)
            .map(|&i| &self.users[i].config)
            .and_then(|u| {
                u.password_hash.as_ref().map(|h| StoredHashes {
                    bcrypt: h.expose(),
                    nt: u.nt_hash.as_ref().map(|n| n.expose()),
                })
            });
        secret::verify_password(stored, password)
    }

    /// The user who logs in as `username`: the exact spelling, else the one equal ignoring
    /// ASCII case. The NT hash is parsed from its 32 hex digits (validated at load).
    pub fn user(&self, username: &str) -> Option<NamedUser> {
        let &i = self
            .by_name
            .get(username)
            .or_else(|| self.by_folded_name.get(&username.to_ascii_lowercase()))?;
        let u = &self.users[i];
        let nt_hash = u.config.nt_hash.as_ref().and_then(|h| {
            let mut out = [0u8; 16];
            hex::decode_to_slice(h.expose(), &mut out)
                .ok()
                .map(|()| out)
        });
        Some(NamedUser {
            name: Arc::clone(&u.name),
            nt_hash,
            uid: u.config.uid,
            gid: u.config.gid,
            gids: u.gids.clone(),
        })
    }

    /// Whether the guest is enabled at all.
    pub const fn guest_enabled(&self) -> bool {
        self.guest.enabled
    }

    /// The number of users, for log lines.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(
        name: &str,
        uid: u32,
        gid: u32,
        groups: &[&str],
        grants: &[(&str, Permission)],
    ) -> UserConfig {
        UserConfig {
            username: name.to_owned(),
            password_hash: None,
            nt_hash: None,
            uid,
            gid,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            share_permissions: grants.iter().map(|(s, p)| ((*s).to_owned(), *p)).collect(),
        }
    }

    fn group(name: &str, gid: u32, grants: &[(&str, Permission)]) -> GroupConfig {
        GroupConfig {
            name: name.to_owned(),
            gid,
            share_permissions: grants.iter().map(|(s, p)| ((*s).to_owned(), *p)).collect(),
        }
    }

    fn rules(default: Permission, allow_guest: bool) -> ShareRules {
        ShareRules {
            allow_guest,
            default_permission: default,
        }
    }

    /// Goal: resolution order: the user's grant (even a weaker one), else the best group
    /// grant (named groups and the primary gid's group), else the share default; a uid with no
    /// user gets the default; an unknown share gets none.
    #[test]
    fn resolution_order() {
        use Permission::{None as No, Read, ReadWrite};
        let data = IdentityData {
            groups: vec![
                group("readers", 100, &[("/a", Read), ("/b", Read)]),
                group("editors", 101, &[("/a", ReadWrite)]),
                group("staff", 102, &[("/c", Read)]),
            ],
            users: vec![
                user("alice", 1001, 100, &["editors"], &[]),
                user("bob", 1002, 100, &["editors"], &[("/a", Read)]),
                user("carol", 1003, 102, &[], &[("/b", No)]),
                user("dave", 1004, 999, &[], &[]),
            ],
            guest: GuestConfig::default(),
        };
        let shares = BTreeMap::from([
            ("/a".to_owned(), rules(No, false)),
            ("/b".to_owned(), rules(ReadWrite, false)),
            ("/c".to_owned(), rules(No, false)),
        ]);
        let id = Identity::new(&data, &shares);
        let perm = |share: &str, uid: u32| id.permission(share, uid).1;
        // alice: best of readers (primary) = read and editors = read-write.
        assert_eq!(perm("/a", 1001), ReadWrite);
        assert_eq!(perm("/b", 1001), Read);
        assert_eq!(perm("/c", 1001), No);
        // bob: his own read wins over editors' read-write.
        assert_eq!(perm("/a", 1002), Read);
        // carol: her own none wins over the share default; staff is her primary group.
        assert_eq!(perm("/b", 1003), No);
        assert_eq!(perm("/c", 1003), Read);
        // dave: no grants, a primary gid that is no group: the defaults.
        assert_eq!(perm("/a", 1004), No);
        assert_eq!(perm("/b", 1004), ReadWrite);
        // A uid with no user gets the default, and no name.
        assert_eq!(id.permission("/b", 4242), (None, ReadWrite));
        assert_eq!(id.permission("/a", 4242), (None, No));
        assert_eq!(id.permission("/nope", 1001), (None, No));
        let p = id.unix("/a", 1001, 5, &[6, 7]);
        assert_eq!(p.user.as_deref(), Some("alice"));
        assert_eq!((p.uid, p.gid, p.gids.as_slice()), (1001, 5, &[6, 7][..]));
        assert_eq!(p.permission, ReadWrite);
    }

    /// Goal: an SMB login name finds its user exactly or ignoring ASCII case, with the NT
    /// hash parsed and the supplementary gids of the groups that exist; unknown names find
    /// nothing.
    #[test]
    fn users_by_login_name() {
        let mut alice = user("Alice", 1001, 100, &["editors", "ghosts", "readers"], &[]);
        alice.nt_hash = Some(secret::Secret::new(hex::encode(secret::nt_hash("pw"))));
        let data = IdentityData {
            groups: vec![group("readers", 100, &[]), group("editors", 101, &[])],
            users: vec![alice, user("bob", 1002, 100, &[], &[])],
            guest: GuestConfig::default(),
        };
        let id = Identity::new(&data, &BTreeMap::new());
        let a = id.user("alice").expect("case-insensitive match");
        assert_eq!(&*a.name, "Alice");
        assert_eq!(a.nt_hash, Some(secret::nt_hash("pw")));
        assert_eq!((a.uid, a.gid, a.gids.as_slice()), (1001, 100, &[101][..]));
        assert!(id.user("ALICE").is_some());
        assert_eq!(id.user("bob").map(|b| b.nt_hash), Some(None));
        assert!(id.user("carol").is_none());
        assert!(!format!("{a:?}").contains(&hex::encode(secret::nt_hash("pw"))));
        assert!(!id.guest_enabled());
    }

    /// Goal: without users, every share serves as before: read-write, or read when read-only.
    #[test]
    fn no_users_is_the_old_behaviour() {
        let mut rw = ShareConfig::new("/rw");
        rw.read_only = false;
        let mut ro = ShareConfig::new("/ro");
        ro.read_only = true;
        let id = Identity::new(&IdentityData::default(), &Identity::share_rules(&[rw, ro]));
        assert_eq!(id.permission("/rw", 0).1, Permission::ReadWrite);
        assert_eq!(id.permission("/ro", 1000).1, Permission::Read);
    }

    /// Goal: the guest gets the share default only where guest is enabled and the share
    /// allows guests; everywhere else it is refused.
    #[test]
    fn guest_needs_both_switches() {
        let shares = BTreeMap::from([
            ("/open".to_owned(), rules(Permission::Read, true)),
            ("/closed".to_owned(), rules(Permission::ReadWrite, false)),
        ]);
        let mut data = IdentityData {
            guest: GuestConfig {
                enabled: true,
                uid: 500,
                gid: 501,
            },
            ..IdentityData::default()
        };
        let id = Identity::new(&data, &shares);
        let g = id.guest("/open");
        assert_eq!(
            (g.user, g.uid, g.gid, g.permission),
            (None, 500, 501, Permission::Read)
        );
        assert_eq!(id.guest("/closed").permission, Permission::None);
        assert_eq!(id.guest("/missing").permission, Permission::None);
        data.guest.enabled = false;
        let id = Identity::new(&data, &shares);
        assert_eq!(id.guest("/open").permission, Permission::None);
    }

    /// Goal: password checks go through the snapshot by username.
    #[test]
    fn verify_password_by_name() {
        let (hash, nt) = secret::hash_password("pw one", 4).expect("hash");
        let mut alice = user("alice", 1001, 100, &[], &[]);
        alice.password_hash = Some(hash);
        alice.nt_hash = Some(nt);
        let mut bob = user("bob", 1002, 100, &[], &[]);
        bob.password_hash = None;
        let data = IdentityData {
            users: vec![alice, bob],
            ..IdentityData::default()
        };
        let id = Identity::new(&data, &BTreeMap::new());
        assert!(id.verify_password("alice", "pw one"));
        assert!(!id.verify_password("alice", "pw two"));
        assert!(!id.verify_password("bob", ""));
        assert!(!id.verify_password("nobody", "pw one"));
        // Secret stays opaque in Debug output of the snapshot.
        assert!(!format!("{id:?}").contains("$2"));
    }
}
