//! mip6-testbed: builds networks from Linux network namespaces, moves mobile
//! nodes around them and measures what users feel.

use anyhow::bail;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Mobile IPv6 testbed: real daemons on namespaced networks, scripted
/// mobility, handover measurements and reports.
#[derive(Debug, Parser)]
#[command(name = "mip6-testbed", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the default topology, move one mobile node home -> A -> B -> home, report.
    Demo,
    /// Run a topology and scenario file.
    Run {
        /// Topology and scenario (YAML).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    // Errors go out as one line, not as anyhow's debug dump with a backtrace.
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mip6-testbed: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo => bail!(
            "`mip6-testbed demo` is not built yet: it needs the home agent and mobile node daemons"
        ),
        Command::Run { .. } => bail!(
            "`mip6-testbed run` is not built yet: it needs the home agent and mobile node daemons"
        ),
    }
}
