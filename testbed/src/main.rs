//! mip6-testbed: builds networks from Linux network namespaces, moves mobile
//! nodes around them and measures what users feel.

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
    /// Build the default topology, move one mobile node home -> A -> B -> home
    /// under a TCP stream and a 1 kHz probe, print the report, write it as
    /// JSON and SVG, and remove everything.
    Demo(DemoArgs),
    /// Send Router Advertisements on one interface until interrupted (the
    /// project's own RA sender; answers solicitations at once).
    RaSender(RaSenderArgs),
    /// Run a topology file's scenario: the real daemons, probes both ways
    /// and a TCP stream (and iperf3 when asked) per mobile node, scripted
    /// moves, carrier changes and faults; print the report and the home
    /// agents' BU figures, write them as JSON and SVG, and remove
    /// everything.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Topology with a `scenario:` section (YAML).
    file: PathBuf,
    /// Directory for the report and the timeline (report.json, timeline.svg).
    #[arg(long, value_name = "DIR", default_value = "target/mip6-run")]
    out: PathBuf,
    /// Where to write the JSON report instead (schema: testbed/schema/report.schema.json).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Where to write the SVG timeline instead.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Replace the first mobile node by N clones, each moving between the
    /// foreign links at random (seeded) times (default:
    /// `scenario.mobile_nodes`).
    #[arg(long)]
    mobile_nodes: Option<usize>,
    /// Seed of the clones' timelines (default: `scenario.seed`, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Keep every daemon's log and config: copy them into DIR before the
    /// lab is removed.
    #[arg(long, value_name = "DIR")]
    keep_logs: Option<PathBuf>,
    /// Optimistic DAD (RFC 4429) on every mobile node.
    #[arg(long)]
    optimistic: bool,
    /// The daemons' tunnel data plane: auto (eBPF where the kernel takes
    /// it), ebpf, tun (user space).
    #[arg(long, default_value = "auto")]
    data_plane: mip6_common::dataplane::PathChoice,
    /// Keep pcaps of every home link and every mobile node's first
    /// interface in DIR.
    #[arg(long, value_name = "DIR")]
    capture: Option<PathBuf>,
}

/// The report's and the timeline's paths: `--report`/`--svg` if given, else
/// `report.json` and `timeline.svg` in `out` (created), so nothing lands in
/// the checkout by default.
fn output_paths(
    out: &std::path::Path,
    report: Option<PathBuf>,
    svg: Option<PathBuf>,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    use anyhow::Context;
    if report.is_none() || svg.is_none() {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    }
    Ok((
        report.unwrap_or_else(|| out.join("report.json")),
        svg.unwrap_or_else(|| out.join("timeline.svg")),
    ))
}

fn run_file(args: RunArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let exp = mip6_testbed::scenario::Experiment::load(&args.file)?;
    let opts = mip6_testbed::run::RunOptions {
        bin_dir: mip6_testbed::daemons::find_bin_dir()?,
        mobile_nodes: args.mobile_nodes.or(exp.scenario.mobile_nodes),
        seed: args.seed.or(exp.scenario.seed).unwrap_or(1),
        keep: args.keep_logs.clone(),
        optimistic: args.optimistic,
        data_plane: args.data_plane,
        capture: args.capture.clone(),
    };
    let n = opts.mobile_nodes.unwrap_or(exp.topology.mobile_nodes.len());
    eprintln!(
        "mip6-testbed run: {} ({n} mobile nodes, {} ms)...",
        args.file.display(),
        exp.scenario.duration_ms
    );
    let started = std::time::Instant::now();
    let report = mip6_testbed::run::run(&exp, &opts)?;
    print!("{}", report.table());
    print!("{}", mip6_testbed::run::ha_figures(&report));
    let (json_path, svg_path) = output_paths(&args.out, args.report, args.svg)?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    std::fs::write(&svg_path, report.svg())
        .with_context(|| format!("writing {}", svg_path.display()))?;
    println!(
        "report: {}  timeline: {}  (wall time {:.1} s)",
        json_path.display(),
        svg_path.display(),
        started.elapsed().as_secs_f64()
    );
    // As for the demo: a broken connection is the failure a user cares
    // about, so scripts see it in the exit status (the report is written).
    if !report.tcp_survived {
        anyhow::bail!(
            "a TCP connection did not survive the handovers: {}",
            report.broken_connections().join("; ")
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Directory for the report and the timeline (report.json, timeline.svg).
    #[arg(long, value_name = "DIR", default_value = "target/mip6-demo")]
    out: PathBuf,
    /// Where to write the JSON report instead (schema: testbed/schema/report.schema.json).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Where to write the SVG timeline instead.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Use care-of addresses while DAD runs (RFC 4429).
    #[arg(long)]
    optimistic: bool,
    /// How long the mobile node stays on each link, milliseconds.
    #[arg(long, default_value_t = 3000)]
    dwell_ms: u64,
    /// The daemons' tunnel data plane: auto (eBPF where the kernel takes
    /// it), ebpf, tun (user space).
    #[arg(long, default_value = "auto")]
    data_plane: mip6_common::dataplane::PathChoice,
    /// Make foreign link B a DHCPv6 link (M=1, a real server): the care-of
    /// address there is leased (RFC 8415), on A made by SLAAC. The value
    /// names the server: dnsmasq or kea.
    #[arg(long, num_args = 0..=1, default_missing_value = "dnsmasq")]
    dhcpv6: Option<mip6_testbed::dhcp6_server::DhcpServer>,
}

fn demo(args: DemoArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let opts = mip6_testbed::demo::DemoOptions {
        bin_dir: mip6_testbed::daemons::find_bin_dir()?,
        optimistic: args.optimistic,
        dwell: std::time::Duration::from_millis(args.dwell_ms),
        data_plane: args.data_plane,
        dhcpv6: args.dhcpv6,
        ..Default::default()
    };
    eprintln!(
        "mip6-testbed demo: building the default topology and moving the mobile node home -> a -> b -> home ({} DAD{})...",
        if opts.optimistic {
            "optimistic"
        } else {
            "standard"
        },
        opts.dhcpv6
            .map_or(String::new(), |s| format!(", DHCPv6 by {} on b", s.name()))
    );
    let report = mip6_testbed::demo::run(&opts)?;
    print!("{}", report.table());
    let (json_path, svg_path) = output_paths(&args.out, args.report, args.svg)?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    std::fs::write(&svg_path, report.svg())
        .with_context(|| format!("writing {}", svg_path.display()))?;
    println!(
        "report: {}  timeline: {}",
        json_path.display(),
        svg_path.display()
    );
    if !report.tcp_survived {
        anyhow::bail!(
            "a TCP connection did not survive the handovers: {}",
            report.broken_connections().join("; ")
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct RaSenderArgs {
    /// Interface to advertise on (must have a link-local address).
    iface: String,
    /// Prefix to advertise with L and A set, e.g. 2001:db8:a::/64; repeatable.
    #[arg(long = "prefix", required = true)]
    prefixes: Vec<String>,
    /// Maximum interval between unsolicited advertisements, milliseconds.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Router lifetime, seconds.
    #[arg(long, default_value_t = 1800)]
    router_lifetime: u16,
    /// Valid lifetime of the prefixes, seconds.
    #[arg(long, default_value_t = 86400)]
    valid: u32,
    /// Preferred lifetime of the prefixes, seconds.
    #[arg(long, default_value_t = 14400)]
    preferred: u32,
    /// RetransTimer to announce, milliseconds (0: unspecified).
    #[arg(long, default_value_t = 0)]
    retrans_ms: u32,
    /// Link MTU to announce.
    #[arg(long)]
    mtu: Option<u32>,
    /// Announce a home agent (H flag); with a router address, in the prefix
    /// with the R flag.
    #[arg(long)]
    home_agent: Option<std::net::Ipv6Addr>,
    /// A managed link (RFC 4861 4.2): M=1 and O=1, the prefixes on-link
    /// but not autonomous, so hosts lease addresses by DHCPv6.
    #[arg(long)]
    managed: bool,
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn ra_sender(args: RaSenderArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    use mip6_common::radv::{HomeAgentConfig, PrefixConfig, RaContent, RaTiming};
    let mut prefixes = Vec::new();
    for p in &args.prefixes {
        let prefix: mip6_common::addr::Prefix =
            p.parse().with_context(|| format!("--prefix {p}"))?;
        prefixes.push(PrefixConfig {
            prefix: prefix.addr(),
            len: prefix.prefix_len(),
            valid: Some(args.valid),
            preferred: Some(args.preferred),
            on_link: true,
            autonomous: !args.managed,
            router_address: args.home_agent.filter(|ha| prefix.contains(*ha)),
        });
    }
    let content = RaContent {
        managed: args.managed,
        other: args.managed,
        router_lifetime: args.router_lifetime,
        retrans_timer: args.retrans_ms,
        mtu: args.mtu,
        prefixes,
        advertisement_interval: Some(u32::try_from(args.interval_ms).unwrap_or(u32::MAX)),
        home_agent: args.home_agent.map(|_| HomeAgentConfig {
            preference: 0,
            lifetime: None,
        }),
        ..RaContent::default()
    };
    let timing = RaTiming::mobile(std::time::Duration::from_millis(args.interval_ms));
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    let seed = u64::from(std::process::id());
    let mut sender = mip6_common::sys::radv_io::RaSender::open(&args.iface, content, timing, seed)
        .with_context(|| format!("cannot advertise on {}", args.iface))?;
    sender.run(&STOP)?;
    eprintln!(
        "mip6-testbed ra-sender: {} advertisements sent, {} solicitations answered",
        sender.sent, sender.solicited
    );
    Ok(())
}

fn main() -> ExitCode {
    // The library's warnings (a lab that could not be removed, a daemon
    // that would not stop) go to stderr; RUST_LOG picks more.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
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
        Command::RaSender(args) => ra_sender(args),
        Command::Demo(args) => demo(args),
        Command::Run(args) => run_file(args),
    }
}
