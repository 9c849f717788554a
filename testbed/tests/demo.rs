//! `mip6-testbed demo` as a user runs it: the real daemons on the default
//! topology, three handovers, a TCP stream that must survive them, a JSON
//! report that follows the documented schema, and (optimistic run) the
//! packets on the wire as Wireshark's dissector reads them.
//!
//! Needs root and the workspace's binaries (the README's test command,
//! `cargo test --workspace`, builds them).

mod schema_check;

use mip6_testbed::report::{Report, SCHEMA};
use std::path::Path;
use std::process::Command;

fn run_demo(extra: &[&str], tag: &str) -> (Report, String) {
    run_demo_with(extra, tag, None)
}

fn run_demo_with(extra: &[&str], tag: &str, capture: Option<&Path>) -> (Report, String) {
    let exe = env!("CARGO_BIN_EXE_mip6-testbed");
    let dir = std::env::temp_dir().join(format!("mip6-demo-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("report.json");
    let svg = dir.join("timeline.svg");
    let out = Command::new(exe)
        .arg("demo")
        .args(["--report", json.to_str().expect("utf-8")])
        .args(["--svg", svg.to_str().expect("utf-8")])
        .args(["--dwell-ms", "2000"])
        // Both daemons on the eBPF kernel fast path, or they fail to start.
        .args(["--data-plane", "ebpf"])
        .args(extra)
        .env("MIP6_BIN_DIR", Path::new(exe).parent().expect("bin dir"))
        .envs(capture.map(|c| ("MIP6_DEMO_CAPTURE", c)))
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("JSON report written");
    let svg_text = std::fs::read_to_string(&svg).expect("SVG written");
    std::fs::remove_dir_all(&dir).ok();
    assert!(svg_text.starts_with("<svg") && svg_text.contains("</svg>"));
    // The SVG shows the mobile node on four links: home, a, b, home.
    assert_eq!(
        svg_text.matches("<rect").count() - svg_text.matches("probe gap").count(),
        4
    );
    schema_check::assert_valid(&text);
    let report: Report = serde_json::from_str(&text).expect("report follows the schema");
    (report, stdout)
}

fn check(report: &Report, stdout: &str, max_gap_ms: f64) {
    assert_eq!(report.schema, SCHEMA);
    assert_eq!(report.handovers.len(), 3, "{stdout}");
    let moves: Vec<String> = report
        .handovers
        .iter()
        .map(|h| format!("{}->{}", h.from_link, h.to_link))
        .collect();
    assert_eq!(moves, ["home->a", "a->b", "b->home"]);
    assert!(report.tcp_survived, "TCP did not survive: {:?}", report.tcp);
    assert!(report.tcp[0].bytes > 1 << 20, "{:?}", report.tcp);
    for h in &report.handovers {
        assert!(
            h.gap_ms < max_gap_ms,
            "{}->{}: gap {} ms\n{stdout}",
            h.from_link,
            h.to_link,
            h.gap_ms
        );
        assert!(h.bu_to_ba_ms.is_some(), "no BU/BA timing: {h:?}");
        assert!(h.link_to_ra_ms.is_some_and(|t| t < 500.0), "{h:?}");
    }
    for h in &report.handovers[..2] {
        assert!(h.care_of_address.is_some(), "{h:?}");
        assert_eq!(h.outcome.as_deref(), Some("registered"), "{h:?}");
    }
    assert_eq!(report.handovers[2].outcome.as_deref(), Some("deregistered"));
    // The home agent really carried the traffic.
    let to_mn = report
        .home_agent_metrics
        .get("mip6_ha_tunnel_packets_total{direction=\"to_mn\"}")
        .copied()
        .unwrap_or(0.0);
    assert!(to_mn > 1000.0, "{:?}", report.home_agent_metrics);
    // On the eBPF kernel fast path (data_plane: auto on a kernel that
    // takes it), and the TCP stream survived every move on it.
    assert_eq!(
        report
            .home_agent_metrics
            .get("mip6_ha_data_plane{path=\"ebpf\"}"),
        Some(&1.0),
        "{:?}",
        report.home_agent_metrics
    );
    println!("{stdout}");
}

#[test]
fn demo_with_standard_dad() {
    mip6_common::require_root!();
    let (r, out) = run_demo(&[], "std");
    // One RetransTimer of DAD plus the exchange; generous for 2 busy cores.
    check(&r, &out, 3000.0);
    for h in &r.handovers[..2] {
        assert!(h.dad_ms.is_some_and(|d| d >= 900.0), "{h:?}");
    }
}

#[test]
fn demo_with_optimistic_dad() {
    mip6_common::require_root!();
    // With the wire captured on the home link and at the mobile node, for
    // Wireshark's dissector and the independent checksum checker to judge
    // what the daemons really sent.
    let capture = std::env::temp_dir().join(format!("mip6-demo-pcap-{}", std::process::id()));
    let (r, out) = run_demo_with(&["--optimistic"], "opt", Some(&capture));
    check(&r, &out, 3000.0);
    // Moving between foreign links takes no DAD wait at all.
    assert!(r.handovers[1].gap_ms < 500.0, "{:?}", r.handovers[1]);
    // One BU per move: with optimistic DAD the BA is back within a
    // millisecond, and it must find the care-of address already local in
    // the kernel (it did not, in about one run in four, before the daemon
    // waited for the kernel's report of the address).
    for h in &r.handovers {
        assert_eq!(h.bu_count, Some(1), "{h:?}\n{out}");
    }
    let coas: Vec<String> = r.handovers[..2]
        .iter()
        .filter_map(|h| h.care_of_address.clone())
        .collect();
    wire_decodes_in_tshark(&capture.join("mobile-node.pcap"), &coas);
    let home = capture.join("home-link.pcap");
    assert!(
        tshark(
            &home,
            "(mipv6 || icmpv6) && (_ws.malformed || _ws.expert.severity >= warning)",
            &[]
        )
        .is_empty()
    );
    std::fs::remove_dir_all(&capture).ok();
}

/// tshark's fields for the packets matching `filter`, one line each.
fn tshark(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(pcap).args(["-Y", filter]);
    if !fields.is_empty() {
        cmd.args(["-T", "fields"]);
        for f in fields {
            cmd.args(["-e", f]);
        }
    }
    let out = cmd
        .output()
        .expect("tshark is not installed: run `bash .ci/run` or install Debian's tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The mobile node's side of the demo as Wireshark reads it: every BU and
/// BA, ND message and tunnel packet well formed; BUs away from home from
/// the care-of address with the home address in a Home Address option,
/// BAs back with it in a type 2 routing header; consecutive sequence
/// numbers; every Mobility Header checksum right by `mh_csum_check.py`.
fn wire_decodes_in_tshark(pcap: &Path, coas: &[String]) {
    const HA: &str = "2001:db8:1::1";
    const HOA: &str = "2001:db8:1::100";
    let flagged = tshark(
        pcap,
        "((mipv6 || icmpv6) && (_ws.malformed || _ws.expert.severity >= warning)) \
         || (ipv6.nxt == 41 && _ws.malformed)",
        &[],
    );
    assert!(
        flagged.is_empty(),
        "tshark flags our packets:\n{}",
        flagged.join("\n")
    );
    let bus = tshark(
        pcap,
        "mip6.mhtype == 5",
        &[
            "ipv6.src",
            "ipv6.dst",
            "ipv6.opt.mipv6.home_address",
            "mip6.bu.seqnr",
            "mip6.bu.h_flag",
            "mip6.bu.a_flag",
            "mip6.mnid.identifier",
            "mip6.auth.mobility_spi",
        ],
    );
    let bas = tshark(
        pcap,
        "mip6.mhtype == 6",
        &[
            "ipv6.src",
            "ipv6.dst",
            "ipv6.routing.mipv6.home_address",
            "mip6.ba.status",
            "mip6.ba.seqnr",
        ],
    );
    let split = |l: &String| l.split('\t').map(str::to_string).collect::<Vec<_>>();
    let bus: Vec<Vec<String>> = bus.iter().map(split).collect();
    let bas: Vec<Vec<String>> = bas.iter().map(split).collect();
    // Home (deregistration) -> a -> b -> home (deregistration).
    assert_eq!(bus.len(), 4, "{bus:?}");
    for (bu, coa) in bus[1..3].iter().zip(coas) {
        assert_eq!(
            bu[..6],
            [coa.as_str(), HA, HOA, &bu[3], "1", "1"],
            "a BU from away: {bus:?}"
        );
        assert_eq!(bu[6], "mn@testbed.mip6", "MN-ID: {bu:?}");
        assert_eq!(bu[7], "4660", "SPI: {bu:?}");
    }
    let seqs: Vec<u32> = bus.iter().map(|b| b[3].parse().expect("seq")).collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], (w[0] + 1) % 65536, "{seqs:?}");
    }
    for (ba, coa) in bas[1..3].iter().zip(coas) {
        assert_eq!(
            ba[..4],
            [HA, coa.as_str(), HOA, "0"],
            "a BA to away: {bas:?}"
        );
    }
    assert_eq!(bas.len(), 4, "{bas:?}");
    // Tunnelled traffic both ways on the mobile node's link.
    for (src, dst) in [(HA, coas[0].as_str()), (coas[0].as_str(), HA)] {
        let n = tshark(
            pcap,
            &format!("ipv6.nxt == 41 && ipv6.src == {src} && ipv6.dst == {dst}"),
            &["frame.number"],
        )
        .len();
        assert!(n > 100, "{n} tunnel packets {src} -> {dst}");
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../interop/mh_csum_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(pcap)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "mh_csum_check.py: {text}");
    assert_eq!(
        text.matches("-> OK").count(),
        bus.len() + bas.len(),
        "{text}"
    );
}

#[test]
fn demo_with_a_dhcpv6_link() {
    // Link b runs ISC Kea with M=1 RAs: the care-of address on a is made by
    // SLAAC, the one on b leased by DHCPv6 (Rapid Commit), in one run.
    let (r, out) = run_demo(&["--optimistic", "--dhcpv6=kea"], "dhcp");
    check(&r, &out, 3000.0);
    let [a, b, home] = &r.handovers[..] else {
        panic!("{out}");
    };
    assert_eq!(a.coa_source.as_deref(), Some("slaac"), "{a:?}");
    assert_eq!(b.coa_source.as_deref(), Some("dhcpv6"), "{b:?}");
    assert_eq!(home.coa_source, None, "{home:?}");
    // From the server's pool (prefix::1000 - prefix::1fff), not a SLAAC
    // identifier.
    let coa: std::net::Ipv6Addr = b
        .care_of_address
        .as_deref()
        .and_then(|c| c.parse().ok())
        .expect("care-of address on b");
    assert_eq!(coa.segments()[..7], [0x2001, 0xdb8, 0xb, 0, 0, 0, 0]);
    assert!((0x1000..=0x1fff).contains(&coa.segments()[7]), "{coa}");
    // Optimistic DAD: one server round trip more than SLAAC, no DAD wait.
    assert!(b.gap_ms < 500.0, "{b:?}\n{out}");
    assert!(out.contains(" dhcpv6 "), "{out}");
}
