//! The portmapper, version 2 (RFC 1833 §3): program 100000. Maps (program, version, protocol)
//! to a port so clients can find MOUNT and NFS without being told the ports.

use crate::wire::{DecodeError, limits};
use crate::xdr::{Reader, Writer};

/// Program number.
pub const PROGRAM: u32 = 100_000;
/// Program version.
pub const VERSION: u32 = 2;
/// `prot` value for TCP.
pub const IPPROTO_TCP: u32 = 6;
/// `prot` value for UDP.
pub const IPPROTO_UDP: u32 = 17;

/// Portmapper procedures in spec order (RFC 1833 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortmapProc {
    /// Do nothing.
    Null = 0,
    /// Register a mapping.
    Set = 1,
    /// Remove the mappings of a program version.
    Unset = 2,
    /// Look up a port.
    Getport = 3,
    /// List all mappings.
    Dump = 4,
    /// Call another program on the caller's behalf.
    Callit = 5,
}

impl PortmapProc {
    /// The procedure with number `v`.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Null,
            1 => Self::Set,
            2 => Self::Unset,
            3 => Self::Getport,
            4 => Self::Dump,
            5 => Self::Callit,
            _ => return None,
        })
    }
}

/// RFC 1833 §3.1 `mapping`.
#[doc(alias = "mapping")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mapping {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Protocol: [`IPPROTO_TCP`] or [`IPPROTO_UDP`].
    pub prot: u32,
    /// Port (ignored by UNSET and GETPORT).
    pub port: u32,
}

fn read_mapping(r: &mut Reader<'_>) -> Result<Mapping, DecodeError> {
    Ok(Mapping {
        prog: r.u32("prog")?,
        vers: r.u32("vers")?,
        prot: r.u32("prot")?,
        port: r.u32("port")?,
    })
}

/// Encodes a mapping (the argument of SET, UNSET and GETPORT).
pub fn encode_mapping(w: &mut Writer, m: &Mapping) {
    w.u32(m.prog);
    w.u32(m.vers);
    w.u32(m.prot);
    w.u32(m.port);
}

/// Decodes a mapping argument; nothing may follow it.
pub fn decode_mapping(args: &[u8]) -> Result<Mapping, DecodeError> {
    let mut r = Reader::new(args);
    let m = read_mapping(&mut r)?;
    r.finish("mapping")?;
    Ok(m)
}

/// Encodes a DUMP result (`pmaplist`).
pub fn encode_dump(w: &mut Writer, list: &[Mapping]) {
    for m in list {
        w.bool(true);
        encode_mapping(w, m);
    }
    w.bool(false);
}

/// Decodes a DUMP result, at most `limits::LIST_ENTRIES_MAX` entries.
pub fn decode_dump(body: &[u8]) -> Result<Vec<Mapping>, DecodeError> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    while r.bool("pmaplist")? {
        if out.len() >= limits::LIST_ENTRIES_MAX {
            return Err(DecodeError::TooLong {
                field: "pmaplist",
                len: out.len() as u64 + 1,
                max: limits::LIST_ENTRIES_MAX as u64,
            });
        }
        out.push(read_mapping(&mut r)?);
    }
    r.finish("pmaplist")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn mapping() -> impl Strategy<Value = Mapping> {
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
            |(prog, vers, prot, port)| Mapping {
                prog,
                vers,
                prot,
                port,
            },
        )
    }

    proptest! {
        /// Goal: mappings and dump lists round-trip; garbage never panics.
        #[test]
        fn round_trips(m in mapping(), list in proptest::collection::vec(mapping(), 0..10),
                       junk in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut w = Writer::new();
            encode_mapping(&mut w, &m);
            prop_assert_eq!(decode_mapping(w.as_slice()).unwrap(), m);
            let mut w = Writer::new();
            encode_dump(&mut w, &list);
            prop_assert_eq!(decode_dump(w.as_slice()).unwrap(), list);
            let _ = decode_mapping(&junk);
            let _ = decode_dump(&junk);
        }
    }

    /// Goal: procedure numbers map in spec order; 6 is unknown.
    #[test]
    fn procedures() {
        assert_eq!(PortmapProc::from_u32(3), Some(PortmapProc::Getport));
        assert_eq!(PortmapProc::from_u32(6), None);
    }
}
