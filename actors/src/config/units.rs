//! Humane units in the configuration file: sizes (`256MiB`), durations (`30s`, `1m30s`) and
//! permission modes (`"0755"`), each with a parser, a formatter that the parser reads back, and the
//! serde glue that makes them YAML scalars.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A number of bytes, written in the file as `256MiB`, `1GiB`, `4096` or `500MB`.
///
/// Binary units (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024, decimal units (`KB`, `MB`, `GB`,
/// `TB`) powers of 1000, `B` or no unit means bytes. Units are case-insensitive; a space between
/// the number and the unit is allowed; fractions are not (write `1536MiB`, not `1.5GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// One kibibyte (1024 bytes).
    pub const KIB: u64 = 1 << 10;
    /// One mebibyte.
    pub const MIB: u64 = 1 << 20;
    /// One gibibyte.
    pub const GIB: u64 = 1 << 30;
    /// One tebibyte.
    pub const TIB: u64 = 1 << 40;

    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        Self(n * Self::MIB)
    }

    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

/// Units the size parser accepts, lower-cased, with their factors. Longest suffixes first so
/// `kib` is not read as `b` with a number ending in "ki".
const SIZE_UNITS: [(&str, u64); 9] = [
    ("kib", ByteSize::KIB),
    ("mib", ByteSize::MIB),
    ("gib", ByteSize::GIB),
    ("tib", ByteSize::TIB),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("b", 1),
];

/// Why a size, duration or mode string was rejected. The message completes the sentence
/// `"<input>" is not a size: …` that the configuration error prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not {what} ({hint})")]
pub struct UnitError {
    /// What was written.
    pub input: String,
    /// "a size", "a duration" or "a mode".
    pub what: &'static str,
    /// What to write instead.
    pub hint: String,
}

impl UnitError {
    fn size(input: &str, hint: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            what: "a size",
            hint: hint.into(),
        }
    }

    fn duration(input: &str, hint: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            what: "a duration",
            hint: hint.into(),
        }
    }

    fn mode(input: &str, hint: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            what: "a mode",
            hint: hint.into(),
        }
    }
}

/// Splits `"256 MiB"` into `("256", "mib")`: leading ASCII digits, then the trimmed, lower-cased
/// rest.
fn split_number(s: &str) -> (&str, String) {
    let s = s.trim();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..end], s[end..].trim().to_ascii_lowercase())
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const HINT: &str = "use e.g. 256MiB, 1GiB or a number of bytes";
        let (digits, unit) = split_number(s);
        if digits.is_empty() {
            return Err(UnitError::size(s, HINT));
        }
        let factor = if unit.is_empty() {
            1
        } else {
            match SIZE_UNITS.iter().find(|(name, _)| *name == unit) {
                Some((_, factor)) => *factor,
                None => return Err(UnitError::size(s, HINT)),
            }
        };
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .map(Self)
            .ok_or_else(|| UnitError::size(s, "too large: the limit is 2^64 - 1 bytes"))
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly: `256MiB`, `1536KiB`, `1000B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (name, factor) in [
            ("TiB", Self::TIB),
            ("GiB", Self::GIB),
            ("MiB", Self::MIB),
            ("KiB", Self::KIB),
        ] {
            if n != 0 && n.is_multiple_of(factor) {
                return write!(f, "{}{name}", n / factor);
            }
        }
        write!(f, "{n}B")
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 256MiB or a number of bytes")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| {
                    E::custom(UnitError::size(&v.to_string(), "sizes cannot be negative"))
                })
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

/// Units the duration parser accepts, with their length in nanoseconds. Longest names first so
/// `ms` is not read as `m` followed by garbage.
const DURATION_UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
    ("d", 86_400 * 1_000_000_000),
];

/// Parses a humane duration: one or more `<integer><unit>` parts, e.g. `30s`, `250ms`, `5m`,
/// `1h30m`. Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`. A bare number is rejected
/// because it is ambiguous.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    const HINT: &str = "use e.g. 30s, 250ms, 5m or 1h30m";
    let text = s.trim();
    if text.is_empty() {
        return Err(UnitError::duration(s, HINT));
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(UnitError::duration(s, HINT));
        }
        let number: u128 = rest[..digits_end]
            .parse()
            .map_err(|_| UnitError::duration(s, HINT))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        if unit.is_empty() {
            return Err(UnitError::duration(s, format!("missing unit; {HINT}")));
        }
        let Some((_, nanos)) = DURATION_UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(UnitError::duration(
                s,
                format!("unknown unit {unit:?}; {HINT}"),
            ));
        };
        total = number
            .checked_mul(*nanos)
            .and_then(|n| total.checked_add(n))
            .ok_or_else(|| UnitError::duration(s, "too long"))?;
    }
    let secs =
        u64::try_from(total / 1_000_000_000).map_err(|_| UnitError::duration(s, "too long"))?;
    let nanos = u32::try_from(total % 1_000_000_000).expect("a remainder of 10^9 fits in u32");
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration in the largest unit that divides it exactly (`30s`, `5m`, `250ms`), which
/// [`parse_duration`] reads back to the same value.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (name, unit) in [
        ("d", 86_400 * 1_000_000_000_u128),
        ("h", 3_600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos.is_multiple_of(unit) {
            return format!("{}{name}", nanos / unit);
        }
    }
    format!("{nanos}ns")
}

/// Deserialises a value written as a string and parsed by `parse`, reporting `parse`'s message
/// at the value's own line, column and key path (an error raised after `String::deserialize`
/// returned would lose them).
///
/// serde_yaml_ng hands a plain scalar to `deserialize_str` as its source text, so `30` arrives as
/// "30" and gets the parser's message rather than a type error. Deserialisers without source
/// text (a YAML value tree) pass numbers, which are parsed from their decimal digits.
pub(crate) fn deserialize_parsed<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct ParsedVisitor<T> {
        expecting: &'static str,
        parse: fn(&str) -> Result<T, String>,
    }

    impl<T> Visitor<'_> for ParsedVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
    }

    deserializer.deserialize_str(ParsedVisitor { expecting, parse })
}

/// serde glue for `Duration` fields written as humane strings (`#[serde(with = "…")]`).
pub(crate) mod humane_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        super::deserialize_parsed(deserializer, "a duration such as 30s", |text| {
            super::parse_duration(text).map_err(|e| e.to_string())
        })
    }
}

/// Parses a permission mode written in octal: `"0755"`, `"755"`, `"0o755"`, up to `0o7777`.
pub fn parse_mode(s: &str) -> Result<u32, UnitError> {
    const HINT: &str = "write it in octal, e.g. \"0755\", at most 7777";
    let text = s.trim();
    let digits = text
        .strip_prefix("0o")
        .or_else(|| text.strip_prefix("0O"))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(UnitError::mode(s, HINT));
    }
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(UnitError::mode(s, HINT)),
    }
}

/// serde glue for permission modes: read as octal whether quoted (`"0755"`) or not (`755`,
/// `0755`, `0o755`), written as a quoted four-digit octal string.
pub(crate) mod octal_mode {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(mode: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{mode:04o}"))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        // `755`, `0755` and `0o755` all reach the parser as written; from a value tree, 755
        // arrives as a number and its digits are still read as octal, as a person means them.
        super::deserialize_parsed(deserializer, "an octal mode such as \"0755\"", |text| {
            super::parse_mode(text).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes: every unit, spacing and case; errors for junk, fractions and overflow.
    #[test]
    fn sizes_parse_and_format_round_trip() {
        let cases = [
            ("256MiB", 256 << 20),
            ("1GiB", 1 << 30),
            ("4 KiB", 4096),
            ("1tib", 1 << 40),
            ("500MB", 500_000_000),
            ("2kb", 2000),
            ("7", 7),
            ("7B", 7),
            ("0", 0),
        ];
        for (text, bytes) in cases {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
            let shown = ByteSize(bytes).to_string();
            assert_eq!(shown.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{shown}");
        }
        assert_eq!(ByteSize::mib(256).to_string(), "256MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
        assert_eq!(ByteSize(1536 << 10).to_string(), "1536KiB");
        for bad in [
            "12XB",
            "",
            "MiB",
            "1.5GiB",
            "-1",
            "99999999999TiB",
            "1 2MiB",
        ] {
            let err = bad.parse::<ByteSize>().expect_err(bad);
            assert_eq!(err.what, "a size", "{bad}");
        }
        assert_eq!(
            "12XB"
                .parse::<ByteSize>()
                .expect_err("bad unit")
                .to_string(),
            "\"12XB\" is not a size (use e.g. 256MiB, 1GiB or a number of bytes)"
        );
    }

    /// Durations: single and compound parts, formatting picks the largest exact unit.
    #[test]
    fn durations_parse_and_format_round_trip() {
        let cases = [
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("250ms", Duration::from_millis(250)),
            ("1h30m", Duration::from_secs(5400)),
            ("2d", Duration::from_secs(2 * 86_400)),
            ("15us", Duration::from_micros(15)),
            ("15µs", Duration::from_micros(15)),
            ("7ns", Duration::from_nanos(7)),
            ("1s500ms", Duration::from_millis(1500)),
            (" 10s ", Duration::from_secs(10)),
        ];
        for (text, d) in cases {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for bad in [
            "30",
            "",
            "s",
            "5 minutes",
            "1.5s",
            "10x",
            "-3s",
            "99999999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(
            parse_duration("30")
                .expect_err("bare")
                .hint
                .contains("missing unit")
        );
    }

    /// Modes: octal with or without a leading zero or `0o`; nothing above 0o7777, no 8s or 9s.
    #[test]
    fn modes_are_octal() {
        for (text, mode) in [
            ("0777", 0o777),
            ("755", 0o755),
            ("0o700", 0o700),
            ("1777", 0o1777),
            ("0", 0),
        ] {
            assert_eq!(parse_mode(text), Ok(mode), "{text}");
        }
        for bad in ["", "0o", "789", "17777", "rwx", "-1", "0x1ff"] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
    }

    /// The serde glue reads plain YAML scalars by their source text: `755` is octal, `30` is a
    /// duration without a unit, a plain integer size is bytes.
    #[test]
    fn yaml_scalars_are_read_as_written() {
        #[derive(Debug, Deserialize, Serialize, PartialEq)]
        struct Knobs {
            #[serde(with = "octal_mode")]
            mode: u32,
            #[serde(with = "humane_duration")]
            timeout: Duration,
            size: ByteSize,
        }
        for (mode_text, mode) in [
            ("755", 0o755),
            ("0755", 0o755),
            ("0o755", 0o755),
            ("\"0644\"", 0o644),
        ] {
            let text = format!("mode: {mode_text}\ntimeout: 250ms\nsize: 1GiB\n");
            let knobs: Knobs = serde_yaml_ng::from_str(&text).expect("valid knobs");
            assert_eq!(knobs.mode, mode, "{mode_text}");
            let back: Knobs =
                serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&knobs).expect("serialise"))
                    .expect("reparse");
            assert_eq!(back, knobs);
        }
        let knobs: Knobs =
            serde_yaml_ng::from_str("mode: 0777\ntimeout: 5m\nsize: 4096\n").expect("valid");
        assert_eq!(knobs.size, ByteSize(4096));
        let out = serde_yaml_ng::to_string(&knobs).expect("serialise");
        assert!(out.contains("mode: '0777'"), "{out}");
        assert!(out.contains("timeout: 5m"), "{out}");
        assert!(out.contains("size: 4KiB"), "{out}");

        let err = serde_yaml_ng::from_str::<Knobs>("mode: 0777\ntimeout: 30\nsize: 1\n")
            .expect_err("no unit");
        assert!(
            err.to_string()
                .contains("timeout: \"30\" is not a duration"),
            "{err}"
        );
        let err = serde_yaml_ng::from_str::<Knobs>("mode: 0777\ntimeout: 3s\nsize: -1\n")
            .expect_err("negative");
        assert!(
            err.to_string().contains("size: \"-1\" is not a size"),
            "{err}"
        );
    }
}
