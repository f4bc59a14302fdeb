//! Minshall-French symlinks, the format Linux cifs (`mfsymlinks` mount option) and macOS use to
//! store a symbolic link as a regular file on servers without symlink support: a 1067-byte file
//! of `XSym\n`, the target's length as 4 decimal digits and `\n`, the lowercase hex MD5 of the
//! target and `\n`, the target, `\n`, then spaces up to the fixed size.

use md5::{Digest, Md5};

/// The size of every MF symlink file.
pub const FILE_SIZE: usize = 1067;
/// The longest target an MF symlink holds.
pub const TARGET_MAX: usize = 1024;

const MAGIC: &[u8] = b"XSym\n";
const LEN_OFFSET: usize = 5;
const MD5_OFFSET: usize = LEN_OFFSET + 5;
const TARGET_OFFSET: usize = MD5_OFFSET + 33;

fn hex_md5(target: &[u8]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(target);
    let mut out = [0u8; 32];
    for (i, byte) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    out
}

/// The file contents for a symlink to `target`, or `None` if the target is empty or longer
/// than [`TARGET_MAX`] bytes.
pub fn encode(target: &[u8]) -> Option<Vec<u8>> {
    if target.is_empty() || target.len() > TARGET_MAX {
        return None;
    }
    let mut out = Vec::with_capacity(FILE_SIZE);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{:04}\n", target.len()).as_bytes());
    out.extend_from_slice(&hex_md5(target));
    out.push(b'\n');
    out.extend_from_slice(target);
    if out.len() < FILE_SIZE {
        out.push(b'\n');
    }
    out.resize(FILE_SIZE, b' ');
    Some(out)
}

/// The target of an MF symlink file, or `None` if `file` is not one: it must be exactly
/// [`FILE_SIZE`] bytes, start with `XSym\n`, have a 4-digit length in 1..=[`TARGET_MAX`] and
/// an MD5 (hex, either case) that matches the target.
pub fn decode(file: &[u8]) -> Option<&[u8]> {
    if file.len() != FILE_SIZE || !file.starts_with(MAGIC) {
        return None;
    }
    let digits = file.get(LEN_OFFSET..LEN_OFFSET + 4)?;
    if !digits.iter().all(u8::is_ascii_digit) || file[LEN_OFFSET + 4] != b'\n' {
        return None;
    }
    let len = digits
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    if len == 0 || len > TARGET_MAX {
        return None;
    }
    let md5 = file.get(MD5_OFFSET..MD5_OFFSET + 32)?;
    if file[MD5_OFFSET + 32] != b'\n' {
        return None;
    }
    let target = file.get(TARGET_OFFSET..TARGET_OFFSET + len)?;
    if !md5.eq_ignore_ascii_case(&hex_md5(target)) {
        return None;
    }
    Some(target)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn layout_matches_linux_cifs() {
        let f = encode(b"target").unwrap();
        assert_eq!(f.len(), 1067);
        let md5 = hex_md5(b"target");
        let mut want = b"XSym\n0006\n".to_vec();
        want.extend_from_slice(&md5);
        want.extend_from_slice(b"\ntarget\n");
        assert_eq!(&f[..want.len()], &want[..]);
        assert!(f[want.len()..].iter().all(|&b| b == b' '));
        assert_eq!(decode(&f), Some(&b"target"[..]));
    }

    #[test]
    fn md5_is_checked() {
        // RFC 1321 test vector: MD5("abc").
        assert_eq!(&hex_md5(b"abc"), b"900150983cd24fb0d6963f7d28e17f72");
        let mut f = encode(b"abc").unwrap();
        f[TARGET_OFFSET] = b'x';
        assert_eq!(decode(&f), None);
        let mut upper = encode(b"abc").unwrap();
        upper[MD5_OFFSET..MD5_OFFSET + 32].make_ascii_uppercase();
        assert_eq!(decode(&upper), Some(&b"abc"[..]));
    }

    #[test]
    fn limits() {
        assert!(encode(b"").is_none());
        assert!(encode(&[b'a'; 1025]).is_none());
        let full = encode(&[b'a'; 1024]).unwrap();
        assert_eq!(full.len(), FILE_SIZE);
        assert_eq!(decode(&full).map(<[u8]>::len), Some(1024));
        assert_eq!(decode(&full[..1066]), None);
        let mut bad_len = encode(b"abc").unwrap();
        bad_len[LEN_OFFSET..LEN_OFFSET + 4].copy_from_slice(b"9999");
        assert_eq!(decode(&bad_len), None);
        bad_len[LEN_OFFSET..LEN_OFFSET + 4].copy_from_slice(b"00a3");
        assert_eq!(decode(&bad_len), None);
        assert_eq!(decode(&[b' '; FILE_SIZE]), None);
    }

    proptest! {
        #[test]
        fn round_trips(t in proptest::collection::vec(any::<u8>(), 1..=1024)) {
            let f = encode(&t).unwrap();
            prop_assert_eq!(decode(&f), Some(&t[..]));
        }
    }
}
