//! One module per NFSv3 procedure (RFC 1813 §3.3.1 to §3.3.21), each holding the procedure's
//! arguments, its result bodies and their tests. NULL (§3.3.0) takes and returns nothing, so it
//! has no module. Everything here is re-exported from [`crate::nfs3`].

pub mod access;
pub mod commit;
pub mod create;
pub mod fsinfo;
pub mod fsstat;
pub mod getattr;
pub mod link;
pub mod lookup;
pub mod mkdir;
pub mod mknod;
pub mod pathconf;
pub mod read;
pub mod readdir;
pub mod readdirplus;
pub mod readlink;
pub mod remove;
pub mod rename;
pub mod rmdir;
pub mod setattr;
pub mod symlink;
pub mod write;
