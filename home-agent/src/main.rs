//! mip6-ha: the Mobile IPv6 home agent daemon.

use anyhow::bail;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Mobile IPv6 home agent: keeps the binding cache, answers Binding Updates,
/// defends home addresses by proxy Neighbor Discovery and tunnels their
/// traffic to the care-of addresses.
#[derive(Debug, Parser)]
#[command(name = "mip6-ha", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the home agent in the foreground.
    Run {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Print the binding cache of the running daemon.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Errors go out as one line, not as anyhow's debug dump with a backtrace.
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mip6-ha: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { .. } => {
            bail!("`mip6-ha run` is not built yet (see issue: home agent daemon)")
        }
        Command::Status { .. } => {
            bail!("`mip6-ha status` is not built yet (see issue: home agent daemon)")
        }
    }
}
