//! Password secrets: the bcrypt hash a user's password is stored as, the NT hash NTLM needs,
//! and a password check that takes the same time whether the user exists or not.
//!
//! A password is never kept: [`hash_password`] turns it into both hashes at once and the
//! caller drops it. Both hashes are [`Secret`]s, whose `Debug` prints `<redacted>`, so a
//! configuration printed for a log or an error never shows them.

use std::fmt;
use std::sync::OnceLock;

use md4::{Digest, Md4};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The bcrypt cost used when [`BCRYPT_COST_VAR`] is not set: 2^12 rounds, about a quarter of a
/// second per hash on a current core, which is bcrypt's own default.
pub const DEFAULT_BCRYPT_COST: u32 = bcrypt::DEFAULT_COST;

/// An environment variable that lowers (or raises) the bcrypt cost of new hashes, for tests
/// only: `DITTOFS_BCRYPT_COST=4` makes `dittofs user add` fast. Values outside 4..=31 are
/// ignored. (It has no `__`, so it is not a configuration override.)
pub const BCRYPT_COST_VAR: &str = "DITTOFS_BCRYPT_COST";

/// What a secret prints as, in `Debug` and in `dittofs config show`.
pub const REDACTED: &str = "<redacted>";

/// A stored secret (a password hash). `Debug` never shows it; serde writes it as a plain
/// string, because the configuration file is where it lives.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a hash.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The hash itself, for checking a password against it and for writing the file.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The placeholder `config show` prints instead of a secret.
    pub fn redacted() -> Self {
        Self(REDACTED.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Why a password cannot be hashed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Empty passwords are refused.
    #[error("the password is empty")]
    Empty,
    /// bcrypt reads at most 72 bytes; a longer password would be silently cut, so it is refused.
    #[error("the password is {0} bytes long; bcrypt uses at most 72 bytes, so use a shorter one")]
    TooLong(usize),
    /// The bcrypt library failed (an invalid cost).
    #[error("bcrypt: {0}")]
    Bcrypt(String),
}

/// The bcrypt cost for new hashes: [`BCRYPT_COST_VAR`] when it holds a valid cost, else
/// [`DEFAULT_BCRYPT_COST`].
pub fn bcrypt_cost() -> u32 {
    std::env::var(BCRYPT_COST_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|cost| (4..=31).contains(cost))
        .unwrap_or(DEFAULT_BCRYPT_COST)
}

/// Both hashes of a new password: `(bcrypt hash, NT hash in lower-case hex)`.
pub fn hash_password(password: &str, cost: u32) -> Result<(Secret, Secret), PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.len() > 72 {
        return Err(PasswordError::TooLong(password.len()));
    }
    // At most 72 bytes, so bcrypt uses all of it (it only drops the terminating NUL of a
    // 72-byte password, which adds nothing).
    let hash = bcrypt::hash(password, cost).map_err(|e| PasswordError::Bcrypt(e.to_string()))?;
    Ok((
        Secret::new(hash),
        Secret::new(hex::encode(nt_hash(password))),
    ))
}

/// The NT hash: MD4 of the password in UTF-16LE (MS-NLMP §3.3.1, NTOWFv1), the key NTLM
/// derives its responses from.
pub fn nt_hash(password: &str) -> [u8; 16] {
    let mut md4 = Md4::new();
    for unit in password.encode_utf16() {
        md4.update(unit.to_le_bytes());
    }
    md4.finalize().into()
}

/// Whether `hash` has the form of a bcrypt hash (`$2b$12$` and 53 characters of salt and
/// digest). The reason, when not, never quotes the value.
pub fn check_bcrypt_hash(hash: &str) -> Result<(), &'static str> {
    hash.parse::<bcrypt::HashParts>()
        .map(|_| ())
        .map_err(|_| "is not a bcrypt hash ($2b$<cost>$ followed by 53 characters)")
}

/// Whether `hash` is an NT hash written as 32 hex digits.
pub fn check_nt_hash(hash: &str) -> Result<(), &'static str> {
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(hash, &mut bytes).map_err(|_| "is not an NT hash (32 hex digits)")
}

/// A user's stored hashes as [`verify_password`] needs them; `None` for a user that does not
/// exist or has no password.
#[derive(Debug, Clone, Copy)]
pub struct StoredHashes<'a> {
    /// The bcrypt hash.
    pub bcrypt: &'a str,
    /// The NT hash in hex, when the user has one.
    pub nt: Option<&'a str>,
}

/// Checks `password` against a user's hashes in the same time whether the user exists or
/// not: an unknown user (`None`) is checked against a dummy hash of the same cost, and the NT
/// hashes are compared in constant time. Both checks always run; both must pass.
pub fn verify_password(stored: Option<StoredHashes<'_>>, password: &str) -> bool {
    let dummy = dummy_hash();
    let (bcrypt_hash, nt, exists) = match stored {
        Some(s) => (s.bcrypt, s.nt, true),
        None => (dummy.as_str(), None, false),
    };
    let bcrypt_ok = bcrypt::verify(password, bcrypt_hash).unwrap_or(false);
    let mut stored_nt = [0u8; 16];
    let nt_present = nt
        .map(|h| hex::decode_to_slice(h, &mut stored_nt).is_ok())
        .unwrap_or(false);
    let nt_ok: bool = nt_hash(password).ct_eq(&stored_nt).into();
    // Without a stored NT hash only bcrypt decides; the comparison above still ran.
    exists & bcrypt_ok & (nt_ok | !nt_present)
}

/// A bcrypt hash at the configured cost, made once, so that checking an unknown user costs
/// what checking a real one does. (Its password does not matter: an unknown user never
/// verifies, whatever bcrypt says.)
fn dummy_hash() -> &'static String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        bcrypt::hash("no such user", bcrypt_cost()).expect("bcrypt_cost() is within bcrypt's range")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the NT hash is MD4 over UTF-16LE. Method: the published MS-NLMP §4.2.2.1.2
    /// example, "Password" → a4f49c406510bdcab6824ee7c30fd852.
    #[test]
    fn nt_hash_matches_the_spec_example() {
        assert_eq!(
            hex::encode(nt_hash("Password")),
            "a4f49c406510bdcab6824ee7c30fd852"
        );
    }

    /// Goal: hashing makes a bcrypt hash and an NT hash that verify the password and reject
    /// another; empty and over-long passwords are refused; an unknown user never verifies.
    #[test]
    fn hash_and_verify() {
        let (bcrypt_hash, nt) = hash_password("s3cret pass", 4).expect("hash");
        assert!(check_bcrypt_hash(bcrypt_hash.expose()).is_ok());
        assert!(check_nt_hash(nt.expose()).is_ok());
        let stored = StoredHashes {
            bcrypt: bcrypt_hash.expose(),
            nt: Some(nt.expose()),
        };
        assert!(verify_password(Some(stored), "s3cret pass"));
        assert!(!verify_password(Some(stored), "s3cret pasS"));
        assert!(!verify_password(None, "s3cret pass"));
        let bcrypt_only = StoredHashes {
            bcrypt: bcrypt_hash.expose(),
            nt: None,
        };
        assert!(verify_password(Some(bcrypt_only), "s3cret pass"));
        // A stored NT hash that disagrees with the bcrypt hash fails the check.
        let wrong_nt = hex::encode(nt_hash("other"));
        let mismatched = StoredHashes {
            bcrypt: bcrypt_hash.expose(),
            nt: Some(&wrong_nt),
        };
        assert!(!verify_password(Some(mismatched), "s3cret pass"));
        assert_eq!(hash_password("", 4), Err(PasswordError::Empty));
        assert_eq!(
            hash_password(&"x".repeat(73), 4),
            Err(PasswordError::TooLong(73))
        );
        assert!(check_bcrypt_hash("$2a$10$...").is_err());
        assert!(check_nt_hash("a4f49c").is_err());
    }

    /// Goal: a secret never shows in Debug output but serialises as itself.
    #[test]
    fn secrets_are_redacted_in_debug() {
        let secret = Secret::new("$2b$04$abc");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(
            serde_yaml_ng::to_string(&secret).expect("yaml").trim(),
            "$2b$04$abc"
        );
    }
}
