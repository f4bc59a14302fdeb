//! Tests of loading and validating configurations.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::load::{keys_overlap, override_key};
use super::validate::ProblemList;
use super::*;
use crate::identity::Permission;

fn env_with(vars: &[(&str, &str)]) -> ConfigEnv {
    ConfigEnv {
        home: Some(PathBuf::from("/home/tester")),
        xdg_config_home: None,
        vars: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "test.yaml", &env_with(&[]))
}

/// The error text of a configuration expected to fail.
fn error(text: &str) -> String {
    parse(text)
        .expect_err("configuration should be rejected")
        .to_string()
}

/// The problems of a configuration expected to fail validation.
fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Err(ConfigError::Invalid { problems }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

/// Goal: `dittofs init`'s commented file and the built-in defaults are the same
/// configuration. Method: parse DEFAULT_YAML without expansion and compare.
#[test]
fn default_yaml_is_the_default_config() {
    let parsed: Config = serde_yaml_ng::from_str(DEFAULT_YAML).expect("DEFAULT_YAML parses");
    assert_eq!(parsed, Config::default_config());
    let empty: Config = serde_yaml_ng::from_str("{}").expect("empty mapping parses");
    assert_eq!(empty, Config::default_config());
}

/// Goal: the defaults load and validate, with `~` expanded from HOME.
#[test]
fn defaults_load_and_expand_home() {
    let config = parse(DEFAULT_YAML).expect("defaults are valid");
    assert_eq!(
        config.metadata.stores["default"].path(),
        Some(Path::new("/home/tester/.local/share/dittofs/metadata"))
    );
    assert_eq!(
        config.content.stores["default"].path(),
        Some(Path::new("/home/tester/.local/share/dittofs/content"))
    );
    assert_eq!(
        config.adapters.nfs.socket_addr().to_string(),
        "0.0.0.0:12049"
    );
    assert_eq!(config.shares[0].name, "/export");
    assert_eq!(config.shares[0].root.mode, 0o777);
    assert_eq!(config.cache.dirty_bytes_max, ByteSize(256 << 20));
    assert_eq!(config.server.shutdown_timeout, Duration::from_secs(30));
    // Empty and comment-only files are the defaults too.
    assert_eq!(parse("").expect("empty"), config);
    assert_eq!(parse("# nothing\n").expect("comments"), config);

    let no_home = ConfigEnv {
        home: None,
        ..env_with(&[])
    };
    let err = Config::parse(DEFAULT_YAML, "test.yaml", &no_home).expect_err("~ without HOME");
    assert_eq!(
        err.to_string(),
        "\"~\" in metadata.stores.default.path needs $HOME, which is not set"
    );
}

/// Goal: to_yaml writes what parse reads. Method: a config with every kind of value
/// round-trips through text.
#[test]
fn to_yaml_round_trips() {
    let text = "
logging: {level: debug, format: json}
server: {shutdown_timeout: 1m30s}
metadata:
  stores:
    mem: {type: memory}
    disk: {type: rocksdb, path: /var/lib/dittofs/meta}
content:
  stores:
    mem: {type: memory}
    disk: {type: filesystem, path: /var/lib/dittofs/data}
cache: {dirty_bytes_max: 1GiB, flush_workers: 2}
shares:
  - {name: /a, metadata_store: mem, content_store: mem, read_only: true, squash: all,
     root: {uid: 1000, gid: 100, mode: 1750}, allowed_clients: []}
  - {name: /b/c, metadata_store: disk, content_store: disk, squash: root,
     allowed_clients: [10.0.0.0/8, 'fd00::/8'], require_privileged_port: true}
adapters:
  nfs: {bind: '::', port: 2049, portmapper: {enabled: false, port: 111}, max_connections: 8,
        max_in_flight_per_connection: 2}
";
    let config = parse(text).expect("valid");
    assert_eq!(config.server.shutdown_timeout, Duration::from_secs(90));
    assert_eq!(config.shares[0].root.mode, 0o1750);
    assert_eq!(config.shares[0].squash, Squash::All);
    assert!(config.shares[0].allowed_clients.is_empty());
    assert_eq!(config.shares[1].anonymous_uid, 65534);
    let yaml = config.to_yaml();
    assert!(yaml.contains("mode: '1750'"), "{yaml}");
    assert!(yaml.contains("shutdown_timeout: 90s"), "{yaml}");
    assert_eq!(parse(&yaml).expect("round trip"), config);
}

/// Goal: allowed_clients: empty allows everyone; left out allows loopback only.
#[test]
fn allowed_clients_default_to_loopback() {
    let ip = |s: &str| s.parse::<IpAddr>().expect("test address");
    let share = ShareConfig::new("/x");
    assert!(allows(&share.allowed_clients, ip("127.0.0.1")));
    assert!(allows(&share.allowed_clients, ip("::1")));
    assert!(allows(&share.allowed_clients, ip("::ffff:127.0.0.2")));
    assert!(!allows(&share.allowed_clients, ip("192.0.2.1")));
    let open = ShareConfig {
        allowed_clients: Vec::new(),
        ..share
    };
    assert!(allows(&open.allowed_clients, ip("192.0.2.1")));
}

/// Goal: parse errors name the file, line, column, key and reason.
#[test]
fn parse_errors_have_locations() {
    let err = error("adapters:\n  nfs:\n    prot: 2049\n");
    assert!(
        err.starts_with("test.yaml:3:5: adapters.nfs: unknown field `prot`"),
        "{err}"
    );
    let err = error("adapters:\n  nfs:\n    port: 70000\n");
    assert!(
        err.starts_with("test.yaml:3:11: adapters.nfs.port: invalid value: integer `70000`"),
        "{err}"
    );
    let err = error("cache:\n  dirty_bytes_max: 12XB\n");
    assert_eq!(
        err,
        "test.yaml:2:20: cache.dirty_bytes_max: \"12XB\" is not a size (use e.g. 256MiB, 1GiB or a number of bytes)"
    );
    let err = error("logging: {level: loud}\n");
    assert!(
        err.contains("logging.level: unknown variant `loud`, expected one of `trace`"),
        "{err}"
    );
    let err = error("shares:\n  - name: /a\n    squash: maybe\n");
    assert!(
        err.starts_with("test.yaml:3:13: shares[0].squash: unknown variant `maybe`"),
        "{err}"
    );
    let err = error("shares:\n  - metadata_store: default\n");
    assert!(err.contains("shares[0]: missing field `name`"), "{err}");
    let err = error("shares:\n  - name: /a\n    allowed_clients: [10.0.0.1/8]\n");
    assert!(
        err.contains("shares[0].allowed_clients[0]: \"10.0.0.1/8\" is not a CIDR block: host bits"),
        "{err}"
    );
    let err = error("shares:\n  - name: /a\n    root: {mode: 0999}\n");
    assert!(
        err.contains("shares[0].root.mode: \"0999\" is not a mode"),
        "{err}"
    );
    let err = error("metadata:\n  stores:\n    default:\n      type: rocksdb\n      pth: /x\n");
    assert!(
        err.starts_with("test.yaml:3:5: metadata.stores: unknown field `pth`, expected `path`"),
        "{err}"
    );
    let err = error("metadata:\n  stores:\n    default: {type: rocksdb}\n");
    assert!(
        err.contains("metadata.stores: missing field `path`"),
        "{err}"
    );
    let err = error("metadata:\n  stores:\n    default: {type: memory, path: /x}\n");
    assert!(err.contains("unknown field `path`"), "{err}");
    let err = error("metadata:\n  stores:\n    default: {type: leveldb}\n");
    assert!(
        err.contains("unknown variant `leveldb`, expected one of `memory`, `rocksdb`, `postgres`"),
        "{err}"
    );
    let err = error("server:\n  shutdown_timeout: 30\n");
    assert!(
        err.contains("server.shutdown_timeout: \"30\" is not a duration (missing unit"),
        "{err}"
    );
    let err = error("logging: [\n");
    assert!(err.starts_with("test.yaml:2:1: "), "{err}");
    let err = error("- just\n- a list\n");
    assert!(err.starts_with("test.yaml"), "{err}");
}

/// Goal: validation reports every broken rule with its key. Method: one configuration that
/// breaks many rules at once.
#[test]
fn validation_names_keys_and_reasons() {
    let found = problems(
        "
server: {shutdown_timeout: 0s}
metadata:
  stores:
    default: {type: memory}
    pg: {type: postgres, url: 'postgres://x'}
    Bad: {type: memory}
    rel: {type: rocksdb, path: data/meta}
content:
  stores:
    default: {type: filesystem, path: /srv/d}
    twin: {type: filesystem, path: /srv/d}
    inner: {type: filesystem, path: /srv/d/x}
    bucket: {type: s3, bucket: b, block_size: 1KiB}
cache: {dirty_bytes_max: 64KiB, flush_workers: 0}
shares:
  - {name: export}
  - {name: /a, metadata_store: fast}
  - {name: /a, content_store: slow}
  - {name: /b/, read_only: true}
  - {name: /b//c}
  - {name: /b/../c}
adapters:
  nfs: {port: 0, max_connections: 0, max_in_flight_per_connection: 0, portmapper: {port: 0}}
",
    );
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    let expected = [
        "server.shutdown_timeout: must be longer than 0s",
        "metadata.stores.Bad: \"Bad\" is not a valid store name",
        "metadata.stores.pg.postgres.url: \"postgres://x\" is not a PostgreSQL URL of the form postgres://user@host:port/database",
        "metadata.stores.rel.path: \"data/meta\" must be an absolute path or start with ~/",
        "content.stores.bucket.s3.block_size: must be between 64KiB and 256MiB",
        "content.stores.inner.path: is inside content.stores.default.path",
        "content.stores.twin.path: is the same directory as content.stores.default.path",
        "cache.dirty_bytes_max: 64KiB is less than one maximal WRITE (1MiB)",
        "cache.flush_workers: must be at least 1",
        "shares[0].name: \"export\" must start with /",
        "shares[1].metadata_store: no metadata store named \"fast\" (defined: Bad, default, pg, rel)",
        "shares[2].name: \"/a\" is already the name of shares[1]",
        "shares[2].content_store: no content store named \"slow\" (defined: bucket, default, inner, twin)",
        "shares[3].name: \"/b/\" must not end with /",
        "shares[4].name: \"/b//c\" has an empty component (//)",
        "shares[5].name: \"/b/../c\" has a \"..\" component",
        "adapters.nfs.port: 0 is not a valid port",
        "adapters.nfs.max_connections: must be at least 1",
        "adapters.nfs.max_in_flight_per_connection: must be at least 1",
        "adapters.nfs.portmapper.port: 0 is not a valid port",
    ];
    for want in expected {
        assert!(
            shown.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    assert_eq!(shown.len(), expected.len(), "{shown:#?}");
}

/// Goal: the remaining single rules: no enabled adapter, no shares, port clash, root share,
/// long names; and the one-line Display of several problems.
#[test]
fn validation_edge_cases() {
    let found = problems("adapters: {nfs: {enabled: false}}\nshares: []\n");
    assert_eq!(
        ProblemList(&found).to_string(),
        "shares: at least one share is required; adapters: no adapter is enabled (set adapters.nfs.enabled or adapters.smb.enabled to true)"
    );
    let found = problems("adapters: {nfs: {port: 111}}\n");
    assert_eq!(
        found[0].to_string(),
        "adapters.nfs.portmapper.port: 111 is also adapters.nfs.port; they need different ports"
    );
    assert!(parse("adapters: {nfs: {port: 111, portmapper: {enabled: false}}}\n").is_ok());
    assert!(parse("shares: [{name: /}]\n").is_ok());
    let long = format!("shares: [{{name: /{}}}]\n", "a".repeat(256));
    assert!(
        problems(&long)[0]
            .reason
            .contains("component longer than 255 bytes")
    );
    let longer = format!("shares: [{{name: '{}'}}]\n", "/abc".repeat(300));
    assert!(
        problems(&longer)[0]
            .reason
            .contains("longer than 1024 bytes")
    );
    let found = problems("metadata: {stores: {}}\ncontent: {stores: {}}\n");
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "metadata.stores: at least one store is required",
            "content.stores: at least one store is required",
            "shares[0].metadata_store: no metadata store named \"default\" (defined: none)",
            "shares[0].content_store: no content store named \"default\" (defined: none)",
        ]
    );
}

/// Goal: overrides change values, create sections, reach list entries, and `~` in an
/// override is expanded like `~` in the file.
#[test]
fn env_overrides_apply() {
    let env = env_with(&[
        ("DITTOFS_LOGGING__LEVEL", "debug"),
        ("DITTOFS_ADAPTERS__NFS__PORT", "2049"),
        ("DITTOFS_METADATA__STORES__DEFAULT__ROCKSDB__PATH", "~/meta"),
        ("DITTOFS_SHARES__0__ROOT__MODE", "0700"),
        ("DITTOFS_SERVER__SHUTDOWN_TIMEOUT", "5m"),
        ("DITTOFS_CONFIG", "/ignored.yaml"),
    ]);
    let config = Config::parse(DEFAULT_YAML, "test.yaml", &env).expect("valid");
    assert_eq!(config.logging.level, LogLevel::Debug);
    assert_eq!(config.adapters.nfs.port, 2049);
    assert_eq!(
        config.metadata.stores["default"].path(),
        Some(Path::new("/home/tester/meta"))
    );
    assert_eq!(config.shares[0].root.mode, 0o700);
    assert_eq!(config.server.shutdown_timeout, Duration::from_secs(300));
    // An empty file plus overrides.
    let config = Config::parse(
        "",
        "test.yaml",
        &env_with(&[("DITTOFS_CACHE__FLUSH_WORKERS", "9")]),
    )
    .expect("valid");
    assert_eq!(config.cache.flush_workers, 9);
    assert_eq!(config.shares, Config::default_config().shares);
    // Switching a store's type: the old type's section is removed by an empty value.
    let env = env_with(&[
        ("DITTOFS_METADATA__STORES__DEFAULT__TYPE", "memory"),
        ("DITTOFS_METADATA__STORES__DEFAULT__ROCKSDB", ""),
        ("DITTOFS_CONTENT__STORES__DEFAULT__TYPE", "memory"),
        ("DITTOFS_CONTENT__STORES__DEFAULT__FILESYSTEM", ""),
    ]);
    let config = Config::parse("", "test.yaml", &env).expect("valid");
    assert_eq!(
        config.metadata.stores["default"],
        MetadataStoreConfig::Memory {}
    );
    assert_eq!(
        config.content.stores["default"],
        ContentStoreConfig::Memory {}
    );
}

/// Goal: an override that breaks the configuration is named in the error, whether it breaks
/// parsing or validation; a broken file is still blamed on the file.
#[test]
fn env_override_errors_name_the_variable() {
    let check = |vars: &[(&str, &str)], text: &str, want: &str| {
        let err = Config::parse(text, "test.yaml", &env_with(vars))
            .expect_err(want)
            .to_string();
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    };
    check(
        &[
            ("DITTOFS_ADAPTERS__NFS__PORT", "0"),
            ("DITTOFS_LOGGING__LEVEL", "warn"),
        ],
        "",
        "adapters.nfs.port: 0 is not a valid port (set by DITTOFS_ADAPTERS__NFS__PORT)",
    );
    check(
        &[
            ("DITTOFS_ADAPTERS__NFS__PORT", "http"),
            ("DITTOFS_LOGGING__LEVEL", "warn"),
        ],
        "",
        "adapters.nfs.port: invalid type: string \"http\", expected u16 (set by DITTOFS_ADAPTERS__NFS__PORT)",
    );
    check(
        &[("DITTOFS_LOGGING__LEVLE", "warn")],
        "",
        "logging: unknown field `levle`, expected `level` or `format` (set by DITTOFS_LOGGING__LEVLE)",
    );
    check(
        &[("DITTOFS_SHARES__0__METADATA_STORE", "fast")],
        "",
        "shares[0].metadata_store: no metadata store named \"fast\" (defined: default) (set by DITTOFS_SHARES__0__METADATA_STORE)",
    );
    check(
        &[("DITTOFS_SHARES__5__READ_ONLY", "true")],
        "",
        "environment variable DITTOFS_SHARES__5__READ_ONLY: shares has 1 entries",
    );
    check(
        &[("DITTOFS_LOGGING__LEVEL", "warn")],
        "logging: {levl: x}\n",
        "test.yaml:1:11: logging: unknown field `levl`",
    );
}

/// Goal: the default path follows XDG_CONFIG_HOME when absolute, else HOME.
#[test]
fn default_config_path_follows_xdg() {
    let mut env = env_with(&[]);
    assert_eq!(
        env.default_config_path().expect("home"),
        Path::new("/home/tester/.config/dittofs/config.yaml")
    );
    env.xdg_config_home = Some(PathBuf::from("relative/dir"));
    assert_eq!(
        env.default_config_path().expect("home"),
        Path::new("/home/tester/.config/dittofs/config.yaml")
    );
    env.xdg_config_home = Some(PathBuf::from("/xdg"));
    assert_eq!(
        env.default_config_path().expect("xdg"),
        Path::new("/xdg/dittofs/config.yaml")
    );
    let none = ConfigEnv::default();
    assert_eq!(
        none.default_config_path().expect_err("no home").to_string(),
        "finding the default config file needs $HOME, which is not set"
    );
}

/// Goal: a missing file is recognisable, so `start` can fall back to the defaults.
#[test]
fn missing_file_is_recognised() {
    let err = Config::load_with(Path::new("/nonexistent/dittofs.yaml"), &env_with(&[]))
        .expect_err("missing");
    assert!(err.is_missing_file());
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/dittofs.yaml: "),
        "{err}"
    );
    assert!(
        !ConfigError::NoHome {
            what: String::new()
        }
        .is_missing_file()
    );
}

/// Goal: the helpers that attribute errors to overrides agree with serde_yaml_ng's paths.
#[test]
fn override_keys_match_paths() {
    assert_eq!(
        override_key("DITTOFS_SHARES__0__ROOT__MODE"),
        "shares[0].root.mode"
    );
    assert_eq!(
        override_key("DITTOFS_ADAPTERS__NFS__PORT"),
        "adapters.nfs.port"
    );
    assert!(keys_overlap("adapters.nfs.port", "adapters.nfs"));
    assert!(keys_overlap("shares", "shares[0].name"));
    assert!(!keys_overlap(
        "adapters.nfs.port",
        "adapters.nfs.portmapper"
    ));
    assert!(!keys_overlap("", "x"));
}

/// What `dittofs init` wrote before store options moved into a section named after the type.
const INIT_FLAT_YAML: &str = include_str!("../../tests/data/init-flat.yaml");

/// The product brief's example configuration (shared/seed-config.yaml).
const SEED_YAML: &str = include_str!("../../tests/data/seed-config.yaml");

/// Goal: a file written by the previous `dittofs init` (flat store options) still loads, to
/// the same configuration as today's file; today's writes the new shape.
#[test]
fn flat_store_shape_still_loads() {
    assert!(INIT_FLAT_YAML.contains("      type: rocksdb    # memory | rocksdb\n      path: "));
    let old = parse(INIT_FLAT_YAML).expect("the old init file is valid");
    assert_eq!(old, parse(DEFAULT_YAML).expect("defaults"));
    assert!(DEFAULT_YAML.contains("      rocksdb:\n        path: "));
    let yaml = old.to_yaml();
    assert!(
        yaml.contains("type: rocksdb\n      rocksdb:\n        path: /home/tester/"),
        "{yaml}"
    );
    assert!(
        yaml.contains("type: filesystem\n      filesystem:\n        path: /home/tester/"),
        "{yaml}"
    );
}

/// Goal: the sectioned store shape parses for every type, a section may be empty or null,
/// mixing the two shapes is refused naming the stray key, and a section for another type is
/// an unknown field.
#[test]
fn sectioned_store_shape() {
    let config = parse(
        "metadata:\n  stores:\n    default: {type: memory, memory: {}}\n    disk: {type: rocksdb, rocksdb: {path: /m}}\ncontent:\n  stores:\n    default:\n      type: memory\n      memory:\n    disk: {type: filesystem, filesystem: {path: /c}}\n",
    )
    .expect("valid");
    assert_eq!(
        config.metadata.stores["default"],
        MetadataStoreConfig::Memory {}
    );
    assert_eq!(config.metadata.stores["disk"].path(), Some(Path::new("/m")));
    assert_eq!(
        config.content.stores["default"],
        ContentStoreConfig::Memory {}
    );
    assert_eq!(config.content.stores["disk"].path(), Some(Path::new("/c")));
    assert_eq!(parse(&config.to_yaml()).expect("round trip"), config);
    let err = error(
        "metadata:\n  stores:\n    default: {type: rocksdb, path: /a, rocksdb: {path: /b}}\n",
    );
    assert!(
        err.contains("`path` is beside the `rocksdb:` section; put every option of a rocksdb store inside `rocksdb:`"),
        "{err}"
    );
    let err = error("metadata:\n  stores:\n    default: {type: memory, rocksdb: {path: /b}}\n");
    assert!(err.contains("unknown field `rocksdb`"), "{err}");
    let err = error("metadata:\n  stores:\n    default: {type: rocksdb, rocksdb: {pth: /b}}\n");
    assert!(
        err.contains("unknown field `pth`, expected `path`"),
        "{err}"
    );
    let err = error("metadata:\n  stores:\n    default: {rocksdb: {path: /b}}\n");
    assert!(err.contains("missing field `type`"), "{err}");
}

/// Goal: a `postgres` store parses in the seed's shape with typed options and defaults,
/// round-trips, and is checked by key: an unknown key is refused naming it, a badly typed
/// value is refused, and validation names a bad URL, zero connections and zero timeouts.
#[test]
fn postgres_store_options() {
    let config = parse(
        "metadata:\n  stores:\n    default:\n      type: postgres\n      postgres:\n        url: postgres://ditto@db.example:5433/meta\n        max_connections: 32\n        statement_timeout: 2s\n",
    )
    .expect("valid");
    let MetadataStoreConfig::Postgres(o) = &config.metadata.stores["default"] else {
        panic!(
            "not a postgres store: {:?}",
            config.metadata.stores["default"]
        );
    };
    assert_eq!(o.url.0, "postgres://ditto@db.example:5433/meta");
    assert_eq!(o.max_connections, 32);
    assert_eq!(o.statement_timeout, Duration::from_secs(2));
    assert_eq!(o.acquire_timeout, Duration::from_secs(5));
    assert_eq!(o.retry_deadline, Duration::from_secs(3));
    assert_eq!(o.lock_session_ttl, Duration::from_secs(30));
    assert_eq!(config.metadata.stores["default"].path(), None);
    assert_eq!(parse(&config.to_yaml()).expect("round trip"), config);
    // The flat shape loads too.
    let flat =
        parse("metadata:\n  stores:\n    default: {type: postgres, url: 'postgres://u@h/d'}\n")
            .expect("flat shape");
    assert_eq!(
        flat.metadata.stores["default"],
        MetadataStoreConfig::Postgres(PostgresOptions::new("postgres://u@h/d"))
    );

    // The lock session ttl: a duration of at least 300ms.
    let short = parse(
        "metadata:\n  stores:\n    default: {type: postgres, postgres: {url: 'postgres://u@h/d', lock_session_ttl: 2s}}\n",
    )
    .expect("lock_session_ttl");
    let MetadataStoreConfig::Postgres(o) = &short.metadata.stores["default"] else {
        panic!("not a postgres store");
    };
    assert_eq!(o.lock_session_ttl, Duration::from_secs(2));
    assert_eq!(parse(&short.to_yaml()).expect("round trip"), short);
    let err = error(
        "metadata:\n  stores:\n    pg: {type: postgres, postgres: {url: 'postgres://u@h/d', lock_session_ttl: 100ms}}\n",
    );
    assert!(
        err.contains("postgres.lock_session_ttl: must be at least 300ms"),
        "{err}"
    );

    let err = error(
        "metadata:\n  stores:\n    pg: {type: postgres, postgres: {url: 'postgres://u@h/d', max_conns: 3}}\n",
    );
    assert!(err.contains("unknown field `max_conns`"), "{err}");
    let err = error(
        "metadata:\n  stores:\n    pg: {type: postgres, postgres: {url: 'postgres://u@h/d', max_connections: many}}\n",
    );
    assert!(
        err.contains("postgres.max_connections: expected a whole number of connections"),
        "{err}"
    );
    let err = error(
        "metadata:\n  stores:\n    pg: {type: postgres, postgres: {url: 'postgres://u@h/d', retry_deadline: 3}}\n",
    );
    assert!(
        err.contains("postgres.retry_deadline: expected a duration such as 5s"),
        "{err}"
    );
    let err = error("metadata:\n  stores:\n    pg: {type: postgres, postgres: {}}\n");
    assert!(err.contains("missing field `url`"), "{err}");

    let found: Vec<String> = problems(
        "metadata:\n  stores:\n    default: {type: memory}\n    pg: {type: postgres, postgres: {url: 'mysql://u:secret@h/d', max_connections: 0, acquire_timeout: 0s, statement_timeout: 0s, retry_deadline: 0s}}\n",
    )
    .iter()
    .map(ToString::to_string)
    .collect();
    let expected = [
        "metadata.stores.pg.postgres.url: \"mysql://u:***@h/d\" is not a PostgreSQL URL of the form postgres://user@host:port/database",
        "metadata.stores.pg.postgres.max_connections: must be at least 1",
        "metadata.stores.pg.postgres.acquire_timeout: must be longer than 0s",
        "metadata.stores.pg.postgres.statement_timeout: must be longer than 0s",
        "metadata.stores.pg.postgres.retry_deadline: must be longer than 0s",
    ];
    for e in expected {
        assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
    }
    assert!(!found.iter().any(|f| f.contains("secret")), "{found:#?}");
}

/// Goal: users, groups, guest and the share keys parse; default_permission follows read_only
/// when left out.
#[test]
fn identity_sections_parse() {
    let (hash, nt) = crate::identity::secret::hash_password("pw", 4).expect("hash");
    let text = format!(
        "groups:\n  - {{name: editors, gid: 101, share_permissions: {{/export: read-write}}}}\nusers:\n  - username: alice\n    password_hash: '{}'\n    nt_hash: {}\n    uid: 1001\n    gid: 101\n    groups: [editors]\n    share_permissions: {{/ro: none}}\nguest: {{enabled: true, uid: 7}}\nshares:\n  - {{name: /export, allow_guest: true}}\n  - {{name: /ro, read_only: true}}\n  - {{name: /x, default_permission: none}}\n",
        hash.expose(),
        nt.expose()
    );
    let config = parse(&text).expect("valid");
    assert_eq!(config.users[0].groups, ["editors"]);
    assert_eq!(config.users[0].share_permissions["/ro"], Permission::None);
    assert_eq!(
        config.groups[0].share_permissions["/export"],
        Permission::ReadWrite
    );
    assert_eq!(
        config.guest,
        GuestConfig {
            enabled: true,
            uid: 7,
            gid: 65534
        }
    );
    assert!(config.shares[0].allow_guest);
    let defaults: Vec<Permission> = config
        .shares
        .iter()
        .map(ShareConfig::effective_default_permission)
        .collect();
    assert_eq!(
        defaults,
        [Permission::ReadWrite, Permission::Read, Permission::None]
    );
    assert_eq!(parse(&config.to_yaml()).expect("round trip"), config);
    assert!(config.has_secrets());
}

/// Goal: identity rules: unknown groups, duplicate names and ids, grants on missing shares,
/// malformed hashes; each problem names the key and the reason, and never quotes a hash.
#[test]
fn identity_validation() {
    let found = problems(
        "
groups:
  - {name: editors, gid: 101}
  - {name: editors, gid: 101, share_permissions: {/gone: read}}
  - {name: 'bad name', gid: 102}
users:
  - {username: alice, uid: 1001, gid: 101, groups: [editors, ghosts], password_hash: 'secret-ish'}
  - {username: alice, uid: 1001, gid: 101, share_permissions: {/nope: read-write}}
  - {username: carol, uid: 1003, gid: 101, nt_hash: 'abc'}
",
    );
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    let expected = [
        "groups[1].name: \"editors\" is already the name of groups[0]",
        "groups[1].gid: 101 is already the gid of groups[0]",
        "groups[1].share_permissions./gone: no share named \"/gone\" (defined: /export)",
        "groups[2].name: \"bad name\" may only contain letters, digits, '.', '_' and '-'",
        "users[0].password_hash: is not a bcrypt hash ($2b$<cost>$ followed by 53 characters); set it with `dittofs user passwd alice`",
        "users[0].groups[1]: no group named \"ghosts\" (defined: editors, editors, bad name)",
        "users[1].username: \"alice\" is already the name of users[0]",
        "users[1].uid: 1001 is already the uid of users[0]",
        "users[1].share_permissions./nope: no share named \"/nope\" (defined: /export)",
        "users[2].nt_hash: is not an NT hash (32 hex digits)",
        "users[2].nt_hash: is set without password_hash",
    ];
    for want in expected {
        assert!(
            shown.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    assert_eq!(shown.len(), expected.len(), "{shown:#?}");
    assert!(!shown.iter().any(|p| p.contains("secret-ish")));
}

/// Goal: the seed example validates once its elided hash is a real one (its S3 store
/// included, with the defaults for what it leaves out).
#[test]
fn seed_config_validates() {
    let (hash, _) = crate::identity::secret::hash_password("pw", 4).expect("hash");
    let text = SEED_YAML.replace("$2a$10$...", hash.expose());
    let config = parse(&text).expect("the seed configuration validates");
    match config.content.stores.get("s3-cloud") {
        Some(ContentStoreConfig::S3(o)) => {
            assert_eq!(o.bucket, "my-dittofs-bucket");
            assert_eq!(o.region, "us-east-1");
            assert_eq!(o.block_size, ByteSize::mib(4));
        }
        other => panic!("s3-cloud: {other:?}"),
    }
    // The elided hash itself is reported, by key, without its value.
    let shown: Vec<String> = problems(SEED_YAML)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("users[0].password_hash: is not a bcrypt hash")),
        "{shown:#?}"
    );
}

/// Goal: `redacted` replaces every hash, and Debug output never shows one.
#[test]
fn redaction() {
    let (hash, nt) = crate::identity::secret::hash_password("pw", 4).expect("hash");
    let text = format!(
        "users:\n  - {{username: a, uid: 1, gid: 1, password_hash: '{}', nt_hash: {}}}\n",
        hash.expose(),
        nt.expose()
    );
    let config = parse(&text).expect("valid");
    let shown = config.redacted().to_yaml();
    assert!(shown.contains("password_hash: <redacted>"), "{shown}");
    assert!(shown.contains("nt_hash: <redacted>"), "{shown}");
    assert!(!shown.contains(hash.expose()) && !shown.contains(nt.expose()));
    let debug = format!("{config:?}");
    assert!(!debug.contains(hash.expose()) && !debug.contains(nt.expose()));
    assert!(!Config::default_config().has_secrets());

    // A database password: hidden by `config show` and Debug, kept by the file writer, and
    // it makes the file private.
    let config = parse(
        "metadata:\n  stores:\n    default: {type: postgres, postgres: {url: 'postgres://ditto:hunter2@db/meta'}}\n",
    )
    .expect("valid");
    let shown = config.redacted().to_yaml();
    assert!(
        shown.contains("url: postgres://ditto:***@db/meta"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!format!("{config:?}").contains("hunter2"));
    assert!(
        config.to_yaml().contains("hunter2"),
        "the file keeps the password"
    );
    assert_eq!(
        config.secrets(),
        ["the database password of metadata store default"],
        "the permission check names what is secret"
    );
    let without = parse(
        "metadata:\n  stores:\n    default: {type: postgres, postgres: {url: 'postgres://ditto@db/meta'}}\n",
    )
    .expect("valid");
    assert!(!without.has_secrets());
}

/// Goal: `adapters.smb` and a share's `smb` section are checked by key: ports, credits, the
/// dialect range, encryption below 3.0, NetBIOS names, and SMB share names (valid
/// characters, unique ignoring case, not IPC$).
#[test]
fn smb_section_problems() {
    let text = r#"
shares:
  - name: /Data
  - name: /data
  - name: /a/b
    smb: { name: "bad:name" }
  - name: /ipc
    smb: { name: "ipc$", encryption: required }
adapters:
  nfs: { enabled: true, port: 2049 }
  smb:
    enabled: true
    port: 2049
    max_credits: 4
    dialects: { min: "3.0", max: "2.1" }
    server_name: "much-too-long-a-name"
"#;
    let shown: Vec<String> = problems(text).iter().map(ToString::to_string).collect();
    for want in [
        "adapters.smb.port: 2049 is also adapters.nfs.port",
        "adapters.smb.max_credits: 4 is too few",
        "adapters.smb.dialects: min is above max",
        "adapters.smb.dialects.max: encryption needs SMB 3.0",
        "adapters.smb.server_name: must be 1 to 15",
        "shares[1].name: SMB share name \"data\" is also the SMB name of share \"/Data\"",
        "shares[2].smb.name: SMB share name \"bad:name\" is not valid",
        "shares[3].smb.name: SMB share name \"ipc$\" is not valid",
    ] {
        assert!(
            shown.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    assert_eq!(shown.len(), 8, "{shown:#?}");
    let mut share = ShareConfig::new("/a/b");
    assert_eq!(share.smb_name(), "a_b");
    share.smb.name = Some("B".to_owned());
    assert_eq!(share.smb_name(), "B");
}

/// Goal: an S3 content store parses in the seed's shape with every option (sizes with units,
/// durations, `~` in the cache directory), unknown keys are errors naming the key, bad values
/// are problems by key, and the secret key never shows in `Debug` or `config show`.
#[test]
fn s3_store_options() {
    let text = "content:\n  stores:\n    c:\n      type: s3\n      s3:\n        bucket: b\n        region: eu-west-1\n        endpoint: http://127.0.0.1:9000\n        prefix: fs/\n        force_path_style: true\n        block_size: 8MiB\n        cache_dir: ~/s3cache\n        cache_size: 2GiB\n        access_key_id: AKIDEXAMPLE\n        secret_access_key: very-secret-value\n        create_bucket: true\n        max_uploads: 4\n        retry_deadline: 10s\n        gc_interval: 2m\n        gc_grace: 30m\nshares:\n  - name: /export\n    content_store: c\n";
    let config = parse(text).expect("valid s3 store");
    let Some(ContentStoreConfig::S3(o)) = config.content.stores.get("c") else {
        panic!("not an s3 store");
    };
    assert_eq!(o.block_size, ByteSize::mib(8));
    assert_eq!(o.cache_size, ByteSize::mib(2048));
    assert_eq!(
        o.cache_dir.as_deref(),
        Some(Path::new("/home/tester/s3cache"))
    );
    assert_eq!(o.retry_deadline, Duration::from_secs(10));
    assert_eq!(o.gc_interval, Duration::from_secs(120));
    assert!(o.force_path_style && o.create_bucket);
    assert_eq!(config.secrets(), ["the S3 secret key of content store c"]);
    let shown = config.redacted().to_yaml();
    assert!(shown.contains("secret_access_key: <redacted>"), "{shown}");
    assert!(!shown.contains("very-secret-value"));
    assert!(!format!("{config:?}").contains("very-secret-value"));
    // The shown (redacted) form loads again.
    parse(&shown).expect("config show output reloads");
    let err = error(&text.replace("gc_grace", "gc_grase"));
    assert!(err.contains("unknown field `gc_grase`"), "{err}");
    let bad = text
        .replace("block_size: 8MiB", "block_size: 1KiB")
        .replace("endpoint: http://", "endpoint: ftp://")
        .replace("        secret_access_key: very-secret-value\n", "");
    let shown: Vec<String> = problems(&bad).iter().map(ToString::to_string).collect();
    for want in [
        "content.stores.c.s3.block_size",
        "content.stores.c.s3.endpoint",
        "content.stores.c.s3.secret_access_key",
    ] {
        assert!(
            shown.iter().any(|p| p.starts_with(want)),
            "{want} in {shown:#?}"
        );
    }
    let rel = text.replace("cache_dir: ~/s3cache", "cache_dir: rel/dir");
    let shown: Vec<String> = problems(&rel).iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("content.stores.c.s3.cache_dir")),
        "{shown:#?}"
    );
}

/// Goal: `server.http` is off unless present, takes its defaults when empty (loopback, 9464,
/// no token), refuses port 0, a port an adapter uses and an empty token by key, and its
/// token is a secret: never in `Debug` or `config show`, and it makes the file private.
/// Method: parse a few files.
#[test]
fn http_endpoint_options() {
    assert_eq!(Config::default_config().server.http, None);
    let on = parse("server:\n  http: {}\n").expect("an empty http section");
    let http = on.server.http.as_ref().expect("present");
    assert_eq!(http.socket_addr().to_string(), "127.0.0.1:9464");
    assert_eq!(http.token, None);
    assert!(!on.has_secrets());
    let text = "server:\n  http:\n    bind: 0.0.0.0\n    port: 9100\n    token: tok-very-secret\n";
    let config = parse(text).expect("valid http section");
    assert_eq!(
        config
            .server
            .http
            .as_ref()
            .unwrap()
            .socket_addr()
            .to_string(),
        "0.0.0.0:9100"
    );
    assert_eq!(
        config.secrets(),
        ["the HTTP endpoint's token (server.http.token)"]
    );
    let shown = config.redacted().to_yaml();
    assert!(shown.contains("token: <redacted>"), "{shown}");
    assert!(!shown.contains("tok-very-secret"));
    assert!(!format!("{config:?}").contains("tok-very-secret"));
    parse(&shown).expect("config show output reloads");
    let err = error(&text.replace("port: 9100", "prot: 9100"));
    assert!(err.contains("unknown field `prot`"), "{err}");
    for (bad, want) in [
        (text.replace("9100", "0"), "0 is not a valid port"),
        (text.replace("9100", "12049"), "is also adapters.nfs.port"),
        (text.replace("tok-very-secret", "' '"), "is empty"),
    ] {
        let shown: Vec<String> = problems(&bad).iter().map(ToString::to_string).collect();
        assert!(
            shown
                .iter()
                .any(|p| p.starts_with("server.http.") && p.contains(want)),
            "{want} in {shown:#?}"
        );
    }
}
