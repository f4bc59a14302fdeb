//! NTSTATUS codes ([MS-ERREF] 2.3.1) as an open set: the ones the server sends or a client
//! must recognise have names; any other value round-trips unchanged.

/// Declares [`NtStatus`] with one associated const per listed code.
macro_rules! ntstatus {
    ($($(#[doc = $doc:literal])* $konst:ident = $value:literal;)*) => {
        /// An NTSTATUS value. Unknown values are kept as they are.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct NtStatus(pub u32);

        impl NtStatus {
            $(
                $(#[doc = $doc])*
                pub const $konst: Self = Self($value);
            )*

            /// The spec's name (`STATUS_…`), or `None` for a value not listed here.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(concat!("STATUS_", stringify!($konst))),)*
                    _ => None,
                }
            }
        }
    };
}

ntstatus! {
    /// The operation completed.
    SUCCESS = 0x0000_0000;
    /// The operation continues asynchronously (an interim response).
    PENDING = 0x0000_0103;
    /// The handle a change notification waited on was closed ([MS-SMB2] 3.3.4.19).
    NOTIFY_CLEANUP = 0x0000_010B;
    /// A change notification's buffer overflowed; the client should re-enumerate.
    NOTIFY_ENUM_DIR = 0x0000_010C;
    /// The buffer was too small for all the data; what fits was returned.
    BUFFER_OVERFLOW = 0x8000_0005;
    /// QUERY_DIRECTORY: no more entries.
    NO_MORE_FILES = 0x8000_0006;
    /// Unspecified failure.
    UNSUCCESSFUL = 0xC000_0001;
    /// The request is not implemented.
    NOT_IMPLEMENTED = 0xC000_0002;
    /// The information class is not valid.
    INVALID_INFO_CLASS = 0xC000_0003;
    /// The information length does not match the class.
    INFO_LENGTH_MISMATCH = 0xC000_0004;
    /// The handle (FileId) is not valid.
    INVALID_HANDLE = 0xC000_0008;
    /// A parameter is not valid.
    INVALID_PARAMETER = 0xC000_000D;
    /// The device or file does not exist.
    NO_SUCH_FILE = 0xC000_000F;
    /// The request is not valid for this device.
    INVALID_DEVICE_REQUEST = 0xC000_0010;
    /// Reading at or past end of file.
    END_OF_FILE = 0xC000_0011;
    /// More processing is required: SESSION_SETUP wants another leg.
    MORE_PROCESSING_REQUIRED = 0xC000_0016;
    /// Access denied.
    ACCESS_DENIED = 0xC000_0022;
    /// The buffer is too small for even the fixed part.
    BUFFER_TOO_SMALL = 0xC000_0023;
    /// The name is not valid.
    OBJECT_NAME_INVALID = 0xC000_0033;
    /// The name was not found.
    OBJECT_NAME_NOT_FOUND = 0xC000_0034;
    /// The name already exists.
    OBJECT_NAME_COLLISION = 0xC000_0035;
    /// A path component was not found.
    OBJECT_PATH_NOT_FOUND = 0xC000_003A;
    /// The path syntax is bad.
    OBJECT_PATH_SYNTAX_BAD = 0xC000_003B;
    /// A share mode conflicts with an existing open.
    SHARING_VIOLATION = 0xC000_0043;
    /// A read or write meets another open's byte-range lock.
    FILE_LOCK_CONFLICT = 0xC000_0054;
    /// A byte-range lock conflicts.
    LOCK_NOT_GRANTED = 0xC000_0055;
    /// The file is marked for deletion.
    DELETE_PENDING = 0xC000_0056;
    /// The SID given as an owner cannot own objects here (no unix user maps to it).
    INVALID_OWNER = 0xC000_005A;
    /// The user name or password is wrong.
    LOGON_FAILURE = 0xC000_006D;
    /// The range is not locked.
    RANGE_NOT_LOCKED = 0xC000_007E;
    /// The volume is full.
    DISK_FULL = 0xC000_007F;
    /// Too many opens or sessions.
    INSUFFICIENT_RESOURCES = 0xC000_009A;
    /// The pipe is not available.
    PIPE_NOT_AVAILABLE = 0xC000_00AC;
    /// The file is a directory where a file was expected.
    FILE_IS_A_DIRECTORY = 0xC000_00BA;
    /// The request is not supported.
    NOT_SUPPORTED = 0xC000_00BB;
    /// A session binding whose session signs with AES-GMAC from a connection that does not
    /// (as Windows and Samba answer it).
    REQUEST_OUT_OF_SEQUENCE = 0xC000_042A;
    /// The share name is not valid.
    BAD_NETWORK_NAME = 0xC000_00CC;
    /// The request was cancelled.
    CANCELLED = 0xC000_0120;
    /// The directory is not empty.
    DIRECTORY_NOT_EMPTY = 0xC000_0101;
    /// The file is not a directory.
    NOT_A_DIRECTORY = 0xC000_0103;
    /// The file is already closed.
    FILE_CLOSED = 0xC000_0128;
    /// The user's session is gone.
    USER_SESSION_DELETED = 0xC000_0203;
    /// The network session expired; the client re-authenticates.
    NETWORK_SESSION_EXPIRED = 0xC000_035C;
    /// The media (share) is write protected.
    MEDIA_WRITE_PROTECTED = 0xC000_00A2;
    /// The object cannot be deleted (read-only file, non-empty directory on close).
    CANNOT_DELETE = 0xC000_0121;
    /// The file name is too long.
    NAME_TOO_LONG = 0xC000_0106;
    /// The network name was deleted (tree disconnected).
    NETWORK_NAME_DELETED = 0xC000_00C9;
    /// The file size exceeds what the volume allows.
    FILE_TOO_LARGE = 0xC000_0904;
    /// The request (or its signature) is not acceptable in this state.
    REQUEST_NOT_ACCEPTED = 0xC000_00D0;
    /// A symbolic link must be followed by the client.
    STOPPED_ON_SYMLINK = 0x8000_002D;
    /// The object is not a reparse point.
    NOT_A_REPARSE_POINT = 0xC000_0275;
    /// The I/O device reported an error (a store failure).
    IO_DEVICE_ERROR = 0xC000_0185;
    /// The share is not a DFS share (DFS referral requests).
    FS_DRIVER_REQUIRED = 0xC000_019C;
    /// A byte-range lock's last byte would pass the last 64-bit offset.
    INVALID_LOCK_RANGE = 0xC000_01A1;
    /// A copy reads past the end of its source.
    INVALID_VIEW_SIZE = 0xC000_001F;
    /// A reparse point of a kind this server does not store.
    IO_REPARSE_TAG_NOT_HANDLED = 0xC000_0279;
    /// An oplock break acknowledgement of a level the break does not allow.
    INVALID_OPLOCK_PROTOCOL = 0xC000_00E3;
    /// The data is not ready: the store is slow (retry).
    DEVICE_NOT_READY = 0xC000_00A3;
    /// Write-behind data of the file was lost: bytes acknowledged by WRITE could not be
    /// stored (answered by FLUSH).
    LOST_WRITEBEHIND_DATA = 0xC000_0222;
    /// An internal error.
    INTERNAL_ERROR = 0xC000_00E5;
    /// An access violation.
    ACCESS_VIOLATION = 0xC000_0005;
    /// The object id is already in use (a DH2Q CreateGuid of an existing open, sent
    /// without SMB2_FLAGS_REPLAY_OPERATION).
    DUPLICATE_OBJECTID = 0xC000_022A;
    /// The file is temporarily not available.
    FILE_NOT_AVAILABLE = 0xC000_0467;
    /// The server is not available.
    SERVER_UNAVAILABLE = 0xC000_0466;
    /// The impersonation level is not valid.
    BAD_IMPERSONATION_LEVEL = 0xC000_00A5;
    /// The extended attributes would be larger than the file may hold.
    EA_TOO_LARGE = 0xC000_0050;
    /// An EA name is not valid (a warning-class status, as Windows sends it).
    INVALID_EA_NAME = 0x8000_0013;
    /// The file has no extended attributes.
    NO_EAS_ON_FILE = 0xC000_0052;
    /// The EA list is malformed.
    EA_LIST_INCONSISTENT = 0x8000_0014;
    /// A privilege the caller does not hold (ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege).
    PRIVILEGE_NOT_HELD = 0xC000_0061;
    /// An EA is not supported on this volume.
    EAS_NOT_SUPPORTED = 0xC000_004F;
    /// The device is not a pipe or the pipe is disconnected.
    PIPE_DISCONNECTED = 0xC000_00B0;
    /// No such user or group.
    NONE_MAPPED = 0xC000_0073;
    /// A rename or link across shares (devices).
    NOT_SAME_DEVICE = 0xC000_00D4;
    /// The object is of the wrong type for the request.
    OBJECT_TYPE_MISMATCH = 0xC000_0024;
}

impl NtStatus {
    /// Severity error (the top two bits are 11).
    pub const fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }
}

impl core::fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "NTSTATUS(0x{:08X})", self.0),
        }
    }
}

impl core::fmt::Display for NtStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::NtStatus;

    #[test]
    fn names_and_unknown_values() {
        assert_eq!(NtStatus::LOGON_FAILURE.name(), Some("STATUS_LOGON_FAILURE"));
        assert_eq!(
            format!("{:?}", NtStatus(0xC0DE_0001)),
            "NTSTATUS(0xC0DE0001)"
        );
        assert!(NtStatus::ACCESS_DENIED.is_error());
        assert!(!NtStatus::BUFFER_OVERFLOW.is_error());
        assert!(!NtStatus::SUCCESS.is_error());
    }
}
