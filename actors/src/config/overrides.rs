//! `DITTOFS_*` environment overrides, applied to the parsed YAML tree before it becomes a
//! [`Config`](super::Config), so an override obeys exactly the rules a key in the file does.
//!
//! The rule: strip `DITTOFS_`, split the rest on `__`, lower-case each segment, and walk the
//! tree: a segment names a key of a section (created when missing) or, for a list such as
//! `shares`, an index into it. `DITTOFS_ADAPTERS__NFS__PORT=2049` sets `adapters.nfs.port`;
//! `DITTOFS_SHARES__0__READ_ONLY=true` sets `shares[0].read_only`. An empty value (or `~`)
//! removes the key instead, so it takes its default. Variables without `__` after the prefix
//! (such as `DITTOFS_CONFIG`) are not overrides.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use super::ConfigError;

/// Every override variable starts with this.
pub const ENV_PREFIX: &str = "DITTOFS_";

/// Separates the key segments of an override variable.
pub const ENV_SEPARATOR: &str = "__";

/// Whether `name` is an override variable (as opposed to, say, `DITTOFS_CONFIG`).
pub(crate) fn is_override(name: &str) -> bool {
    name.strip_prefix(ENV_PREFIX)
        .is_some_and(|rest| rest.contains(ENV_SEPARATOR))
}

/// Applies every override variable in `vars` (in name order, so the result does not depend on
/// the environment's order) to `root`, and returns the names it applied.
pub(crate) fn apply_overrides(
    root: &mut Value,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<String>, ConfigError> {
    let mut applied = Vec::new();
    for (name, raw) in vars.iter().filter(|(name, _)| is_override(name)) {
        let fail = |reason: String| ConfigError::Env {
            var: name.clone(),
            reason,
        };
        let rest = &name[ENV_PREFIX.len()..];
        let segments: Vec<String> = rest
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        if segments.iter().any(String::is_empty) {
            return Err(fail(format!(
                "empty key segment (\"{ENV_SEPARATOR}\" twice in a row, or at the start or end)"
            )));
        }
        let value = scalar(raw).map_err(fail)?;
        set(root, &segments, value).map_err(fail)?;
        applied.push(name.clone());
    }
    Ok(applied)
}

/// Reads an override's value: `[…]` and `{…}` are YAML flow collections, anything else a YAML
/// scalar (`true`, `2049`, `~`, `'quoted'`), falling back to the text itself when it is not one,
/// so `/data/a: b` stays a path instead of turning into a mapping.
fn scalar(raw: &str) -> Result<Value, String> {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        return serde_yaml_ng::from_str(raw)
            .map_err(|e| format!("{raw:?} is not a YAML list or mapping: {e}"));
    }
    match serde_yaml_ng::from_str::<Value>(raw) {
        Ok(value @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => {
            Ok(value)
        }
        _ => Ok(Value::String(raw.to_owned())),
    }
}

/// Sets the node at `segments` (non-empty) below `root` to `value`, creating missing sections.
fn set(root: &mut Value, segments: &[String], value: Value) -> Result<(), String> {
    let mut node = root;
    let mut key = String::new();
    let mut value = Some(value);
    for (i, segment) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        let child = match node {
            Value::Mapping(map) => {
                // Match keys case-insensitively so a store the file calls `Fast` is reachable.
                let existing = map
                    .keys()
                    .find(|k| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(segment)))
                    .cloned();
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(segment);
                let name = existing.unwrap_or_else(|| Value::String(segment.clone()));
                if is_last && value.as_ref().is_some_and(Value::is_null) {
                    // An empty value removes the key, which then takes its default.
                    map.remove(&name);
                    return Ok(());
                }
                map.entry(name).or_insert(Value::Null)
            }
            Value::Sequence(list) => {
                let shown = if key.is_empty() {
                    "the configuration"
                } else {
                    key.as_str()
                };
                let Ok(index) = segment.parse::<usize>() else {
                    return Err(format!(
                        "{shown} is a list; address an entry by its index, e.g. __0__"
                    ));
                };
                let len = list.len();
                let Some(item) = list.get_mut(index) else {
                    return Err(format!(
                        "{shown} has {len} entries, so there is no index {index}"
                    ));
                };
                key.push_str(&format!("[{index}]"));
                item
            }
            _ => return Err(format!("{key} is a single value, not a section with keys")),
        };
        if is_last {
            *child = value.take().expect("the last segment is visited once");
            return Ok(());
        }
        node = child;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).expect("test YAML")
    }

    /// Overrides replace existing keys, create missing sections, index lists, match keys
    /// case-insensitively, and leave non-override variables alone.
    #[test]
    fn overrides_walk_the_tree() {
        let mut root = yaml(
            "logging: {level: info, format: json}\nmetadata: {stores: {Fast: {type: memory}}}\nshares: [{name: /a}, {name: /b}]\ncache:\n",
        );
        let applied = apply_overrides(
            &mut root,
            &vars(&[
                ("DITTOFS_LOGGING__LEVEL", "debug"),
                ("DITTOFS_ADAPTERS__NFS__PORT", "2049"),
                ("DITTOFS_METADATA__STORES__FAST__TYPE", "rocksdb"),
                ("DITTOFS_SHARES__1__READ_ONLY", "true"),
                (
                    "DITTOFS_SHARES__0__ALLOWED_CLIENTS",
                    "[10.0.0.0/8, '::1/128']",
                ),
                ("DITTOFS_CACHE__FLUSH_WORKERS", "8"),
                ("DITTOFS_LOGGING__FORMAT", ""),
                ("DITTOFS_LOGGING__ABSENT", "~"),
                ("DITTOFS_CONFIG", "/etc/dittofs.yaml"),
                ("HOME", "/home/x"),
            ]),
        )
        .expect("overrides apply");
        assert_eq!(applied.len(), 8, "{applied:?}");
        let expected = yaml(
            "logging: {level: debug}\nmetadata: {stores: {Fast: {type: rocksdb}}}\n\
             shares: [{name: /a, allowed_clients: [10.0.0.0/8, '::1/128']}, {name: /b, read_only: true}]\n\
             cache: {flush_workers: 8}\nadapters: {nfs: {port: 2049}}\n",
        );
        assert_eq!(root, expected);
    }

    /// Values are YAML scalars, but text that would parse as a block mapping stays text.
    #[test]
    fn values_are_scalars() {
        assert_eq!(scalar("2049"), Ok(Value::from(2049)));
        assert_eq!(scalar("true"), Ok(Value::Bool(true)));
        assert_eq!(scalar("~"), Ok(Value::Null));
        assert_eq!(scalar("'0755'"), Ok(Value::from("0755")));
        assert_eq!(scalar("/data/a: b"), Ok(Value::from("/data/a: b")));
        assert_eq!(scalar("- x"), Ok(Value::from("- x")));
        assert_eq!(scalar("'unterminated"), Ok(Value::from("'unterminated")));
        assert!(
            scalar("[unclosed")
                .expect_err("bad flow")
                .contains("is not a YAML list")
        );
    }

    /// Each failure names the variable and the key it could not reach.
    #[test]
    fn errors_name_the_variable() {
        let base = "logging: {level: info}\nshares: [{name: /a}]\n";
        let cases = [
            (
                "DITTOFS_LOGGING__LEVEL__X",
                "logging.level is a single value",
            ),
            (
                "DITTOFS_SHARES__3__READ_ONLY",
                "shares has 1 entries, so there is no index 3",
            ),
            (
                "DITTOFS_SHARES__FIRST__READ_ONLY",
                "shares is a list; address an entry by its index",
            ),
            ("DITTOFS_LOGGING____LEVEL", "empty key segment"),
            ("DITTOFS_LOGGING__", "empty key segment"),
        ];
        for (var, reason) in cases {
            let mut root = yaml(base);
            let err = apply_overrides(&mut root, &vars(&[(var, "1")])).expect_err(var);
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("environment variable {var}: ")),
                "{text}"
            );
            assert!(text.contains(reason), "{text}");
        }
    }
}
