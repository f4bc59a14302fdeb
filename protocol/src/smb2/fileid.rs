//! The SMB2 file handle ([MS-SMB2] 2.2.14.1 SMB2_FILEID) and the small helpers the command
//! modules written alongside it share: the body position, StructureSize checks and the
//! newtype macros for open sets and flag words.

use super::le::{Reader, Writer};
use crate::wire::DecodeError;

/// Where a command body starts: right after the 64-byte SMB2 header ([MS-SMB2] 2.2.1).
pub(crate) const BODY: usize = 64;

/// [MS-SMB2] 2.2.14.1: an open's handle, 16 bytes on the wire (persistent then volatile).
#[doc(alias = "SMB2_FILEID")]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct FileId {
    /// Survives a reconnect (durable and persistent handles).
    pub persistent: u64,
    /// Changes when the open is reconnected.
    pub volatile: u64,
}

impl FileId {
    /// [MS-SMB2] 3.2.4.1.4 / 3.3.5.2.7.2: in a related compound request, a FileId of all ones
    /// means "the FileId the previous operation produced".
    pub const RELATED: Self = Self {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };

    /// Wire length.
    pub const LEN: usize = 16;

    /// Whether this is the related-compound placeholder [`FileId::RELATED`].
    pub const fn is_related(self) -> bool {
        self.persistent == u64::MAX && self.volatile == u64::MAX
    }

    /// Reads 16 bytes.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            persistent: r.u64("FileId.Persistent")?,
            volatile: r.u64("FileId.Volatile")?,
        })
    }

    /// Writes 16 bytes.
    pub fn encode(self, w: &mut Writer) {
        w.u64(self.persistent);
        w.u64(self.volatile);
    }

    /// The 16 wire bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.persistent.to_le_bytes());
        out[8..].copy_from_slice(&self.volatile.to_le_bytes());
        out
    }

    /// From the 16 wire bytes.
    pub fn from_bytes(b: [u8; 16]) -> Self {
        let mut p = [0u8; 8];
        let mut v = [0u8; 8];
        p.copy_from_slice(&b[..8]);
        v.copy_from_slice(&b[8..]);
        Self {
            persistent: u64::from_le_bytes(p),
            volatile: u64::from_le_bytes(v),
        }
    }
}

/// A reader at the body of `msg` (after the 64-byte header) that has checked the body's
/// StructureSize is `size`.
pub(crate) fn body<'a>(
    msg: &'a [u8],
    size: u16,
    field: &'static str,
) -> Result<Reader<'a>, DecodeError> {
    if msg.len() < BODY {
        return Err(DecodeError::Truncated {
            field: "SMB2 header",
        });
    }
    let mut r = Reader::at(msg, BODY);
    let got = r.u16(field)?;
    if got != size {
        return Err(DecodeError::InvalidValue {
            field,
            value: u64::from(got),
        });
    }
    Ok(r)
}

/// The StructureSize of the body of `msg`, if it has one.
pub(crate) fn structure_size(msg: &[u8]) -> Option<u16> {
    let b = msg.get(BODY..BODY + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Pads a body whose variable part came out empty to its StructureSize (odd sizes count one
/// byte of the variable buffer, [MS-SMB2] 2.2: "the size ... including the variable part's
/// first byte").
pub(crate) fn pad_empty_buffer(w: &mut Writer, body_start: usize, size: u16) {
    let want = body_start + usize::from(size);
    if w.len() < want {
        w.zeros(want - w.len());
    }
}

/// Declares a `u8`/`u16`/`u32`/`u64` newtype for an open set of values, with one associated
/// const each: unknown values round-trip.
macro_rules! open_set {
    ($(#[$m:meta])* $name:ident($int:ty) { $($(#[doc = $d:literal])* $k:ident = $v:expr;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
        pub struct $name(pub $int);

        impl $name {
            $(
                $(#[doc = $d])*
                pub const $k: Self = Self($v);
            )*
        }
    };
}
pub(crate) use open_set;

/// Declares a flag-word newtype (like [`open_set`]) with set operations.
macro_rules! flag_set {
    ($(#[$m:meta])* $name:ident($int:ty) { $($(#[doc = $d:literal])* $k:ident = $v:expr;)* }) => {
        $crate::smb2::fileid::open_set! { $(#[$m])* $name($int) { $($(#[doc = $d])* $k = $v;)* } }

        impl $name {
            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether any bit of `other` is set in `self`.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }

            /// No bits set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
        }

        impl core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl core::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                Self(self.0 & rhs.0)
            }
        }
    };
}
pub(crate) use flag_set;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_id_round_trips_and_related_is_all_ones() {
        let id = FileId {
            persistent: 0x0102_0304_0506_0708,
            volatile: 0x1112_1314_1516_1718,
        };
        let mut w = Writer::new();
        id.encode(&mut w);
        assert_eq!(
            w.as_slice(),
            &[
                8, 7, 6, 5, 4, 3, 2, 1, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11
            ]
        );
        assert_eq!(FileId::decode(&mut Reader::new(w.as_slice())), Ok(id));
        assert_eq!(FileId::from_bytes(id.to_bytes()), id);
        assert_eq!(FileId::RELATED.to_bytes(), [0xff; 16]);
        assert!(FileId::RELATED.is_related());
        assert!(!id.is_related());
    }

    #[test]
    fn body_checks_structure_size() {
        let mut msg = vec![0u8; 64];
        msg.extend_from_slice(&24u16.to_le_bytes());
        assert!(body(&msg, 24, "s").is_ok());
        assert!(body(&msg, 25, "s").is_err());
        assert!(body(&msg[..10], 24, "s").is_err());
        assert_eq!(structure_size(&msg), Some(24));
    }
}
