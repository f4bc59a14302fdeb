//! Shared decoding vocabulary: the [`DecodeError`] every decoder returns, the [`Decode`] and
//! [`Encode`] traits, and [`limits`], the one place where every size a peer can ask for is capped.

use crate::xdr::{Reader, Writer};

/// Why a message could not be decoded. `Copy` and allocation-free, so a flood of garbage costs
/// nothing to reject (rustls `InvalidMessage`). Field names are `&'static str` for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before `field` was complete.
    #[error("truncated while reading {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A length word for `field` exceeded the limit that applies to it.
    #[error("{field} length {len} exceeds the limit {max}")]
    TooLong {
        /// The field whose length was refused.
        field: &'static str,
        /// The length the peer asked for.
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// An enumeration or discriminant held a value the spec does not define.
    #[error("invalid value {value} for {field}")]
    InvalidValue {
        /// The field holding the value.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// XDR padding bytes were not zero (RFC 4506 §3: "the residual bytes are zero").
    #[error("non-zero XDR padding after {field}")]
    NonZeroPadding {
        /// The field the padding followed.
        field: &'static str,
    },
    /// Bytes were left over after a complete message.
    #[error("{count} trailing bytes after {field}")]
    TrailingBytes {
        /// The message that was complete.
        field: &'static str,
        /// How many bytes were left.
        count: usize,
    },
}

/// A type that can be read from XDR, possibly borrowing from the input.
pub trait Decode<'a>: Sized {
    /// Reads one value, consuming exactly its encoding from `r`.
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError>;
}

/// A type that can be written as XDR.
pub trait Encode {
    /// Appends the encoding of `self` to `w`.
    fn encode(&self, w: &mut Writer);
}

/// Decodes a whole message: `T` must consume every byte of `input`.
pub fn decode_exact<'a, T: Decode<'a>>(
    input: &'a [u8],
    what: &'static str,
) -> Result<T, DecodeError> {
    let mut r = Reader::new(input);
    let v = T::decode(&mut r)?;
    r.finish(what)?;
    Ok(v)
}

/// Encodes a value into a fresh buffer.
pub fn encode_to_vec<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut w = Writer::new();
    v.encode(&mut w);
    w.into_inner()
}

/// Declares a newtype over `u32` for a set of codes the spec lists but a peer may extend (STYLE
/// §3: unknown values must round-trip), with one associated const per listed value, a
/// `name()` giving the spec's spelling, `Debug`/`Display` printing that name, and XDR
/// [`Decode`]/[`Encode`] impls. A const whose Rust name differs from the spec's spelling gives
/// the spelling after a comma; it becomes a doc alias, so searching the docs for
/// `AUTH_BADCRED` finds `AuthStat::BADCRED`.
macro_rules! open_set {
    (
        $(#[$meta:meta])*
        $name:ident, $field:literal {
            $($(#[doc = $doc:literal])* $konst:ident = $value:literal $(, $spec:literal)?;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            $(
                $(#[doc = $doc])*
                $(#[doc(alias = $spec)])?
                pub const $konst: Self = Self($value);
            )*

            /// The spec's name for this value, or `None` for a value the spec does not list.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($crate::wire::open_set!(@spelling $konst $($spec)?)),)*
                    _ => None,
                }
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(self, f)
            }
        }

        impl $crate::wire::Decode<'_> for $name {
            fn decode(r: &mut $crate::xdr::Reader<'_>) -> Result<Self, $crate::wire::DecodeError> {
                r.u32($field).map(Self)
            }
        }

        impl $crate::wire::Encode for $name {
            fn encode(&self, w: &mut $crate::xdr::Writer) {
                w.u32(self.0);
            }
        }
    };
    (@spelling $konst:ident) => { stringify!($konst) };
    (@spelling $konst:ident $spec:literal) => { $spec };
}
pub(crate) use open_set;

/// Every limit a peer's message is checked against, with its source. Decoders take the value
/// from here before they allocate anything.
pub mod limits {
    /// RFC 1813 §3.2 leaves names unbounded on the wire; 255 bytes is `NAME_MAX` on every client
    /// we serve (Linux, macOS, Windows) and what PATHCONF advertises.
    pub const NAME_MAX: usize = 255;
    /// Longest name the decoders take off the wire. Longer than [`NAME_MAX`] so that a name of
    /// 256 to 4,096 bytes reaches the server and gets NFS3ERR_NAMETOOLONG, the answer clients
    /// map to ENAMETOOLONG, rather than GARBAGE_ARGS (EIO); beyond it, GARBAGE_ARGS.
    pub const NAME_WIRE_MAX: usize = 4096;
    /// RFC 1813 MOUNT `dirpath` is `string<MNTPATHLEN>` with MNTPATHLEN = 1024 (§5.1).
    pub const MNT_PATH_LEN: usize = 1024;
    /// RFC 1813 MOUNT `name` is `string<MNTNAMLEN>` with MNTNAMLEN = 255 (§5.1).
    pub const MNT_NAME_LEN: usize = 255;
    /// Symlink targets: POSIX `PATH_MAX` = 4096 on Linux; RFC 1813 `nfspath` is unbounded.
    pub const SYMLINK_TARGET_MAX: usize = 4096;
    /// RFC 1813 §2.5 `NFS3_FHSIZE`: file handles are at most 64 bytes.
    pub const FHSIZE3: usize = 64;
    /// RFC 1813 `NFS3_COOKIEVERFSIZE`, `NFS3_CREATEVERFSIZE`, `NFS3_WRITEVERFSIZE`: 8 bytes each.
    pub const VERF_SIZE: usize = 8;
    /// Largest READ or WRITE payload we accept or produce: 1 MiB, the rtmax/wtmax FSINFO
    /// advertises (Linux caps `rsize`/`wsize` at 1 MiB too).
    pub const IO_SIZE_MAX: usize = 1 << 20;
    /// RFC 5531 §8.2: opaque_auth bodies are at most 400 bytes.
    pub const AUTH_BODY_MAX: usize = 400;
    /// RFC 5531 Appendix A (`authsys_parms`): machinename is `string<255>`.
    pub const AUTH_MACHINE_NAME_MAX: usize = 255;
    /// RFC 5531 Appendix A (`authsys_parms`): `gids<16>`.
    pub const AUTH_GIDS_MAX: usize = 16;
    /// One record-marking fragment (RFC 5531 §11): the largest WRITE call plus headers fits
    /// with room to spare. Larger fragments close the connection.
    pub const FRAGMENT_MAX: usize = IO_SIZE_MAX + 64 * 1024;
    /// A whole RPC record, summed over fragments.
    pub const RECORD_MAX: usize = IO_SIZE_MAX + 64 * 1024;
    /// Fragments in one record: real clients send one; a peer sending thousands of tiny ones is
    /// only trying to waste our time.
    pub const FRAGMENTS_PER_RECORD_MAX: usize = 64;
    /// READDIR/READDIRPLUS `count`/`maxcount` we honour at most (bytes of reply).
    pub const READDIR_REPLY_MAX: usize = 1 << 20;
    /// Portmapper DUMP and MOUNT DUMP/EXPORT lists: entries we decode at most (replies only).
    pub const LIST_ENTRIES_MAX: usize = 4096;
    /// READDIR/READDIRPLUS replies: entries we decode at most (replies only; the server builds
    /// its own lists to the client's byte budget). The smallest `entry3` takes 28 bytes with its
    /// list pointer (RFC 1813 §3.3.16), so a reply of [`READDIR_REPLY_MAX`] bytes cannot hold
    /// more; this caps what a garbage reply can make a client allocate.
    pub const DIR_ENTRIES_MAX: usize = READDIR_REPLY_MAX / 28;
}
