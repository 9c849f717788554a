//! mip6-ha: the Mobile IPv6 home agent daemon.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mip6_home_agent::config::{Config, LogFormat, default_control_socket};
use mip6_home_agent::tunnel::UserSpaceTunnel;
use mip6_home_agent::{control, daemon};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    /// Run the home agent in the foreground (SIGTERM or SIGINT stops it and
    /// removes its routes, proxy entries, nftables table and TUN device).
    Run {
        /// Configuration file (YAML; see examples/ha.yaml).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Check a configuration file and exit.
    Check {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Print the binding cache of the running daemon.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Take the control socket's path from this configuration file.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// The control socket (default /run/mip6/ha.sock).
        #[arg(long, conflicts_with = "config")]
        socket: Option<PathBuf>,
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

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal, never into a log file.
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.init(),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { config } => {
            let (cfg, warnings) = Config::load_with_warnings(&config)?;
            init_logs(cfg.log_format);
            for w in warnings {
                tracing::warn!("configuration: {w}");
            }
            let _lock = daemon::lock_instance(&cfg)?;
            mip6_home_agent::preflight::check_home_link(&cfg)?;
            let tunnel = UserSpaceTunnel::start(
                &cfg.tunnel_device,
                cfg.tunnel_mtu,
                cfg.ha_address,
                cfg.data_plane,
            )
            .with_context(|| format!("tunnel device {}", cfg.tunnel_device))?;
            daemon::run(cfg, Arc::new(tunnel))
        }
        Command::Check { config } => {
            let (cfg, warnings) = Config::load_with_warnings(&config)?;
            for w in &warnings {
                eprintln!("mip6-ha: warning: {w}");
            }
            println!(
                "{}: ok ({} mobile node(s))",
                config.display(),
                cfg.mobile_nodes.len()
            );
            Ok(())
        }
        Command::Status {
            json,
            config,
            socket,
        } => {
            let path = match (socket, config) {
                (Some(s), _) => s,
                (None, Some(c)) => Config::load(&c)?.control_socket,
                (None, None) => default_control_socket(),
            };
            let status = control::request_status(&path)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", control::render_table(&status));
            }
            Ok(())
        }
    }
}
