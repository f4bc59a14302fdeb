//! The shares a server serves, by id (what file handles carry) and by name (what MOUNT and
//! SMB tree connects ask for). Built once by `serve()`; read-only afterwards.

use std::collections::BTreeMap;

use super::{ShareHandle, ShareId};

/// One registered share.
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    /// Its name (the export path).
    pub(crate) name: String,
    /// Its actor.
    pub(crate) handle: ShareHandle,
}

/// Shares by id and by name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Registry {
    by_id: BTreeMap<ShareId, Registered>,
    by_name: BTreeMap<String, ShareId>,
}

impl Registry {
    /// Adds a share. Its id is unique: `serve()` refuses colliding names before this.
    pub(crate) fn insert(&mut self, name: String, handle: ShareHandle) {
        let id = handle.id();
        self.by_name.insert(name.clone(), id);
        self.by_id.insert(id, Registered { name, handle });
    }

    /// The share with `id`.
    pub(crate) fn get(&self, id: ShareId) -> Option<&Registered> {
        self.by_id.get(&id)
    }

    /// The share named `name`.
    pub(crate) fn by_name(&self, name: &str) -> Option<&Registered> {
        self.by_name.get(name).and_then(|id| self.by_id.get(id))
    }

    /// Every share, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Registered> {
        self.by_id.values()
    }
}
