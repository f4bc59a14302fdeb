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

    /// Runs `dittofs args…` with `stdin` as standard input (and a low bcrypt cost, so tests
    /// that hash passwords stay fast).
    fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_dittofs"))
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("DITTOFS_BCRYPT_COST", "4")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run dittofs");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        Run::from(child.wait_with_output().expect("wait for dittofs"))
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
        "user",
        "group",
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
        &["user", "--help"],
        &["user", "add", "--help"],
        &["user", "passwd", "--help"],
        &["user", "grant", "--help"],
        &["user", "revoke", "--help"],
        &["user", "join", "--help"],
        &["user", "leave", "--help"],
        &["user", "remove", "--help"],
        &["user", "list", "--help"],
        &["group", "--help"],
        &["group", "add", "--help"],
        &["group", "grant", "--help"],
        &["group", "revoke", "--help"],
        &["group", "remove", "--help"],
        &["group", "list", "--help"],
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

/// The mode bits of a file.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Goal: the user and group commands edit the file as documented: add with
/// --password-stdin, grant, join, list, group add/grant/list, revoke, leave, remove; the file
/// stays valid and 0600, holds a bcrypt and an NT hash but never the password, `config show`
/// prints no hash, and a comment outside the identity sections survives every edit.
/// Method: `dittofs init` into a temp HOME (with an extra comment), then the real binary.
#[test]
fn user_and_group_commands_edit_the_file() {
    let sandbox = Sandbox::new();
    sandbox
        .run_stdin(&["user", "add", "alice", "--password-stdin"], "pw\n")
        .assert_fails_with("no config file at ");
    sandbox.run(&["init"]).assert_ok();
    let path = sandbox.default_config();
    let text = fs::read_to_string(&path).expect("read");
    let marked = text.replace("cache:\n", "# keep me: a note about the cache\ncache:\n");
    fs::write(&path, &marked).expect("add a comment");

    sandbox
        .run_stdin(&["group", "add", "editors", "--gid", "101"], "")
        .assert_ok();
    sandbox
        .run_stdin(&["group", "grant", "editors", "/export", "read-write"], "")
        .assert_ok();
    let add = sandbox.run_stdin(
        &[
            "user",
            "add",
            "alice",
            "--uid",
            "1001",
            "--groups",
            "editors",
            "--password-stdin",
        ],
        "correct horse\n",
    );
    add.assert_ok();
    assert!(
        add.stdout.contains("added user alice (uid 1001, gid 101)"),
        "{}",
        add.stdout
    );
    sandbox
        .run_stdin(&["user", "add", "bob", "--password-stdin"], "b0b pass\r\n")
        .assert_ok();
    sandbox
        .run_stdin(&["user", "grant", "bob", "/export", "read"], "")
        .assert_ok();
    sandbox
        .run_stdin(&["user", "join", "bob", "editors"], "")
        .assert_ok();

    let text = fs::read_to_string(&path).expect("read");
    assert!(
        text.contains("# keep me: a note about the cache\ncache:\n"),
        "{text}"
    );
    assert!(
        text.contains("# Every key is described in docs/CONFIGURATION.md."),
        "{text}"
    );
    assert!(text.contains("password_hash: $2b$04$"), "{text}");
    assert!(text.contains("nt_hash: "), "{text}");
    assert!(
        !text.contains("correct horse") && !text.contains("b0b pass"),
        "{text}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    sandbox.run(&["config", "validate"]).assert_ok();

    let users = sandbox.run(&["user", "list"]);
    users.assert_ok();
    let lines: Vec<&str> = users.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", users.stdout);
    assert!(lines[0].starts_with("USERNAME"), "{}", users.stdout);
    assert!(
        lines[1]
            .split_whitespace()
            .eq(["alice", "1001", "101", "editors", "set", "-"])
    );
    assert!(lines[2].split_whitespace().eq([
        "bob",
        "1002",
        "1002",
        "editors",
        "set",
        "/export=read"
    ]));
    assert!(!users.stdout.contains("$2b$"));
    let groups = sandbox.run(&["group", "list"]);
    groups.assert_ok();
    assert!(
        groups
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().eq([
                "editors",
                "101",
                "alice,bob",
                "/export=read-write"
            ])),
        "{}",
        groups.stdout
    );

    let shown = sandbox.run(&["config", "show"]);
    shown.assert_ok();
    assert!(
        shown.stdout.contains("password_hash: <redacted>"),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("$2b$"), "{}", shown.stdout);

    // Refusals name the problem and change nothing.
    let before = fs::read_to_string(&path).expect("read");
    sandbox
        .run_stdin(&["user", "add", "alice", "--password-stdin"], "x\n")
        .assert_fails_with("user \"alice\" already exists");
    sandbox
        .run_stdin(&["user", "grant", "alice", "/nope", "read"], "")
        .assert_fails_with("users[0].share_permissions./nope: no share named \"/nope\"");
    sandbox
        .run_stdin(&["user", "join", "alice", "ghosts"], "")
        .assert_fails_with("no group named \"ghosts\" (add it with `dittofs group add ghosts`)");
    sandbox
        .run_stdin(&["group", "remove", "editors"], "")
        .assert_fails_with("group editors still has members: alice, bob");
    sandbox
        .run_stdin(&["user", "add", "carol", "--password-stdin"], "\n")
        .assert_fails_with("the password is empty");
    sandbox
        .run_stdin(&["user", "add", "dave"], "")
        .assert_fails_with("pass --password-stdin");
    assert_eq!(fs::read_to_string(&path).expect("read"), before);

    sandbox
        .run_stdin(&["user", "revoke", "bob", "/export"], "")
        .assert_ok();
    sandbox
        .run_stdin(&["user", "leave", "bob", "editors"], "")
        .assert_ok();
    sandbox
        .run_stdin(&["user", "leave", "alice", "editors"], "")
        .assert_ok();
    sandbox
        .run_stdin(&["group", "revoke", "editors", "/export"], "")
        .assert_ok();
    sandbox
        .run_stdin(&["group", "remove", "editors"], "")
        .assert_ok();
    sandbox
        .run_stdin(&["user", "remove", "bob"], "")
        .assert_ok();
    let old_hash = fs::read_to_string(&path).expect("read");
    sandbox
        .run_stdin(
            &["user", "passwd", "alice", "--password-stdin"],
            "new one\n",
        )
        .assert_ok();
    let users = sandbox.run(&["user", "list"]);
    assert!(
        users.stdout.lines().nth(1).is_some_and(|l| l
            .split_whitespace()
            .eq(["alice", "1001", "101", "-", "set", "-"])),
        "{}",
        users.stdout
    );
    assert_eq!(users.stdout.lines().count(), 2, "{}", users.stdout);
    assert_ne!(fs::read_to_string(&path).expect("read"), old_hash);
    let text = fs::read_to_string(&path).expect("read");
    assert!(
        text.contains("# keep me: a note about the cache\ncache:\n"),
        "{text}"
    );
    sandbox.run(&["config", "validate"]).assert_ok();
}

/// Goal: `start` refuses a configuration file holding hashes that others can read, naming
/// the fix; the CLI's own writes make it 0600 again. Method: chmod 0644 after `user add`.
#[cfg(unix)]
#[test]
fn start_refuses_a_readable_file_with_hashes() {
    use std::os::unix::fs::PermissionsExt as _;
    let sandbox = Sandbox::new();
    let path = sandbox.write_config("c.yaml", "shares: [{name: /export}]\n");
    let config = path_str(&path);
    sandbox
        .run_stdin(
            &[
                "--config",
                config,
                "user",
                "add",
                "alice",
                "--password-stdin",
            ],
            "pw\n",
        )
        .assert_ok();
    assert_eq!(mode(&path), 0o600);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    sandbox
        .run(&["--config", config, "start"])
        .assert_fails_with(
            "holds secrets (password hashes) but is readable by others (mode 0644); run `chmod 600",
        );
    let grant = sandbox.run_stdin(
        &[
            "--config", config, "user", "grant", "alice", "/export", "read",
        ],
        "",
    );
    grant.assert_ok();
    assert!(
        grant.stderr.contains("is now mode 0600"),
        "{}",
        grant.stderr
    );
    assert_eq!(mode(&path), 0o600);
}

/// Goal: a file written by the previous `dittofs init`, with store options beside `type`,
/// still validates and shows, and `user add` edits it without breaking that shape.
#[test]
fn old_flat_init_file_still_loads() {
    let sandbox = Sandbox::new();
    let flat = include_str!("data/init-flat.yaml");
    assert!(flat.contains("      type: rocksdb    # memory | rocksdb\n      path: ~/"));
    let path = sandbox.write_config("old.yaml", flat);
    let config = path_str(&path);
    sandbox
        .run(&["--config", config, "config", "validate"])
        .assert_ok();
    let shown = sandbox.run(&["--config", config, "config", "show"]);
    shown.assert_ok();
    assert!(
        shown.stdout.contains("rocksdb:\n        path: "),
        "{}",
        shown.stdout
    );
    sandbox
        .run_stdin(
            &[
                "--config",
                config,
                "user",
                "add",
                "alice",
                "--password-stdin",
            ],
            "pw\n",
        )
        .assert_ok();
    let text = fs::read_to_string(&path).expect("read");
    assert!(
        text.starts_with(&flat[..flat.find("shares:").expect("shares")]),
        "{text}"
    );
    sandbox
        .run(&["--config", config, "config", "validate"])
        .assert_ok();
}

/// Goal: the product brief's example configuration validates once its elided hash is a real
/// one, all of it (its S3 store and SMB adapter included).
/// Method: hash a password with `user add` into a scratch file, put it into the seed.
#[test]
fn seed_config_validates_with_a_real_hash() {
    let sandbox = Sandbox::new();
    let scratch = sandbox.write_config("scratch.yaml", "");
    sandbox
        .run_stdin(
            &[
                "--config",
                path_str(&scratch),
                "user",
                "add",
                "x",
                "--password-stdin",
            ],
            "pw\n",
        )
        .assert_ok();
    let scratch_text = fs::read_to_string(&scratch).expect("read");
    let hash = scratch_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("password_hash: "))
        .expect("a hash was written")
        .trim_matches('\'')
        .to_owned();
    let seed = include_str!("data/seed-config.yaml").replace("$2a$10$...", &hash);
    let path = sandbox.write_config("seed.yaml", &seed);
    // Every part of the seed validates: its S3 store, its SMB adapter and the rest.
    sandbox
        .run(&["config", "validate", path_str(&path)])
        .assert_ok();
}

/// Goal: a running server applies `user add` and `group grant` without a restart, logs other
/// changed keys as needing one, and never logs a hash. Method: `dittofs start` (memory
/// stores, a free loopback port, debug logging) with its log in a file; edit the file with
/// the CLI and by hand; read the log.
#[test]
fn running_server_reloads_identity_and_logs_no_hash() {
    use std::io::Read as _;
    use std::time::Duration;
    let sandbox = Sandbox::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("local addr")
        .port();
    let text = format!(
        "metadata: {{stores: {{default: {{type: memory}}}}}}\n\
         content: {{stores: {{default: {{type: memory}}}}}}\n\
         server: {{state_dir: {home}/state}}\n\
         cache: {{flush_workers: 2}}\n\
         adapters: {{nfs: {{bind: 127.0.0.1, port: {port}, portmapper: {{enabled: false}}}}}}\n",
        home = path_str(sandbox.home.path())
    );
    let path = sandbox.write_config("c.yaml", &text);
    let config = path_str(&path);
    let log_path = sandbox.home.path().join("dittofs.log");
    let log = fs::File::create(&log_path).expect("log file");
    let mut server = Command::new(env!("CARGO_BIN_EXE_dittofs"))
        .args(["--config", config, "--log-level", "debug", "start"])
        .env_clear()
        .env("HOME", sandbox.home.path())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start dittofs");
    let read_log = || {
        let mut text = String::new();
        fs::File::open(&log_path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .expect("read log");
        text
    };
    let wait_for = |needle: &str| {
        for _ in 0..100 {
            if read_log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the log never showed {needle:?}:\n{}", read_log());
    };
    wait_for("identity loaded");

    sandbox
        .run_stdin(&["--config", config, "group", "add", "editors"], "")
        .assert_ok();
    sandbox
        .run_stdin(
            &[
                "--config",
                config,
                "user",
                "add",
                "alice",
                "--groups",
                "editors",
                "--password-stdin",
            ],
            "pw\n",
        )
        .assert_ok();
    wait_for("users=1");
    let edited = fs::read_to_string(&path)
        .expect("read")
        .replace("flush_workers: 2", "flush_workers: 3");
    fs::write(&path, edited).expect("hand edit");
    wait_for("need a restart");

    let _ = server.kill();
    let _ = server.wait();
    let log = read_log();
    let file = fs::read_to_string(&path).expect("read");
    let secrets: Vec<&str> = file
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("password_hash: ")
                .or_else(|| l.trim().strip_prefix("nt_hash: "))
        })
        .collect();
    assert_eq!(secrets.len(), 2, "{file}");
    for secret in secrets {
        assert!(
            !log.contains(secret.trim_matches('\'')),
            "a hash is in the log:\n{log}"
        );
    }
    assert!(log.contains("keys=cache"), "{log}");
}
