//! `sim`: runs simulation scenarios outside the test harness.
//!
//! - `sim replay <scenario> <seed>`: one run, its whole trace on stdout.
//! - `sim sweep <scenario> [--count N] [--start S]`: fresh seeds with a progress bar; on a
//!   failure, the seed and the command that replays it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs DittoFS simulation scenarios (sim/scenarios/*.ron) seed by seed.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one seed and prints its trace.
    Replay {
        /// Scenario name (a file in sim/scenarios/ without .ron).
        scenario: String,
        /// The seed, decimal or 0x-hex.
        #[arg(value_parser = parse_seed)]
        seed: u64,
        /// Print only the summary, not the trace.
        #[arg(long)]
        quiet: bool,
    },
    /// Writes the messages of a few simulated runs as seed inputs for the fuzz targets
    /// (one file per distinct input, named by its hash, under DIR/<target>/).
    Corpus {
        /// Where the fuzz corpus lives (fuzz/corpus).
        dir: std::path::PathBuf,
    },
    /// Runs fresh seeds until one fails or COUNT have passed.
    Sweep {
        /// Scenario name.
        scenario: String,
        /// Seeds to run.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// First seed (default: from the clock, printed first).
        #[arg(long, value_parser = parse_seed)]
        start: Option<u64>,
    },
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s:?} is not a seed: {e} (decimal or 0x-hex)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay {
            scenario,
            seed,
            quiet,
        } => {
            let spec = match sim::spec::load(&scenario) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("sim: {e}");
                    return ExitCode::from(2);
                }
            };
            println!("seed {seed:#x} scenario {scenario}");
            match sim::run::run(&spec, seed) {
                Ok(r) => {
                    if !quiet {
                        print!("{}", r.trace);
                    }
                    println!(
                        "passed: {} ops, {} crashes, {} nemesis events, {} close-to-open reads, {} joint ranges, {} record conflicts, {} re-bases, {:?} simulated, digest {:016x}",
                        r.ops(),
                        r.crashes,
                        r.nemesis_events,
                        r.close_to_open,
                        r.joint_checked,
                        r.record_conflicts,
                        r.rebases,
                        r.elapsed,
                        r.digest()
                    );
                    ExitCode::SUCCESS
                }
                Err(f) => {
                    if !quiet {
                        print!("{}", f.trace);
                    }
                    eprintln!("{f}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Corpus { dir } => corpus(&dir),
        Command::Sweep {
            scenario,
            count,
            start,
        } => sweep(&scenario, count, start),
    }
}

fn sweep(scenario: &str, count: u64, start: Option<u64>) -> ExitCode {
    let spec = match sim::spec::load(scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sim: {e}");
            return ExitCode::from(2);
        }
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "a sweep explores fresh seeds; the first one is printed so the sweep can be repeated"
    )]
    let start = start.unwrap_or_else(|| u64::from(rand::random::<u32>()));
    println!(
        "sweep {scenario}: seeds {start:#x}..{:#x} (repeat with --start {start:#x})",
        start + count
    );
    let bar = indicatif::ProgressBar::new(count);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} seeds, {per_sec}, eta {eta} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let mut ops = 0;
    for seed in start..start + count {
        bar.set_message(format!("seed {seed:#x}"));
        match sim::run::run(&spec, seed) {
            Ok(r) => ops += r.ops(),
            Err(f) => {
                bar.abandon();
                eprintln!("{f}");
                eprintln!(
                    "FAILED seed {seed:#x}; replay: cargo run -p sim --bin sim -- replay {scenario} {seed:#x}"
                );
                return ExitCode::FAILURE;
            }
        }
        bar.inc(1);
    }
    bar.finish();
    println!("sweep {scenario}: {count} seeds passed, {ops} client operations");
    ExitCode::SUCCESS
}

fn corpus(dir: &std::path::Path) -> ExitCode {
    sim::client::corpus::start();
    // The seam scenario (portmapper, MOUNT, the data path) and one calm multi-client run
    // (every namespace procedure the workload uses).
    if let Err(e) = sim::run_seam_scenario(1) {
        eprintln!("sim: seam scenario: {e}");
        return ExitCode::FAILURE;
    }
    let calm = match sim::spec::load("calm") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(f) = sim::run::run(&calm, 1) {
        eprintln!("{f}");
        return ExitCode::FAILURE;
    }
    let inputs = sim::client::corpus::take();
    let mut written = std::collections::BTreeMap::<&str, usize>::new();
    for (target, bytes) in inputs {
        // Large WRITE and READ payloads teach the fuzzer nothing a short one does not.
        if bytes.len() > 4096 {
            continue;
        }
        let path = dir.join(target);
        if let Err(e) = std::fs::create_dir_all(&path) {
            eprintln!("sim: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        let name = format!("{:016x}", actors::runtime::fnv1a64(&bytes));
        let file = path.join(name);
        if !file.exists() {
            if let Err(e) = std::fs::write(&file, &bytes) {
                eprintln!("sim: {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
            *written.entry(target).or_default() += 1;
        }
    }
    for (target, n) in &written {
        println!("{target}: {n} new inputs");
    }
    ExitCode::SUCCESS
}
