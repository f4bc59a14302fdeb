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

/// The longest stream name, in UTF-16 code units ([MS-FSCC] 2.1.5.3: 255, as a file name).
pub(crate) const STREAM_NAME_MAX: usize = 255;

/// A CREATE path split into components, with the stream part of the last one
/// (`name:stream[:$DATA]`, [MS-FSCC] 2.1.5.1) taken off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmbPath {
    /// The components, in order; empty for the share's root.
    pub(crate) components: Vec<String>,
    /// The named data stream of the last component, as given; `None` for the file itself.
    pub(crate) stream: Option<String>,
    /// The path named the default data stream explicitly (`name::$DATA`), which a
    /// directory does not have.
    pub(crate) default_stream: bool,
}

impl SmbPath {
    /// Parses a path relative to the share root as clients send it: `\`-separated (a leading
    /// `\` is tolerated; smbclient sends none, some clients send one), no empty, `.` or `..`
    /// components, no characters Windows forbids in names. The last component may name a data
    /// stream: `name:stream` or `name:stream:$DATA` a named one, `name::$DATA` (or
    /// `name:$DATA`) the file itself; any other stream type, an empty stream name or a
    /// stream name with characters streams may not hold is `STATUS_OBJECT_NAME_INVALID`.
    pub(crate) fn parse(path: &str) -> Result<Self, NtStatus> {
        let path = path.strip_prefix('\\').unwrap_or(path);
        let mut out = Self {
            components: Vec::new(),
            stream: None,
            default_stream: false,
        };
        if path.is_empty() {
            return Ok(out);
        }
        // Windows separates with `\`; Samba, and the clients that rely on it, also accept `/`.
        let parts: Vec<&str> = path.split(['\\', '/']).collect();
        let last = parts.len() - 1;
        for (i, part) in parts.into_iter().enumerate() {
            let part = if i == last {
                let (base, stream) = split_stream(part)?;
                match stream {
                    Stream::None => {}
                    Stream::Default => out.default_stream = true,
                    Stream::Named(s) => out.stream = Some(s.to_owned()),
                }
                base
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
            out.components.push(part.to_owned());
        }
        Ok(out)
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
                stream: None,
                default_stream: false,
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
        Ok(Self {
            components,
            stream: None,
            default_stream: false,
        })
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

/// The stream part of a path's last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream<'a> {
    /// None given.
    None,
    /// `::$DATA` (or `:$DATA`): the file's own data.
    Default,
    /// A named data stream.
    Named(&'a str),
}

/// Splits `name[:stream[:type]]` ([MS-FSCC] 2.1.5.1): the type, when given, must be `$DATA`
/// (the only stream type a file holds data in; `$INDEX_ALLOCATION` and the rest are NTFS
/// internals no open here reaches); a stream name holds no `\`, `/`, `:` or NUL
/// ([MS-FSCC] 2.1.5.3).
fn split_stream(part: &str) -> Result<(&str, Stream<'_>), NtStatus> {
    let Some((base, rest)) = part.split_once(':') else {
        return Ok((part, Stream::None));
    };
    let (name, kind) = match rest.split_once(':') {
        Some((name, kind)) => (name, Some(kind)),
        None => (rest, None),
    };
    if let Some(kind) = kind
        && !kind.eq_ignore_ascii_case("$DATA")
    {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    // `name:$DATA` names the default stream too, as Windows and Samba read it.
    if name.is_empty() && kind.is_some() || name.eq_ignore_ascii_case("$DATA") && kind.is_none() {
        return Ok((base, Stream::Default));
    }
    if name.is_empty()
        || name.encode_utf16().count() > STREAM_NAME_MAX
        || name.chars().any(|c| matches!(c, '\0' | '\\' | '/' | ':'))
    {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    Ok((base, Stream::Named(name)))
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
        let s = SmbPath::parse("d\\f:Stream One:$dAtA").expect("a named stream");
        assert_eq!(s.components, ["d", "f"]);
        assert_eq!(s.stream.as_deref(), Some("Stream One"));
        let s = SmbPath::parse("f:s").expect("a named stream without its type");
        assert_eq!((s.stream.as_deref(), s.default_stream), (Some("s"), false));
        let s = SmbPath::parse("f::$DATA").expect("the default stream");
        assert_eq!((s.stream, s.default_stream), (None, true));
        assert_eq!(SmbPath::parse("f:"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(
            SmbPath::parse("f:s:$INDEX_ALLOCATION"),
            Err(NtStatus::OBJECT_NAME_INVALID)
        );
        assert_eq!(
            SmbPath::parse("f:s:x:y"),
            Err(NtStatus::OBJECT_NAME_INVALID)
        );
        assert_eq!(
            SmbPath::parse(&format!("f:{}", "s".repeat(256))),
            Err(NtStatus::OBJECT_NAME_INVALID)
        );
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
