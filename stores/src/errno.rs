//! Every errno a store can meet, mapped to its [`StoreError`] in one place. The filesystem
//! content store (and any backend that reports through [`std::io::Error`]) converts with
//! `StoreError::from(io_error)`, which asks [`classify`]; front ends then map [`StoreError`] to
//! their protocol's status (NFS3ERR_FBIG for [`StoreError::FileTooLarge`], and so on).
//!
//! An errno with no more precise meaning for a store stays [`StoreError::Io`] with the original
//! error inside, so logs keep the cause. Namespace errnos (`ENOENT`, `EEXIST`, `ENOTDIR`,
//! `EISDIR`, `ENOTEMPTY`) are deliberately among them: a content store names its files itself,
//! so meeting one means damage or misconfiguration under its root, not a client's mistake.

use nix::errno::Errno;

use crate::api::StoreError;

/// The [`StoreError`] an errno means, or `None` for [`StoreError::Io`].
pub fn classify(errno: i32) -> Option<StoreError> {
    match Errno::from_raw(errno) {
        Errno::ENOSPC | Errno::EDQUOT => Some(StoreError::NoSpace),
        Errno::EROFS => Some(StoreError::ReadOnly),
        Errno::EFBIG => Some(StoreError::FileTooLarge),
        Errno::ENAMETOOLONG => Some(StoreError::NameTooLong),
        // Transient shortages: retrying later can succeed (NFS answers JUKEBOX).
        Errno::EAGAIN | Errno::EBUSY | Errno::EMFILE | Errno::ENFILE | Errno::ENOMEM => {
            Some(StoreError::Busy)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// Goal: every errno with a store meaning maps to its variant, and everything else stays
    /// an I/O error carrying the original code. Method: convert an `io::Error` made from each
    /// errno of a table (which includes the namespace and permission errnos a content store
    /// treats as damage) and compare.
    #[test]
    fn errno_mapping() {
        type Expect = fn(&StoreError) -> bool;
        let table: &[(Errno, Expect)] = &[
            (Errno::ENOSPC, |e| matches!(e, StoreError::NoSpace)),
            (Errno::EDQUOT, |e| matches!(e, StoreError::NoSpace)),
            (Errno::EROFS, |e| matches!(e, StoreError::ReadOnly)),
            (Errno::EFBIG, |e| matches!(e, StoreError::FileTooLarge)),
            (Errno::ENAMETOOLONG, |e| {
                matches!(e, StoreError::NameTooLong)
            }),
            (Errno::EAGAIN, |e| matches!(e, StoreError::Busy)),
            (Errno::EBUSY, |e| matches!(e, StoreError::Busy)),
            (Errno::EMFILE, |e| matches!(e, StoreError::Busy)),
            (Errno::ENFILE, |e| matches!(e, StoreError::Busy)),
            (Errno::ENOMEM, |e| matches!(e, StoreError::Busy)),
            (Errno::EIO, |e| matches!(e, StoreError::Io(_))),
            (Errno::ENOENT, |e| matches!(e, StoreError::Io(_))),
            (Errno::EEXIST, |e| matches!(e, StoreError::Io(_))),
            (Errno::ENOTDIR, |e| matches!(e, StoreError::Io(_))),
            (Errno::EISDIR, |e| matches!(e, StoreError::Io(_))),
            (Errno::ENOTEMPTY, |e| matches!(e, StoreError::Io(_))),
            (Errno::EACCES, |e| matches!(e, StoreError::Io(_))),
            (Errno::EPERM, |e| matches!(e, StoreError::Io(_))),
            (Errno::EINVAL, |e| matches!(e, StoreError::Io(_))),
            (Errno::EBADF, |e| matches!(e, StoreError::Io(_))),
        ];
        for (errno, expect) in table {
            let e = StoreError::from(io::Error::from_raw_os_error(*errno as i32));
            assert!(expect(&e), "{errno:?} became {e:?}");
            if let StoreError::Io(inner) = &e {
                assert_eq!(
                    inner.raw_os_error(),
                    Some(*errno as i32),
                    "the cause is kept"
                );
            }
        }
        // An error without an errno stays an I/O error too.
        let e = StoreError::from(io::Error::other("no errno"));
        assert!(matches!(e, StoreError::Io(_)));
    }
}
