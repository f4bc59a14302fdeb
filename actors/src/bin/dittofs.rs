//! The `dittofs` command: parses the command line (see `actors::cli`) and runs the server.

use std::process::ExitCode;

fn main() -> ExitCode {
    actors::cli::main(actors::daemon::run)
}
