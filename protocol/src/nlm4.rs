//! The Network Lock Manager, version 4 (X/Open XNFS, Chapter 10 "Network Lock Manager
//! Protocol" and Chapter 14 "NLM version 4", the `nlm_prot.x` of NFSv3): program 100021.
//! Byte-range locks and DOS share reservations for NFSv3 clients, with 64-bit offsets.
//!
//! The server decodes a call's arguments with [`decode_call`] into a [`Call`] and answers with a
//! [`Reply`] (its `Encode` writes the result body after the RPC reply header); the server's own
//! GRANTED callbacks and the `_MSG` / `_RES` asynchronous forms go the other way with `Call`'s
//! `Encode`. Every string and `netobj` is length-checked against [`LM_MAXSTRLEN`] or
//! [`MAXNETOBJ_SZ`] before anything is borrowed, and everything borrows from the input.
//!
//! The asynchronous forms: a `_MSG` call (TEST_MSG, LOCK_MSG, CANCEL_MSG, UNLOCK_MSG,
//! GRANTED_MSG) carries the same arguments as its synchronous form and gets an empty reply;
//! the answer travels later as a separate `_RES` call (TEST_RES, LOCK_RES, ...) from the
//! server to the client's NLM service, whose arguments are the synchronous form's results.

use crate::wire::{Decode, DecodeError, Encode, open_set};
use crate::xdr::{Reader, Writer};

/// XNFS §10.1 `NLM_PROG`: the program number.
#[doc(alias = "NLM_PROG")]
pub const PROGRAM: u32 = 100_021;
/// XNFS §14.1 `NLM4_VERS`: the program version this module implements.
#[doc(alias = "NLM4_VERS")]
pub const VERSION: u32 = 4;
/// XNFS §10.2 `LM_MAXSTRLEN`: the longest `caller_name`.
pub const LM_MAXSTRLEN: usize = 1024;
/// XNFS §10.2 `MAXNAMELEN` (`LM_MAXSTRLEN + 1`): the longest name in `nlm4_notify` (FREE_ALL).
#[doc(alias = "MAXNAMELEN")]
pub const LM_MAXNAMELEN: usize = LM_MAXSTRLEN + 1;
/// XNFS §10.2 `MAXNETOBJ_SZ`: the longest `netobj` (cookie, file handle, owner handle).
pub const MAXNETOBJ_SZ: usize = 1024;
/// Length of the private data a status monitor hands back (`SM_PRIV_SIZE`, `sm_inter.x`).
pub const SM_PRIV_SIZE: usize = 16;

/// XNFS §10.2 / §14.2: the NLM procedures in spec order; the discriminant is the RPC
/// procedure number (12 to 19 are unused; 16 is Linux's private status-monitor callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum NlmProc {
    /// `NLM4_NULL`: does nothing.
    Null = 0,
    /// `NLM4_TEST`: would this lock be granted? If not, who holds the conflicting one.
    Test = 1,
    /// `NLM4_LOCK`: take a lock, waiting if `block` (answered BLOCKED, then GRANTED later).
    Lock = 2,
    /// `NLM4_CANCEL`: give up a blocked LOCK.
    Cancel = 3,
    /// `NLM4_UNLOCK`: release a range.
    Unlock = 4,
    /// `NLM4_GRANTED`: the server tells the client a blocked lock is now held (a callback).
    Granted = 5,
    /// `NLM4_TEST_MSG`: TEST, answered by a TEST_RES call.
    TestMsg = 6,
    /// `NLM4_LOCK_MSG`: LOCK, answered by a LOCK_RES call.
    LockMsg = 7,
    /// `NLM4_CANCEL_MSG`: CANCEL, answered by a CANCEL_RES call.
    CancelMsg = 8,
    /// `NLM4_UNLOCK_MSG`: UNLOCK, answered by an UNLOCK_RES call.
    UnlockMsg = 9,
    /// `NLM4_GRANTED_MSG`: GRANTED, answered by a GRANTED_RES call.
    GrantedMsg = 10,
    /// `NLM4_TEST_RES`: the result of a TEST_MSG.
    TestRes = 11,
    /// `NLM4_LOCK_RES`: the result of a LOCK_MSG.
    LockRes = 12,
    /// `NLM4_CANCEL_RES`: the result of a CANCEL_MSG.
    CancelRes = 13,
    /// `NLM4_UNLOCK_RES`: the result of an UNLOCK_MSG.
    UnlockRes = 14,
    /// `NLM4_GRANTED_RES`: the result of a GRANTED_MSG.
    GrantedRes = 15,
    /// `NLMPROC_NSM_NOTIFY` (Linux): the local status monitor reports a peer's reboot to its
    /// lock manager (the `status` of `sm_inter.x`). Not in XNFS.
    SmNotify = 16,
    /// `NLM4_SHARE`: take a DOS share reservation.
    Share = 20,
    /// `NLM4_UNSHARE`: release a share reservation.
    Unshare = 21,
    /// `NLM4_NM_LOCK`: LOCK for a client that runs no status monitor (never blocks).
    NmLock = 22,
    /// `NLM4_FREE_ALL`: drop every lock and share of a host (it rebooted).
    FreeAll = 23,
}

impl NlmProc {
    /// Every procedure, in procedure-number order.
    pub const ALL: [Self; 21] = [
        Self::Null,
        Self::Test,
        Self::Lock,
        Self::Cancel,
        Self::Unlock,
        Self::Granted,
        Self::TestMsg,
        Self::LockMsg,
        Self::CancelMsg,
        Self::UnlockMsg,
        Self::GrantedMsg,
        Self::TestRes,
        Self::LockRes,
        Self::CancelRes,
        Self::UnlockRes,
        Self::GrantedRes,
        Self::SmNotify,
        Self::Share,
        Self::Unshare,
        Self::NmLock,
        Self::FreeAll,
    ];

    /// The procedure with number `v`, or `None` (the RPC layer answers PROC_UNAVAIL).
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Null,
            1 => Self::Test,
            2 => Self::Lock,
            3 => Self::Cancel,
            4 => Self::Unlock,
            5 => Self::Granted,
            6 => Self::TestMsg,
            7 => Self::LockMsg,
            8 => Self::CancelMsg,
            9 => Self::UnlockMsg,
            10 => Self::GrantedMsg,
            11 => Self::TestRes,
            12 => Self::LockRes,
            13 => Self::CancelRes,
            14 => Self::UnlockRes,
            15 => Self::GrantedRes,
            16 => Self::SmNotify,
            20 => Self::Share,
            21 => Self::Unshare,
            22 => Self::NmLock,
            23 => Self::FreeAll,
            _ => return None,
        })
    }

    /// The RPC procedure number.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The spec's name (`"NLM4_LOCK"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Null => "NLM4_NULL",
            Self::Test => "NLM4_TEST",
            Self::Lock => "NLM4_LOCK",
            Self::Cancel => "NLM4_CANCEL",
            Self::Unlock => "NLM4_UNLOCK",
            Self::Granted => "NLM4_GRANTED",
            Self::TestMsg => "NLM4_TEST_MSG",
            Self::LockMsg => "NLM4_LOCK_MSG",
            Self::CancelMsg => "NLM4_CANCEL_MSG",
            Self::UnlockMsg => "NLM4_UNLOCK_MSG",
            Self::GrantedMsg => "NLM4_GRANTED_MSG",
            Self::TestRes => "NLM4_TEST_RES",
            Self::LockRes => "NLM4_LOCK_RES",
            Self::CancelRes => "NLM4_CANCEL_RES",
            Self::UnlockRes => "NLM4_UNLOCK_RES",
            Self::GrantedRes => "NLM4_GRANTED_RES",
            Self::SmNotify => "NLMPROC_NSM_NOTIFY",
            Self::Share => "NLM4_SHARE",
            Self::Unshare => "NLM4_UNSHARE",
            Self::NmLock => "NLM4_NM_LOCK",
            Self::FreeAll => "NLM4_FREE_ALL",
        }
    }

    /// Whether this is a `_MSG` or `_RES` procedure: its RPC reply carries no results (the
    /// answer to a `_MSG` is a separate `_RES` call).
    pub const fn is_async(self) -> bool {
        matches!(
            self,
            Self::TestMsg
                | Self::LockMsg
                | Self::CancelMsg
                | Self::UnlockMsg
                | Self::GrantedMsg
                | Self::TestRes
                | Self::LockRes
                | Self::CancelRes
                | Self::UnlockRes
                | Self::GrantedRes
        )
    }
}

open_set! {
    /// XNFS §14.2 `nlm4_stats`: the status of a lock request. A newtype so values outside
    /// the spec survive a round trip; the Rust names drop the `NLM4_` prefix.
    #[doc(alias = "nlm4_stats")]
    Nlm4Stat, "nlm4_stats" {
        /// The lock is held (or the test found no conflict).
        GRANTED = 0, "NLM4_GRANTED";
        /// A conflicting lock is held.
        DENIED = 1, "NLM4_DENIED";
        /// The server is out of lock resources.
        DENIED_NOLOCKS = 2, "NLM4_DENIED_NOLOCKS";
        /// The request waits; a GRANTED callback follows.
        BLOCKED = 3, "NLM4_BLOCKED";
        /// The server is in its grace period after a restart: only reclaims are served.
        DENIED_GRACE_PERIOD = 4, "NLM4_DENIED_GRACE_PERIOD";
        /// Granting would deadlock.
        DEADLCK = 5, "NLM4_DEADLCK";
        /// The file system is read-only.
        ROFS = 6, "NLM4_ROFS";
        /// The file handle is stale.
        STALE_FH = 7, "NLM4_STALE_FH";
        /// The range passes what the server supports.
        FBIG = 8, "NLM4_FBIG";
        /// Anything else.
        FAILED = 9, "NLM4_FAILED";
    }
}

/// XNFS §10.2 `netobj` (`opaque<MAXNETOBJ_SZ>`): a cookie, file handle or owner handle,
/// borrowed from the message.
#[doc(alias = "netobj")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NetObj<'a>(pub &'a [u8]);

impl<'a> Decode<'a> for NetObj<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.opaque(MAXNETOBJ_SZ, "netobj").map(Self)
    }
}

impl Encode for NetObj<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.0.len() <= MAXNETOBJ_SZ);
        w.opaque(self.0);
    }
}

/// XNFS §14.2 `nlm4_lock`: a lock's description. `l_len` 0 means "to the end of the file,
/// whatever its size".
#[doc(alias = "nlm4_lock")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nlm4Lock<'a> {
    /// The client's host name (`string<LM_MAXSTRLEN>`); not necessarily UTF-8.
    pub caller_name: &'a [u8],
    /// The file's NFS handle.
    pub fh: NetObj<'a>,
    /// The lock owner's handle (Linux: `pid@host`-like bytes, unique per owner).
    pub oh: NetObj<'a>,
    /// The lock owner's process id on the client.
    pub svid: i32,
    /// First byte.
    pub l_offset: u64,
    /// Bytes; 0 is to the end of the file.
    pub l_len: u64,
}

impl<'a> Decode<'a> for Nlm4Lock<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            caller_name: r.string(LM_MAXSTRLEN, "nlm4_lock.caller_name")?,
            fh: NetObj::decode(r)?,
            oh: NetObj::decode(r)?,
            svid: r.i32("nlm4_lock.svid")?,
            l_offset: r.u64("nlm4_lock.l_offset")?,
            l_len: r.u64("nlm4_lock.l_len")?,
        })
    }
}

impl Encode for Nlm4Lock<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.caller_name.len() <= LM_MAXSTRLEN);
        w.string(self.caller_name);
        self.fh.encode(w);
        self.oh.encode(w);
        w.i32(self.svid);
        w.u64(self.l_offset);
        w.u64(self.l_len);
    }
}

/// XNFS §14.2 `nlm4_holder`: who holds the lock a TEST ran into.
#[doc(alias = "nlm4_holder")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nlm4Holder<'a> {
    /// Whether the held lock is exclusive.
    pub exclusive: bool,
    /// The holder's process id.
    pub svid: i32,
    /// The holder's owner handle.
    pub oh: NetObj<'a>,
    /// First byte.
    pub l_offset: u64,
    /// Bytes; 0 is to the end of the file.
    pub l_len: u64,
}

impl<'a> Decode<'a> for Nlm4Holder<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            exclusive: r.bool("nlm4_holder.exclusive")?,
            svid: r.i32("nlm4_holder.svid")?,
            oh: NetObj::decode(r)?,
            l_offset: r.u64("nlm4_holder.l_offset")?,
            l_len: r.u64("nlm4_holder.l_len")?,
        })
    }
}

impl Encode for Nlm4Holder<'_> {
    fn encode(&self, w: &mut Writer) {
        w.bool(self.exclusive);
        w.i32(self.svid);
        self.oh.encode(w);
        w.u64(self.l_offset);
        w.u64(self.l_len);
    }
}

/// XNFS §14.2 `nlm4_lockargs`: the arguments of LOCK, LOCK_MSG and NM_LOCK.
#[doc(alias = "nlm4_lockargs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nlm4LockArgs<'a> {
    /// Echoed in the result, so the client can match a `_RES` to its `_MSG`.
    pub cookie: NetObj<'a>,
    /// Wait for a conflicting lock to go away (answered BLOCKED, then a GRANTED callback).
    pub block: bool,
    /// Exclusive (write) lock; else shared (read).
    pub exclusive: bool,
    /// The lock.
    pub alock: Nlm4Lock<'a>,
    /// A reclaim after a server restart (served during the grace period).
    pub reclaim: bool,
    /// The client's status-monitor state number.
    pub state: i32,
}

impl<'a> Decode<'a> for Nlm4LockArgs<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: NetObj::decode(r)?,
            block: r.bool("nlm4_lockargs.block")?,
            exclusive: r.bool("nlm4_lockargs.exclusive")?,
            alock: Nlm4Lock::decode(r)?,
            reclaim: r.bool("nlm4_lockargs.reclaim")?,
            state: r.i32("nlm4_lockargs.state")?,
        })
    }
}

impl Encode for Nlm4LockArgs<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        w.bool(self.block);
        w.bool(self.exclusive);
        self.alock.encode(w);
        w.bool(self.reclaim);
        w.i32(self.state);
    }
}

/// XNFS §14.2 `nlm4_cancargs`: the arguments of CANCEL and CANCEL_MSG.
#[doc(alias = "nlm4_cancargs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nlm4CancArgs<'a> {
    /// Echoed in the result.
    pub cookie: NetObj<'a>,
    /// As in the LOCK being cancelled.
    pub block: bool,
    /// As in the LOCK being cancelled.
    pub exclusive: bool,
    /// The lock being cancelled.
    pub alock: Nlm4Lock<'a>,
}

impl<'a> Decode<'a> for Nlm4CancArgs<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: NetObj::decode(r)?,
            block: r.bool("nlm4_cancargs.block")?,
            exclusive: r.bool("nlm4_cancargs.exclusive")?,
            alock: Nlm4Lock::decode(r)?,
        })
    }
}

impl Encode for Nlm4CancArgs<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        w.bool(self.block);
        w.bool(self.exclusive);
        self.alock.encode(w);
    }
}

/// XNFS §14.2 `nlm4_testargs`: the arguments of TEST and TEST_MSG; also GRANTED's.
#[doc(alias = "nlm4_testargs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nlm4TestArgs<'a> {
    /// Echoed in the result.
    pub cookie: NetObj<'a>,
    /// Exclusive (write) lock; else shared.
    pub exclusive: bool,
    /// The lock.
    pub alock: Nlm4Lock<'a>,
}

impl<'a> Decode<'a> for Nlm4TestArgs<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: NetObj::decode(r)?,
            exclusive: r.bool("nlm4_testargs.exclusive")?,
            alock: Nlm4Lock::decode(r)?,
        })
    }
}

impl Encode for Nlm4TestArgs<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        w.bool(self.exclusive);
        self.alock.encode(w);
    }
}

/// XNFS §14.2 `nlm4_unlockargs`: the arguments of UNLOCK and UNLOCK_MSG.
#[doc(alias = "nlm4_unlockargs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nlm4UnlockArgs<'a> {
    /// Echoed in the result.
    pub cookie: NetObj<'a>,
    /// The range to release.
    pub alock: Nlm4Lock<'a>,
}

impl<'a> Decode<'a> for Nlm4UnlockArgs<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: NetObj::decode(r)?,
            alock: Nlm4Lock::decode(r)?,
        })
    }
}

impl Encode for Nlm4UnlockArgs<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        self.alock.encode(w);
    }
}

open_set! {
    /// XNFS §14.2 `fsh4_mode`: what a share reservation denies others.
    #[doc(alias = "fsh4_mode")]
    Fsh4Mode, "fsh4_mode" {
        /// Deny nothing.
        DENY_NONE = 0, "fsm_DN";
        /// Deny reads.
        DENY_READ = 1, "fsm_DR";
        /// Deny writes.
        DENY_WRITE = 2, "fsm_DW";
        /// Deny reads and writes.
        DENY_READ_WRITE = 3, "fsm_DRW";
    }
}

open_set! {
    /// XNFS §14.2 `fsh4_access`: what a share reservation's holder does.
    #[doc(alias = "fsh4_access")]
    Fsh4Access, "fsh4_access" {
        /// No access.
        NONE = 0, "fsa_NONE";
        /// Reads.
        READ = 1, "fsa_R";
        /// Writes.
        WRITE = 2, "fsa_W";
        /// Reads and writes.
        READ_WRITE = 3, "fsa_RW";
    }
}

/// XNFS §14.2 `nlm4_share`: a DOS share reservation.
#[doc(alias = "nlm4_share")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nlm4Share<'a> {
    /// The client's host name (`string<LM_MAXSTRLEN>`).
    pub caller_name: &'a [u8],
    /// The file's NFS handle.
    pub fh: NetObj<'a>,
    /// The owner handle.
    pub oh: NetObj<'a>,
    /// What it denies others.
    pub mode: Fsh4Mode,
    /// What it does itself.
    pub access: Fsh4Access,
}

impl<'a> Decode<'a> for Nlm4Share<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            caller_name: r.string(LM_MAXSTRLEN, "nlm4_share.caller_name")?,
            fh: NetObj::decode(r)?,
            oh: NetObj::decode(r)?,
            mode: Fsh4Mode::decode(r)?,
            access: Fsh4Access::decode(r)?,
        })
    }
}

impl Encode for Nlm4Share<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.caller_name.len() <= LM_MAXSTRLEN);
        w.string(self.caller_name);
        self.fh.encode(w);
        self.oh.encode(w);
        self.mode.encode(w);
        self.access.encode(w);
    }
}

/// XNFS §14.2 `nlm4_shareargs`: the arguments of SHARE and UNSHARE.
#[doc(alias = "nlm4_shareargs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nlm4ShareArgs<'a> {
    /// Echoed in the result.
    pub cookie: NetObj<'a>,
    /// The reservation.
    pub share: Nlm4Share<'a>,
    /// A reclaim after a server restart.
    pub reclaim: bool,
}

impl<'a> Decode<'a> for Nlm4ShareArgs<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: NetObj::decode(r)?,
            share: Nlm4Share::decode(r)?,
            reclaim: r.bool("nlm4_shareargs.reclaim")?,
        })
    }
}

impl Encode for Nlm4ShareArgs<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        self.share.encode(w);
        w.bool(self.reclaim);
    }
}

/// XNFS §14.2 `nlm4_notify`: the argument of FREE_ALL (a host that rebooted).
#[doc(alias = "nlm4_notify")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nlm4Notify<'a> {
    /// The host (`string<MAXNAMELEN>`).
    pub name: &'a [u8],
    /// Its new status-monitor state number.
    pub state: i32,
}

impl<'a> Decode<'a> for Nlm4Notify<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: r.string(LM_MAXNAMELEN, "nlm4_notify.name")?,
            state: r.i32("nlm4_notify.state")?,
        })
    }
}

impl Encode for Nlm4Notify<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.name.len() <= LM_MAXNAMELEN);
        w.string(self.name);
        w.i32(self.state);
    }
}

/// `sm_inter.x` `status`, the argument of Linux's NLMPROC_NSM_NOTIFY (16): the local status
/// monitor tells its lock manager that `mon_name` rebooted, handing back the private bytes
/// the lock manager gave with SM_MON.
#[doc(alias = "nlm_reboot")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmStatus<'a> {
    /// The host that rebooted (`string<SM_MAXSTRLEN>`, 1024).
    pub mon_name: &'a [u8],
    /// Its new state number.
    pub state: i32,
    /// The private bytes of the SM_MON that registered the interest.
    pub priv_: [u8; SM_PRIV_SIZE],
}

impl<'a> Decode<'a> for SmStatus<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            mon_name: r.string(crate::nsm::SM_MAXSTRLEN, "status.mon_name")?,
            state: r.i32("status.state")?,
            priv_: r.opaque_fixed::<SM_PRIV_SIZE>("status.priv")?,
        })
    }
}

impl Encode for SmStatus<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.mon_name.len() <= crate::nsm::SM_MAXSTRLEN);
        w.string(self.mon_name);
        w.i32(self.state);
        w.opaque_fixed(&self.priv_);
    }
}

/// XNFS §14.2 `nlm4_testrply`: TEST's answer, naming the holder when DENIED.
#[doc(alias = "nlm4_testrply")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nlm4TestReply<'a> {
    /// DENIED, with the conflicting lock.
    Denied(Nlm4Holder<'a>),
    /// Any other status (GRANTED: no conflict).
    Other(Nlm4Stat),
}

impl Nlm4TestReply<'_> {
    /// The status.
    pub const fn stat(&self) -> Nlm4Stat {
        match self {
            Self::Denied(_) => Nlm4Stat::DENIED,
            Self::Other(s) => *s,
        }
    }
}

/// XNFS §14.2 `nlm4_testres`: the result of TEST (the argument of TEST_RES).
#[doc(alias = "nlm4_testres")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nlm4TestRes<'a> {
    /// The request's cookie.
    pub cookie: NetObj<'a>,
    /// The answer.
    pub stat: Nlm4TestReply<'a>,
}

impl<'a> Decode<'a> for Nlm4TestRes<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let cookie = NetObj::decode(r)?;
        let stat = Nlm4Stat::decode(r)?;
        let stat = if stat == Nlm4Stat::DENIED {
            Nlm4TestReply::Denied(Nlm4Holder::decode(r)?)
        } else {
            Nlm4TestReply::Other(stat)
        };
        Ok(Self { cookie, stat })
    }
}

impl Encode for Nlm4TestRes<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        match &self.stat {
            Nlm4TestReply::Denied(h) => {
                Nlm4Stat::DENIED.encode(w);
                h.encode(w);
            }
            Nlm4TestReply::Other(s) => {
                // DENIED always carries its holder; an `Other(DENIED)` is a caller bug.
                debug_assert_ne!(*s, Nlm4Stat::DENIED);
                s.encode(w);
            }
        }
    }
}

/// XNFS §14.2 `nlm4_res`: the result of LOCK, CANCEL, UNLOCK, GRANTED and NM_LOCK (the
/// argument of their `_RES` forms).
#[doc(alias = "nlm4_res")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nlm4Res<'a> {
    /// The request's cookie.
    pub cookie: NetObj<'a>,
    /// The status.
    pub stat: Nlm4Stat,
}

impl<'a> Decode<'a> for Nlm4Res<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: NetObj::decode(r)?,
            stat: Nlm4Stat::decode(r)?,
        })
    }
}

impl Encode for Nlm4Res<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        self.stat.encode(w);
    }
}

/// XNFS §14.2 `nlm4_shareres`: the result of SHARE and UNSHARE.
#[doc(alias = "nlm4_shareres")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nlm4ShareRes<'a> {
    /// The request's cookie.
    pub cookie: NetObj<'a>,
    /// The status.
    pub stat: Nlm4Stat,
    /// Unused by clients; servers send 0.
    pub sequence: i32,
}

impl<'a> Decode<'a> for Nlm4ShareRes<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: NetObj::decode(r)?,
            stat: Nlm4Stat::decode(r)?,
            sequence: r.i32("nlm4_shareres.sequence")?,
        })
    }
}

impl Encode for Nlm4ShareRes<'_> {
    fn encode(&self, w: &mut Writer) {
        self.cookie.encode(w);
        self.stat.encode(w);
        w.i32(self.sequence);
    }
}

/// The arguments of one NLM call, by procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// `NLM4_NULL(void)`.
    Null,
    /// `NLM4_TEST(nlm4_testargs)`.
    Test(Nlm4TestArgs<'a>),
    /// `NLM4_LOCK(nlm4_lockargs)`.
    Lock(Nlm4LockArgs<'a>),
    /// `NLM4_CANCEL(nlm4_cancargs)`.
    Cancel(Nlm4CancArgs<'a>),
    /// `NLM4_UNLOCK(nlm4_unlockargs)`.
    Unlock(Nlm4UnlockArgs<'a>),
    /// `NLM4_GRANTED(nlm4_testargs)`.
    Granted(Nlm4TestArgs<'a>),
    /// `NLM4_TEST_MSG(nlm4_testargs)`.
    TestMsg(Nlm4TestArgs<'a>),
    /// `NLM4_LOCK_MSG(nlm4_lockargs)`.
    LockMsg(Nlm4LockArgs<'a>),
    /// `NLM4_CANCEL_MSG(nlm4_cancargs)`.
    CancelMsg(Nlm4CancArgs<'a>),
    /// `NLM4_UNLOCK_MSG(nlm4_unlockargs)`.
    UnlockMsg(Nlm4UnlockArgs<'a>),
    /// `NLM4_GRANTED_MSG(nlm4_testargs)`.
    GrantedMsg(Nlm4TestArgs<'a>),
    /// `NLM4_TEST_RES(nlm4_testres)`.
    TestRes(Nlm4TestRes<'a>),
    /// `NLM4_LOCK_RES(nlm4_res)`.
    LockRes(Nlm4Res<'a>),
    /// `NLM4_CANCEL_RES(nlm4_res)`.
    CancelRes(Nlm4Res<'a>),
    /// `NLM4_UNLOCK_RES(nlm4_res)`.
    UnlockRes(Nlm4Res<'a>),
    /// `NLM4_GRANTED_RES(nlm4_res)`.
    GrantedRes(Nlm4Res<'a>),
    /// `NLMPROC_NSM_NOTIFY(status)` (Linux, from the local status monitor).
    SmNotify(SmStatus<'a>),
    /// `NLM4_SHARE(nlm4_shareargs)`.
    Share(Nlm4ShareArgs<'a>),
    /// `NLM4_UNSHARE(nlm4_shareargs)`.
    Unshare(Nlm4ShareArgs<'a>),
    /// `NLM4_NM_LOCK(nlm4_lockargs)`.
    NmLock(Nlm4LockArgs<'a>),
    /// `NLM4_FREE_ALL(nlm4_notify)`.
    FreeAll(Nlm4Notify<'a>),
}

impl Call<'_> {
    /// The procedure these arguments belong to.
    pub const fn proc_(&self) -> NlmProc {
        match self {
            Self::Null => NlmProc::Null,
            Self::Test(_) => NlmProc::Test,
            Self::Lock(_) => NlmProc::Lock,
            Self::Cancel(_) => NlmProc::Cancel,
            Self::Unlock(_) => NlmProc::Unlock,
            Self::Granted(_) => NlmProc::Granted,
            Self::TestMsg(_) => NlmProc::TestMsg,
            Self::LockMsg(_) => NlmProc::LockMsg,
            Self::CancelMsg(_) => NlmProc::CancelMsg,
            Self::UnlockMsg(_) => NlmProc::UnlockMsg,
            Self::GrantedMsg(_) => NlmProc::GrantedMsg,
            Self::TestRes(_) => NlmProc::TestRes,
            Self::LockRes(_) => NlmProc::LockRes,
            Self::CancelRes(_) => NlmProc::CancelRes,
            Self::UnlockRes(_) => NlmProc::UnlockRes,
            Self::GrantedRes(_) => NlmProc::GrantedRes,
            Self::SmNotify(_) => NlmProc::SmNotify,
            Self::Share(_) => NlmProc::Share,
            Self::Unshare(_) => NlmProc::Unshare,
            Self::NmLock(_) => NlmProc::NmLock,
            Self::FreeAll(_) => NlmProc::FreeAll,
        }
    }
}

impl Encode for Call<'_> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Null => {}
            Self::Test(a) | Self::Granted(a) | Self::TestMsg(a) | Self::GrantedMsg(a) => {
                a.encode(w);
            }
            Self::Lock(a) | Self::LockMsg(a) | Self::NmLock(a) => a.encode(w),
            Self::Cancel(a) | Self::CancelMsg(a) => a.encode(w),
            Self::Unlock(a) | Self::UnlockMsg(a) => a.encode(w),
            Self::TestRes(a) => a.encode(w),
            Self::LockRes(a) | Self::CancelRes(a) | Self::UnlockRes(a) | Self::GrantedRes(a) => {
                a.encode(w);
            }
            Self::SmNotify(a) => a.encode(w),
            Self::Share(a) | Self::Unshare(a) => a.encode(w),
            Self::FreeAll(a) => a.encode(w),
        }
    }
}

/// Decodes the arguments of procedure `proc_`; they must be consumed exactly. An unknown
/// procedure is an [`DecodeError::InvalidValue`] (the RPC layer answers PROC_UNAVAIL before
/// calling this; check with [`NlmProc::from_u32`]).
pub fn decode_call(proc_: u32, args: &[u8]) -> Result<Call<'_>, DecodeError> {
    let Some(p) = NlmProc::from_u32(proc_) else {
        return Err(DecodeError::InvalidValue {
            field: "NLM procedure",
            value: u64::from(proc_),
        });
    };
    let mut r = Reader::new(args);
    let r = &mut r;
    let call = match p {
        NlmProc::Null => Call::Null,
        NlmProc::Test => Call::Test(Decode::decode(r)?),
        NlmProc::Lock => Call::Lock(Decode::decode(r)?),
        NlmProc::Cancel => Call::Cancel(Decode::decode(r)?),
        NlmProc::Unlock => Call::Unlock(Decode::decode(r)?),
        NlmProc::Granted => Call::Granted(Decode::decode(r)?),
        NlmProc::TestMsg => Call::TestMsg(Decode::decode(r)?),
        NlmProc::LockMsg => Call::LockMsg(Decode::decode(r)?),
        NlmProc::CancelMsg => Call::CancelMsg(Decode::decode(r)?),
        NlmProc::UnlockMsg => Call::UnlockMsg(Decode::decode(r)?),
        NlmProc::GrantedMsg => Call::GrantedMsg(Decode::decode(r)?),
        NlmProc::TestRes => Call::TestRes(Decode::decode(r)?),
        NlmProc::LockRes => Call::LockRes(Decode::decode(r)?),
        NlmProc::CancelRes => Call::CancelRes(Decode::decode(r)?),
        NlmProc::UnlockRes => Call::UnlockRes(Decode::decode(r)?),
        NlmProc::GrantedRes => Call::GrantedRes(Decode::decode(r)?),
        NlmProc::SmNotify => Call::SmNotify(Decode::decode(r)?),
        NlmProc::Share => Call::Share(Decode::decode(r)?),
        NlmProc::Unshare => Call::Unshare(Decode::decode(r)?),
        NlmProc::NmLock => Call::NmLock(Decode::decode(r)?),
        NlmProc::FreeAll => Call::FreeAll(Decode::decode(r)?),
    };
    r.finish("NLM call arguments")?;
    Ok(call)
}

/// The results of one NLM call, by procedure. The `_MSG`, `_RES`, NSM_NOTIFY, FREE_ALL and
/// NULL procedures return nothing ([`Reply::Void`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// No results.
    Void,
    /// TEST: `nlm4_testres`.
    Test(Nlm4TestRes<'a>),
    /// LOCK, CANCEL, UNLOCK, GRANTED, NM_LOCK: `nlm4_res`.
    Res(Nlm4Res<'a>),
    /// SHARE, UNSHARE: `nlm4_shareres`.
    Share(Nlm4ShareRes<'a>),
}

impl Encode for Reply<'_> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Void => {}
            Self::Test(r) => r.encode(w),
            Self::Res(r) => r.encode(w),
            Self::Share(r) => r.encode(w),
        }
    }
}

/// Decodes the results of procedure `proc_`; they must be consumed exactly.
pub fn decode_reply(proc_: NlmProc, body: &[u8]) -> Result<Reply<'_>, DecodeError> {
    let mut r = Reader::new(body);
    let reply = match proc_ {
        NlmProc::Test => Reply::Test(Nlm4TestRes::decode(&mut r)?),
        NlmProc::Lock | NlmProc::Cancel | NlmProc::Unlock | NlmProc::Granted | NlmProc::NmLock => {
            Reply::Res(Nlm4Res::decode(&mut r)?)
        }
        NlmProc::Share | NlmProc::Unshare => Reply::Share(Nlm4ShareRes::decode(&mut r)?),
        NlmProc::Null
        | NlmProc::TestMsg
        | NlmProc::LockMsg
        | NlmProc::CancelMsg
        | NlmProc::UnlockMsg
        | NlmProc::GrantedMsg
        | NlmProc::TestRes
        | NlmProc::LockRes
        | NlmProc::CancelRes
        | NlmProc::UnlockRes
        | NlmProc::GrantedRes
        | NlmProc::SmNotify
        | NlmProc::FreeAll => Reply::Void,
    };
    r.finish("NLM reply body")?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::wire::encode_to_vec;

    /// Goal: a LOCK call as the Linux client sends it (F_SETLKW of bytes 0..100, exclusive)
    /// decodes field by field and re-encodes to the same bytes. Method: a hand-written hex
    /// fixture following `nlm4_lockargs`.
    #[test]
    fn lock_fixture() {
        let hex = concat!(
            "00000004",
            "01020304", // cookie: 4 bytes
            "00000001",
            "00000001", // block, exclusive
            "00000002",
            "766d0000", // caller_name "vm"
            "00000003",
            "aabbcc00", // fh: 3 bytes, padded
            "00000005",
            "31323340",
            "76000000", // oh "123@v"
            "0000007b", // svid 123
            "0000000000000000",
            "0000000000000064", // offset 0, len 100
            "00000000",
            "00000007", // reclaim false, state 7
        );
        let bytes = hex::decode(hex).unwrap();
        let call = decode_call(2, &bytes).unwrap();
        let Call::Lock(a) = call else {
            panic!("not a LOCK: {call:?}")
        };
        assert_eq!(a.cookie.0, [1, 2, 3, 4]);
        assert!(a.block && a.exclusive && !a.reclaim);
        assert_eq!(a.alock.caller_name, b"vm");
        assert_eq!(a.alock.fh.0, [0xaa, 0xbb, 0xcc]);
        assert_eq!(a.alock.oh.0, b"123@v");
        assert_eq!(
            (a.alock.svid, a.alock.l_offset, a.alock.l_len),
            (123, 0, 100)
        );
        assert_eq!(a.state, 7);
        assert_eq!(encode_to_vec(&call), bytes);
        // Non-zero padding, a trailing word and a cut message are refused.
        let mut bad = bytes.clone();
        bad[31] = 1;
        assert_eq!(
            decode_call(2, &bad),
            Err(DecodeError::NonZeroPadding { field: "netobj" })
        );
        let mut long = bytes.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(decode_call(2, &long).is_err());
        assert!(decode_call(2, &bytes[..bytes.len() - 1]).is_err());
    }

    /// Goal: lengths are refused at the length word, before anything is read or allocated: a
    /// caller name of LM_MAXSTRLEN + 1 bytes, a netobj of MAXNETOBJ_SZ + 1 and a huge length
    /// with no bytes behind it. Method: build the words by hand.
    #[test]
    fn lengths_checked_first() {
        let mut w = Writer::new();
        w.u32(0); // cookie
        w.bool(false);
        w.u32(LM_MAXSTRLEN as u32 + 1);
        assert!(matches!(
            decode_call(1, w.as_slice()),
            Err(DecodeError::TooLong {
                field: "nlm4_lock.caller_name",
                ..
            })
        ));
        let mut w = Writer::new();
        w.u32(MAXNETOBJ_SZ as u32 + 1);
        assert!(matches!(
            decode_call(4, w.as_slice()),
            Err(DecodeError::TooLong {
                field: "netobj",
                ..
            })
        ));
        let mut w = Writer::new();
        w.u32(u32::MAX);
        assert!(decode_call(23, w.as_slice()).is_err());
        // A FREE_ALL name may be one byte longer than a caller name.
        let name = vec![b'h'; LM_MAXNAMELEN];
        let call = Call::FreeAll(Nlm4Notify {
            name: &name,
            state: 3,
        });
        assert_eq!(decode_call(23, &encode_to_vec(&call)), Ok(call));
    }

    /// Goal: TEST's DENIED answer carries its holder, other statuses nothing; the `_MSG`
    /// procedures and FREE_ALL have empty replies. Method: encode and decode each shape.
    #[test]
    fn replies() {
        let holder = Nlm4Holder {
            exclusive: true,
            svid: 9,
            oh: NetObj(b"9@x"),
            l_offset: 10,
            l_len: 0,
        };
        let denied = Reply::Test(Nlm4TestRes {
            cookie: NetObj(b"c"),
            stat: Nlm4TestReply::Denied(holder),
        });
        let enc = encode_to_vec(&denied);
        assert_eq!(enc.len(), 8 + 4 + 4 + 4 + 8 + 8 + 8);
        assert_eq!(decode_reply(NlmProc::Test, &enc), Ok(denied));
        let granted = Reply::Test(Nlm4TestRes {
            cookie: NetObj(b""),
            stat: Nlm4TestReply::Other(Nlm4Stat::GRANTED),
        });
        assert_eq!(encode_to_vec(&granted), [0, 0, 0, 0, 0, 0, 0, 0]);
        for p in NlmProc::ALL {
            if p.is_async() || matches!(p, NlmProc::Null | NlmProc::FreeAll | NlmProc::SmNotify) {
                assert_eq!(decode_reply(p, &[]), Ok(Reply::Void), "{}", p.name());
            }
        }
        assert_eq!(
            Nlm4Stat::DENIED_GRACE_PERIOD.name(),
            Some("NLM4_DENIED_GRACE_PERIOD")
        );
        assert_eq!(format!("{:?}", Nlm4Stat(42)), "Nlm4Stat(42)");
    }

    /// Goal: procedure numbers follow the spec: 0 to 16, then 20 to 23; 17 to 19 and 24 are
    /// unknown, for the codec too.
    #[test]
    fn procedures() {
        for p in NlmProc::ALL {
            assert_eq!(NlmProc::from_u32(p.as_u32()), Some(p));
        }
        for n in [17, 18, 19, 24, u32::MAX] {
            assert_eq!(NlmProc::from_u32(n), None);
            assert!(decode_call(n, &[]).is_err());
        }
        assert_eq!(NlmProc::FreeAll.as_u32(), 23);
        assert_eq!(NlmProc::LockMsg.name(), "NLM4_LOCK_MSG");
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        vec(any::<u8>(), 0..max)
    }

    /// The owned parts one call is built from (proptest values cannot borrow).
    #[derive(Debug, Clone)]
    struct Parts {
        cookie: Vec<u8>,
        name: Vec<u8>,
        fh: Vec<u8>,
        oh: Vec<u8>,
        flags: [bool; 3],
        words: [i32; 2],
        range: (u64, u64),
        stat: u32,
        priv_: [u8; SM_PRIV_SIZE],
    }

    fn parts() -> impl Strategy<Value = Parts> {
        (
            bytes(40),
            bytes(40),
            bytes(70),
            bytes(40),
            any::<[bool; 3]>(),
            any::<[i32; 2]>(),
            any::<(u64, u64)>(),
            0u32..12,
            any::<[u8; SM_PRIV_SIZE]>(),
        )
            .prop_map(
                |(cookie, name, fh, oh, flags, words, range, stat, priv_)| Parts {
                    cookie,
                    name,
                    fh,
                    oh,
                    flags,
                    words,
                    range,
                    stat,
                    priv_,
                },
            )
    }

    fn call_of(p: NlmProc, x: &Parts) -> Call<'_> {
        let alock = Nlm4Lock {
            caller_name: &x.name,
            fh: NetObj(&x.fh),
            oh: NetObj(&x.oh),
            svid: x.words[0],
            l_offset: x.range.0,
            l_len: x.range.1,
        };
        let cookie = NetObj(&x.cookie);
        let lock = Nlm4LockArgs {
            cookie,
            block: x.flags[0],
            exclusive: x.flags[1],
            alock,
            reclaim: x.flags[2],
            state: x.words[1],
        };
        let canc = Nlm4CancArgs {
            cookie,
            block: x.flags[0],
            exclusive: x.flags[1],
            alock,
        };
        let test = Nlm4TestArgs {
            cookie,
            exclusive: x.flags[1],
            alock,
        };
        let unlock = Nlm4UnlockArgs { cookie, alock };
        let res = Nlm4Res {
            cookie,
            stat: Nlm4Stat(x.stat),
        };
        let share = Nlm4ShareArgs {
            cookie,
            share: Nlm4Share {
                caller_name: &x.name,
                fh: NetObj(&x.fh),
                oh: NetObj(&x.oh),
                mode: Fsh4Mode(x.stat % 5),
                access: Fsh4Access(x.stat / 3),
            },
            reclaim: x.flags[2],
        };
        let test_res = Nlm4TestRes {
            cookie,
            stat: if x.stat == 1 {
                Nlm4TestReply::Denied(Nlm4Holder {
                    exclusive: x.flags[1],
                    svid: x.words[0],
                    oh: NetObj(&x.oh),
                    l_offset: x.range.0,
                    l_len: x.range.1,
                })
            } else {
                Nlm4TestReply::Other(Nlm4Stat(x.stat))
            },
        };
        match p {
            NlmProc::Null => Call::Null,
            NlmProc::Test => Call::Test(test),
            NlmProc::Lock => Call::Lock(lock),
            NlmProc::Cancel => Call::Cancel(canc),
            NlmProc::Unlock => Call::Unlock(unlock),
            NlmProc::Granted => Call::Granted(test),
            NlmProc::TestMsg => Call::TestMsg(test),
            NlmProc::LockMsg => Call::LockMsg(lock),
            NlmProc::CancelMsg => Call::CancelMsg(canc),
            NlmProc::UnlockMsg => Call::UnlockMsg(unlock),
            NlmProc::GrantedMsg => Call::GrantedMsg(test),
            NlmProc::TestRes => Call::TestRes(test_res),
            NlmProc::LockRes => Call::LockRes(res),
            NlmProc::CancelRes => Call::CancelRes(res),
            NlmProc::UnlockRes => Call::UnlockRes(res),
            NlmProc::GrantedRes => Call::GrantedRes(res),
            NlmProc::SmNotify => Call::SmNotify(SmStatus {
                mon_name: &x.name,
                state: x.words[1],
                priv_: x.priv_,
            }),
            NlmProc::Share => Call::Share(share),
            NlmProc::Unshare => Call::Unshare(share),
            NlmProc::NmLock => Call::NmLock(lock),
            NlmProc::FreeAll => Call::FreeAll(Nlm4Notify {
                name: &x.name,
                state: x.words[1],
            }),
        }
    }

    fn reply_of(p: NlmProc, x: &Parts) -> Reply<'_> {
        let cookie = NetObj(&x.cookie);
        match call_of(NlmProc::TestRes, x) {
            Call::TestRes(t) if p == NlmProc::Test => Reply::Test(t),
            _ => match decode_reply(p, &[]) {
                Ok(Reply::Void) => Reply::Void,
                _ if matches!(p, NlmProc::Share | NlmProc::Unshare) => Reply::Share(Nlm4ShareRes {
                    cookie,
                    stat: Nlm4Stat(x.stat),
                    sequence: x.words[0],
                }),
                _ => Reply::Res(Nlm4Res {
                    cookie,
                    stat: Nlm4Stat(x.stat),
                }),
            },
        }
    }

    proptest! {
        /// Goal: every procedure's arguments round-trip through Encode and decode_call.
        #[test]
        fn call_round_trip(i in 0usize..NlmProc::ALL.len(), x in parts()) {
            let p = NlmProc::ALL[i];
            let call = call_of(p, &x);
            prop_assert_eq!(call.proc_(), p);
            let enc = encode_to_vec(&call);
            prop_assert_eq!(decode_call(p.as_u32(), &enc), Ok(call));
        }

        /// Goal: every procedure's results round-trip through Encode and decode_reply.
        #[test]
        fn reply_round_trip(i in 0usize..NlmProc::ALL.len(), x in parts()) {
            let p = NlmProc::ALL[i];
            let reply = reply_of(p, &x);
            let enc = encode_to_vec(&reply);
            prop_assert_eq!(decode_reply(p, &enc), Ok(reply));
        }

        /// Goal: random bytes never panic any decoder, and what decodes re-encodes exactly.
        #[test]
        fn garbage_never_panics(p in 0u32..25, junk in bytes(300)) {
            if let Ok(call) = decode_call(p, &junk) {
                prop_assert_eq!(encode_to_vec(&call), junk.clone());
            }
            if let Some(proc_) = NlmProc::from_u32(p)
                && let Ok(reply) = decode_reply(proc_, &junk) {
                    prop_assert_eq!(encode_to_vec(&reply), junk);
                }
        }
    }
}
