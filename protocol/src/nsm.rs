//! The Network Status Monitor, version 1 (X/Open XNFS, Chapter 11 "Network Status Monitor
//! Protocol", the `sm_inter.x` of NFSv3 implementations): program 100024. Lock managers use
//! it to learn that a peer rebooted: a host's status monitor keeps a state number that it
//! bumps at every start (odd while up), and sends SM_NOTIFY to every host that monitored it.
//!
//! The server decodes a call's arguments with [`decode_call`] into a [`Call`] and answers with a
//! [`Reply`]; the server's own SM_NOTIFY to clients after a restart goes the other way with
//! `Call`'s `Encode`. Strings are checked against [`SM_MAXSTRLEN`] before anything is
//! borrowed.

use crate::wire::{Decode, DecodeError, Encode, open_set};
use crate::xdr::{Reader, Writer};

/// XNFS §11.3 `SM_PROG`: the program number.
#[doc(alias = "SM_PROG")]
pub const PROGRAM: u32 = 100_024;
/// XNFS §11.3 `SM_VERS`: the program version this module implements.
#[doc(alias = "SM_VERS")]
pub const VERSION: u32 = 1;
/// XNFS §11.3 `SM_MAXSTRLEN`: the longest host name.
pub const SM_MAXSTRLEN: usize = 1024;
/// `sm_inter.x` `priv[16]`: the private bytes a monitor registration hands back.
pub const PRIV_SIZE: usize = 16;

/// XNFS §11.3: the NSM procedures in spec order; the discriminant is the RPC procedure number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum NsmProc {
    /// `SM_NULL`: does nothing.
    Null = 0,
    /// `SM_STAT`: could this host be monitored? Answers the local state number.
    Stat = 1,
    /// `SM_MON`: start monitoring a host; a callback follows its reboot.
    Mon = 2,
    /// `SM_UNMON`: stop monitoring a host for one caller.
    Unmon = 3,
    /// `SM_UNMON_ALL`: stop monitoring every host for one caller.
    UnmonAll = 4,
    /// `SM_SIMU_CRASH`: act as if this host had rebooted (bump the state, notify).
    SimuCrash = 5,
    /// `SM_NOTIFY`: a peer tells us it rebooted.
    Notify = 6,
}

impl NsmProc {
    /// Every procedure, in procedure-number order.
    pub const ALL: [Self; 7] = [
        Self::Null,
        Self::Stat,
        Self::Mon,
        Self::Unmon,
        Self::UnmonAll,
        Self::SimuCrash,
        Self::Notify,
    ];

    /// The procedure with number `v`, or `None` (the RPC layer answers PROC_UNAVAIL).
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Null,
            1 => Self::Stat,
            2 => Self::Mon,
            3 => Self::Unmon,
            4 => Self::UnmonAll,
            5 => Self::SimuCrash,
            6 => Self::Notify,
            _ => return None,
        })
    }

    /// The RPC procedure number.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The spec's name (`"SM_MON"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Null => "SM_NULL",
            Self::Stat => "SM_STAT",
            Self::Mon => "SM_MON",
            Self::Unmon => "SM_UNMON",
            Self::UnmonAll => "SM_UNMON_ALL",
            Self::SimuCrash => "SM_SIMU_CRASH",
            Self::Notify => "SM_NOTIFY",
        }
    }
}

open_set! {
    /// XNFS §11.3 `res`: whether a monitor request succeeded.
    #[doc(alias = "res")]
    SmRes, "res" {
        /// Done.
        SUCC = 0, "stat_succ";
        /// Refused (for example: too many monitored hosts).
        FAIL = 1, "stat_fail";
    }
}

/// XNFS §11.3 `my_id`: who to call back when a monitored host reboots.
#[doc(alias = "my_id")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MyId<'a> {
    /// The caller's host name (`string<SM_MAXSTRLEN>`).
    pub my_name: &'a [u8],
    /// Program to call back.
    pub my_prog: i32,
    /// Its version.
    pub my_vers: i32,
    /// Its procedure.
    pub my_proc: i32,
}

impl<'a> Decode<'a> for MyId<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            my_name: r.string(SM_MAXSTRLEN, "my_id.my_name")?,
            my_prog: r.i32("my_id.my_prog")?,
            my_vers: r.i32("my_id.my_vers")?,
            my_proc: r.i32("my_id.my_proc")?,
        })
    }
}

impl Encode for MyId<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.my_name.len() <= SM_MAXSTRLEN);
        w.string(self.my_name);
        w.i32(self.my_prog);
        w.i32(self.my_vers);
        w.i32(self.my_proc);
    }
}

/// XNFS §11.3 `mon_id`: a monitored host and who watches it (the argument of SM_UNMON).
#[doc(alias = "mon_id")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonId<'a> {
    /// The monitored host (`string<SM_MAXSTRLEN>`).
    pub mon_name: &'a [u8],
    /// The watcher.
    pub my_id: MyId<'a>,
}

impl<'a> Decode<'a> for MonId<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            mon_name: r.string(SM_MAXSTRLEN, "mon_id.mon_name")?,
            my_id: MyId::decode(r)?,
        })
    }
}

impl Encode for MonId<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.mon_name.len() <= SM_MAXSTRLEN);
        w.string(self.mon_name);
        self.my_id.encode(w);
    }
}

/// XNFS §11.3 `mon`: the argument of SM_MON.
#[doc(alias = "mon")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mon<'a> {
    /// What to monitor, for whom.
    pub mon_id: MonId<'a>,
    /// Handed back unchanged in the reboot callback.
    pub priv_: [u8; PRIV_SIZE],
}

impl<'a> Decode<'a> for Mon<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            mon_id: MonId::decode(r)?,
            priv_: r.opaque_fixed::<PRIV_SIZE>("mon.priv")?,
        })
    }
}

impl Encode for Mon<'_> {
    fn encode(&self, w: &mut Writer) {
        self.mon_id.encode(w);
        w.opaque_fixed(&self.priv_);
    }
}

/// XNFS §11.3 `stat_chge`: the argument of SM_NOTIFY (a host and its new state).
#[doc(alias = "stat_chge")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatChge<'a> {
    /// The host that rebooted (`string<SM_MAXSTRLEN>`).
    pub mon_name: &'a [u8],
    /// Its new state number.
    pub state: i32,
}

impl<'a> Decode<'a> for StatChge<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            mon_name: r.string(SM_MAXSTRLEN, "stat_chge.mon_name")?,
            state: r.i32("stat_chge.state")?,
        })
    }
}

impl Encode for StatChge<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.mon_name.len() <= SM_MAXSTRLEN);
        w.string(self.mon_name);
        w.i32(self.state);
    }
}

/// The arguments of one NSM call, by procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// `SM_NULL(void)`.
    Null,
    /// `SM_STAT(sm_name)`: the host name.
    Stat(&'a [u8]),
    /// `SM_MON(mon)`.
    Mon(Mon<'a>),
    /// `SM_UNMON(mon_id)`.
    Unmon(MonId<'a>),
    /// `SM_UNMON_ALL(my_id)`.
    UnmonAll(MyId<'a>),
    /// `SM_SIMU_CRASH(void)`.
    SimuCrash,
    /// `SM_NOTIFY(stat_chge)`.
    Notify(StatChge<'a>),
}

impl Call<'_> {
    /// The procedure these arguments belong to.
    pub const fn proc_(&self) -> NsmProc {
        match self {
            Self::Null => NsmProc::Null,
            Self::Stat(_) => NsmProc::Stat,
            Self::Mon(_) => NsmProc::Mon,
            Self::Unmon(_) => NsmProc::Unmon,
            Self::UnmonAll(_) => NsmProc::UnmonAll,
            Self::SimuCrash => NsmProc::SimuCrash,
            Self::Notify(_) => NsmProc::Notify,
        }
    }
}

impl Encode for Call<'_> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Null | Self::SimuCrash => {}
            Self::Stat(name) => {
                debug_assert!(name.len() <= SM_MAXSTRLEN);
                w.string(name);
            }
            Self::Mon(m) => m.encode(w),
            Self::Unmon(m) => m.encode(w),
            Self::UnmonAll(m) => m.encode(w),
            Self::Notify(s) => s.encode(w),
        }
    }
}

/// Decodes the arguments of procedure `proc_`; they must be consumed exactly. An unknown
/// procedure is an [`DecodeError::InvalidValue`].
pub fn decode_call(proc_: u32, args: &[u8]) -> Result<Call<'_>, DecodeError> {
    let Some(p) = NsmProc::from_u32(proc_) else {
        return Err(DecodeError::InvalidValue {
            field: "NSM procedure",
            value: u64::from(proc_),
        });
    };
    let mut r = Reader::new(args);
    let call = match p {
        NsmProc::Null => Call::Null,
        NsmProc::Stat => Call::Stat(r.string(SM_MAXSTRLEN, "sm_name.mon_name")?),
        NsmProc::Mon => Call::Mon(Mon::decode(&mut r)?),
        NsmProc::Unmon => Call::Unmon(MonId::decode(&mut r)?),
        NsmProc::UnmonAll => Call::UnmonAll(MyId::decode(&mut r)?),
        NsmProc::SimuCrash => Call::SimuCrash,
        NsmProc::Notify => Call::Notify(StatChge::decode(&mut r)?),
    };
    r.finish("NSM call arguments")?;
    Ok(call)
}

/// The results of one NSM call, by procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// NULL, SIMU_CRASH, NOTIFY: nothing.
    Void,
    /// STAT, MON: `sm_stat_res` (the outcome and the local state number).
    StatRes {
        /// The outcome.
        res: SmRes,
        /// The local state number.
        state: i32,
    },
    /// UNMON, UNMON_ALL: `sm_stat` (the local state number).
    Stat(i32),
}

impl Encode for Reply {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Void => {}
            Self::StatRes { res, state } => {
                res.encode(w);
                w.i32(*state);
            }
            Self::Stat(state) => w.i32(*state),
        }
    }
}

/// Decodes the results of procedure `proc_`; they must be consumed exactly.
pub fn decode_reply(proc_: NsmProc, body: &[u8]) -> Result<Reply, DecodeError> {
    let mut r = Reader::new(body);
    let reply = match proc_ {
        NsmProc::Null | NsmProc::SimuCrash | NsmProc::Notify => Reply::Void,
        NsmProc::Stat | NsmProc::Mon => Reply::StatRes {
            res: SmRes::decode(&mut r)?,
            state: r.i32("sm_stat_res.state")?,
        },
        NsmProc::Unmon | NsmProc::UnmonAll => Reply::Stat(r.i32("sm_stat.state")?),
    };
    r.finish("NSM reply body")?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::wire::encode_to_vec;

    /// Goal: an SM_MON as Linux's lockd sends it to its statd (monitor "server" for lockd's
    /// program 100021 v3 procedure 16) decodes and re-encodes exactly; its reply is
    /// `stat_succ` and the state. Method: hex fixture.
    #[test]
    fn mon_fixture() {
        let hex = concat!(
            "00000006",
            "73657276",
            "65720000", // mon_name "server"
            "00000002",
            "766d0000", // my_name "vm"
            "000186b5",
            "00000003",
            "00000010",                         // 100021, v3, proc 16
            "000102030405060708090a0b0c0d0e0f", // priv
        );
        let bytes = hex::decode(hex).unwrap();
        let call = decode_call(2, &bytes).unwrap();
        let Call::Mon(m) = call else {
            panic!("not SM_MON: {call:?}")
        };
        assert_eq!(m.mon_id.mon_name, b"server");
        assert_eq!(m.mon_id.my_id.my_name, b"vm");
        assert_eq!(
            (
                m.mon_id.my_id.my_prog,
                m.mon_id.my_id.my_vers,
                m.mon_id.my_id.my_proc
            ),
            (100_021, 3, 16)
        );
        assert_eq!(m.priv_[15], 15);
        assert_eq!(encode_to_vec(&call), bytes);
        let reply = Reply::StatRes {
            res: SmRes::SUCC,
            state: 3,
        };
        assert_eq!(encode_to_vec(&reply), [0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(
            decode_reply(NsmProc::Mon, &[0, 0, 0, 0, 0, 0, 0, 3]),
            Ok(reply)
        );
        assert!(decode_call(2, &bytes[..bytes.len() - 1]).is_err());
    }

    /// Goal: names longer than SM_MAXSTRLEN are refused at their length word; unknown
    /// procedures are refused. Method: hand-built words.
    #[test]
    fn bounds_and_procedures() {
        let mut w = Writer::new();
        w.u32(SM_MAXSTRLEN as u32 + 1);
        for p in [1, 2, 3, 4, 6] {
            assert!(matches!(
                decode_call(p, w.as_slice()),
                Err(DecodeError::TooLong { .. })
            ));
        }
        for (i, p) in NsmProc::ALL.iter().enumerate() {
            assert_eq!(NsmProc::from_u32(i as u32), Some(*p));
        }
        assert_eq!(NsmProc::from_u32(7), None);
        assert!(decode_call(7, &[]).is_err());
        assert_eq!(NsmProc::Notify.name(), "SM_NOTIFY");
    }

    fn name() -> impl Strategy<Value = Vec<u8>> {
        vec(any::<u8>(), 0..40)
    }

    proptest! {
        /// Goal: every procedure's arguments round-trip through Encode and decode_call.
        #[test]
        fn call_round_trip(p in 0u32..7, a in name(), b in name(), w in any::<[i32; 4]>(),
                           priv_ in any::<[u8; PRIV_SIZE]>()) {
            let my_id = MyId { my_name: &b, my_prog: w[0], my_vers: w[1], my_proc: w[2] };
            let mon_id = MonId { mon_name: &a, my_id };
            let call = match NsmProc::from_u32(p).unwrap() {
                NsmProc::Null => Call::Null,
                NsmProc::Stat => Call::Stat(&a),
                NsmProc::Mon => Call::Mon(Mon { mon_id, priv_ }),
                NsmProc::Unmon => Call::Unmon(mon_id),
                NsmProc::UnmonAll => Call::UnmonAll(my_id),
                NsmProc::SimuCrash => Call::SimuCrash,
                NsmProc::Notify => Call::Notify(StatChge { mon_name: &a, state: w[3] }),
            };
            prop_assert_eq!(call.proc_().as_u32(), p);
            let enc = encode_to_vec(&call);
            prop_assert_eq!(decode_call(p, &enc), Ok(call));
        }

        /// Goal: every procedure's results round-trip through Encode and decode_reply.
        #[test]
        fn reply_round_trip(p in 0u32..7, res in 0u32..3, state in any::<i32>()) {
            let proc_ = NsmProc::from_u32(p).unwrap();
            let reply = match proc_ {
                NsmProc::Null | NsmProc::SimuCrash | NsmProc::Notify => Reply::Void,
                NsmProc::Stat | NsmProc::Mon => Reply::StatRes { res: SmRes(res), state },
                NsmProc::Unmon | NsmProc::UnmonAll => Reply::Stat(state),
            };
            prop_assert_eq!(decode_reply(proc_, &encode_to_vec(&reply)), Ok(reply));
        }

        /// Goal: random bytes never panic any decoder, and what decodes re-encodes exactly.
        #[test]
        fn garbage_never_panics(p in 0u32..9, junk in vec(any::<u8>(), 0..200)) {
            if let Ok(call) = decode_call(p, &junk) {
                prop_assert_eq!(encode_to_vec(&call), junk.clone());
            }
            if let Some(proc_) = NsmProc::from_u32(p)
                && let Ok(reply) = decode_reply(proc_, &junk) {
                    prop_assert_eq!(encode_to_vec(&reply), junk);
                }
        }
    }
}
