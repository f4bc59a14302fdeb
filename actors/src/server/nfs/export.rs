//! NFS export rules: which clients may use a share (networks, privileged ports) and how their
//! AUTH_SYS ids are squashed before identity resolves them to a principal.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::rpc::Credentials;

use super::rpc::ConnInfo;
use crate::identity::Resolver;
use crate::server::share::registry::{Registered, Registry};
use crate::server::share::{Caller, ShareId};

/// Identity mapping for an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Squash {
    /// Callers keep their ids.
    #[default]
    None,
    /// uid 0 becomes the anonymous user (and gid 0 the anonymous group).
    Root,
    /// Every caller becomes the anonymous user.
    All,
}

/// How a share is exported over NFS.
#[derive(Debug, Clone, Default)]
pub struct NfsExport {
    /// Identity mapping.
    pub squash: Squash,
    /// uid squashed callers get.
    pub anon_uid: u32,
    /// gid squashed callers get.
    pub anon_gid: u32,
    /// Client networks allowed to mount and use the share (empty: everyone).
    pub allowed_clients: Vec<crate::config::Cidr>,
    /// Refuse clients whose source port is not below 1024.
    pub require_privileged_port: bool,
}

impl NfsExport {
    /// Whether the connection may use this export at all (network and port rules).
    pub(crate) fn admits(&self, conn: &ConnInfo) -> bool {
        let ip = conn.peer.ip();
        let net_ok = crate::config::allows(&self.allowed_clients, ip);
        let port_ok = !self.require_privileged_port || conn.peer.port() < 1024;
        net_ok && port_ok
    }

    /// Applies the squash rule to a client's credentials: (uid, gid, groups).
    pub(crate) fn squash(&self, creds: &Credentials) -> (u32, u32, Vec<u32>) {
        let anon = || (self.anon_uid, self.anon_gid, Vec::new());
        let Credentials::Sys(s) = creds else {
            // AUTH_NONE is the anonymous user.
            return anon();
        };
        match self.squash {
            Squash::All => anon(),
            Squash::Root if s.uid == 0 => anon(),
            Squash::Root => {
                let g = |g: u32| if g == 0 { self.anon_gid } else { g };
                (s.uid, g(s.gid), s.gids.iter().map(|&x| g(x)).collect())
            }
            Squash::None => (s.uid, s.gid, s.gids.to_vec()),
        }
    }
}

/// The shares as the NFS side sees them: the neutral registry plus each one's export rules.
#[derive(Debug)]
pub(crate) struct Exports {
    registry: Registry,
    rules: BTreeMap<ShareId, NfsExport>,
    resolver: Arc<dyn Resolver>,
}

/// One share with its export rules.
pub(crate) struct Exported<'a> {
    /// The share.
    pub(crate) share: &'a Registered,
    /// Its rules.
    pub(crate) rules: &'a NfsExport,
}

impl Exported<'_> {
    /// Who a call with `creds` runs as on this share: an AUTH_SYS caller is squashed, then
    /// resolved by identity (its uid picks the user); a caller without credentials (AUTH_NONE)
    /// is the guest, refused unless guest is enabled and the share allows it.
    pub(crate) fn caller(&self, resolver: &dyn Resolver, creds: &Credentials) -> Caller {
        if !matches!(creds, Credentials::Sys(_)) {
            return Caller::from(resolver.guest(&self.share.name));
        }
        let (uid, gid, gids) = self.rules.squash(creds);
        Caller::from(resolver.unix(&self.share.name, uid, gid, &gids))
    }
}

impl Exports {
    /// The registry with the rules of each share (by id).
    pub(crate) fn new(
        registry: Registry,
        rules: BTreeMap<ShareId, NfsExport>,
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        Self {
            registry,
            rules,
            resolver,
        }
    }

    fn with_rules<'a>(&'a self, share: &'a Registered) -> Option<Exported<'a>> {
        let rules = self.rules.get(&share.handle.id())?;
        Some(Exported { share, rules })
    }

    /// The share with `id`.
    pub(crate) fn get(&self, id: ShareId) -> Option<Exported<'_>> {
        self.with_rules(self.registry.get(id)?)
    }

    /// The share named `name`.
    pub(crate) fn by_name(&self, name: &str) -> Option<Exported<'_>> {
        self.with_rules(self.registry.by_name(name)?)
    }

    /// Every exported share.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Exported<'_>> {
        self.registry.iter().filter_map(|s| self.with_rules(s))
    }

    /// The identity resolver.
    pub(crate) fn resolver(&self) -> &dyn Resolver {
        &*self.resolver
    }
}

#[cfg(test)]
mod tests {
    use protocol::rpc::AuthSys;

    use super::*;

    /// Goal: squash rules map ids as documented (root's gid 0 becomes the anonymous group too).
    #[test]
    fn squash() {
        let p = NfsExport {
            squash: Squash::Root,
            anon_uid: 65534,
            anon_gid: 65534,
            ..NfsExport::default()
        };
        let sys = |uid, gid, gids: &[u32]| {
            Credentials::Sys(AuthSys {
                stamp: 0,
                machine_name: b"m".to_vec(),
                uid,
                gid,
                gids: gids.to_vec(),
            })
        };
        assert_eq!(p.squash(&sys(0, 0, &[0, 5])).0, 65534);
        assert_eq!(p.squash(&sys(7, 0, &[0, 5])), (7, 65534, vec![65534, 5]));
        let all = NfsExport {
            squash: Squash::All,
            ..p.clone()
        };
        assert_eq!(all.squash(&sys(7, 7, &[])).0, 65534);
        assert_eq!(p.squash(&Credentials::None), (65534, 65534, vec![]));
    }
}
