//! `mip6-testbed demo` as a user runs it: the real daemons on the default
//! topology, three handovers, a TCP stream that must survive them, and a
//! JSON report that follows the documented schema.
//!
//! Needs root and the workspace's binaries (the README's test command,
//! `cargo test --workspace`, builds them).

mod schema_check;

use mip6_testbed::report::{Report, SCHEMA};
use std::path::Path;
use std::process::Command;

fn run_demo(extra: &[&str], tag: &str) -> (Report, String) {
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
        .args(extra)
        .env("MIP6_BIN_DIR", Path::new(exe).parent().expect("bin dir"))
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
    println!("{stdout}");
}

#[test]
fn demo_with_standard_dad() {
    let (r, out) = run_demo(&[], "std");
    // One RetransTimer of DAD plus the exchange; generous for 2 busy cores.
    check(&r, &out, 3000.0);
    for h in &r.handovers[..2] {
        assert!(h.dad_ms.is_some_and(|d| d >= 900.0), "{h:?}");
    }
}

#[test]
fn demo_with_optimistic_dad() {
    let (r, out) = run_demo(&["--optimistic"], "opt");
    check(&r, &out, 3000.0);
    // Moving between foreign links takes no DAD wait at all.
    assert!(r.handovers[1].gap_ms < 500.0, "{:?}", r.handovers[1]);
}
