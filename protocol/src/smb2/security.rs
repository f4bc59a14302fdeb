//! Windows security descriptors ([MS-DTYP] 2.4): SIDs (2.4.2), ACEs (2.4.4), ACLs (2.4.5) and
//! the self-relative SECURITY_DESCRIPTOR (2.4.6) that QUERY_INFO / SET_INFO with
//! `SMB2_0_INFO_SECURITY` carry, plus the mapping between a unix owner, group and mode and a
//! descriptor ([`from_mode`], [`to_mode`]), with unix ids as Samba shows unmapped ones:
//! uid → `S-1-22-1-<uid>`, gid → `S-1-22-2-<gid>`.
//!
//! Everything here works on plain byte slices (offsets inside a descriptor are relative to its
//! start) and never panics on peer input.

use std::fmt;
use std::str::FromStr;

use crate::smb2::le::{Reader, Writer};
use crate::wire::DecodeError;

/// The most sub-authorities a SID may have ([MS-DTYP] 2.4.2: `SubAuthorityCount` ≤ 15).
pub const SID_SUB_AUTHORITIES_MAX: usize = 15;
/// The largest security descriptor we decode or accept in SET_INFO. An ACL's size is a `u16`,
/// so two ACLs, two SIDs and the header fit well below this.
pub const SECURITY_DESCRIPTOR_MAX: usize = 192 * 1024;

/// A security identifier ([MS-DTYP] 2.4.2, binary form 2.4.2.2; text form `S-1-5-32-544`).
#[doc(alias = "SID")]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    /// `Revision`: always 1.
    pub revision: u8,
    /// `IdentifierAuthority`: 6 bytes, big-endian.
    pub authority: [u8; 6],
    /// `SubAuthority`: at most [`SID_SUB_AUTHORITIES_MAX`] values.
    pub sub_authorities: Vec<u32>,
}

impl Sid {
    /// `S-<1>-<authority>-<subs...>` with a numeric authority.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Self {
        let mut a = [0u8; 6];
        a.copy_from_slice(&authority.to_be_bytes()[2..]);
        Self {
            revision: 1,
            authority: a,
            sub_authorities: sub_authorities.to_vec(),
        }
    }

    /// Everyone (`S-1-1-0`, [MS-DTYP] 2.4.2.4).
    pub fn everyone() -> Self {
        Self::new(1, &[0])
    }

    /// CREATOR OWNER (`S-1-3-0`).
    pub fn creator_owner() -> Self {
        Self::new(3, &[0])
    }

    /// NT AUTHORITY\SYSTEM (`S-1-5-18`).
    pub fn local_system() -> Self {
        Self::new(5, &[18])
    }

    /// BUILTIN\Administrators (`S-1-5-32-544`).
    pub fn builtin_administrators() -> Self {
        Self::new(5, &[32, 544])
    }

    /// A unix user as Samba shows a uid with no Windows mapping: `S-1-22-1-<uid>`.
    pub fn unix_user(uid: u32) -> Self {
        Self::new(22, &[1, uid])
    }

    /// A unix group as Samba shows a gid with no Windows mapping: `S-1-22-2-<gid>`.
    pub fn unix_group(gid: u32) -> Self {
        Self::new(22, &[2, gid])
    }

    /// The uid of `S-1-22-1-<uid>` (Samba) or `S-1-5-88-1-<uid>` (the "NFS" form Windows and
    /// Linux cifs `idsfromsid` use).
    pub fn as_unix_user(&self) -> Option<u32> {
        self.unix_kind(1)
    }

    /// The gid of `S-1-22-2-<gid>` or `S-1-5-88-2-<gid>`.
    pub fn as_unix_group(&self) -> Option<u32> {
        self.unix_kind(2)
    }

    /// `S-1-5-88-3-<mode>`, a unix mode as a SID (Linux cifs `modefromsid`, Windows' NFS
    /// server).
    pub fn nfs_mode(mode: u32) -> Self {
        Self::new(5, &[88, 3, mode])
    }

    /// The mode of an `S-1-5-88-3-<mode>` SID.
    pub fn as_nfs_mode(&self) -> Option<u32> {
        match (self.authority_value(), self.sub_authorities.as_slice()) {
            (5, &[88, 3, mode]) => Some(mode),
            _ => None,
        }
    }

    fn unix_kind(&self, kind: u32) -> Option<u32> {
        match (self.authority_value(), self.sub_authorities.as_slice()) {
            (22, &[k, id]) | (5, &[88, k, id]) if k == kind => Some(id),
            _ => None,
        }
    }

    /// `IdentifierAuthority` as a number.
    pub fn authority_value(&self) -> u64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self.authority);
        u64::from_be_bytes(b)
    }

    /// Encoded size: 8 + 4 per sub-authority (at most 15 are written).
    pub fn len(&self) -> usize {
        8 + 4 * self.sub_authorities.len().min(SID_SUB_AUTHORITIES_MAX)
    }

    /// Always false: a SID has at least its 8-byte header.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Reads a binary SID ([MS-DTYP] 2.4.2.2).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let revision = r.u8("Sid.Revision")?;
        if revision != 1 {
            return Err(DecodeError::InvalidValue {
                field: "Sid.Revision",
                value: revision.into(),
            });
        }
        let count = usize::from(r.u8("Sid.SubAuthorityCount")?);
        if count > SID_SUB_AUTHORITIES_MAX {
            return Err(DecodeError::TooLong {
                field: "Sid.SubAuthorityCount",
                len: count as u64,
                max: SID_SUB_AUTHORITIES_MAX as u64,
            });
        }
        let authority = r.array("Sid.IdentifierAuthority")?;
        let mut sub_authorities = Vec::with_capacity(count);
        for _ in 0..count {
            sub_authorities.push(r.u32("Sid.SubAuthority")?);
        }
        Ok(Self {
            revision,
            authority,
            sub_authorities,
        })
    }

    /// Decodes a binary SID that must fill `b` exactly.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let sid = Self::read(&mut r)?;
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                field: "Sid",
                count: r.remaining(),
            });
        }
        Ok(sid)
    }

    /// Writes the binary form. A SID built with more than 15 sub-authorities is written with
    /// the first 15 (the count byte must stay truthful).
    pub fn write(&self, w: &mut Writer) {
        let subs = &self.sub_authorities[..self.sub_authorities.len().min(SID_SUB_AUTHORITIES_MAX)];
        w.u8(self.revision);
        w.u8(subs.len() as u8);
        w.bytes(&self.authority);
        for s in subs {
            w.u32(*s);
        }
    }

    /// The binary form as a fresh vector.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_inner()
    }
}

impl fmt::Display for Sid {
    /// [MS-DTYP] 2.4.2.1: `S-1-<authority>-<sub>…`; an authority of 2^32 or more is hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.authority_value();
        write!(f, "S-{}-", self.revision)?;
        if a >= 1 << 32 {
            write!(f, "0x{a:012X}")?;
        } else {
            write!(f, "{a}")?;
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

/// Why a SID string did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed SID string")]
pub struct SidParseError;

impl FromStr for Sid {
    type Err = SidParseError;

    /// Parses `S-1-5-21-…` (case-insensitive `S`; authority decimal or `0x` hex of 48 bits).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('-');
        match parts.next() {
            Some("S" | "s") => {}
            _ => return Err(SidParseError),
        }
        let revision: u8 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .filter(|&r| r == 1)
            .ok_or(SidParseError)?;
        let auth = parts.next().ok_or(SidParseError)?;
        let authority = if let Some(hex) = auth.strip_prefix("0x").or(auth.strip_prefix("0X")) {
            u64::from_str_radix(hex, 16).map_err(|_| SidParseError)?
        } else {
            auth.parse::<u64>().map_err(|_| SidParseError)?
        };
        if authority >= 1 << 48 {
            return Err(SidParseError);
        }
        let mut subs = Vec::new();
        for p in parts {
            if subs.len() == SID_SUB_AUTHORITIES_MAX || p.is_empty() || p.starts_with('+') {
                return Err(SidParseError);
            }
            subs.push(p.parse::<u32>().map_err(|_| SidParseError)?);
        }
        let mut sid = Self::new(authority, &subs);
        sid.revision = revision;
        Ok(sid)
    }
}

/// ACE types ([MS-DTYP] 2.4.4.1), an open set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AceType(pub u8);

impl AceType {
    /// ACCESS_ALLOWED_ACE_TYPE.
    pub const ACCESS_ALLOWED: Self = Self(0x00);
    /// ACCESS_DENIED_ACE_TYPE.
    pub const ACCESS_DENIED: Self = Self(0x01);
    /// SYSTEM_AUDIT_ACE_TYPE.
    pub const SYSTEM_AUDIT: Self = Self(0x02);
    /// SYSTEM_ALARM_ACE_TYPE.
    pub const SYSTEM_ALARM: Self = Self(0x03);
    /// ACCESS_ALLOWED_OBJECT_ACE_TYPE.
    pub const ACCESS_ALLOWED_OBJECT: Self = Self(0x05);
    /// ACCESS_DENIED_OBJECT_ACE_TYPE.
    pub const ACCESS_DENIED_OBJECT: Self = Self(0x06);
    /// SYSTEM_MANDATORY_LABEL_ACE_TYPE.
    pub const SYSTEM_MANDATORY_LABEL: Self = Self(0x11);

    /// The types whose body is exactly `Mask` + `Sid` (allowed, denied, audit, alarm, label).
    const fn is_basic(self) -> bool {
        matches!(self.0, 0x00..=0x03 | 0x11)
    }
}

/// ACE flags ([MS-DTYP] 2.4.4.1 `AceFlags`).
pub mod ace_flags {
    /// OBJECT_INHERIT_ACE: files below inherit it.
    pub const OBJECT_INHERIT: u8 = 0x01;
    /// CONTAINER_INHERIT_ACE: directories below inherit it.
    pub const CONTAINER_INHERIT: u8 = 0x02;
    /// NO_PROPAGATE_INHERIT_ACE.
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    /// INHERIT_ONLY_ACE: it does not apply to the object itself.
    pub const INHERIT_ONLY: u8 = 0x08;
    /// INHERITED_ACE.
    pub const INHERITED: u8 = 0x10;
    /// SUCCESSFUL_ACCESS_ACE_FLAG (audit).
    pub const SUCCESSFUL_ACCESS: u8 = 0x40;
    /// FAILED_ACCESS_ACE_FLAG (audit).
    pub const FAILED_ACCESS: u8 = 0x80;
}

/// Access mask bits ([MS-DTYP] 2.4.3, [MS-SMB2] 2.2.13.1.1 file and directory rights).
pub mod access {
    /// FILE_READ_DATA / FILE_LIST_DIRECTORY.
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// FILE_WRITE_DATA / FILE_ADD_FILE.
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// FILE_READ_EA.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// FILE_WRITE_EA.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// FILE_EXECUTE / FILE_TRAVERSE.
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// FILE_DELETE_CHILD.
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    /// FILE_READ_ATTRIBUTES.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// FILE_WRITE_ATTRIBUTES.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// DELETE.
    pub const DELETE: u32 = 0x0001_0000;
    /// READ_CONTROL.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// WRITE_DAC.
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// WRITE_OWNER.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// SYNCHRONIZE.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// ACCESS_SYSTEM_SECURITY.
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    /// MAXIMUM_ALLOWED.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// GENERIC_ALL.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// GENERIC_EXECUTE.
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    /// GENERIC_WRITE.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// GENERIC_READ.
    pub const GENERIC_READ: u32 = 0x8000_0000;
    /// FILE_GENERIC_READ: READ_CONTROL | SYNCHRONIZE | read data, attributes and EAs.
    pub const FILE_GENERIC_READ: u32 =
        READ_CONTROL | SYNCHRONIZE | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA;
    /// FILE_GENERIC_WRITE: READ_CONTROL | SYNCHRONIZE | write/append data, attributes, EAs.
    pub const FILE_GENERIC_WRITE: u32 = READ_CONTROL
        | SYNCHRONIZE
        | FILE_WRITE_DATA
        | FILE_APPEND_DATA
        | FILE_WRITE_ATTRIBUTES
        | FILE_WRITE_EA;
    /// FILE_GENERIC_EXECUTE: READ_CONTROL | SYNCHRONIZE | execute | read attributes.
    pub const FILE_GENERIC_EXECUTE: u32 =
        READ_CONTROL | SYNCHRONIZE | FILE_EXECUTE | FILE_READ_ATTRIBUTES;
    /// FILE_ALL_ACCESS (0x001F01FF).
    pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
}

/// An access control entry ([MS-DTYP] 2.4.4). Allowed, denied, audit, alarm and label ACEs
/// whose size is exactly header + mask + SID are parsed; any other ACE is kept as its raw
/// body so it round-trips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// `AceType`.
    pub ace_type: AceType,
    /// `AceFlags` (see [`ace_flags`]).
    pub flags: u8,
    /// The body after the 4-byte ACE header.
    pub body: AceBody,
}

/// What follows an ACE header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AceBody {
    /// `Mask` and `Sid` (ACCESS_ALLOWED_ACE 2.4.4.2 and the same-shaped types).
    Basic {
        /// The access mask (see [`access`]).
        mask: u32,
        /// The trustee.
        sid: Sid,
    },
    /// Any other ACE, as its bytes after the header (size − 4).
    Opaque(Vec<u8>),
}

impl Ace {
    /// An ACCESS_ALLOWED ACE.
    pub fn allow(sid: Sid, mask: u32, flags: u8) -> Self {
        Self {
            ace_type: AceType::ACCESS_ALLOWED,
            flags,
            body: AceBody::Basic { mask, sid },
        }
    }

    /// An ACCESS_DENIED ACE.
    pub fn deny(sid: Sid, mask: u32, flags: u8) -> Self {
        Self {
            ace_type: AceType::ACCESS_DENIED,
            flags,
            body: AceBody::Basic { mask, sid },
        }
    }

    /// Encoded size including the header.
    pub fn len(&self) -> usize {
        4 + match &self.body {
            AceBody::Basic { sid, .. } => 4 + sid.len(),
            AceBody::Opaque(b) => b.len(),
        }
    }

    /// Always false: an ACE has at least its header.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Reads one ACE from `r`; `AceSize` must fit in what is left.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ace_type = AceType(r.u8("Ace.AceType")?);
        let flags = r.u8("Ace.AceFlags")?;
        let size = usize::from(r.u16("Ace.AceSize")?);
        if size < 4 {
            return Err(DecodeError::InvalidValue {
                field: "Ace.AceSize",
                value: size as u64,
            });
        }
        let body = r.bytes(size - 4, "Ace.body")?;
        let parsed = if ace_type.is_basic() && body.len() >= 12 {
            let mut br = Reader::new(body);
            let mask = br.u32("Ace.Mask")?;
            match Sid::read(&mut br) {
                Ok(sid) if br.remaining() == 0 => Some(AceBody::Basic { mask, sid }),
                _ => None,
            }
        } else {
            None
        };
        Ok(Self {
            ace_type,
            flags,
            body: parsed.unwrap_or_else(|| AceBody::Opaque(body.to_vec())),
        })
    }

    /// Writes the ACE.
    pub fn write(&self, w: &mut Writer) {
        w.u8(self.ace_type.0);
        w.u8(self.flags);
        w.u16(self.len().min(usize::from(u16::MAX)) as u16);
        match &self.body {
            AceBody::Basic { mask, sid } => {
                w.u32(*mask);
                sid.write(w);
            }
            AceBody::Opaque(b) => w.bytes(b),
        }
    }

    /// The mask and SID of an allowed or denied ACE that applies to the object itself (not
    /// INHERIT_ONLY).
    fn effective(&self) -> Option<(u32, &Sid)> {
        match &self.body {
            AceBody::Basic { mask, sid } if self.flags & ace_flags::INHERIT_ONLY == 0 => {
                Some((*mask, sid))
            }
            _ => None,
        }
    }
}

/// An access control list ([MS-DTYP] 2.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// `AclRevision`: 2 (ACL_REVISION) or 4 (ACL_REVISION_DS, with object ACEs).
    pub revision: u8,
    /// The ACEs, in order.
    pub aces: Vec<Ace>,
}

impl Acl {
    /// ACL_REVISION.
    pub const REVISION: u8 = 2;
    /// ACL_REVISION_DS.
    pub const REVISION_DS: u8 = 4;

    /// An ACL_REVISION list of `aces`.
    pub const fn new(aces: Vec<Ace>) -> Self {
        Self {
            revision: Self::REVISION,
            aces,
        }
    }

    /// Encoded size.
    pub fn len(&self) -> usize {
        8 + self.aces.iter().map(Ace::len).sum::<usize>()
    }

    /// True if there are no ACEs (an empty DACL denies everything).
    pub fn is_empty(&self) -> bool {
        self.aces.is_empty()
    }

    /// Decodes an ACL at the start of `b` (which may continue past it). `AclSize` bounds the
    /// ACEs; every ACE must lie inside it.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let revision = r.u8("Acl.AclRevision")?;
        if !matches!(revision, 2 | 4) {
            return Err(DecodeError::InvalidValue {
                field: "Acl.AclRevision",
                value: revision.into(),
            });
        }
        r.skip(1, "Acl.Sbz1")?;
        let size = usize::from(r.u16("Acl.AclSize")?);
        let count = usize::from(r.u16("Acl.AceCount")?);
        r.skip(2, "Acl.Sbz2")?;
        if size < 8 || size > b.len() {
            return Err(DecodeError::InvalidValue {
                field: "Acl.AclSize",
                value: size as u64,
            });
        }
        // Each ACE takes at least 4 bytes, so `count` is bounded by the size before allocating.
        if count > (size - 8) / 4 {
            return Err(DecodeError::TooLong {
                field: "Acl.AceCount",
                len: count as u64,
                max: ((size - 8) / 4) as u64,
            });
        }
        let mut ar = Reader::at(&b[..size], 8);
        let mut aces = Vec::with_capacity(count);
        for _ in 0..count {
            aces.push(Ace::read(&mut ar)?);
        }
        Ok(Self { revision, aces })
    }

    /// Writes the ACL with `AclSize` equal to its encoded length.
    pub fn write(&self, w: &mut Writer) {
        w.u8(self.revision);
        w.u8(0);
        w.u16(self.len().min(usize::from(u16::MAX)) as u16);
        w.u16(self.aces.len().min(usize::from(u16::MAX)) as u16);
        w.u16(0);
        for a in &self.aces {
            a.write(w);
        }
    }
}

/// SECURITY_DESCRIPTOR `Control` bits ([MS-DTYP] 2.4.6).
pub mod control {
    /// OD: owner defaulted.
    pub const OWNER_DEFAULTED: u16 = 0x0001;
    /// GD: group defaulted.
    pub const GROUP_DEFAULTED: u16 = 0x0002;
    /// DP: the DACL is present (a present DACL with offset 0 is a NULL DACL: all access).
    pub const DACL_PRESENT: u16 = 0x0004;
    /// DD: DACL defaulted.
    pub const DACL_DEFAULTED: u16 = 0x0008;
    /// SP: the SACL is present.
    pub const SACL_PRESENT: u16 = 0x0010;
    /// SD: SACL defaulted.
    pub const SACL_DEFAULTED: u16 = 0x0020;
    /// DI: DACL auto-inherited.
    pub const DACL_AUTO_INHERITED: u16 = 0x0400;
    /// SI: SACL auto-inherited.
    pub const SACL_AUTO_INHERITED: u16 = 0x0800;
    /// PD: DACL protected from inheritance.
    pub const DACL_PROTECTED: u16 = 0x1000;
    /// PS: SACL protected.
    pub const SACL_PROTECTED: u16 = 0x2000;
    /// SR: self-relative (always set on the wire).
    pub const SELF_RELATIVE: u16 = 0x8000;
}

/// The `AdditionalInformation` bits of QUERY_INFO / SET_INFO for security ([MS-SMB2] 2.2.37).
pub mod secinfo {
    /// OWNER_SECURITY_INFORMATION.
    pub const OWNER: u32 = 0x0000_0001;
    /// GROUP_SECURITY_INFORMATION.
    pub const GROUP: u32 = 0x0000_0002;
    /// DACL_SECURITY_INFORMATION.
    pub const DACL: u32 = 0x0000_0004;
    /// SACL_SECURITY_INFORMATION.
    pub const SACL: u32 = 0x0000_0008;
    /// LABEL_SECURITY_INFORMATION.
    pub const LABEL: u32 = 0x0000_0010;
    /// ATTRIBUTE_SECURITY_INFORMATION.
    pub const ATTRIBUTE: u32 = 0x0000_0020;
    /// SCOPE_SECURITY_INFORMATION.
    pub const SCOPE: u32 = 0x0000_0040;
    /// BACKUP_SECURITY_INFORMATION.
    pub const BACKUP: u32 = 0x0001_0000;
}

/// A self-relative security descriptor ([MS-DTYP] 2.4.6).
#[doc(alias = "SECURITY_DESCRIPTOR")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// `Control` as sent (see [`control`]). The encoder adds DP / SP when a DACL / SACL is
    /// present; a NULL DACL is `DACL_PRESENT` with `dacl: None`.
    pub control: u16,
    /// The owner SID.
    pub owner: Option<Sid>,
    /// The primary group SID.
    pub group: Option<Sid>,
    /// The system ACL (only read when SP is set).
    pub sacl: Option<Acl>,
    /// The discretionary ACL (only read when DP is set).
    pub dacl: Option<Acl>,
}

impl SecurityDescriptor {
    /// The fixed header's size.
    pub const HEADER_LEN: usize = 20;

    /// Decodes a self-relative descriptor. Offsets of 0 mean absent; every other offset must
    /// point past the header and its item must lie inside `b`. Trailing bytes are allowed
    /// (items may be anywhere).
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() > SECURITY_DESCRIPTOR_MAX {
            return Err(DecodeError::TooLong {
                field: "SecurityDescriptor",
                len: b.len() as u64,
                max: SECURITY_DESCRIPTOR_MAX as u64,
            });
        }
        let mut r = Reader::new(b);
        let revision = r.u8("SecurityDescriptor.Revision")?;
        if revision != 1 {
            return Err(DecodeError::InvalidValue {
                field: "SecurityDescriptor.Revision",
                value: revision.into(),
            });
        }
        r.skip(1, "SecurityDescriptor.Sbz1")?;
        let control = r.u16("SecurityDescriptor.Control")?;
        let owner = r.u32("SecurityDescriptor.OffsetOwner")?;
        let group = r.u32("SecurityDescriptor.OffsetGroup")?;
        let sacl = r.u32("SecurityDescriptor.OffsetSacl")?;
        let dacl = r.u32("SecurityDescriptor.OffsetDacl")?;
        let item = |off: u32, field: &'static str| -> Result<Option<&[u8]>, DecodeError> {
            let off = off as usize;
            if off == 0 {
                return Ok(None);
            }
            if off < Self::HEADER_LEN || off >= b.len() {
                return Err(DecodeError::InvalidValue {
                    field,
                    value: off as u64,
                });
            }
            Ok(Some(&b[off..]))
        };
        let sid_at = |off: u32, field: &'static str| -> Result<Option<Sid>, DecodeError> {
            item(off, field)?
                .map(|s| Sid::read(&mut Reader::new(s)))
                .transpose()
        };
        let acl_at =
            |off: u32, field: &'static str, present: bool| -> Result<Option<Acl>, DecodeError> {
                if !present {
                    return Ok(None);
                }
                item(off, field)?.map(Acl::decode).transpose()
            };
        Ok(Self {
            control,
            owner: sid_at(owner, "SecurityDescriptor.OffsetOwner")?,
            group: sid_at(group, "SecurityDescriptor.OffsetGroup")?,
            sacl: acl_at(
                sacl,
                "SecurityDescriptor.OffsetSacl",
                control & control::SACL_PRESENT != 0,
            )?,
            dacl: acl_at(
                dacl,
                "SecurityDescriptor.OffsetDacl",
                control & control::DACL_PRESENT != 0,
            )?,
        })
    }

    /// Encodes self-relative: header, owner, group, SACL, DACL.
    pub fn encode(&self) -> Vec<u8> {
        let mut control = self.control;
        if self.dacl.is_some() {
            control |= control::DACL_PRESENT;
        }
        if self.sacl.is_some() {
            control |= control::SACL_PRESENT;
        }
        let mut w = Writer::new();
        w.u8(1);
        w.u8(0);
        w.u16(control);
        w.zeros(16);
        if let Some(s) = &self.owner {
            w.patch_u32(4, w.len() as u32);
            s.write(&mut w);
        }
        if let Some(s) = &self.group {
            w.patch_u32(8, w.len() as u32);
            s.write(&mut w);
        }
        if let Some(a) = &self.sacl {
            w.patch_u32(12, w.len() as u32);
            a.write(&mut w);
        }
        if let Some(a) = &self.dacl {
            w.patch_u32(16, w.len() as u32);
            a.write(&mut w);
        }
        w.into_inner()
    }

    /// True if the DACL is present but NULL (no ACL: everyone has all access).
    pub const fn has_null_dacl(&self) -> bool {
        self.control & control::DACL_PRESENT != 0 && self.dacl.is_none()
    }

    /// Keeps only the parts `additional_info` (see [`secinfo`]) asks for, as QUERY_INFO must
    /// ([MS-SMB2] 3.3.5.20.3).
    pub fn filtered(&self, additional_info: u32) -> Self {
        let want = |bit: u32| additional_info & bit != 0;
        let mut control = self.control | control::SELF_RELATIVE;
        if !want(secinfo::DACL) {
            control &= !(control::DACL_PRESENT
                | control::DACL_DEFAULTED
                | control::DACL_AUTO_INHERITED
                | control::DACL_PROTECTED);
        }
        if !want(secinfo::SACL) {
            control &= !(control::SACL_PRESENT
                | control::SACL_DEFAULTED
                | control::SACL_AUTO_INHERITED
                | control::SACL_PROTECTED);
        }
        Self {
            control,
            owner: self.owner.clone().filter(|_| want(secinfo::OWNER)),
            group: self.group.clone().filter(|_| want(secinfo::GROUP)),
            sacl: self.sacl.clone().filter(|_| want(secinfo::SACL)),
            dacl: self.dacl.clone().filter(|_| want(secinfo::DACL)),
        }
    }
}

/// The access mask a unix permission triplet (`rwx` in the low 3 bits) grants.
///
/// `rwx` is full control (FILE_ALL_ACCESS), as Samba maps it, except for FILE_DELETE_CHILD.
/// Otherwise read is FILE_GENERIC_READ, write is FILE_GENERIC_WRITE, execute is
/// FILE_GENERIC_EXECUTE. Everyone may always read attributes and the descriptor (stat works
/// without permission bits). The owner may always change the DACL, owner and attributes
/// (chmod/chown/utimes need no permission bits), and gets DELETE with write.
///
/// FILE_DELETE_CHILD carries the sticky bit (`sticky`, mode 01000), the way the Linux cifs
/// client reads and writes it: the bit is set when the owner's ACE has FILE_DELETE_CHILD and
/// no group or Everyone ACE has it. So the owner gets FILE_DELETE_CHILD only when the sticky
/// bit is set (in a sticky directory its owner may remove any entry), and anyone else who
/// may write a directory gets it only when the bit is clear (unix lets whoever can write a
/// directory remove its entries, unless it is sticky).
pub fn mode_bits_to_mask(rwx: u32, is_dir: bool, is_owner: bool, sticky: bool) -> u32 {
    use access::*;
    let rwx = rwx & 7;
    let mut mask = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
    if rwx == 7 {
        mask |= FILE_ALL_ACCESS & !FILE_DELETE_CHILD;
    } else {
        if rwx & 4 != 0 {
            mask |= FILE_GENERIC_READ;
        }
        if rwx & 2 != 0 {
            mask |= FILE_GENERIC_WRITE;
            if is_owner {
                mask |= DELETE;
            }
        }
        if rwx & 1 != 0 {
            mask |= FILE_GENERIC_EXECUTE;
        }
    }
    if is_owner {
        mask |= WRITE_DAC | WRITE_OWNER | FILE_WRITE_ATTRIBUTES;
        if sticky {
            mask |= FILE_DELETE_CHILD;
        }
    } else if is_dir && rwx & 2 != 0 && !sticky {
        mask |= FILE_DELETE_CHILD;
    }
    mask
}

/// The unix permission triplet an access mask grants: read if it has FILE_READ_DATA (or
/// GENERIC_READ/ALL), write if FILE_WRITE_DATA or FILE_APPEND_DATA (or GENERIC_WRITE/ALL),
/// execute if FILE_EXECUTE (or GENERIC_EXECUTE/ALL).
pub const fn mask_to_mode_bits(mask: u32) -> u32 {
    use access::*;
    let all = mask & GENERIC_ALL != 0;
    let mut rwx = 0;
    if all || mask & (FILE_READ_DATA | GENERIC_READ) != 0 {
        rwx |= 4;
    }
    if all || mask & (FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_WRITE) != 0 {
        rwx |= 2;
    }
    if all || mask & (FILE_EXECUTE | GENERIC_EXECUTE) != 0 {
        rwx |= 1;
    }
    rwx
}

/// A descriptor for a unix file: owner `S-1-22-1-<uid>`, group `S-1-22-2-<gid>`, and a DACL
/// of three ACCESS_ALLOWED ACEs (owner, group, Everyone) whose masks come from the mode's
/// permission triplets ([`mode_bits_to_mask`]). Only the parts `additional_info` asks for are
/// included (see [`secinfo`]); no SACL is ever returned. The DACL is marked protected (a unix
/// mode does not inherit) and, on a directory, carries no inheritable ACEs.
pub fn from_mode(
    uid: u32,
    gid: u32,
    mode: u32,
    is_dir: bool,
    additional_info: u32,
) -> SecurityDescriptor {
    let owner = Sid::unix_user(uid);
    let group = Sid::unix_group(gid);
    let sticky = mode & 0o1000 != 0;
    let mut aces = Vec::with_capacity(4);
    if mode & 0o6000 != 0 {
        // Set-user-ID and set-group-ID have no ACE form: the mode SID Linux cifs
        // (`modefromsid`) and Windows' NFS server use, in a deny ACE that denies nothing.
        aces.push(Ace::deny(Sid::nfs_mode(mode & 0o7777), 0, 0));
    }
    aces.extend([
        Ace::allow(
            owner.clone(),
            mode_bits_to_mask(mode >> 6, is_dir, true, sticky),
            0,
        ),
        Ace::allow(
            group.clone(),
            mode_bits_to_mask(mode >> 3, is_dir, false, sticky),
            0,
        ),
        Ace::allow(
            Sid::everyone(),
            mode_bits_to_mask(mode, is_dir, false, sticky),
            0,
        ),
    ]);
    let dacl = Acl::new(aces);
    SecurityDescriptor {
        control: control::SELF_RELATIVE | control::DACL_PRESENT | control::DACL_PROTECTED,
        owner: Some(owner),
        group: Some(group),
        sacl: None,
        dacl: Some(dacl),
    }
    .filtered(additional_info)
}

/// The unix permission bits (`0o1777`, or `0o7777` from an `S-1-5-88-3-<mode>` ACE) a
/// descriptor's DACL stands for, using the descriptor's own owner and group SIDs. See
/// [`to_mode_with`].
pub fn to_mode(sd: &SecurityDescriptor) -> Option<u32> {
    to_mode_with(sd, sd.owner.as_ref(), sd.group.as_ref())
}

/// The unix permission bits a DACL stands for, with `owner` / `group` the SIDs of the file's
/// owner and group (the server's current ones when the descriptor carries none).
///
/// - No DACL in the descriptor: `None` (nothing to change).
/// - A NULL DACL: `0o777`.
/// - An ACE for `S-1-5-88-3-<mode>` (Linux cifs `modefromsid`): that mode's low 12 bits.
/// - Otherwise every ACE that applies to the object must be an ACCESS_ALLOWED or
///   ACCESS_DENIED ACE for the owner, the group or Everyone. A SID matches the owner (group)
///   if it is equal or names the same unix id in the other form (`S-1-22-1-<uid>` and
///   `S-1-5-88-1-<uid>`, as Linux cifs `idsfromsid` sends). Allowed masks become the owner,
///   group and other triplets ([`mask_to_mode_bits`]); denied bits are then removed from
///   their trustee's triplet (Everyone's from all three), since a deny wins in Windows. Any
///   other trustee or ACE type has no mode equivalent: `None` (see
///   [`to_mode_ignoring_others`]). Inherit-only ACEs are ignored. Everyone's allowed bits are
///   not added to the owner's or group's, so [`from_mode`] and this are inverses.
/// - The sticky bit (01000), as Linux cifs reads it: taking the allowed ACEs in order, one
///   for the owner with FILE_DELETE_CHILD sets it, unless one for the group or Everyone with
///   FILE_DELETE_CHILD came first; one for the group or Everyone with it clears it for good.
///   (GENERIC_ALL alone does not count.) See [`mode_bits_to_mask`].
pub fn to_mode_with(
    sd: &SecurityDescriptor,
    owner: Option<&Sid>,
    group: Option<&Sid>,
) -> Option<u32> {
    dacl_mode(sd, owner, group, false)
}

/// Like [`to_mode_with`], but ACEs for trustees other than the owner, the group and
/// Everyone (SYSTEM, Administrators, other users — what Windows Explorer and robocopy add)
/// are skipped instead of making the DACL unmappable.
pub fn to_mode_ignoring_others(
    sd: &SecurityDescriptor,
    owner: Option<&Sid>,
    group: Option<&Sid>,
) -> Option<u32> {
    dacl_mode(sd, owner, group, true)
}

/// `a` and `b` are the same trustee, directly or as the same unix user / group.
fn same_trustee(a: &Sid, b: Option<&Sid>) -> bool {
    let Some(b) = b else {
        return false;
    };
    a == b
        || a.as_unix_user().is_some() && a.as_unix_user() == b.as_unix_user()
        || a.as_unix_group().is_some() && a.as_unix_group() == b.as_unix_group()
}

fn dacl_mode(
    sd: &SecurityDescriptor,
    owner: Option<&Sid>,
    group: Option<&Sid>,
    ignore_others: bool,
) -> Option<u32> {
    if sd.has_null_dacl() {
        return Some(0o777);
    }
    let dacl = sd.dacl.as_ref()?;
    let everyone = Sid::everyone();
    for ace in &dacl.aces {
        if let AceBody::Basic { sid, .. } = &ace.body
            && let Some(mode) = sid.as_nfs_mode()
        {
            return Some(mode & 0o7777);
        }
    }
    let (mut allowed, mut denied) = (0u32, 0u32);
    // The sticky bit, and whether a group/Everyone FILE_DELETE_CHILD has ruled it out.
    let (mut sticky, mut sticky_out) = (false, false);
    for ace in &dacl.aces {
        if ace.flags & ace_flags::INHERIT_ONLY != 0 {
            continue;
        }
        let known_type = matches!(
            ace.ace_type,
            AceType::ACCESS_ALLOWED | AceType::ACCESS_DENIED
        );
        let Some((mask, sid)) = ace.effective().filter(|_| known_type) else {
            if ignore_others {
                continue;
            }
            return None;
        };
        let bits = mask_to_mode_bits(mask);
        let is_owner = same_trustee(sid, owner);
        if ace.ace_type == AceType::ACCESS_ALLOWED
            && mask & access::FILE_DELETE_CHILD != 0
            && mask & access::GENERIC_ALL == 0
            && !sticky_out
            && (is_owner || same_trustee(sid, group) || *sid == everyone)
        {
            if is_owner {
                sticky = true;
            } else {
                sticky = false;
                sticky_out = true;
            }
        }
        let shifted = if is_owner {
            bits << 6
        } else if same_trustee(sid, group) {
            bits << 3
        } else if *sid == everyone {
            if ace.ace_type == AceType::ACCESS_DENIED {
                bits * 0o111
            } else {
                bits
            }
        } else if ignore_others {
            continue;
        } else {
            return None;
        };
        if ace.ace_type == AceType::ACCESS_DENIED {
            denied |= shifted;
        } else {
            allowed |= shifted;
        }
    }
    Some((allowed & !denied) | if sticky { 0o1000 } else { 0 })
}

/// The mode of the descriptor's `S-1-5-88-3-<mode>` ACE, if it has one: then [`to_mode`]
/// gives all twelve mode bits, otherwise the sticky bit and the permissions only.
pub fn nfs_mode_ace(sd: &SecurityDescriptor) -> Option<u32> {
    sd.dacl
        .as_ref()?
        .aces
        .iter()
        .find_map(|ace| match &ace.body {
            AceBody::Basic { sid, .. } => sid.as_nfs_mode().map(|m| m & 0o7777),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn sid_binary_layout_matches_ms_dtyp() {
        // [MS-DTYP] 2.4.2.2: S-1-5-32-544 is 01 02 000000000005 20000000 20020000.
        let sid: Sid = "S-1-5-32-544".parse().unwrap();
        assert_eq!(
            hex::encode(sid.encode()),
            "01020000000000052000000020020000"
        );
        assert_eq!(Sid::decode(&sid.encode()).unwrap(), sid);
        assert_eq!(sid.to_string(), "S-1-5-32-544");
        assert_eq!(sid, Sid::builtin_administrators());
    }

    #[test]
    fn sid_text_forms() {
        assert_eq!(Sid::everyone().to_string(), "S-1-1-0");
        assert_eq!(Sid::unix_user(1000).to_string(), "S-1-22-1-1000");
        assert_eq!(Sid::unix_group(100).to_string(), "S-1-22-2-100");
        let big = Sid::new(0x1234_5678_9abc, &[1]);
        assert_eq!(big.to_string(), "S-1-0x123456789ABC-1");
        assert_eq!(big.to_string().parse::<Sid>().unwrap(), big);
        for bad in [
            "",
            "S",
            "S-1",
            "X-1-5",
            "S-2-5",
            "S-1-5-",
            "S-1-5-x",
            "S-1-5--1",
            "S-1-281474976710656",
            "S-1-5-4294967296",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        ] {
            assert!(bad.parse::<Sid>().is_err(), "{bad}");
        }
        assert_eq!("S-1-5".parse::<Sid>().unwrap().sub_authorities.len(), 0);
    }

    #[test]
    fn unix_ids_round_trip() {
        assert_eq!(Sid::unix_user(7).as_unix_user(), Some(7));
        assert_eq!(Sid::unix_user(7).as_unix_group(), None);
        assert_eq!(Sid::unix_group(9).as_unix_group(), Some(9));
        assert_eq!(
            "S-1-5-88-1-42".parse::<Sid>().unwrap().as_unix_user(),
            Some(42)
        );
        assert_eq!(
            "S-1-5-88-3-420".parse::<Sid>().unwrap().as_nfs_mode(),
            Some(420)
        );
        assert_eq!(Sid::everyone().as_unix_user(), None);
    }

    #[test]
    fn sid_decode_rejects_garbage() {
        assert!(Sid::decode(&[]).is_err());
        assert!(Sid::decode(&[2, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Sid::decode(&[1, 16, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Sid::decode(&[1, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Sid::decode(&[1, 0, 0, 0, 0, 0, 0, 1, 9]).is_err());
    }

    #[test]
    fn descriptor_layout_from_the_spec() {
        // A self-relative descriptor, owner S-1-1-0, no group, DACL with one
        // ACCESS_ALLOWED ACE (FILE_ALL_ACCESS, S-1-1-0), laid out per [MS-DTYP] 2.4.6 / 2.4.5 /
        // 2.4.4.2.
        let bytes = hex::decode(concat!(
            "0100",
            "0480",
            "14000000",
            "00000000",
            "00000000",
            "20000000",
            "010100000000000100000000",
            "0200",
            "1c00",
            "0100",
            "0000",
            "00",
            "00",
            "1400",
            "ff011f00",
            "010100000000000100000000",
        ))
        .unwrap();
        let sd = SecurityDescriptor::decode(&bytes).unwrap();
        assert_eq!(sd.owner, Some(Sid::everyone()));
        assert_eq!(sd.group, None);
        assert_eq!(
            sd.dacl,
            Some(Acl::new(vec![Ace::allow(
                Sid::everyone(),
                access::FILE_ALL_ACCESS,
                0
            )]))
        );
        assert_eq!(sd.encode(), bytes);
    }

    #[test]
    fn descriptor_offsets_are_checked() {
        let mut sd = from_mode(1, 2, 0o644, false, 0xf).encode();
        assert!(SecurityDescriptor::decode(&sd).is_ok());
        sd[4] = 3; // owner inside the header
        assert!(SecurityDescriptor::decode(&sd).is_err());
        sd[4] = 0xff; // past the end
        assert!(SecurityDescriptor::decode(&sd).is_err());
        let mut sd = from_mode(1, 2, 0o644, false, 0xf).encode();
        let n = sd.len();
        sd.truncate(n - 1);
        assert!(SecurityDescriptor::decode(&sd).is_err());
        assert!(SecurityDescriptor::decode(&[1, 0, 4, 0x80]).is_err());
    }

    #[test]
    fn null_dacl_and_opaque_aces() {
        let sd = SecurityDescriptor {
            control: control::SELF_RELATIVE | control::DACL_PRESENT,
            owner: None,
            group: None,
            sacl: None,
            dacl: None,
        };
        let back = SecurityDescriptor::decode(&sd.encode()).unwrap();
        assert!(back.has_null_dacl());
        assert_eq!(to_mode(&back), Some(0o777));
        let odd = Ace {
            ace_type: AceType::ACCESS_ALLOWED_OBJECT,
            flags: 3,
            body: AceBody::Opaque(vec![1, 2, 3, 4, 5, 6, 7, 8]),
        };
        let acl = Acl::new(vec![odd.clone()]);
        let mut w = Writer::new();
        acl.write(&mut w);
        assert_eq!(Acl::decode(w.as_slice()).unwrap().aces, vec![odd]);
    }

    #[test]
    fn from_mode_honours_additional_info() {
        let sd = from_mode(1000, 100, 0o750, true, secinfo::OWNER);
        assert_eq!(sd.owner, Some(Sid::unix_user(1000)));
        assert!(sd.group.is_none() && sd.dacl.is_none() && sd.sacl.is_none());
        assert_eq!(sd.control & control::DACL_PRESENT, 0);
        let sd = from_mode(1000, 100, 0o750, true, secinfo::DACL | secinfo::SACL);
        assert!(sd.owner.is_none() && sd.sacl.is_none());
        let dacl = sd.dacl.unwrap();
        assert_eq!(dacl.aces.len(), 3);
        let AceBody::Basic { mask, .. } = &dacl.aces[0].body else {
            panic!()
        };
        // Full control but FILE_DELETE_CHILD, which would say "sticky".
        assert_eq!(*mask, access::FILE_ALL_ACCESS & !access::FILE_DELETE_CHILD);
        let AceBody::Basic { mask, .. } = &dacl.aces[1].body else {
            panic!()
        };
        assert_eq!(*mask & access::FILE_GENERIC_READ, access::FILE_GENERIC_READ);
        assert_eq!(*mask & access::FILE_WRITE_DATA, 0);
        let AceBody::Basic { mask, sid } = &dacl.aces[2].body else {
            panic!()
        };
        assert_eq!(*sid, Sid::everyone());
        assert_eq!(*mask & access::FILE_READ_DATA, 0);
        assert_ne!(*mask & access::FILE_READ_ATTRIBUTES, 0);
    }

    #[test]
    fn to_mode_is_the_inverse_of_from_mode() {
        for mode in 0..0o10000 {
            for is_dir in [false, true] {
                let sd = from_mode(5, 6, mode, is_dir, 0x7);
                let back = SecurityDescriptor::decode(&sd.encode()).unwrap();
                assert_eq!(to_mode(&back), Some(mode), "{mode:o}");
            }
        }
    }

    /// Goal: a descriptor written the way Linux cifs (`cifsacl`) writes one for a chmod, and
    /// ours read the way it reads one, give back the mode, sticky bit included (the bit
    /// Linux 6.1 saw appear on 0751).
    ///
    /// Linux cifs, as its documentation and behaviour describe: the owner's ACE always has
    /// FILE_DELETE_CHILD, the group's and Everyone's only without the sticky bit; read,
    /// write and execute are whole sets of rights (its write set includes
    /// FILE_DELETE_CHILD); an empty ACE gets the minimum rights.
    /// Reading, an ACE counts as write only with all of FILE_WRITE_DATA, FILE_APPEND_DATA,
    /// FILE_WRITE_EA and FILE_WRITE_ATTRIBUTES (likewise read, execute), and the sticky bit
    /// is FILE_DELETE_CHILD in the owner's ACE and in no group or Everyone ACE before or
    /// after it.
    #[test]
    fn linux_cifs_descriptors_round_trip() {
        use access::*;
        const COMMON: u32 =
            FILE_WRITE_ATTRIBUTES | DELETE | READ_CONTROL | WRITE_DAC | WRITE_OWNER | SYNCHRONIZE;
        const READ: u32 = FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES | COMMON;
        const WRITE: u32 = FILE_WRITE_DATA
            | FILE_APPEND_DATA
            | FILE_WRITE_EA
            | FILE_DELETE_CHILD
            | FILE_READ_ATTRIBUTES
            | COMMON;
        const EXEC: u32 = FILE_EXECUTE | FILE_READ_ATTRIBUTES | COMMON;
        const MINIMUM: u32 = FILE_READ_EA | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
        let kernel_mask = |rwx: u32, delete_child: bool| {
            let mut m = 0;
            if rwx & 4 != 0 {
                m |= READ;
            }
            if rwx & 2 != 0 {
                m |= WRITE;
            }
            if rwx & 1 != 0 {
                m |= EXEC;
            }
            if delete_child {
                m |= FILE_DELETE_CHILD;
            }
            if m == 0 { MINIMUM } else { m }
        };
        // What the kernel reads from a mask: whole sets only.
        let kernel_bits = |mask: u32| {
            let has = |set: u32| mask & set == set;
            let mut rwx = 0;
            if has(FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES) {
                rwx |= 4;
            }
            if has(FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES) {
                rwx |= 2;
            }
            if has(FILE_EXECUTE) {
                rwx |= 1;
            }
            rwx
        };
        let (owner, group) = (Sid::unix_user(1000), Sid::unix_group(1001));
        for mode in 0..0o2000u32 {
            let sticky = mode & 0o1000 != 0;
            // The kernel writes, we read.
            let sd = SecurityDescriptor {
                control: control::SELF_RELATIVE | control::DACL_PRESENT,
                owner: None,
                group: None,
                sacl: None,
                dacl: Some(Acl::new(vec![
                    Ace::allow(owner.clone(), kernel_mask(mode >> 6, true), 0),
                    Ace::allow(group.clone(), kernel_mask(mode >> 3, !sticky), 0),
                    Ace::allow(Sid::everyone(), kernel_mask(mode, !sticky), 0),
                ])),
            };
            // Its write rights include FILE_DELETE_CHILD, so a sticky mode whose group or
            // others may write comes out of the kernel without the sticky bit (it reads its
            // own descriptor the same way).
            let kept = if sticky && mode & 0o022 != 0 {
                mode & 0o777
            } else {
                mode
            };
            assert_eq!(
                to_mode_with(&sd, Some(&owner), Some(&group)),
                Some(kept),
                "{mode:o} as Linux cifs writes it"
            );
            // We write, the kernel reads.
            for is_dir in [false, true] {
                let ours = from_mode(1000, 1001, mode, is_dir, 0x7);
                let aces = &ours.dacl.as_ref().unwrap().aces;
                let mut got = 0;
                let mut out = false;
                for (ace, shift) in aces.iter().zip([6, 3, 0]) {
                    let AceBody::Basic { mask, .. } = &ace.body else {
                        panic!()
                    };
                    got |= kernel_bits(*mask) << shift;
                    if mask & FILE_DELETE_CHILD != 0 && !out {
                        if shift == 6 {
                            got |= 0o1000;
                        } else {
                            got &= !0o1000;
                            out = true;
                        }
                    }
                }
                assert_eq!(
                    got, mode,
                    "{mode:o} (dir {is_dir}) as Linux cifs reads ours"
                );
            }
        }
    }

    #[test]
    fn to_mode_refuses_what_a_mode_cannot_say() {
        let mut sd = from_mode(5, 6, 0o644, false, 0x7);
        if let Some(d) = &mut sd.dacl {
            d.aces.push(Ace::allow(
                Sid::builtin_administrators(),
                access::FILE_ALL_ACCESS,
                0,
            ));
        }
        assert_eq!(to_mode(&sd), None);
        assert_eq!(
            to_mode_ignoring_others(&sd, sd.owner.as_ref(), sd.group.as_ref()),
            Some(0o644)
        );
        // Deny ACEs remove bits: Everyone's from every triplet, the group's from the group.
        let mut sd = from_mode(5, 6, 0o666, false, 0x7);
        if let Some(d) = &mut sd.dacl {
            d.aces
                .insert(0, Ace::deny(Sid::everyone(), access::FILE_WRITE_DATA, 0));
        }
        assert_eq!(to_mode(&sd), Some(0o444));
        let mut sd = from_mode(5, 6, 0o666, false, 0x7);
        if let Some(d) = &mut sd.dacl {
            d.aces
                .insert(0, Ace::deny(Sid::unix_group(6), access::FILE_READ_DATA, 0));
        }
        assert_eq!(to_mode(&sd), Some(0o626));
        // An audit ACE in a DACL has no mode meaning.
        let mut sd = from_mode(5, 6, 0o644, false, 0x7);
        if let Some(d) = &mut sd.dacl {
            d.aces.push(Ace {
                ace_type: AceType::SYSTEM_AUDIT,
                flags: 0,
                body: AceBody::Basic {
                    mask: 1,
                    sid: Sid::everyone(),
                },
            });
        }
        assert_eq!(to_mode(&sd), None);
        // Linux cifs idsfromsid names the owner S-1-5-88-1-<uid>.
        let sd = SecurityDescriptor {
            control: control::SELF_RELATIVE,
            owner: None,
            group: None,
            sacl: None,
            dacl: Some(Acl::new(vec![
                Ace::allow(
                    "S-1-5-88-1-5".parse().unwrap(),
                    access::FILE_GENERIC_READ | access::FILE_GENERIC_WRITE,
                    0,
                ),
                Ace::allow(
                    "S-1-5-88-2-6".parse().unwrap(),
                    access::FILE_GENERIC_READ,
                    0,
                ),
                Ace::allow(Sid::everyone(), 0, 0),
            ])),
        };
        assert_eq!(
            to_mode_with(&sd, Some(&Sid::unix_user(5)), Some(&Sid::unix_group(6))),
            Some(0o640)
        );
        // An inherit-only ACE for someone else does not apply to the object.
        let mut sd = from_mode(5, 6, 0o644, false, 0x7);
        if let Some(d) = &mut sd.dacl {
            d.aces.push(Ace::allow(
                Sid::creator_owner(),
                access::FILE_ALL_ACCESS,
                ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT,
            ));
        }
        assert_eq!(to_mode(&sd), Some(0o644));
        // No DACL: nothing to change.
        assert_eq!(
            to_mode(&from_mode(5, 6, 0o644, false, secinfo::OWNER)),
            None
        );
        // The DACL without owner/group SIDs in the descriptor, with the server's.
        let sd = from_mode(5, 6, 0o640, false, secinfo::DACL);
        assert_eq!(to_mode(&sd), None);
        assert_eq!(
            to_mode_with(&sd, Some(&Sid::unix_user(5)), Some(&Sid::unix_group(6))),
            Some(0o640)
        );
        // The Linux cifs modefromsid ACE.
        let sd = SecurityDescriptor {
            control: control::SELF_RELATIVE,
            owner: None,
            group: None,
            sacl: None,
            dacl: Some(Acl::new(vec![Ace::allow(
                "S-1-5-88-3-1517".parse().unwrap(),
                0,
                0,
            )])),
        };
        assert_eq!(to_mode(&sd), Some(0o2755));
    }

    fn arb_sid() -> impl Strategy<Value = Sid> {
        (
            any::<u64>(),
            proptest::collection::vec(any::<u32>(), 0..=15),
        )
            .prop_map(|(a, subs)| Sid::new(a & 0xffff_ffff_ffff, &subs))
    }

    proptest! {
        /// Goal: any owner, group and twelve-bit mode survive from_mode, the wire and to_mode.
        #[test]
        fn mode_round_trips_through_a_descriptor(
            uid in any::<u32>(),
            gid in any::<u32>(),
            mode in 0u32..0o10000,
            is_dir in any::<bool>(),
        ) {
            let sd = from_mode(uid, gid, mode, is_dir, 0x7);
            let back = SecurityDescriptor::decode(&sd.encode()).unwrap();
            prop_assert_eq!(to_mode(&back), Some(mode));
            prop_assert_eq!(back.owner.as_ref().and_then(Sid::as_unix_user), Some(uid));
            prop_assert_eq!(back.group.as_ref().and_then(Sid::as_unix_group), Some(gid));
            // Without the mode ACE (set-user/group-ID only), the ACEs carry the rest.
            prop_assert_eq!(nfs_mode_ace(&back).is_some(), mode & 0o6000 != 0);
        }

        #[test]
        fn sid_round_trips(sid in arb_sid()) {
            prop_assert_eq!(Sid::decode(&sid.encode()).unwrap(), sid.clone());
            prop_assert_eq!(sid.to_string().parse::<Sid>().unwrap(), sid);
        }

        #[test]
        fn descriptor_round_trips(
            owner in proptest::option::of(arb_sid()),
            group in proptest::option::of(arb_sid()),
            aces in proptest::option::of(proptest::collection::vec((any::<bool>(), any::<u8>(), any::<u32>(), arb_sid()), 0..6)),
            sacl in any::<bool>(),
        ) {
            let acl = aces.map(|v| Acl::new(v.into_iter().map(|(allow, flags, mask, sid)| {
                if allow { Ace::allow(sid, mask, flags) } else { Ace::deny(sid, mask, flags) }
            }).collect()));
            let sd = SecurityDescriptor {
                control: control::SELF_RELATIVE | if acl.is_some() { control::DACL_PRESENT } else { 0 }
                    | if sacl { control::SACL_PRESENT } else { 0 },
                owner,
                group,
                sacl: sacl.then(|| Acl::new(vec![])),
                dacl: acl,
            };
            prop_assert_eq!(SecurityDescriptor::decode(&sd.encode()).unwrap(), sd);
        }

        #[test]
        fn descriptor_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = SecurityDescriptor::decode(&b);
        }
    }
}
