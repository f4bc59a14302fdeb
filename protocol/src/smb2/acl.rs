//! Windows access checks over a security descriptor, sans-IO: who a caller is ([`Token`]),
//! the generic mapping for files ([`map_generic`]), the access check and MAXIMUM_ALLOWED
//! ([MS-DTYP] 2.5.3.2: [`maximum_allowed`], [`access_check`]), what a new file or directory
//! inherits from its parent ([MS-DTYP] 2.5.3.4: [`inherit`]), the POSIX mode closest to a
//! descriptor ([`closest_mode`]), and the stored form of a client-set descriptor with the
//! fingerprint of the mode it was set against ([`StoredSd`], the value of the `dittofs.ntacl`
//! extended attribute).
//!
//! The rules the access check follows ([MS-DTYP] 2.5.3.2):
//! - ACEs are read in order; inherit-only ACEs are skipped; an ACE applies when its SID is in
//!   the token. For each right, the first applicable ACE that names it decides: an allow ACE
//!   grants it, a deny ACE denies it, later ACEs cannot change that.
//! - A NULL DACL (DACL_PRESENT with no ACL) allows everything; an empty DACL allows nothing.
//! - The owner is always allowed READ_CONTROL and WRITE_DAC, unless the DACL has an ACE for
//!   OWNER RIGHTS (S-1-3-4), which then says what the owner gets.
//! - Generic rights in ACEs and in the request are mapped to file rights first.
//! - CREATOR OWNER / CREATOR GROUP are placeholders for inheritance: they match nobody in an
//!   access check and are replaced by the new object's owner / group when an ACE is inherited.
//!
//! No I/O, no clock; nothing here panics on peer input.

use crate::smb2::le::{Reader, Writer};
use crate::smb2::security::{
    Ace, AceBody, AceType, Acl, SecurityDescriptor, Sid, access, ace_flags, control,
    mask_to_mode_bits, to_mode_with,
};
use crate::wire::DecodeError;

/// Every right a file or directory has (FILE_ALL_ACCESS, [MS-SMB2] 2.2.13.1.1): what a NULL
/// DACL grants and what MAXIMUM_ALLOWED can at most give.
pub const FILE_VALID_RIGHTS: u32 = access::FILE_ALL_ACCESS;

/// OWNER RIGHTS (`S-1-3-4`, [MS-DTYP] 2.4.2.4): an ACE for it replaces the owner's implicit
/// READ_CONTROL | WRITE_DAC.
pub fn owner_rights() -> Sid {
    Sid::new(3, &[4])
}

/// CREATOR GROUP (`S-1-3-1`).
pub fn creator_group() -> Sid {
    Sid::new(3, &[1])
}

/// NT AUTHORITY\Authenticated Users (`S-1-5-11`): every session that logged on with a
/// password (not the anonymous one).
pub fn authenticated_users() -> Sid {
    Sid::new(5, &[11])
}

/// The SIDs a caller acts as ([MS-DTYP] 2.5.2, the parts an access check reads): the user,
/// the groups (primary and supplementary, Everyone, Authenticated Users). A unix id matches
/// in both forms it is written in (`S-1-22-1-<uid>` and `S-1-5-88-1-<uid>`, likewise for
/// groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The user's SID.
    pub user: Sid,
    /// Every group SID the caller is a member of.
    pub groups: Vec<Sid>,
}

impl Token {
    /// The token of a unix caller: `S-1-22-1-<uid>`, `S-1-22-2-<gid>` for the primary and
    /// each supplementary group, Everyone, and Authenticated Users when `authenticated`.
    pub fn unix(uid: u32, gid: u32, gids: &[u32], authenticated: bool) -> Self {
        let mut groups = vec![Sid::unix_group(gid)];
        for g in gids {
            let s = Sid::unix_group(*g);
            if !groups.contains(&s) {
                groups.push(s);
            }
        }
        groups.push(Sid::everyone());
        if authenticated {
            groups.push(authenticated_users());
        }
        Self {
            user: Sid::unix_user(uid),
            groups,
        }
    }

    /// Whether `sid` is the user or one of the groups.
    pub fn contains(&self, sid: &Sid) -> bool {
        same(sid, &self.user) || self.groups.iter().any(|g| same(sid, g))
    }
}

/// `a` and `b` name the same principal, directly or as the same unix user / group.
fn same(a: &Sid, b: &Sid) -> bool {
    a == b
        || a.as_unix_user().is_some() && a.as_unix_user() == b.as_unix_user()
        || a.as_unix_group().is_some() && a.as_unix_group() == b.as_unix_group()
}

/// The file generic mapping ([MS-DTYP] 2.4.3, [MS-SMB2] 2.2.13.1.1): GENERIC_READ →
/// FILE_GENERIC_READ, GENERIC_WRITE → FILE_GENERIC_WRITE, GENERIC_EXECUTE →
/// FILE_GENERIC_EXECUTE, GENERIC_ALL → FILE_ALL_ACCESS. Other bits are kept.
pub const fn map_generic(mask: u32) -> u32 {
    use access::*;
    let mut m = mask & !(GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ);
    if mask & GENERIC_ALL != 0 {
        m |= FILE_ALL_ACCESS;
    }
    if mask & GENERIC_READ != 0 {
        m |= FILE_GENERIC_READ;
    }
    if mask & GENERIC_WRITE != 0 {
        m |= FILE_GENERIC_WRITE;
    }
    if mask & GENERIC_EXECUTE != 0 {
        m |= FILE_GENERIC_EXECUTE;
    }
    m
}

/// `acl` as a file system stores it when a client sets it: generic rights in the ACEs that
/// apply to the object itself are mapped to file rights ([`map_generic`]); inherit-only ACEs
/// keep theirs, for the objects that will inherit them (Windows does the same; smbtorture
/// smb2.acls.CREATOR reads the mapped masks back).
pub fn map_generic_aces(acl: &Acl) -> Acl {
    let aces = acl
        .aces
        .iter()
        .map(|ace| match &ace.body {
            AceBody::Basic { mask, sid } if ace.flags & ace_flags::INHERIT_ONLY == 0 => Ace {
                ace_type: ace.ace_type,
                flags: ace.flags,
                body: AceBody::Basic {
                    mask: map_generic(*mask),
                    sid: sid.clone(),
                },
            },
            _ => ace.clone(),
        })
        .collect();
    Acl {
        revision: acl.revision,
        aces,
    }
}

/// The mask and SID of an access-allowed or access-denied ACE that applies to the object itself
/// (not INHERIT_ONLY), with `true` for allowed. Other ACE types (audit, object, callback) take
/// no part in a file's access check.
fn applicable(ace: &Ace) -> Option<(bool, u32, &Sid)> {
    if ace.flags & ace_flags::INHERIT_ONLY != 0 {
        return None;
    }
    let AceBody::Basic { mask, sid } = &ace.body else {
        return None;
    };
    match ace.ace_type {
        AceType::ACCESS_ALLOWED => Some((true, map_generic(*mask), sid)),
        AceType::ACCESS_DENIED => Some((false, map_generic(*mask), sid)),
        _ => None,
    }
}

/// Whether an ACE's SID applies to `token` on an object owned by `owner`: the token holds it,
/// or it is OWNER RIGHTS and the token holds the owner.
fn matches(sid: &Sid, token: &Token, owner: Option<&Sid>) -> bool {
    if *sid == owner_rights() {
        return owner.is_some_and(|o| token.contains(o));
    }
    token.contains(sid)
}

/// MAXIMUM_ALLOWED ([MS-DTYP] 2.5.3.2 with MAXIMUM_ALLOWED in the request): every file right
/// `sd` grants `token`. For each right the first applicable ACE naming it decides; the owner
/// gets READ_CONTROL | WRITE_DAC unless an OWNER RIGHTS ACE is present; a NULL DACL grants
/// [`FILE_VALID_RIGHTS`]; a descriptor without the DACL_PRESENT bit is a NULL DACL too.
pub fn maximum_allowed(sd: &SecurityDescriptor, token: &Token) -> u32 {
    let Some(dacl) = sd.dacl.as_ref() else {
        return FILE_VALID_RIGHTS;
    };
    let owner = sd.owner.as_ref();
    let (mut allowed, mut denied) = (0u32, 0u32);
    let has_owner_rights = dacl
        .aces
        .iter()
        .any(|a| applicable(a).is_some_and(|(_, _, sid)| *sid == owner_rights()));
    if !has_owner_rights && owner.is_some_and(|o| token.contains(o)) {
        allowed |= access::READ_CONTROL | access::WRITE_DAC;
    }
    for ace in &dacl.aces {
        let Some((allow, mask, sid)) = applicable(ace) else {
            continue;
        };
        if !matches(sid, token, owner) {
            continue;
        }
        if allow {
            allowed |= mask & !denied;
        } else {
            denied |= mask & !allowed;
        }
    }
    allowed & FILE_VALID_RIGHTS
}

/// The access check for a request ([MS-DTYP] 2.5.3.2): `desired` (generic rights mapped;
/// MAXIMUM_ALLOWED asks for [`maximum_allowed`] plus whatever else is named) is granted whole
/// or not at all. ACCESS_SYSTEM_SECURITY needs a privilege no token here has: never granted.
/// Returns the granted rights, or `None` for access denied.
pub fn access_check(sd: &SecurityDescriptor, token: &Token, desired: u32) -> Option<u32> {
    let max_mode = desired & access::MAXIMUM_ALLOWED != 0;
    let mut remaining = map_generic(desired & !access::MAXIMUM_ALLOWED);
    if remaining & access::ACCESS_SYSTEM_SECURITY != 0 {
        return None;
    }
    let Some(dacl) = sd.dacl.as_ref() else {
        let granted = if max_mode {
            FILE_VALID_RIGHTS | remaining
        } else {
            remaining
        };
        return Some(granted);
    };
    if max_mode {
        let max = maximum_allowed(sd, token);
        return (remaining & !max == 0).then_some(max);
    }
    let owner = sd.owner.as_ref();
    let mut granted = 0;
    let has_owner_rights = dacl
        .aces
        .iter()
        .any(|a| applicable(a).is_some_and(|(_, _, sid)| *sid == owner_rights()));
    if !has_owner_rights && owner.is_some_and(|o| token.contains(o)) {
        let implicit = remaining & (access::READ_CONTROL | access::WRITE_DAC);
        granted |= implicit;
        remaining &= !implicit;
    }
    for ace in &dacl.aces {
        if remaining == 0 {
            break;
        }
        let Some((allow, mask, sid)) = applicable(ace) else {
            continue;
        };
        if !matches(sid, token, owner) {
            continue;
        }
        if allow {
            granted |= mask & remaining;
            remaining &= !mask;
        } else if mask & remaining != 0 {
            return None;
        }
    }
    (remaining == 0).then_some(granted)
}

/// The DACL a new file (`is_dir` false) or directory inherits from its parent's descriptor
/// ([MS-DTYP] 2.5.3.4.2, "ComputeInheritedACLfromParent"), with CREATOR OWNER / CREATOR GROUP
/// replaced by `owner` / `group` in the ACEs that apply to the new object. `None` when the
/// parent has nothing inheritable for this kind of object (then the object gets the default
/// descriptor).
///
/// - A file inherits OBJECT_INHERIT ACEs, as effective ACEs with no inheritance flags.
/// - A directory inherits CONTAINER_INHERIT ACEs as effective ACEs; unless NO_PROPAGATE is set
///   they stay inheritable (OBJECT_INHERIT / CONTAINER_INHERIT kept). An ACE naming CREATOR
///   OWNER / GROUP or holding generic rights is split in two: an effective one with the real
///   SID and mapped rights, and an inherit-only one kept as it was for the levels below.
/// - A directory inherits OBJECT_INHERIT-only ACEs (without NO_PROPAGATE) as inherit-only, so
///   they reach the files below it.
/// - Every inherited ACE carries INHERITED_ACE. Object and callback ACEs are not inherited.
pub fn inherit(parent: &SecurityDescriptor, is_dir: bool, owner: &Sid, group: &Sid) -> Option<Acl> {
    use ace_flags::*;
    let dacl = parent.dacl.as_ref()?;
    let creator_owner = Sid::creator_owner();
    let creator_group = creator_group();
    let real = |sid: &Sid| -> Sid {
        if *sid == creator_owner {
            owner.clone()
        } else if *sid == creator_group {
            group.clone()
        } else {
            sid.clone()
        }
    };
    let mut aces = Vec::new();
    for ace in &dacl.aces {
        let AceBody::Basic { mask, sid } = &ace.body else {
            continue;
        };
        if !matches!(
            ace.ace_type,
            AceType::ACCESS_ALLOWED | AceType::ACCESS_DENIED
        ) {
            continue;
        }
        let f = ace.flags;
        let effective = |flags: u8| Ace {
            ace_type: ace.ace_type,
            flags: flags | INHERITED,
            body: AceBody::Basic {
                mask: map_generic(*mask),
                sid: real(sid),
            },
        };
        if !is_dir {
            if f & OBJECT_INHERIT != 0 {
                aces.push(effective(0));
            }
            continue;
        }
        if f & CONTAINER_INHERIT != 0 {
            if f & NO_PROPAGATE_INHERIT != 0 {
                aces.push(effective(0));
            } else if *sid == creator_owner || *sid == creator_group || map_generic(*mask) != *mask
            {
                aces.push(effective(0));
                aces.push(Ace {
                    ace_type: ace.ace_type,
                    flags: (f & (OBJECT_INHERIT | CONTAINER_INHERIT)) | INHERIT_ONLY | INHERITED,
                    body: ace.body.clone(),
                });
            } else {
                aces.push(Ace {
                    ace_type: ace.ace_type,
                    flags: (f & (OBJECT_INHERIT | CONTAINER_INHERIT)) | INHERITED,
                    body: ace.body.clone(),
                });
            }
        } else if f & OBJECT_INHERIT != 0 && f & NO_PROPAGATE_INHERIT == 0 {
            aces.push(Ace {
                ace_type: ace.ace_type,
                flags: OBJECT_INHERIT | INHERIT_ONLY | INHERITED,
                body: ace.body.clone(),
            });
        }
    }
    (!aces.is_empty()).then(|| Acl::new(aces))
}

/// The descriptor a new object gets from its parent's: owner and group as given, the
/// [`inherit`]ed DACL, DACL_AUTO_INHERITED when the parent's DACL is. `None` when nothing is
/// inherited.
pub fn inherited_descriptor(
    parent: &SecurityDescriptor,
    is_dir: bool,
    owner: &Sid,
    group: &Sid,
) -> Option<SecurityDescriptor> {
    let dacl = inherit(parent, is_dir, owner, group)?;
    Some(SecurityDescriptor {
        control: control::SELF_RELATIVE
            | control::DACL_PRESENT
            | (parent.control & control::DACL_AUTO_INHERITED),
        owner: Some(owner.clone()),
        group: Some(group.clone()),
        sacl: None,
        dacl: Some(dacl),
    })
}

/// The permission bits (`0o777`) closest to `sd` for a file owned by `uid`:`gid`: the exact
/// mode when the DACL is only allow/deny ACEs for the owner, the group and Everyone (see
/// [`to_mode_with`]); otherwise each class gets the read / write / execute rights
/// [`maximum_allowed`] gives a token of that class (owner: the owner's SID; group: the
/// group's; other: neither), each also holding Everyone and Authenticated Users. Named users
/// and groups other than the owner and group have no place in a mode and count for nothing.
pub fn closest_mode(sd: &SecurityDescriptor, uid: u32, gid: u32) -> u32 {
    let owner = Sid::unix_user(uid);
    let group = Sid::unix_group(gid);
    if let Some(bits) = to_mode_with(sd, Some(&owner), Some(&group)) {
        return bits & 0o777;
    }
    let others = [Sid::everyone(), authenticated_users()];
    let class = |user: Option<&Sid>, grp: Option<&Sid>| -> u32 {
        let token = Token {
            // A SID nobody has stands in when the class has no user of its own.
            user: user.cloned().unwrap_or_else(|| Sid::new(0, &[0])),
            groups: grp.into_iter().cloned().chain(others.clone()).collect(),
        };
        // Implicit owner rights are not permission bits: only data rights count.
        let mut probe = sd.clone();
        probe.owner = None;
        mask_to_mode_bits(maximum_allowed(&probe, &token))
    };
    (class(Some(&owner), None) << 6) | (class(None, Some(&group)) << 3) | class(None, None)
}

/// What a stored descriptor was set against: the mode (permission and special bits, `0o7777`),
/// the owner and the group of the node at the time. A node whose mode, owner or group no
/// longer match has been changed by someone who does not speak Windows ACLs (NFS chmod /
/// chown), and its stored descriptor is ignored from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// `mode & 0o7777`.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
}

/// The value of a node's `dittofs.ntacl` extended attribute: a format version, the
/// [`Fingerprint`], and the descriptor in self-relative form ([MS-DTYP] 2.4.6).
///
/// Layout (little-endian): `version: u8` (1), 3 zero bytes, `mode: u32`, `uid: u32`,
/// `gid: u32`, then the descriptor to the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSd {
    /// The node as the descriptor was stored against.
    pub fingerprint: Fingerprint,
    /// The descriptor as the client set it (or as inherited).
    pub sd: SecurityDescriptor,
}

impl StoredSd {
    /// The extended attribute holding it.
    pub const XATTR: &'static str = "dittofs.ntacl";
    /// The format written.
    pub const VERSION: u8 = 1;
    /// Bytes before the descriptor.
    pub const HEADER_LEN: usize = 16;

    /// The attribute value.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(Self::VERSION);
        w.zeros(3);
        w.u32(self.fingerprint.mode & 0o7777);
        w.u32(self.fingerprint.uid);
        w.u32(self.fingerprint.gid);
        w.bytes(&self.sd.encode());
        w.into_inner()
    }

    /// Reads an attribute value; anything but version 1 with a valid descriptor is an error.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let version = r.u8("StoredSd.version")?;
        if version != Self::VERSION {
            return Err(DecodeError::InvalidValue {
                field: "StoredSd.version",
                value: version.into(),
            });
        }
        r.skip(3, "StoredSd.reserved")?;
        let mode = r.u32("StoredSd.mode")?;
        if mode & !0o7777 != 0 {
            return Err(DecodeError::InvalidValue {
                field: "StoredSd.mode",
                value: mode.into(),
            });
        }
        let uid = r.u32("StoredSd.uid")?;
        let gid = r.u32("StoredSd.gid")?;
        let sd = SecurityDescriptor::decode(&b[Self::HEADER_LEN..])?;
        Ok(Self {
            fingerprint: Fingerprint { mode, uid, gid },
            sd,
        })
    }

    /// The descriptor if it still describes a node with this mode, owner and group.
    pub fn current(&self, mode: u32, uid: u32, gid: u32) -> Option<&SecurityDescriptor> {
        (self.fingerprint
            == Fingerprint {
                mode: mode & 0o7777,
                uid,
                gid,
            })
        .then_some(&self.sd)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use access::*;

    fn sd(owner: Option<Sid>, aces: Option<Vec<Ace>>) -> SecurityDescriptor {
        SecurityDescriptor {
            control: control::SELF_RELATIVE | control::DACL_PRESENT,
            owner,
            group: None,
            sacl: None,
            dacl: aces.map(Acl::new),
        }
    }

    fn alice() -> Token {
        Token::unix(1001, 100, &[200], true)
    }

    /// Goal: the two DACL extremes of [MS-DTYP] 2.5.3.2. A NULL DACL grants everything asked
    /// for; an empty one grants nothing but the owner's implicit READ_CONTROL | WRITE_DAC.
    #[test]
    fn null_and_empty_dacls() {
        let null = sd(Some(Sid::unix_user(1001)), None);
        assert_eq!(maximum_allowed(&null, &alice()), FILE_ALL_ACCESS);
        assert_eq!(
            access_check(&null, &alice(), GENERIC_WRITE),
            Some(FILE_GENERIC_WRITE)
        );
        let empty = sd(Some(Sid::unix_user(1001)), Some(vec![]));
        assert_eq!(maximum_allowed(&empty, &alice()), READ_CONTROL | WRITE_DAC);
        assert_eq!(access_check(&empty, &alice(), FILE_READ_DATA), None);
        assert_eq!(
            access_check(&empty, &alice(), READ_CONTROL),
            Some(READ_CONTROL)
        );
        // Not the owner: nothing at all.
        let bob = Token::unix(1002, 100, &[], true);
        assert_eq!(maximum_allowed(&empty, &bob), 0);
        assert_eq!(access_check(&empty, &bob, READ_CONTROL), None);
    }

    /// Goal: ACE order decides, deny before allow wins and allow before deny wins, per right.
    #[test]
    fn first_ace_naming_a_right_decides() {
        let deny_first = sd(
            None,
            Some(vec![
                Ace::deny(Sid::everyone(), FILE_WRITE_DATA, 0),
                Ace::allow(Sid::unix_user(1001), FILE_ALL_ACCESS, 0),
            ]),
        );
        assert_eq!(access_check(&deny_first, &alice(), FILE_WRITE_DATA), None);
        assert_eq!(
            access_check(&deny_first, &alice(), FILE_READ_DATA),
            Some(FILE_READ_DATA)
        );
        assert_eq!(
            maximum_allowed(&deny_first, &alice()),
            FILE_ALL_ACCESS & !FILE_WRITE_DATA
        );
        let allow_first = sd(
            None,
            Some(vec![
                Ace::allow(Sid::unix_user(1001), FILE_ALL_ACCESS, 0),
                Ace::deny(Sid::everyone(), FILE_WRITE_DATA, 0),
            ]),
        );
        assert_eq!(
            access_check(&allow_first, &alice(), FILE_WRITE_DATA),
            Some(FILE_WRITE_DATA)
        );
        // Groups match through the token, as either unix SID form.
        let by_group = sd(
            None,
            Some(vec![Ace::allow(
                "S-1-5-88-2-200".parse().unwrap(),
                FILE_GENERIC_READ,
                0,
            )]),
        );
        assert_eq!(maximum_allowed(&by_group, &alice()), FILE_GENERIC_READ);
    }

    /// Goal: CREATOR OWNER in an effective ACE matches nobody (smbtorture compound.related4
    /// sets exactly this DACL and expects an open for write to be denied), inherit-only ACEs do
    /// not apply, generic rights in ACEs are mapped.
    #[test]
    fn placeholders_inherit_only_and_generic_aces() {
        let d = sd(
            Some(Sid::unix_user(1001)),
            Some(vec![
                Ace::allow(Sid::creator_owner(), FILE_GENERIC_READ | 0x001F_0000, 0),
                Ace::allow(
                    Sid::everyone(),
                    FILE_ALL_ACCESS,
                    ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT,
                ),
            ]),
        );
        assert_eq!(access_check(&d, &alice(), FILE_WRITE_DATA), None);
        assert_eq!(maximum_allowed(&d, &alice()), READ_CONTROL | WRITE_DAC);
        let g = sd(
            None,
            Some(vec![Ace::allow(Sid::everyone(), GENERIC_READ, 0)]),
        );
        assert_eq!(maximum_allowed(&g, &alice()), FILE_GENERIC_READ);
        // OWNER RIGHTS replaces the owner's implicit rights.
        let o = sd(
            Some(Sid::unix_user(1001)),
            Some(vec![Ace::allow(owner_rights(), FILE_READ_DATA, 0)]),
        );
        assert_eq!(maximum_allowed(&o, &alice()), FILE_READ_DATA);
    }

    /// Goal: MAXIMUM_ALLOWED with other rights named: granted only if those are in the
    /// maximum (smbtorture maximum_allowed's loop); ACCESS_SYSTEM_SECURITY is never granted.
    #[test]
    fn maximum_allowed_requests() {
        let d = sd(
            Some(Sid::unix_user(1001)),
            Some(vec![Ace::allow(
                authenticated_users(),
                FILE_GENERIC_READ,
                0,
            )]),
        );
        let max = FILE_GENERIC_READ | WRITE_DAC;
        assert_eq!(access_check(&d, &alice(), MAXIMUM_ALLOWED), Some(max));
        assert_eq!(
            access_check(&d, &alice(), MAXIMUM_ALLOWED | GENERIC_READ),
            Some(max)
        );
        assert_eq!(
            access_check(&d, &alice(), MAXIMUM_ALLOWED | GENERIC_ALL),
            None
        );
        assert_eq!(
            access_check(&d, &alice(), MAXIMUM_ALLOWED | FILE_WRITE_DATA),
            None
        );
        assert_eq!(
            access_check(&d, &alice(), MAXIMUM_ALLOWED | ACCESS_SYSTEM_SECURITY),
            None
        );
        // The anonymous session is not an authenticated user.
        let anon = Token::unix(65534, 65534, &[], false);
        assert_eq!(maximum_allowed(&d, &anon), 0);
    }

    /// Goal: inheritance as [MS-DTYP] 2.5.3.4.2 describes it, for a file and a directory.
    #[test]
    fn inheritance() {
        use ace_flags::*;
        let owner = Sid::unix_user(1001);
        let group = Sid::unix_group(100);
        let parent = sd(
            Some(Sid::unix_user(0)),
            Some(vec![
                // Effective on the parent only.
                Ace::allow(Sid::everyone(), FILE_ALL_ACCESS, 0),
                // Files only.
                Ace::allow(Sid::unix_user(7), FILE_GENERIC_READ, OBJECT_INHERIT),
                // Everything below, creator owner placeholder.
                Ace::allow(
                    Sid::creator_owner(),
                    GENERIC_ALL,
                    OBJECT_INHERIT | CONTAINER_INHERIT | INHERIT_ONLY,
                ),
                // Directories, one level.
                Ace::deny(
                    Sid::unix_user(8),
                    FILE_WRITE_DATA,
                    CONTAINER_INHERIT | NO_PROPAGATE_INHERIT,
                ),
            ]),
        );
        let file = inherit(&parent, false, &owner, &group).unwrap();
        assert_eq!(
            file.aces,
            vec![
                Ace::allow(Sid::unix_user(7), FILE_GENERIC_READ, INHERITED),
                Ace::allow(owner.clone(), FILE_ALL_ACCESS, INHERITED),
            ]
        );
        let dir = inherit(&parent, true, &owner, &group).unwrap();
        assert_eq!(
            dir.aces,
            vec![
                Ace::allow(
                    Sid::unix_user(7),
                    FILE_GENERIC_READ,
                    OBJECT_INHERIT | INHERIT_ONLY | INHERITED
                ),
                Ace::allow(owner.clone(), FILE_ALL_ACCESS, INHERITED),
                Ace::allow(
                    Sid::creator_owner(),
                    GENERIC_ALL,
                    OBJECT_INHERIT | CONTAINER_INHERIT | INHERIT_ONLY | INHERITED
                ),
                Ace::deny(Sid::unix_user(8), FILE_WRITE_DATA, INHERITED),
            ]
        );
        // Nothing inheritable: the default descriptor applies.
        let plain = sd(
            None,
            Some(vec![Ace::allow(Sid::everyone(), FILE_ALL_ACCESS, 0)]),
        );
        assert_eq!(inherit(&plain, false, &owner, &group), None);
        assert_eq!(inherit(&sd(None, None), true, &owner, &group), None);
        // The delete-on-close-perms directory: an OBJECT_INHERIT allow without DELETE is
        // inherited by a file, which then cannot be opened for DELETE.
        let perms = 0x001e_01bf;
        let dir_sd = sd(
            Some(owner.clone()),
            Some(vec![Ace::allow(owner.clone(), perms, OBJECT_INHERIT)]),
        );
        let child = inherited_descriptor(&dir_sd, false, &owner, &group).unwrap();
        assert_eq!(access_check(&child, &alice(), DELETE), None);
        assert_eq!(
            access_check(&child, &alice(), FILE_WRITE_DATA),
            Some(FILE_WRITE_DATA)
        );
    }

    /// Goal: the closest mode is exact for owner/group/Everyone DACLs and the per-class
    /// maximum otherwise.
    #[test]
    fn closest_modes() {
        let exact = crate::smb2::security::from_mode(5, 6, 0o640, false, 0x7);
        assert_eq!(closest_mode(&exact, 5, 6), 0o640);
        let auth_read = sd(
            None,
            Some(vec![Ace::allow(
                authenticated_users(),
                FILE_GENERIC_READ,
                0,
            )]),
        );
        assert_eq!(closest_mode(&auth_read, 5, 6), 0o444);
        let creator = sd(
            None,
            Some(vec![Ace::allow(Sid::creator_owner(), FILE_ALL_ACCESS, 0)]),
        );
        assert_eq!(closest_mode(&creator, 5, 6), 0);
        let mut named = crate::smb2::security::from_mode(5, 6, 0o750, true, 0x7);
        if let Some(d) = &mut named.dacl {
            d.aces
                .push(Ace::allow(Sid::unix_user(9), FILE_ALL_ACCESS, 0));
        }
        assert_eq!(closest_mode(&named, 5, 6), 0o750);
        assert_eq!(closest_mode(&sd(None, None), 5, 6), 0o777);
    }

    /// Goal: generic rights are mapped in effective ACEs and kept in inherit-only ones.
    #[test]
    fn generic_rights_in_set_acls() {
        let acl = Acl::new(vec![
            Ace::allow(Sid::everyone(), GENERIC_READ, 0),
            Ace::allow(
                Sid::creator_owner(),
                GENERIC_ALL,
                ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT,
            ),
        ]);
        let mapped = map_generic_aces(&acl);
        assert_eq!(
            mapped.aces,
            vec![
                Ace::allow(Sid::everyone(), FILE_GENERIC_READ, 0),
                acl.aces[1].clone()
            ]
        );
    }

    /// Goal: the stored form round-trips, rejects other versions, and the fingerprint decides
    /// whether the descriptor still applies.
    #[test]
    fn stored_form() {
        let s = StoredSd {
            fingerprint: Fingerprint {
                mode: 0o640,
                uid: 5,
                gid: 6,
            },
            sd: crate::smb2::security::from_mode(5, 6, 0o640, false, 0x7),
        };
        let b = s.encode();
        assert_eq!(&b[..4], &[1, 0, 0, 0]);
        assert_eq!(StoredSd::decode(&b), Ok(s.clone()));
        assert!(s.current(0o100_640, 5, 6).is_some());
        assert!(s.current(0o100_644, 5, 6).is_none());
        assert!(s.current(0o640, 7, 6).is_none());
        let mut bad = b.clone();
        bad[0] = 2;
        assert!(StoredSd::decode(&bad).is_err());
        assert!(StoredSd::decode(&b[..15]).is_err());
    }

    fn arb_sid() -> impl Strategy<Value = Sid> {
        prop_oneof![
            Just(Sid::everyone()),
            Just(Sid::creator_owner()),
            Just(authenticated_users()),
            Just(owner_rights()),
            (0u32..4).prop_map(Sid::unix_user),
            (0u32..4).prop_map(Sid::unix_group),
        ]
    }

    fn arb_ace() -> impl Strategy<Value = Ace> {
        (any::<bool>(), arb_sid(), any::<u32>(), any::<u8>()).prop_map(|(allow, sid, mask, f)| {
            if allow {
                Ace::allow(sid, mask, f & 0x1f)
            } else {
                Ace::deny(sid, mask, f & 0x1f)
            }
        })
    }

    fn arb_token() -> impl Strategy<Value = Token> {
        (0u32..4, 0u32..4, any::<bool>()).prop_map(|(u, g, a)| Token::unix(u, g, &[], a))
    }

    proptest! {
        /// A deny ACE placed first always denies its rights (except the owner's implicit
        /// READ_CONTROL | WRITE_DAC), whatever follows.
        #[test]
        fn leading_deny_wins(
            deny_mask in any::<u32>(),
            rest in proptest::collection::vec(arb_ace(), 0..8),
            token in arb_token(),
            owner in proptest::option::of(arb_sid()),
        ) {
            let mut aces = vec![Ace::deny(Sid::everyone(), deny_mask, 0)];
            aces.extend(rest);
            let d = sd(owner.clone(), Some(aces));
            let implicit = if owner.as_ref().is_some_and(|o| token.contains(o)) {
                READ_CONTROL | WRITE_DAC
            } else {
                0
            };
            let denied = map_generic(deny_mask) & FILE_VALID_RIGHTS & !implicit;
            prop_assert_eq!(maximum_allowed(&d, &token) & denied, 0);
            if denied != 0 {
                prop_assert_eq!(access_check(&d, &token, denied), None);
            }
        }

        /// The request-mode check grants exactly the requests inside the MAXIMUM_ALLOWED
        /// answer (the two modes of [MS-DTYP] 2.5.3.2 agree).
        #[test]
        fn request_mode_agrees_with_maximum(
            aces in proptest::collection::vec(arb_ace(), 0..8),
            token in arb_token(),
            owner in proptest::option::of(arb_sid()),
            desired in any::<u32>(),
        ) {
            let d = sd(owner, Some(aces));
            let desired = desired & FILE_VALID_RIGHTS;
            let max = maximum_allowed(&d, &token);
            let ok = access_check(&d, &token, desired);
            prop_assert_eq!(ok.is_some(), desired & !max == 0);
            if let Some(g) = ok {
                prop_assert_eq!(g, desired);
            }
        }

        /// Inherited ACLs are well formed: every ACE is INHERITED, a file's carry no
        /// inheritance flags, and no effective ACE still names CREATOR OWNER.
        #[test]
        fn inherited_aces_are_marked(
            aces in proptest::collection::vec(arb_ace(), 0..8),
            is_dir in any::<bool>(),
        ) {
            let parent = sd(None, Some(aces));
            let owner = Sid::unix_user(1);
            let group = Sid::unix_group(1);
            if let Some(acl) = inherit(&parent, is_dir, &owner, &group) {
                for a in &acl.aces {
                    prop_assert_ne!(a.flags & ace_flags::INHERITED, 0);
                    if !is_dir {
                        prop_assert_eq!(a.flags & 0x0f, 0);
                    }
                    if a.flags & ace_flags::INHERIT_ONLY == 0 {
                        let AceBody::Basic { sid, .. } = &a.body else { continue };
                        prop_assert_ne!(sid, &Sid::creator_owner());
                    }
                }
            }
        }

        /// The stored form never panics on garbage and round-trips what it accepts.
        #[test]
        fn stored_decode_total(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(s) = StoredSd::decode(&b) {
                prop_assert_eq!(StoredSd::decode(&s.encode()), Ok(s));
            }
        }
    }
}
