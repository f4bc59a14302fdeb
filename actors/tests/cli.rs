//! The `dittofs` binary as a user runs it: each test gets a fresh temporary HOME and an
//! environment with nothing else in it, runs the built binary, and checks exit codes and output.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary HOME and a way to run `dittofs` in it.
struct Sandbox {
    home: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().expect("temp HOME"),
        }
    }

    /// Where `dittofs init` writes by default in this HOME.
    fn default_config(&self) -> PathBuf {
        self.home.path().join(".config/dittofs/config.yaml")
    }

    /// Runs `dittofs args…` with HOME set, extra `env` pairs, and nothing else inherited.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_dittofs"))
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .envs(env.iter().copied())
            .output()
            .expect("run dittofs");
        Run::from(output)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Writes `text` as a config file in HOME and returns its path.
    fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.path().join(name);
        fs::write(&path, text).expect("write config");
        path
    }
}

/// What a run printed and how it exited.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
        }
    }
}

impl Run {
    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    fn assert_fails_with(&self, needle: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// Goal: help works at every level and shows examples. Method: --help on the root and on each
/// subcommand.
#[test]
fn help_is_available() {
    let sandbox = Sandbox::new();
    let root = sandbox.run(&["--help"]);
    root.assert_ok();
    for word in [
        "init",
        "start",
        "config",
        "version",
        "--config",
        "DITTOFS_CONFIG",
        "Examples:",
    ] {
        assert!(
            root.stdout.contains(word),
            "root help lacks {word:?}:\n{}",
            root.stdout
        );
    }
    for args in [
        &["init", "--help"][..],
        &["start", "--help"],
        &["config", "validate", "--help"],
        &["config", "show", "--help"],
    ] {
        let run = sandbox.run(args);
        run.assert_ok();
        assert!(
            run.stdout.contains("Example"),
            "{args:?} help lacks examples:\n{}",
            run.stdout
        );
    }
    let short = sandbox.run(&["-h"]);
    short.assert_ok();
    assert!(short.stdout.contains("Usage: dittofs"), "{}", short.stdout);
    // No subcommand is a usage error (clap's exit code 2), with a hint.
    let bare = sandbox.run(&[]);
    assert_eq!(bare.code, Some(2), "{}", bare.stderr);
}

/// Goal: `version` and `--version` name the program and its version.
#[test]
fn version_prints_name_and_version() {
    let sandbox = Sandbox::new();
    let expected = format!("dittofs {}", env!("CARGO_PKG_VERSION"));
    assert!(
        sandbox
            .run(&["version"])
            .assert_ok()
            .stdout
            .starts_with(&expected)
    );
    assert!(
        sandbox
            .run(&["--version"])
            .assert_ok()
            .stdout
            .starts_with(&expected)
    );
}

/// Goal: `init` writes a 0600 file under ~/.config/dittofs, says where and what next; a second
/// `init` refuses and says how to overwrite; `--force` overwrites; the file validates.
#[test]
fn init_then_validate() {
    let sandbox = Sandbox::new();
    let path = sandbox.default_config();
    let run = sandbox.run(&["init"]);
    run.assert_ok();
    assert!(run.stdout.contains(path_str(&path)), "{}", run.stdout);
    assert!(run.stdout.contains("dittofs start"), "{}", run.stdout);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path)
            .expect("config written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    sandbox
        .run(&["init"])
        .assert_fails_with("already exists; pass --force to overwrite it");

    fs::write(&path, "logging: {level: debug}\n").expect("edit");
    sandbox.run(&["init", "--force"]).assert_ok();
    assert!(
        fs::read_to_string(&path)
            .expect("rewritten")
            .contains("dirty_bytes_max: 256MiB")
    );

    let run = sandbox.run(&["config", "validate"]);
    run.assert_ok();
    assert_eq!(run.stdout.trim(), format!("ok: {}", path.display()));
}

/// Goal: `--config` and DITTOFS_CONFIG choose the file, and `init` then names it in the next
/// step.
#[test]
fn config_path_can_be_chosen() {
    let sandbox = Sandbox::new();
    let custom = sandbox.home.path().join("etc/dittofs.yaml");
    let run = sandbox.run(&["--config", path_str(&custom), "init"]);
    run.assert_ok();
    assert!(
        run.stdout
            .contains(&format!("dittofs --config {} start", custom.display())),
        "{}",
        run.stdout
    );
    assert!(!sandbox.default_config().exists());
    sandbox
        .run_with(
            &["config", "validate"],
            &[("DITTOFS_CONFIG", path_str(&custom))],
        )
        .assert_ok();
    sandbox
        .run(&["config", "validate", "--config", path_str(&custom)])
        .assert_ok();
}

/// Goal: a validation run on a missing file fails and says how to create one.
#[test]
fn validate_without_file_fails() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["config", "validate"])
        .assert_fails_with("no config file at");
}

/// Goal: a misspelt key fails with exit code 1, naming the file, line, section and key.
#[test]
fn bad_key_is_named() {
    let sandbox = Sandbox::new();
    let path = sandbox.write_config("c.yaml", "adapters:\n  nfs:\n    prot: 2049\n");
    sandbox
        .run(&["--config", path_str(&path), "config", "validate"])
        .assert_fails_with(&format!(
            "{}:3:5: adapters.nfs: unknown field `prot`",
            path.display()
        ));
}

/// Goal: a share naming an undefined store fails, naming the key, the store and the defined ones.
#[test]
fn unknown_store_is_named() {
    let sandbox = Sandbox::new();
    let path = sandbox.write_config(
        "c.yaml",
        "shares:\n  - name: /a\n    metadata_store: fast\n",
    );
    sandbox
        .run(&["--config", path_str(&path), "config", "validate"])
        .assert_fails_with(
            "shares[0].metadata_store: no metadata store named \"fast\" (defined: default)",
        );
}

/// Goal: an invalid port fails, naming the key; several problems are all listed.
#[test]
fn bad_port_is_named() {
    let sandbox = Sandbox::new();
    let path = sandbox.write_config("c.yaml", "adapters: {nfs: {port: 0}}\n");
    sandbox
        .run(&["--config", path_str(&path), "config", "validate"])
        .assert_fails_with("adapters.nfs.port: 0 is not a valid port");
    let path = sandbox.write_config("d.yaml", "adapters: {nfs: {port: 0}}\nshares: []\n");
    sandbox
        .run(&["--config", path_str(&path), "config", "validate"])
        .assert_fails_with(
            "has 2 problems:\n  shares: at least one share is required\n  adapters.nfs.port: 0",
        );
    let path = sandbox.write_config("e.yaml", "adapters: {nfs: {port: 70000}}\n");
    sandbox
        .run(&["--config", path_str(&path), "config", "validate"])
        .assert_fails_with("adapters.nfs.port: invalid value: integer `70000`, expected u16");
}

/// Goal: environment overrides change what `config show` prints, and a bad override names its
/// variable. Method: show the defaults (no file) with and without overrides.
#[test]
fn env_override_changes_show() {
    let sandbox = Sandbox::new();
    let plain = sandbox.run(&["config", "show"]);
    plain.assert_ok();
    assert!(
        plain.stderr.contains("built-in defaults"),
        "{}",
        plain.stderr
    );
    assert!(plain.stdout.contains("port: 12049"), "{}", plain.stdout);
    assert!(plain.stdout.contains("level: info"), "{}", plain.stdout);
    let home = path_str(sandbox.home.path());
    assert!(
        plain
            .stdout
            .contains(&format!("path: {home}/.local/share/dittofs/metadata")),
        "{}",
        plain.stdout
    );

    let changed = sandbox.run_with(
        &["config", "show"],
        &[
            ("DITTOFS_ADAPTERS__NFS__PORT", "2049"),
            ("DITTOFS_LOGGING__LEVEL", "debug"),
            (
                "DITTOFS_METADATA__STORES__DEFAULT__ROCKSDB__PATH",
                "/srv/meta",
            ),
        ],
    );
    changed.assert_ok();
    assert!(changed.stdout.contains("port: 2049"), "{}", changed.stdout);
    assert!(
        !changed.stdout.contains("port: 12049"),
        "{}",
        changed.stdout
    );
    assert!(
        changed.stdout.contains("level: debug"),
        "{}",
        changed.stdout
    );
    assert!(
        changed.stdout.contains("path: /srv/meta"),
        "{}",
        changed.stdout
    );

    // The shown YAML is itself a valid configuration with the same content.
    let shown = sandbox.write_config("shown.yaml", &changed.stdout);
    let again = sandbox.run(&["--config", path_str(&shown), "config", "show"]);
    again.assert_ok();
    assert_eq!(again.stdout, changed.stdout);

    sandbox
        .run_with(&["config", "show"], &[("DITTOFS_ADAPTERS__NFS__PORT", "0")])
        .assert_fails_with(
            "adapters.nfs.port: 0 is not a valid port (set by DITTOFS_ADAPTERS__NFS__PORT)",
        );
    sandbox
        .run_with(
            &["config", "validate", "--config", path_str(&shown)],
            &[("DITTOFS_ADAPTERS__NFS__PROT", "1")],
        )
        .assert_fails_with("adapters.nfs: unknown field `prot`");
}

/// Goal: `start` refuses an invalid configuration before doing anything, naming the key.
#[test]
fn start_rejects_invalid_config() {
    let sandbox = Sandbox::new();
    let path = sandbox.write_config("c.yaml", "cache: {dirty_bytes_max: 12XB}\n");
    sandbox
        .run(&["--config", path_str(&path), "start"])
        .assert_fails_with("cache.dirty_bytes_max: \"12XB\" is not a size (use e.g. 256MiB");
}
