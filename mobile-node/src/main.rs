//! mip6-mn: the Mobile IPv6 mobile node daemon.

mod autoconf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use mip6_mobile_node::tunnel::{SharedTunnel, TunnelPlane, TunnelSettings};
use mip6_mobile_node::{config, control, daemon};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};

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
    /// Check a configuration file and exit (warnings, such as deprecated
    /// names, go to stderr).
    Check {
        /// Configuration file (YAML; see examples/mn.yaml).
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
        /// The daemon's control socket.
        #[arg(short, long, conflicts_with = "config")]
        socket: Option<PathBuf>,
        /// Take the control socket from this configuration file.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs every state change by default; the tools only warn.
    let default = match cli.command {
        Command::Run { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIP6_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Errors go out as one line, not as anyhow's debug dump with a backtrace.
    match run(cli) {
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
        Command::Run { config } => run_daemon(&config),
        Command::Check { config } => {
            let cfg = load_config(&config)?;
            for w in &cfg.warnings {
                eprintln!("mip6-mn: warning: {w}");
            }
            println!(
                "{}: ok ({} interface(s), home agent {})",
                config.display(),
                cfg.interfaces.len(),
                cfg.home_agent
                    .map_or_else(|| "by DHAAD".to_owned(), |a| a.to_string())
            );
            Ok(())
        }
        Command::Status {
            json,
            socket,
            config,
        } => {
            let path = match (socket, config) {
                (Some(s), _) => s,
                (None, Some(c)) => load_config(&c)?.control_socket,
                (None, None) => PathBuf::from(config::DEFAULT_CONTROL_SOCKET),
            };
            let status = control::query(&path)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", status.render());
            }
            Ok(())
        }
    }
}

fn load_config(path: &std::path::Path) -> anyhow::Result<config::Config> {
    config::load(path).map_err(|errs| {
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid configuration:\n  {}", lines.join("\n  "))
    })
}

/// SIGINT and SIGTERM received so far.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

fn run_daemon(path: &std::path::Path) -> anyhow::Result<()> {
    let cfg = load_config(path)?;
    for w in &cfg.warnings {
        tracing::warn!("configuration: {w}");
    }
    if unsafe { libc::geteuid() } != 0 {
        bail!("the mobile node must run as root: it configures addresses, routes and raw sockets");
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic, which is
        // async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    let factory = |s: &TunnelSettings| -> std::io::Result<Box<dyn TunnelPlane>> {
        Ok(Box::new(SharedTunnel::start(s)?))
    };
    daemon::run(cfg, &SIGNALS, &factory).context("mobile node")
}
