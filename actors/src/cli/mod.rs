//! The `dittofs` command line: argument parsing (clap), the subcommands (`init`, `start`,
//! `config validate`, `config show`, `user …`, `group …`, `version`) and logging set-up.
//! The `user` and `group` commands live in `accounts`.
//!
//! The binary calls [`main`] with the function that runs the server, so this module never
//! depends on how the server is wired; tests call [`run`] with an explicit environment.

use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, ConfigEnv, ConfigError, DEFAULT_YAML, LogFormat, LogLevel};
use crate::identity;

mod accounts;

pub use self::accounts::{GroupCommand, PasswordArgs, UserCommand};

/// What `origin` is called in errors about the built-in defaults.
const DEFAULTS_ORIGIN: &str = "built-in defaults";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "dittofs",
    version,
    about = "DittoFS file server: NFSv3 shares over pluggable metadata and content stores",
    long_about = "DittoFS file server: NFSv3 shares over pluggable metadata and content stores.\n\n\
        Shares, stores and protocol adapters are described in one YAML file \
        (~/.config/dittofs/config.yaml by default). Any key in it can be overridden by an \
        environment variable: DITTOFS_ followed by the key path in capitals with sections joined \
        by \"__\", e.g. DITTOFS_ADAPTERS__NFS__PORT=2049.",
    after_long_help = "Examples:\n  \
        dittofs init                      write ~/.config/dittofs/config.yaml\n  \
        dittofs start                     serve /export on port 12049\n  \
        dittofs config validate           check the file, naming any bad key\n  \
        dittofs --config ./dev.yaml config show\n  \
        dittofs user add alice            add a user (asks for the password)\n  \
        dittofs user grant alice /export read-write\n\n\
        Then mount from this machine:\n  \
        mount -t nfs -o tcp,port=12049,mountport=12049 localhost:/export /mnt"
)]
pub struct Cli {
    /// The configuration file [default: $XDG_CONFIG_HOME/dittofs/config.yaml, else
    /// ~/.config/dittofs/config.yaml].
    #[arg(long, global = true, env = "DITTOFS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log level, replacing logging.level from the file (RUST_LOG, when set, replaces both).
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,
    /// Log format, replacing logging.format from the file.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the default configuration file.
    #[command(
        long_about = "Write the default configuration file, with a comment on every key.\n\n\
            The file is created with mode 0600 and missing parent directories with 0700, because \
            the configuration will hold secrets. An existing file is kept unless --force is given.",
        after_long_help = "Examples:\n  \
            dittofs init\n  \
            dittofs init --force                          replace an existing file\n  \
            dittofs --config /etc/dittofs/config.yaml init"
    )]
    Init {
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Run the server in the foreground.
    #[command(
        long_about = "Run the server in the foreground, serving every share on every enabled \
            adapter until it is stopped (Ctrl-C or SIGTERM), then flush unwritten data and exit.\n\n\
            Without a configuration file the built-in defaults are used (the ones `dittofs init` \
            writes): the share /export on NFS port 12049, stored under ~/.local/share/dittofs, \
            open to this machine only.\n\n\
            Changes to users:, groups: and guest: in the file are applied while running; other \
            changes are logged as needing a restart. A file that holds password hashes must not \
            be readable by group or others: start refuses it (chmod 600 fixes it).",
        after_long_help = "Examples:\n  \
            dittofs start\n  \
            dittofs --log-level debug --log-format json start\n  \
            DITTOFS_ADAPTERS__NFS__PORT=2049 dittofs start\n\n\
            Then, from this machine:\n  \
            mount -t nfs -o tcp,port=12049,mountport=12049 localhost:/export /mnt"
    )]
    Start,
    /// Check or print the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users: passwords, groups and share permissions.
    #[command(
        subcommand,
        long_about = "Manage users in the configuration file: add and remove them, set \
            passwords, put them in groups and grant them permissions on shares.\n\n\
            Each command rewrites only the users:, groups: and guest: sections of the file \
            (comments elsewhere are kept), checks the result like `config validate`, and \
            replaces the file atomically with mode 0600, since it holds password hashes. A \
            running server applies the change within a second.\n\n\
            A share permission is none, read or read-write. A user gets their own grant on the \
            share, else the best grant of their groups, else the share's default_permission.",
        after_long_help = "Examples:\n  \
            dittofs user add alice --groups editors\n  \
            dittofs user grant alice /export read-write\n  \
            dittofs user join alice staff\n  \
            dittofs user list"
    )]
    User(UserCommand),
    /// Manage groups and their share permissions.
    #[command(
        subcommand,
        long_about = "Manage groups in the configuration file. A member gets the best of their \
            groups' grants on a share, unless they have a grant of their own. Edits are written \
            like those of `dittofs user`.",
        after_long_help = "Examples:\n  \
            dittofs group add editors --gid 101\n  \
            dittofs group grant editors /export read-write\n  \
            dittofs group list"
    )]
    Group(GroupCommand),
    /// Print the version and the commit it was built from.
    #[command(after_long_help = "Example:\n  dittofs version")]
    Version,
}

/// `dittofs config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration file and the DITTOFS_* overrides.
    #[command(
        long_about = "Load the configuration file, apply the DITTOFS_* environment overrides and \
            check every rule. Prints \"ok: <path>\", or each problem with its key and reason and \
            exits with status 1.",
        after_long_help = "Examples:\n  \
            dittofs config validate\n  \
            dittofs --config ./dev.yaml config validate\n  \
            dittofs config validate ./dev.yaml            the same\n  \
            DITTOFS_ADAPTERS__NFS__PORT=2049 dittofs config validate"
    )]
    Validate {
        /// The file to check, in place of --config.
        #[arg(value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// Print the configuration the server would use.
    #[command(
        long_about = "Print the effective configuration as YAML: the file (or the built-in \
            defaults when there is none) with the DITTOFS_* overrides applied and ~ expanded. \
            Password hashes are printed as <redacted>. Fails like `config validate` when the \
            result is invalid.",
        after_long_help = "Examples:\n  \
            dittofs config show\n  \
            DITTOFS_LOGGING__LEVEL=debug dittofs config show"
    )]
    Show,
}

/// Where `start`'s configuration came from, so the server can reload its identity sections.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The file, or `None` when the built-in defaults are used.
    pub path: Option<PathBuf>,
    /// The environment it was loaded with (`~`, overrides), to reload it the same way.
    pub env: ConfigEnv,
}

/// Parses the process's arguments, runs the subcommand, and turns an error into a message on
/// stderr and exit status 1. `run_server` is called by `start` with the loaded configuration and
/// where it came from, and returns when the server has stopped.
pub fn main(run_server: impl FnOnce(Config, ConfigSource) -> anyhow::Result<()>) -> ExitCode {
    let cli = Cli::parse();
    match run(cli, &ConfigEnv::from_process(), run_server) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line against `env`.
pub fn run(
    cli: Cli,
    env: &ConfigEnv,
    run_server: impl FnOnce(Config, ConfigSource) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Version => {
            println!("{}", version_line());
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { force } => {
            let (path, is_default) = config_path(&cli, env)?;
            init(&path, *force)?;
            println!("wrote the default configuration to {}", path.display());
            let flag = if is_default {
                String::new()
            } else {
                format!(" --config {}", path.display())
            };
            println!("next: review it, then run `dittofs{flag} start`");
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Validate { file }) => {
            let path = match file {
                Some(file) => file.clone(),
                None => config_path(&cli, env)?.0,
            };
            match Config::load_with(&path, env) {
                Ok(_) => {
                    println!("ok: {}", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) if err.is_missing_file() => {
                    bail!(
                        "no config file at {} (`dittofs init` writes one)",
                        path.display()
                    )
                }
                Err(err) => bail!(describe(&err, &path)),
            }
        }
        Command::Config(ConfigCommand::Show) => {
            let (path, _) = config_path(&cli, env)?;
            let (config, from_file) = load_or_defaults(&path, env)?;
            if !from_file {
                eprintln!(
                    "# no config file at {}; these are the built-in defaults",
                    path.display()
                );
            }
            // Hashes never leave the file: not on a terminal, not in a pasted bug report.
            print!("{}", config.redacted().to_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => {
            let (path, _) = config_path(&cli, env)?;
            accounts::run_user(command, &path, env)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Group(command) => {
            let (path, _) = config_path(&cli, env)?;
            accounts::run_group(command, &path, env)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Start => {
            let (path, _) = config_path(&cli, env)?;
            let (mut config, from_file) = load_or_defaults(&path, env)?;
            if from_file {
                identity::check_private(&path, &config).map_err(|e| anyhow!(e))?;
            }
            if let Some(level) = cli.log_level {
                config.logging.level = level;
            }
            if let Some(format) = cli.log_format {
                config.logging.format = format;
            }
            init_logging(config.logging.level, config.logging.format)?;
            if from_file {
                tracing::info!(path = %path.display(), "configuration loaded");
            } else {
                tracing::warn!(
                    path = %path.display(),
                    "no config file; using the built-in defaults (`dittofs init` writes them there)"
                );
            }
            let source = ConfigSource {
                path: from_file.then_some(path),
                env: env.clone(),
            };
            run_server(config, source)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Installs the global `tracing` subscriber: lines on stderr (stdout stays free for command
/// output such as `config show`), coloured only on a terminal, at `level` unless `RUST_LOG` is
/// set, which then decides alone. Fails if `RUST_LOG` is malformed or a subscriber is installed.
pub fn init_logging(level: LogLevel, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::builder()
        .with_default_directive(level_filter(level).into())
        .from_env()
        .context("RUST_LOG is not a valid log filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| anyhow!("cannot install the logger: {e}"))
}

/// The `tracing` filter for a configured level.
fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    }
}

/// `dittofs 0.1.0 (commit abc1234)`; the commit is known when the build set
/// `DITTOFS_GIT_COMMIT`.
fn version_line() -> String {
    let version = env!("CARGO_PKG_VERSION");
    match option_env!("DITTOFS_GIT_COMMIT") {
        Some(commit) if !commit.is_empty() => format!("dittofs {version} (commit {commit})"),
        _ => format!("dittofs {version}"),
    }
}

/// The configuration path and whether it is the default one.
fn config_path(cli: &Cli, env: &ConfigEnv) -> anyhow::Result<(PathBuf, bool)> {
    match &cli.config {
        Some(path) => Ok((path.clone(), false)),
        None => {
            let path = env
                .default_config_path()
                .context("pass --config PATH or set DITTOFS_CONFIG")?;
            Ok((path, true))
        }
    }
}

/// Loads `path`, or the built-in defaults when it does not exist; the flag says which.
fn load_or_defaults(path: &Path, env: &ConfigEnv) -> anyhow::Result<(Config, bool)> {
    match Config::load_with(path, env) {
        Ok(config) => Ok((config, true)),
        Err(err) if err.is_missing_file() => {
            let config = Config::parse(DEFAULT_YAML, DEFAULTS_ORIGIN, env)
                .map_err(|e| anyhow!(describe(&e, path)))?;
            Ok((config, false))
        }
        Err(err) => Err(anyhow!(describe(&err, path))),
    }
}

/// A configuration error as the CLI prints it: validation problems one per line under the
/// file's name; other errors already say where they are.
fn describe(err: &ConfigError, path: &Path) -> String {
    match err {
        ConfigError::Invalid { problems } if problems.len() == 1 => {
            format!("{}: {}", path.display(), problems[0])
        }
        ConfigError::Invalid { problems } => {
            let mut text = format!("{} has {} problems:", path.display(), problems.len());
            for problem in problems {
                text.push_str(&format!("\n  {problem}"));
            }
            text
        }
        other => other.to_string(),
    }
}

/// Writes [`DEFAULT_YAML`] to `path` with mode 0600, creating parent directories with 0700.
/// Without `force` an existing file is an error; with it the file is replaced atomically.
fn init(path: &Path, force: bool) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir_builder()
            .create(parent)
            .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    }
    if !force {
        let mut file = match private_file_options().create_new(true).open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                )
            }
            Err(err) => {
                return Err(err).with_context(|| format!("cannot create {}", path.display()));
            }
        };
        return file
            .write_all(DEFAULT_YAML.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()));
    }
    // Write a sibling, then rename over the target, so an interrupted --force never leaves a
    // half-written configuration.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = (|| -> io::Result<()> {
        let mut file = private_file_options()
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        restrict_permissions(&tmp)?;
        file.write_all(DEFAULT_YAML.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Best effort: the write already failed and that error is the one to report.
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Options for a file only its owner can read (mode 0600 when created).
fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// A recursive directory builder whose new directories only the owner can enter (0700).
fn private_dir_builder() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
}

/// Sets mode 0600 on an existing file (creation modes do not apply to a file that existed).
fn restrict_permissions(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use clap::CommandFactory;

    use super::*;

    fn env_in(home: &Path) -> ConfigEnv {
        ConfigEnv {
            home: Some(home.to_owned()),
            ..ConfigEnv::default()
        }
    }

    /// Goal: the clap definition is consistent (no conflicting names, valid defaults).
    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    /// Goal: global options are accepted after the subcommand too, and DITTOFS_CONFIG's flag
    /// parses to a path.
    #[test]
    fn global_options_parse_anywhere() {
        let cli = Cli::try_parse_from([
            "dittofs",
            "config",
            "show",
            "--config",
            "/x.yaml",
            "--log-level",
            "debug",
        ])
        .expect("valid arguments");
        assert_eq!(cli.config.as_deref(), Some(Path::new("/x.yaml")));
        assert_eq!(cli.log_level, Some(LogLevel::Debug));
        assert!(matches!(cli.command, Command::Config(ConfigCommand::Show)));
        assert!(Cli::try_parse_from(["dittofs", "--log-format", "xml", "start"]).is_err());
        assert!(
            Cli::try_parse_from(["dittofs"]).is_err(),
            "a subcommand is required"
        );
    }

    /// Goal: `start` without a config file hands the built-in defaults, expanded and with the
    /// command-line log level, to the server runner, and returns the runner's error.
    #[test]
    fn start_without_file_runs_defaults() {
        let home = tempfile::tempdir().expect("temp dir");
        let missing = home.path().join("absent.yaml");
        let cli = Cli::try_parse_from([
            "dittofs",
            "--config",
            missing.to_str().expect("utf-8 temp path"),
            "--log-level",
            "warn",
            "start",
        ])
        .expect("valid arguments");
        let seen = RefCell::new(None);
        let result = run(cli, &env_in(home.path()), |config, source| {
            assert!(source.path.is_none(), "no file was loaded");
            *seen.borrow_mut() = Some(config);
            Err(anyhow!("runner stopped"))
        });
        assert_eq!(
            result.expect_err("runner error propagates").to_string(),
            "runner stopped"
        );
        let config = seen.into_inner().expect("runner was called");
        assert_eq!(config.logging.level, LogLevel::Warn);
        assert_eq!(config.shares[0].name, "/export");
        assert_eq!(
            config.metadata.stores["default"].path(),
            Some(home.path().join(".local/share/dittofs/metadata").as_path())
        );
    }

    /// Goal: `init` writes a private file, refuses to overwrite it, and `--force` replaces it.
    #[test]
    fn init_is_private_and_careful() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/b/config.yaml");
        init(&path, false).expect("first init");
        assert_eq!(fs::read_to_string(&path).expect("written"), DEFAULT_YAML);
        let err = init(&path, false).expect_err("second init refuses");
        assert!(
            err.to_string()
                .ends_with("config.yaml already exists; pass --force to overwrite it"),
            "{err}"
        );
        fs::write(&path, "changed").expect("edit");
        init(&path, true).expect("forced init");
        assert_eq!(fs::read_to_string(&path).expect("rewritten"), DEFAULT_YAML);
        assert!(!path.with_extension("yaml.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        }
    }

    /// Goal: several problems print one per line under the file name; one prints inline.
    #[test]
    fn describe_lists_problems() {
        let env = env_in(Path::new("/home/x"));
        let err = Config::parse("shares: []\nadapters: {nfs: {port: 0}}\n", "f", &env)
            .expect_err("invalid");
        assert_eq!(
            describe(&err, Path::new("/c.yaml")),
            "/c.yaml has 2 problems:\n  shares: at least one share is required\n  adapters.nfs.port: 0 is not a valid port"
        );
        let err = Config::parse("adapters: {nfs: {port: 0}}\n", "f", &env).expect_err("invalid");
        assert_eq!(
            describe(&err, Path::new("/c.yaml")),
            "/c.yaml: adapters.nfs.port: 0 is not a valid port"
        );
        assert!(version_line().starts_with("dittofs "));
    }
}
