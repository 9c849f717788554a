//! mip6-mn: the Mobile IPv6 mobile node daemon.

mod autoconf;

use anyhow::bail;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Mobile IPv6 mobile node: configures care-of addresses by SLAAC with
/// Duplicate Address Detection, registers them with the home agent and keeps
/// the home address on a TUN device so connections survive every move.
#[derive(Debug, Parser)]
#[command(name = "mip6-mn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the mobile node in the foreground.
    Run {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Configure one interface by SLAAC with DAD and print every step.
    Autoconf(autoconf::AutoconfArgs),
    /// Print the binding update list and handover history of the running daemon.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIP6_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Errors go out as one line, not as anyhow's debug dump with a backtrace.
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mip6-mn: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Autoconf(args) => {
            if autoconf::run(args)? {
                Ok(())
            } else {
                bail!("address autoconfiguration did not complete")
            }
        }
        Command::Run { .. } => {
            bail!("`mip6-mn run` is not built yet (see issue: mobile node daemon)")
        }
        Command::Status { .. } => {
            bail!("`mip6-mn status` is not built yet (see issue: mobile node daemon)")
        }
    }
}
