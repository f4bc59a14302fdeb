//! The one mapping from share and store errors to NTSTATUS ([MS-ERREF] 2.3), the SMB column of
//! the error table in docs/ARCHITECTURE.md. Exhaustive matches with no `_` arm, so a new
//! variant breaks the build here instead of answering something arbitrary.

use protocol::smb2::status::NtStatus;
use stores::StoreError;

use crate::server::share::OpError;

/// Maps a store error to an NTSTATUS, as Windows reports the same condition.
pub(crate) fn status(e: &StoreError) -> NtStatus {
    match e {
        StoreError::NotFound => NtStatus::OBJECT_NAME_NOT_FOUND,
        StoreError::Exists => NtStatus::OBJECT_NAME_COLLISION,
        StoreError::NotEmpty => NtStatus::DIRECTORY_NOT_EMPTY,
        StoreError::NotDir => NtStatus::NOT_A_DIRECTORY,
        StoreError::IsDir => NtStatus::FILE_IS_A_DIRECTORY,
        // The node was removed (by another client or protocol) while this one held it open.
        StoreError::Stale => NtStatus::FILE_CLOSED,
        StoreError::NameTooLong => NtStatus::OBJECT_NAME_INVALID,
        StoreError::NoSpace => NtStatus::DISK_FULL,
        StoreError::ReadOnly => NtStatus::MEDIA_WRITE_PROTECTED,
        StoreError::FileTooLarge => NtStatus::DISK_FULL,
        // What NTFS answers when a file's extended attributes would pass its limit.
        StoreError::XattrTooLarge => NtStatus::EA_TOO_LARGE,
        StoreError::Invalid(_) => NtStatus::INVALID_PARAMETER,
        // A store still busy after super::busy retried it until its deadline (smbclient and
        // cifs retry on this status too).
        StoreError::Busy => NtStatus::DEVICE_NOT_READY,
        StoreError::Io(_) | StoreError::Backend(_) => NtStatus::IO_DEVICE_ERROR,
    }
}

/// Maps a share error to an NTSTATUS.
pub(crate) fn op_status(e: &OpError) -> NtStatus {
    match e {
        OpError::Store(s) => status(s),
        OpError::Access | OpError::Perm => NtStatus::ACCESS_DENIED,
        OpError::ReadOnly => NtStatus::MEDIA_WRITE_PROTECTED,
        // SMB has no SETATTR guard; a mismatch cannot come from SMB, but answer sanely.
        OpError::GuardMismatch => NtStatus::INVALID_PARAMETER,
        OpError::Invalid(_) => NtStatus::INVALID_PARAMETER,
        OpError::TooBig => NtStatus::DISK_FULL,
        // Enumeration state lives in the open; a stale cookie restarts the scan instead.
        OpError::BadCookie => NtStatus::INVALID_PARAMETER,
        OpError::BadType => NtStatus::ACCESS_DENIED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: every share and store error has its documented NTSTATUS (the SMB column of the
    /// table in docs/ARCHITECTURE.md). Method: visit every variant; the exhaustive matches
    /// make a new variant a compile error, this pins the values.
    #[test]
    fn every_variant_maps_as_documented() {
        let io = || std::io::Error::other("x");
        let store = [
            (StoreError::NotFound, NtStatus::OBJECT_NAME_NOT_FOUND),
            (StoreError::Exists, NtStatus::OBJECT_NAME_COLLISION),
            (StoreError::NotEmpty, NtStatus::DIRECTORY_NOT_EMPTY),
            (StoreError::NotDir, NtStatus::NOT_A_DIRECTORY),
            (StoreError::IsDir, NtStatus::FILE_IS_A_DIRECTORY),
            (StoreError::Stale, NtStatus::FILE_CLOSED),
            (StoreError::NameTooLong, NtStatus::OBJECT_NAME_INVALID),
            (StoreError::NoSpace, NtStatus::DISK_FULL),
            (StoreError::ReadOnly, NtStatus::MEDIA_WRITE_PROTECTED),
            (StoreError::FileTooLarge, NtStatus::DISK_FULL),
            (StoreError::XattrTooLarge, NtStatus::EA_TOO_LARGE),
            (StoreError::Invalid("x"), NtStatus::INVALID_PARAMETER),
            (StoreError::Busy, NtStatus::DEVICE_NOT_READY),
            (StoreError::Io(io()), NtStatus::IO_DEVICE_ERROR),
            (
                StoreError::Backend(Box::new(io())),
                NtStatus::IO_DEVICE_ERROR,
            ),
        ];
        for (e, want) in store {
            assert_eq!(status(&e), want, "{e:?}");
        }
        let ops = [
            (OpError::Access, NtStatus::ACCESS_DENIED),
            (OpError::Perm, NtStatus::ACCESS_DENIED),
            (OpError::ReadOnly, NtStatus::MEDIA_WRITE_PROTECTED),
            (OpError::GuardMismatch, NtStatus::INVALID_PARAMETER),
            (OpError::Invalid("x"), NtStatus::INVALID_PARAMETER),
            (OpError::TooBig, NtStatus::DISK_FULL),
            (OpError::BadCookie, NtStatus::INVALID_PARAMETER),
            (OpError::BadType, NtStatus::ACCESS_DENIED),
            (
                OpError::Store(StoreError::NotFound),
                NtStatus::OBJECT_NAME_NOT_FOUND,
            ),
        ];
        for (e, want) in ops {
            assert_eq!(op_status(&e), want, "{e:?}");
        }
    }
}
