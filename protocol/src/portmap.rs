//! The portmapper, version 2 (RFC 1833 §3): program 100000. Maps (program, version, protocol)
//! to a port so clients can find MOUNT and NFS without being told the ports.
//!
//! The server decodes a call's arguments with [`decode_call`] into a [`Call`] and answers with a
//! [`Reply`] (its `Encode` writes the result body after the RPC reply header); clients go the
//! other way with `Call`'s `Encode` and [`decode_reply`]. The older free functions
//! ([`decode_mapping`], [`encode_dump`], ...) remain for callers that handle one procedure.

use crate::wire::{Decode, DecodeError, Encode, limits};
use crate::xdr::{Reader, Writer};

/// RFC 1833 §3.1 `PMAP_PROG`: the program number.
#[doc(alias = "PMAP_PROG")]
pub const PROGRAM: u32 = 100_000;
/// RFC 1833 §3.1 `PMAP_VERS`: the program version this module implements.
#[doc(alias = "PMAP_VERS")]
pub const VERSION: u32 = 2;
/// RFC 1833 §3.1 `PMAP_PORT`: the well-known port of the portmapper.
#[doc(alias = "PMAP_PORT")]
pub const PORT: u16 = 111;
/// RFC 1833 §3.1: `prot` value for TCP.
pub const IPPROTO_TCP: u32 = 6;
/// RFC 1833 §3.1: `prot` value for UDP.
pub const IPPROTO_UDP: u32 = 17;

/// RFC 1833 §3.2: the portmapper procedures in spec order; the discriminant is the RPC
/// procedure number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum PortmapProc {
    /// `PMAPPROC_NULL`: does nothing.
    Null = 0,
    /// `PMAPPROC_SET`: registers a mapping; answers whether it was added.
    Set = 1,
    /// `PMAPPROC_UNSET`: removes the mappings of a program version; answers whether any were.
    Unset = 2,
    /// `PMAPPROC_GETPORT`: looks up a port; 0 means not registered.
    Getport = 3,
    /// `PMAPPROC_DUMP`: lists all mappings.
    Dump = 4,
    /// `PMAPPROC_CALLIT`: calls another program on the caller's behalf.
    Callit = 5,
}

impl PortmapProc {
    /// Every procedure, in procedure-number order.
    pub const ALL: [Self; 6] = [
        Self::Null,
        Self::Set,
        Self::Unset,
        Self::Getport,
        Self::Dump,
        Self::Callit,
    ];

    /// The procedure with number `v`, or `None` (the RPC layer answers PROC_UNAVAIL).
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

    /// The RPC procedure number.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The spec's name (`"PMAPPROC_GETPORT"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Null => "PMAPPROC_NULL",
            Self::Set => "PMAPPROC_SET",
            Self::Unset => "PMAPPROC_UNSET",
            Self::Getport => "PMAPPROC_GETPORT",
            Self::Dump => "PMAPPROC_DUMP",
            Self::Callit => "PMAPPROC_CALLIT",
        }
    }
}

/// RFC 1833 §3.1 `mapping`: the argument of SET, UNSET and GETPORT, and an entry of DUMP.
#[doc(alias = "mapping")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mapping {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Transport protocol: [`IPPROTO_TCP`] or [`IPPROTO_UDP`].
    pub prot: u32,
    /// Port (ignored by UNSET and GETPORT).
    pub port: u32,
}

impl Decode<'_> for Mapping {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            prog: r.u32("mapping.prog")?,
            vers: r.u32("mapping.vers")?,
            prot: r.u32("mapping.prot")?,
            port: r.u32("mapping.port")?,
        })
    }
}

impl Encode for Mapping {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.prog);
        w.u32(self.vers);
        w.u32(self.prot);
        w.u32(self.port);
    }
}

/// RFC 1833 §3.1 `call_args`: the argument of CALLIT, borrowing the inner call's arguments.
#[doc(alias = "call_args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallArgs<'a> {
    /// Program to call.
    pub prog: u32,
    /// Its version.
    pub vers: u32,
    /// Its procedure.
    pub proc_: u32,
    /// The procedure's encoded arguments; at most [`limits::RECORD_MAX`] bytes.
    pub args: &'a [u8],
}

impl<'a> Decode<'a> for CallArgs<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            prog: r.u32("call_args.prog")?,
            vers: r.u32("call_args.vers")?,
            proc_: r.u32("call_args.proc")?,
            args: r.opaque(limits::RECORD_MAX, "call_args.args")?,
        })
    }
}

impl Encode for CallArgs<'_> {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.prog);
        w.u32(self.vers);
        w.u32(self.proc_);
        w.opaque(self.args);
    }
}

/// RFC 1833 §3.1 `call_result`: the result of CALLIT, borrowing the inner call's results.
#[doc(alias = "call_result")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallResult<'a> {
    /// The port of the program that was called.
    pub port: u32,
    /// The procedure's encoded results; at most [`limits::RECORD_MAX`] bytes.
    pub res: &'a [u8],
}

impl<'a> Decode<'a> for CallResult<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            port: r.u32("call_result.port")?,
            res: r.opaque(limits::RECORD_MAX, "call_result.res")?,
        })
    }
}

impl Encode for CallResult<'_> {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.port);
        w.opaque(self.res);
    }
}

/// Reads an RFC 1833 §3.1 `pmaplist` (`struct *pmaplist { mapping map; pmaplist next; }`):
/// each entry is preceded by TRUE, the list ends with FALSE. At most
/// [`limits::LIST_ENTRIES_MAX`] entries; the list's memory is bounded by the input, since every
/// entry takes 20 bytes of it.
fn decode_pmaplist(r: &mut Reader<'_>) -> Result<Vec<Mapping>, DecodeError> {
    let mut out = Vec::new();
    while r.bool("pmaplist")? {
        if out.len() >= limits::LIST_ENTRIES_MAX {
            return Err(DecodeError::TooLong {
                field: "pmaplist",
                len: out.len() as u64 + 1,
                max: limits::LIST_ENTRIES_MAX as u64,
            });
        }
        out.push(Mapping::decode(r)?);
    }
    Ok(out)
}

/// The arguments of one portmapper call, by procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// `PMAPPROC_NULL(void)`.
    Null,
    /// `PMAPPROC_SET(mapping)`.
    Set(Mapping),
    /// `PMAPPROC_UNSET(mapping)`.
    Unset(Mapping),
    /// `PMAPPROC_GETPORT(mapping)`.
    Getport(Mapping),
    /// `PMAPPROC_DUMP(void)`.
    Dump,
    /// `PMAPPROC_CALLIT(call_args)`.
    Callit(CallArgs<'a>),
}

impl Call<'_> {
    /// The procedure these arguments belong to.
    pub const fn proc_(&self) -> PortmapProc {
        match self {
            Self::Null => PortmapProc::Null,
            Self::Set(_) => PortmapProc::Set,
            Self::Unset(_) => PortmapProc::Unset,
            Self::Getport(_) => PortmapProc::Getport,
            Self::Dump => PortmapProc::Dump,
            Self::Callit(_) => PortmapProc::Callit,
        }
    }
}

impl Encode for Call<'_> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Null | Self::Dump => {}
            Self::Set(m) | Self::Unset(m) | Self::Getport(m) => m.encode(w),
            Self::Callit(a) => a.encode(w),
        }
    }
}

/// Decodes the arguments of procedure `proc_`; they must be consumed exactly. An unknown
/// procedure is an [`DecodeError::InvalidValue`] (the RPC layer answers PROC_UNAVAIL before
/// calling this; check with [`PortmapProc::from_u32`]).
pub fn decode_call(proc_: u32, args: &[u8]) -> Result<Call<'_>, DecodeError> {
    let Some(p) = PortmapProc::from_u32(proc_) else {
        return Err(DecodeError::InvalidValue {
            field: "portmapper procedure",
            value: u64::from(proc_),
        });
    };
    let mut r = Reader::new(args);
    let call = match p {
        PortmapProc::Null => Call::Null,
        PortmapProc::Set => Call::Set(Mapping::decode(&mut r)?),
        PortmapProc::Unset => Call::Unset(Mapping::decode(&mut r)?),
        PortmapProc::Getport => Call::Getport(Mapping::decode(&mut r)?),
        PortmapProc::Dump => Call::Dump,
        PortmapProc::Callit => Call::Callit(CallArgs::decode(&mut r)?),
    };
    r.finish("portmapper call arguments")?;
    Ok(call)
}

/// The results of one portmapper call, by procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `PMAPPROC_NULL`: no results.
    Null,
    /// `PMAPPROC_SET`: whether the mapping was added.
    Set(bool),
    /// `PMAPPROC_UNSET`: whether any mapping was removed.
    Unset(bool),
    /// `PMAPPROC_GETPORT`: the port, or 0 if the program is not registered.
    Getport(u32),
    /// `PMAPPROC_DUMP`: every mapping (`pmaplist`).
    Dump(Vec<Mapping>),
    /// `PMAPPROC_CALLIT`: the called procedure's port and results.
    Callit(CallResult<'a>),
}

impl Reply<'_> {
    /// The procedure these results belong to.
    pub const fn proc_(&self) -> PortmapProc {
        match self {
            Self::Null => PortmapProc::Null,
            Self::Set(_) => PortmapProc::Set,
            Self::Unset(_) => PortmapProc::Unset,
            Self::Getport(_) => PortmapProc::Getport,
            Self::Dump(_) => PortmapProc::Dump,
            Self::Callit(_) => PortmapProc::Callit,
        }
    }
}

impl Encode for Reply<'_> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Null => {}
            Self::Set(b) | Self::Unset(b) => w.bool(*b),
            Self::Getport(port) => w.u32(*port),
            Self::Dump(list) => encode_dump(w, list),
            Self::Callit(res) => res.encode(w),
        }
    }
}

/// Decodes the results of procedure `proc_`; they must be consumed exactly.
pub fn decode_reply(proc_: PortmapProc, body: &[u8]) -> Result<Reply<'_>, DecodeError> {
    let mut r = Reader::new(body);
    let reply = match proc_ {
        PortmapProc::Null => Reply::Null,
        PortmapProc::Set => Reply::Set(r.bool("PMAPPROC_SET result")?),
        PortmapProc::Unset => Reply::Unset(r.bool("PMAPPROC_UNSET result")?),
        PortmapProc::Getport => Reply::Getport(r.u32("PMAPPROC_GETPORT result")?),
        PortmapProc::Dump => Reply::Dump(decode_pmaplist(&mut r)?),
        PortmapProc::Callit => Reply::Callit(CallResult::decode(&mut r)?),
    };
    r.finish("portmapper reply body")?;
    Ok(reply)
}

/// Encodes a mapping (the argument of SET, UNSET and GETPORT).
pub fn encode_mapping(w: &mut Writer, m: &Mapping) {
    m.encode(w);
}

/// Decodes a mapping argument; nothing may follow it.
pub fn decode_mapping(args: &[u8]) -> Result<Mapping, DecodeError> {
    crate::wire::decode_exact(args, "mapping")
}

/// Encodes a DUMP result (`pmaplist`).
pub fn encode_dump(w: &mut Writer, list: &[Mapping]) {
    for m in list {
        w.bool(true);
        m.encode(w);
    }
    w.bool(false);
}

/// Decodes a DUMP result: at most [`limits::LIST_ENTRIES_MAX`] entries, nothing after it.
pub fn decode_dump(body: &[u8]) -> Result<Vec<Mapping>, DecodeError> {
    let mut r = Reader::new(body);
    let list = decode_pmaplist(&mut r)?;
    r.finish("pmaplist")?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::wire::encode_to_vec;

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

    /// Goal: a GETPORT call for MOUNT v3 over TCP, as rpcinfo and mount.nfs send it, decodes;
    /// the reply naming port 2049 has the expected bytes. Method: hex fixtures.
    #[test]
    fn getport_fixture() {
        let args = hex::decode("000186a5000000030000000600000000").unwrap();
        let call = decode_call(3, &args).unwrap();
        assert_eq!(
            call,
            Call::Getport(Mapping {
                prog: 100_005,
                vers: 3,
                prot: IPPROTO_TCP,
                port: 0
            })
        );
        assert_eq!(encode_to_vec(&call), args);
        assert_eq!(encode_to_vec(&Reply::Getport(2049)), [0, 0, 0x08, 0x01]);
        // A mapping with a trailing word is refused.
        let mut long = args.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(decode_call(3, &long).is_err());
        assert!(decode_mapping(&long).is_err());
    }

    /// Goal: a DUMP result is a TRUE-prefixed list ended by FALSE. Method: hex fixture.
    #[test]
    fn dump_fixture() {
        let m = Mapping {
            prog: PROGRAM,
            vers: VERSION,
            prot: IPPROTO_TCP,
            port: 111,
        };
        let want = concat!(
            "00000001", // an entry follows
            "000186a0", "00000002", "00000006", "0000006f", // 100000, v2, TCP, port 111
            "00000000", // end of list
        );
        assert_eq!(hex::encode(encode_to_vec(&Reply::Dump(vec![m]))), want);
        assert_eq!(decode_dump(&hex::decode(want).unwrap()).unwrap(), vec![m]);
        assert_eq!(decode_dump(&[0, 0, 0, 0]).unwrap(), vec![]);
    }

    /// Goal: a DUMP list longer than LIST_ENTRIES_MAX is refused at the first entry past it.
    #[test]
    fn dump_list_bounded() {
        let list = vec![Mapping::default(); limits::LIST_ENTRIES_MAX + 1];
        let bytes = {
            let mut w = Writer::new();
            encode_dump(&mut w, &list);
            w.into_inner()
        };
        assert!(matches!(
            decode_dump(&bytes),
            Err(DecodeError::TooLong {
                field: "pmaplist",
                ..
            })
        ));
        assert_eq!(
            decode_dump(&bytes[20 * 4..]).unwrap().len(),
            limits::LIST_ENTRIES_MAX - 3
        );
    }

    /// Goal: procedure numbers map in spec order; 6 is unknown, for the codec too.
    #[test]
    fn procedures() {
        for (i, p) in PortmapProc::ALL.iter().enumerate() {
            assert_eq!(PortmapProc::from_u32(i as u32), Some(*p));
            assert_eq!(p.as_u32(), i as u32);
        }
        assert_eq!(PortmapProc::Getport.name(), "PMAPPROC_GETPORT");
        assert_eq!(PortmapProc::from_u32(6), None);
        assert!(decode_call(6, &[]).is_err());
    }

    fn call_case() -> impl Strategy<Value = (u32, Vec<u8>, u32, u32, Mapping)> {
        (
            0u32..6,
            vec(any::<u8>(), 0..64),
            any::<u32>(),
            any::<u32>(),
            mapping(),
        )
    }

    proptest! {
        /// Goal: every procedure's arguments round-trip through Encode and decode_call.
        #[test]
        fn call_round_trip((p, bytes, a, b, m) in call_case()) {
            let call = match PortmapProc::from_u32(p).unwrap() {
                PortmapProc::Null => Call::Null,
                PortmapProc::Set => Call::Set(m),
                PortmapProc::Unset => Call::Unset(m),
                PortmapProc::Getport => Call::Getport(m),
                PortmapProc::Dump => Call::Dump,
                PortmapProc::Callit => Call::Callit(CallArgs { prog: a, vers: b, proc_: p, args: &bytes }),
            };
            let enc = encode_to_vec(&call);
            prop_assert_eq!(decode_call(p, &enc), Ok(call));
            prop_assert_eq!(call.proc_().as_u32(), p);
        }

        /// Goal: every procedure's results round-trip through Encode and decode_reply.
        #[test]
        fn reply_round_trip(p in 0u32..6, flag in any::<bool>(), port in any::<u32>(),
                            list in vec(mapping(), 0..10), bytes in vec(any::<u8>(), 0..64)) {
            let proc_ = PortmapProc::from_u32(p).unwrap();
            let reply = match proc_ {
                PortmapProc::Null => Reply::Null,
                PortmapProc::Set => Reply::Set(flag),
                PortmapProc::Unset => Reply::Unset(flag),
                PortmapProc::Getport => Reply::Getport(port),
                PortmapProc::Dump => Reply::Dump(list),
                PortmapProc::Callit => Reply::Callit(CallResult { port, res: &bytes }),
            };
            let enc = encode_to_vec(&reply);
            prop_assert_eq!(reply.proc_(), proc_);
            prop_assert_eq!(decode_reply(proc_, &enc), Ok(reply));
        }

        /// Goal: the single-procedure helpers agree with the enum codecs.
        #[test]
        fn helpers_round_trip(m in mapping(), list in vec(mapping(), 0..10)) {
            let mut w = Writer::new();
            encode_mapping(&mut w, &m);
            prop_assert_eq!(decode_mapping(w.as_slice()), Ok(m));
            let mut w = Writer::new();
            encode_dump(&mut w, &list);
            prop_assert_eq!(decode_dump(w.as_slice()), Ok(list));
        }

        /// Goal: random bytes never panic any decoder.
        #[test]
        fn garbage_never_panics(p in 0u32..8, junk in vec(any::<u8>(), 0..128)) {
            let _ = decode_call(p, &junk);
            if let Some(proc_) = PortmapProc::from_u32(p) {
                let _ = decode_reply(proc_, &junk);
            }
            let _ = decode_mapping(&junk);
            let _ = decode_dump(&junk);
        }
    }
}
