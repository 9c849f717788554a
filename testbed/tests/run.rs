//! `mip6-testbed run` as a user runs it: the two-mobile-node example with
//! its scripted timeline and lost Binding Acknowledgement, and a scale run
//! of 50 namespaced mobile nodes with random timelines.
//!
//! Needs root and the workspace's binaries (`cargo build --workspace`).

mod schema_check;

use mip6_testbed::report::{Report, SCHEMA};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn topology(name: &str) -> String {
    if name.starts_with('/') {
        return name.to_string();
    }
    format!("{}/topologies/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Every namespace named by the harness's scheme.
fn m6_namespaces() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("m6"))
                .collect()
        })
        .unwrap_or_default()
}

static ONE_RUN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(file: &str, extra: &[&str], tag: &str) -> (Report, String, Duration, u32) {
    run_with_env(file, extra, tag, &[])
}

fn run_with_env(
    file: &str,
    extra: &[&str],
    tag: &str,
    env: &[(&str, &str)],
) -> (Report, String, Duration, u32) {
    // One run at a time: each is timed against the wall clock, and two at
    // once on two cores (fifty mobile nodes beside another run) starve
    // each other's probes and TCP streams into failures that say nothing
    // about the daemons.
    let _one_at_a_time = ONE_RUN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let exe = env!("CARGO_BIN_EXE_mip6-testbed");
    let dir = std::env::temp_dir().join(format!("mip6-run-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("report.json");
    let svg = dir.join("timeline.svg");
    let start = Instant::now();
    let child = Command::new(exe)
        .arg("run")
        .arg(topology(file))
        .args(["--report", json.to_str().expect("utf-8")])
        .args(["--svg", svg.to_str().expect("utf-8")])
        .args(extra)
        .env("MIP6_BIN_DIR", Path::new(exe).parent().expect("bin dir"))
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mip6-testbed");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "run failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("JSON report written");
    let svg_text = std::fs::read_to_string(&svg).expect("SVG written");
    std::fs::remove_dir_all(&dir).ok();
    assert!(svg_text.starts_with("<svg") && svg_text.contains("</svg>"));
    schema_check::assert_valid(&text);
    let report: Report = serde_json::from_str(&text).expect("report follows the schema");
    assert_eq!(report.schema, SCHEMA);
    (report, stdout, took, pid)
}

/// The namespaces of the lab the run with `pid` created: `m6` and the pid
/// in six hex digits.
fn left_behind(pid: u32) -> Vec<String> {
    let mine = format!("m6{:06x}", pid & 0x00ff_ffff);
    m6_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&mine))
        .collect()
}

#[test]
fn two_mobile_nodes_with_a_lost_binding_ack() {
    mip6_common::require_root!();
    let (r, out, _, pid) = run("two-mns.yaml", &[], "two");
    assert_eq!(r.topology, "two-mns");
    let moves: Vec<String> = r
        .handovers
        .iter()
        .map(|h| format!("{}:{}->{}", h.mn, h.from_link, h.to_link))
        .collect();
    assert_eq!(
        moves,
        [
            "mn1:home->a",
            "mn1:a->b",
            "mn1:b->home",
            "mn2:home->b",
            "mn2:b->a",
            "mn2:a->home"
        ],
        "{out}"
    );
    assert_eq!(r.tcp.len(), 2);
    assert!(r.tcp_survived, "TCP did not survive: {:?}\n{out}", r.tcp);
    for c in &r.tcp {
        assert!(c.bytes > 1 << 20, "{c:?}");
    }
    // mn2's BA for its move to a was dropped: the BU went out again.
    let lost = r
        .handovers
        .iter()
        .find(|h| h.mn == "mn2" && h.to_link == "a")
        .expect("mn2 -> a");
    assert!(lost.bu_count.is_some_and(|n| n >= 2), "{lost:?}\n{out}");
    assert_eq!(lost.outcome.as_deref(), Some("registered"), "{lost:?}");
    for h in &r.handovers {
        assert!(h.bu_to_ba_ms.is_some(), "no BU/BA timing: {h:?}\n{out}");
        if h.mn != "mn2" || h.to_link != "a" {
            assert_eq!(h.bu_count, Some(1), "{h:?}\n{out}");
        }
    }
    // The SVG's rows: both mobile nodes on four links each.
    assert_eq!(r.timeline.len(), 8);
    assert!(out.contains("BU -> BA latency"), "{out}");
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
    println!("{out}");
}

#[test]
fn fifty_mobile_nodes_at_once() {
    mip6_common::require_root!();
    let (r, out, took, pid) = run(
        "scale.yaml",
        &["--mobile-nodes", "50", "--seed", "7"],
        "scale",
    );
    assert!(took < Duration::from_secs(240), "took {took:?}");
    let mns: std::collections::BTreeSet<&str> = r.handovers.iter().map(|h| h.mn.as_str()).collect();
    assert_eq!(mns.len(), 50, "every clone moved at least once\n{out}");
    assert!(r.handovers.len() >= 50, "{out}");
    let registered = r
        .handovers
        .iter()
        .filter(|h| h.outcome.as_deref() == Some("registered"))
        .count();
    assert!(registered >= 50, "{registered} registered\n{out}");
    assert_eq!(r.tcp.len(), 50);
    // The home agent's own counters back the handovers up.
    let bus = r
        .home_agent_metrics
        .get("mip6_ha_binding_updates_received_total")
        .copied()
        .unwrap_or(0.0);
    assert!(
        bus >= r.handovers.len() as f64,
        "{:?}",
        r.home_agent_metrics
    );
    assert!(r.summary.bu_to_ba_ms.count >= 50, "{:?}", r.summary);
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
    println!("50 mobile nodes in {took:?}\n{out}");
}

#[test]
fn home_agent_killed_and_restarted_mid_run() {
    mip6_common::require_root!();
    // two-mns.yaml with two more faults: the home agent is SIGKILLed and
    // restarted while both mobile nodes are away, and the router stops
    // advertising on link b after everyone has left it.
    let text = std::fs::read_to_string(topology("two-mns.yaml")).expect("two-mns.yaml");
    let text = text.replace("name: two-mns", "name: restart-ha").replace(
        "    - { at_ms: 6500, kind: drop_next_ba, mn: mn2 }",
        "    - { at_ms: 6500, kind: drop_next_ba, mn: mn2 }\n    \
         - { at_ms: 8500, kind: restart_ha }\n    \
         - { at_ms: 12000, kind: router_down, router: r, link: b }",
    );
    assert!(text.contains("restart_ha"));
    let file = std::env::temp_dir().join(format!("mip6-restart-ha-{}.yaml", std::process::id()));
    std::fs::write(&file, text).expect("write");
    let (r, out, _, pid) = run(file.to_str().expect("utf-8"), &[], "restart");
    std::fs::remove_file(&file).ok();
    assert_eq!(r.handovers.len(), 6, "{out}");
    // The bindings came back from the state file: both streams survived,
    // and both mobile nodes went home (deregistered) afterwards.
    assert!(r.tcp_survived, "TCP did not survive: {:?}\n{out}", r.tcp);
    let home: Vec<_> = r.handovers.iter().filter(|h| h.to_link == "home").collect();
    assert!(
        home.iter()
            .all(|h| h.outcome.as_deref() == Some("deregistered")),
        "{out}"
    );
    // The counters of both home agent instances are summed.
    let bus = r
        .home_agent_metrics
        .get("mip6_ha_binding_updates_received_total")
        .copied()
        .unwrap_or(0.0);
    assert!(bus >= 8.0, "{:?}", r.home_agent_metrics);
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
}

#[test]
fn two_home_agents_and_a_mobile_node_with_two_interfaces() {
    mip6_common::require_root!();
    // multi.yaml: mn1 (home agent ha1, correspondent cn1) has a wire and a
    // radio whose cables are pulled and plugged back in; mn2 (ha2, cn2)
    // moves away and back while ha2 is SIGKILLed and restarted; iperf3
    // runs from each correspondent.
    let (r, out, _, pid) = run("multi.yaml", &[], "multi");
    let seen: Vec<String> = r
        .handovers
        .iter()
        .map(|h| {
            format!(
                "{}:{}->{}@{}",
                h.mn,
                h.from_link,
                h.to_link,
                h.interface.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "mn1:home1->a@wlan0",
            "mn1:a->b@eth0",
            "mn1:b->a@wlan0",
            "mn2:home2->b@-",
            "mn2:b->home2@-"
        ],
        "{out}"
    );
    let h = |i: usize| &r.handovers[i];
    // The wire lost carrier: the radio's care-of address was ready, so the
    // handover needed no RA and no DAD, only a BU.
    assert_eq!(h(0).cause.as_deref(), Some("carrier down eth0"), "{out}");
    assert_eq!(h(0).dad_ms, None, "{:?}\n{out}", h(0));
    assert_eq!(h(0).outcome.as_deref(), Some("registered"), "{out}");
    assert!(
        h(0).gap_ms < 900.0,
        "fallback slower than a DAD: {:?}",
        h(0)
    );
    // The wire came back (on link b): the radio carried the traffic while
    // the wire's new care-of address went through DAD.
    assert!(h(1).dad_ms.is_some_and(|d| d >= 900.0), "{:?}", h(1));
    assert!(
        h(1).gap_ms < 500.0,
        "make-before-break lost the stream: {:?}",
        h(1)
    );
    // No carrier at all for a second, then the radio: the gap shows it.
    assert!(
        h(2).cause
            .as_deref()
            .is_some_and(|c| c.contains("carrier down eth0") && c.contains("carrier up wlan0")),
        "{:?}",
        h(2)
    );
    assert!(h(2).gap_ms >= 1000.0, "{:?}", h(2));
    assert_eq!(h(2).outcome.as_deref(), Some("registered"), "{out}");
    assert_eq!(h(4).outcome.as_deref(), Some("deregistered"), "{out}");
    // Two correspondents: each mobile node's streams come from its own.
    assert!(r.tcp[0].name.starts_with("cn1 -> mn1"), "{:?}", r.tcp);
    assert!(r.tcp[1].name.starts_with("cn2 -> mn2"), "{:?}", r.tcp);
    assert!(
        r.notes.is_empty(),
        "install iperf3 (.ci/run does): {:?}",
        r.notes
    );
    assert_eq!(r.iperf3.len(), 2, "{out}");
    for i in &r.iperf3 {
        assert!(i.survived && i.bytes_received > 1 << 20, "{i:?}\n{out}");
    }
    assert!(r.tcp_survived, "{:?}\n{out}", r.tcp);
    // Each home agent registered its own mobile node, ha2's counters
    // summed over its restart.
    let accepted = |ha: &str| {
        r.home_agent_metrics_by_name[ha]
            .iter()
            .filter(|(k, _)| {
                k.starts_with("mip6_ha_binding_updates_total") && k.contains("status=\"0\"")
            })
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    assert!(accepted("ha1") >= 3.0, "{:?}", r.home_agent_metrics_by_name);
    assert!(accepted("ha2") >= 2.0, "{:?}", r.home_agent_metrics_by_name);
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
    println!("{out}");
}

#[test]
fn iperf3_missing_is_a_note_not_a_failure() {
    mip6_common::require_root!();
    // The default network, two seconds, iperf3 asked for but not there.
    let text = std::fs::read_to_string(topology("default.yaml")).expect("default.yaml")
        + "\nscenario:\n  duration_ms: 2000\n  traffic: { probe_hz: 100, iperf3: { bitrate: 1M } }\n";
    let file = std::env::temp_dir().join(format!("mip6-no-iperf3-{}.yaml", std::process::id()));
    std::fs::write(&file, text).expect("write");
    // Only the child's environment: the other tests run in parallel.
    let (r, out, _, pid) = run_with_env(
        file.to_str().expect("utf-8"),
        &[],
        "noiperf",
        &[("MIP6_IPERF3", "/nonexistent/iperf3")],
    );
    std::fs::remove_file(&file).ok();
    assert!(r.iperf3.is_empty(), "{:?}", r.iperf3);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("/nonexistent/iperf3 is not installed")),
        "{:?}\n{out}",
        r.notes
    );
    assert!(r.tcp_survived, "{out}");
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
}

#[test]
fn mobile_nodes_behind_a_stock_radvd() {
    mip6_common::require_root!();
    // two-mns.yaml with radvd as it ships (MaxRtrAdvInterval 4 s,
    // MinDelayBetweenRAs 3 s) on every foreign link, and no lost BA. A
    // multicast answer to the mobile node's first RS (sent from :: at
    // link-up) may be held back for seconds; the RS from its link-local
    // address a RetransTimer later is answered by unicast at once.
    let text = std::fs::read_to_string(topology("two-mns.yaml")).expect("two-mns.yaml");
    let text = text
        .replace("name: two-mns", "name: stock-radvd")
        .replace(
            "ra: own, ra_interval_ms: 200",
            "ra: radvd, ra_interval_ms: 4000",
        )
        .replace("    - { at_ms: 6500, kind: drop_next_ba, mn: mn2 }\n", "");
    assert!(text.contains("ra: radvd") && !text.contains("drop_next_ba, mn"));
    let file = std::env::temp_dir().join(format!("mip6-stock-radvd-{}.yaml", std::process::id()));
    std::fs::write(&file, text).expect("write");
    let (r, out, _, pid) = run(file.to_str().expect("utf-8"), &[], "radvd");
    std::fs::remove_file(&file).ok();
    assert_eq!(r.handovers.len(), 6, "{out}");
    assert!(r.tcp_survived, "TCP did not survive: {:?}\n{out}", r.tcp);
    for h in &r.handovers {
        let want = if h.to_link == "home" {
            "deregistered"
        } else {
            "registered"
        };
        assert_eq!(h.outcome.as_deref(), Some(want), "{h:?}\n{out}");
        if h.to_link != "home" {
            // At worst the link-local's RS: DAD (1 s) and an answer.
            assert!(
                h.link_to_ra_ms.is_some_and(|ms| ms < 1700.0),
                "{h:?}\n{out}"
            );
        }
        // Without the second RS, radvd's schedule made this 4 s and more.
        assert!(h.gap_ms < 3000.0, "{h:?}\n{out}");
    }
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
}

#[test]
fn slaac_and_dhcpv6_links_in_one_run() {
    let logs = std::env::temp_dir().join(format!("mip6-run-dhcp-logs-{}", std::process::id()));
    let logs_arg = logs.to_str().expect("utf-8").to_string();
    let (r, out, _, pid) = run("dhcpv6.yaml", &["--keep-logs", &logs_arg], "dhcp");
    assert_eq!(r.topology, "dhcpv6");
    let moves: Vec<String> = r
        .handovers
        .iter()
        .map(|h| format!("{}->{}", h.from_link, h.to_link))
        .collect();
    assert_eq!(
        moves,
        ["home->a", "a->b", "b->a", "a->b", "b->a", "a->home"],
        "{out}"
    );
    assert!(r.tcp_survived, "TCP did not survive: {:?}\n{out}", r.tcp);
    // Each care-of address says how it was made: SLAAC on a, leased from
    // the server's pool (b::1000 - b::1fff) on b.
    let mut seen = (0, 0);
    for h in &r.handovers {
        let Some(coa) = h.care_of_address.as_deref() else {
            assert_eq!(h.coa_source, None, "{h:?}");
            continue;
        };
        let a: std::net::Ipv6Addr = coa.parse().expect("address");
        let s = a.segments();
        match s[2] {
            0xa => {
                assert_eq!(h.coa_source.as_deref(), Some("slaac"), "{h:?}\n{out}");
                seen.0 += 1;
            }
            0xb => {
                assert_eq!(h.coa_source.as_deref(), Some("dhcpv6"), "{h:?}\n{out}");
                assert!(
                    s[4..7] == [0, 0, 0] && (0x1000..=0x1fff).contains(&s[7]),
                    "{coa}"
                );
                seen.1 += 1;
            }
            _ => panic!("{h:?}"),
        }
        // Optimistic DAD and Rapid Commit: no DAD wait either way
        // (generous: two busy cores).
        assert!(h.gap_ms < 2000.0, "{h:?}\n{out}");
    }
    assert!(seen.0 >= 2 && seen.1 >= 1, "{seen:?}\n{out}");
    let mn_log: String = std::fs::read_dir(&logs)
        .expect("kept logs")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("mip6-mn"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    assert!(
        mn_log.contains("dhcp6_confirmed"),
        "no Confirm on return:\n{mn_log}"
    );
    std::fs::remove_dir_all(&logs).ok();
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
}
