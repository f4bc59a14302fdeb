//! SMB path names: the rules a CREATE, rename or link path must follow before it reaches the
//! share core, and the case-insensitive, case-preserving lookup Windows expects.
//!
//! The rule for names that differ only in case (docs/SMB.md): SMB lookups try the exact
//! spelling first and, when it does not exist, the first entry in directory order that is equal
//! ignoring case (Unicode lowercase). NFS stays case-sensitive, so NFS clients may create
//! `A` and `a` side by side; SMB clients then reach the exact spelling they ask for, or one
//! of the two when neither spelling matches exactly. SMB creates keep the spelling given.

use protocol::smb2::status::NtStatus;

/// The longest component, in UTF-16 code units ([MS-FSCC] 2.1.5.2: 255).
pub(crate) const COMPONENT_MAX: usize = 255;

/// A CREATE path split into components, with an optional `::$DATA` stream suffix removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmbPath {
    /// The components, in order; empty for the share's root.
    pub(crate) components: Vec<String>,
}

impl SmbPath {
    /// Parses a path relative to the share root as clients send it: `\`-separated (a leading
    /// `\` is tolerated; smbclient sends none, some clients send one), no empty, `.` or `..`
    /// components, no characters Windows forbids in names. The default data stream
    /// (`name::$DATA`, `name:$DATA`) is the file itself; any other stream is
    /// `STATUS_OBJECT_NAME_NOT_FOUND` for an open (streams are not stored).
    pub(crate) fn parse(path: &str) -> Result<Self, NtStatus> {
        let path = path.strip_prefix('\\').unwrap_or(path);
        if path.is_empty() {
            return Ok(Self {
                components: Vec::new(),
            });
        }
        let mut components = Vec::new();
        // Windows separates with `\`; Samba, and the clients that rely on it, also accept `/`.
        let parts: Vec<&str> = path.split(['\\', '/']).collect();
        let last = parts.len() - 1;
        for (i, part) in parts.into_iter().enumerate() {
            let part = if i == last {
                strip_default_stream(part)?
            } else {
                part
            };
            check_component(part).map_err(|s| {
                // A bad directory component makes the path, not the name, invalid.
                if i < last && s == NtStatus::OBJECT_NAME_INVALID {
                    NtStatus::OBJECT_PATH_SYNTAX_BAD
                } else {
                    s
                }
            })?;
            components.push(part.to_owned());
        }
        Ok(Self { components })
    }

    /// Parses a path as SMB 3.1.1 POSIX-extensions clients send it (Linux cifs mounted with
    /// `posix`): `/`-separated, a leading `/` tolerated, and every character but `/` and NUL
    /// allowed in a name (`\\`, `:` and `*` are name characters there, so there are no streams);
    /// no empty, `.` or `..` components, at most 255 UTF-16 units each.
    pub(crate) fn parse_posix(path: &str) -> Result<Self, NtStatus> {
        let path = path.strip_prefix('/').unwrap_or(path);
        if path.is_empty() {
            return Ok(Self {
                components: Vec::new(),
            });
        }
        let parts: Vec<&str> = path.split('/').collect();
        let last = parts.len() - 1;
        let mut components = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            if part.is_empty()
                || part == "."
                || part == ".."
                || part.contains('\0')
                || part.encode_utf16().count() > COMPONENT_MAX
            {
                return Err(if i < last {
                    NtStatus::OBJECT_PATH_SYNTAX_BAD
                } else {
                    NtStatus::OBJECT_NAME_INVALID
                });
            }
            components.push(part.to_owned());
        }
        Ok(Self { components })
    }

    /// [`Self::parse_posix`] when `posix` (the POSIX extensions are in use), else
    /// [`Self::parse`].
    pub(crate) fn parse_as(path: &str, posix: bool) -> Result<Self, NtStatus> {
        if posix {
            Self::parse_posix(path)
        } else {
            Self::parse(path)
        }
    }

    /// The last component, `None` for the root.
    pub(crate) fn name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    /// The components before the last.
    pub(crate) fn parent(&self) -> &[String] {
        match self.components.split_last() {
            Some((_, parent)) => parent,
            None => &[],
        }
    }
}

fn strip_default_stream(part: &str) -> Result<&str, NtStatus> {
    let Some((base, stream)) = part.split_once(':') else {
        return Ok(part);
    };
    let stream = stream.to_ascii_uppercase();
    if stream == ":$DATA" || stream == "$DATA" {
        Ok(base)
    } else {
        Err(NtStatus::OBJECT_NAME_NOT_FOUND)
    }
}

/// Checks one name component.
pub(crate) fn check_component(part: &str) -> Result<(), NtStatus> {
    if part.is_empty() || part == "." || part == ".." {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    if part.encode_utf16().count() > COMPONENT_MAX {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    if part
        .chars()
        .any(|c| (c as u32) < 0x20 || matches!(c, '"' | '*' | '/' | ':' | '<' | '>' | '?' | '|'))
    {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: paths split on backslashes; the root is empty; the default stream is the file;
    /// bad components give the statuses Windows gives.
    #[test]
    fn parse_paths() {
        let p = SmbPath::parse("dir\\sub\\file.txt").expect("valid");
        assert_eq!(p.components, ["dir", "sub", "file.txt"]);
        assert_eq!(p.name(), Some("file.txt"));
        assert_eq!(p.parent(), ["dir", "sub"]);
        assert_eq!(SmbPath::parse("").map(|p| p.components.len()), Ok(0));
        assert_eq!(
            SmbPath::parse("\\a").map(|p| p.components),
            Ok(vec!["a".into()])
        );
        assert_eq!(
            SmbPath::parse("f::$DATA").map(|p| p.components),
            Ok(vec!["f".into()])
        );
        assert_eq!(SmbPath::parse("f:s"), Err(NtStatus::OBJECT_NAME_NOT_FOUND));
        assert_eq!(
            SmbPath::parse("a\\\\b"),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(
            SmbPath::parse("a\\..\\b"),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(SmbPath::parse("a\\b?"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(SmbPath::parse(".."), Err(NtStatus::OBJECT_NAME_INVALID));
        assert!(SmbPath::parse(&"x".repeat(255)).is_ok());
        assert_eq!(
            SmbPath::parse(&"x".repeat(256)),
            Err(NtStatus::OBJECT_NAME_INVALID)
        );
        assert_eq!(
            SmbPath::parse_posix("/dir/a:b\\c*").map(|p| p.components),
            Ok(vec!["dir".into(), "a:b\\c*".into()])
        );
        assert_eq!(SmbPath::parse_posix("").map(|p| p.components.len()), Ok(0));
        assert_eq!(
            SmbPath::parse_posix("a//b"),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(
            SmbPath::parse_posix("a/.."),
            Err(NtStatus::OBJECT_NAME_INVALID)
        );
    }
}
