//! Tunnel throughput against kernel forwarding, in the same run, over the
//! same namespaces and veth pairs (docs/ARCHITECTURE.md, kernel fact 7: always measure the
//! kernel path beside ours).
//!
//! ```text
//! cargo bench -p mip6-testbed --bench tunnel
//! MIP6_BENCH_SECS=10 cargo bench -p mip6-testbed --bench tunnel   # longer runs
//! MIP6_BENCH_ONLY=tunnel cargo bench -p mip6-testbed --bench tunnel  # rows whose name contains it ('|' between several)
//! MIP6_BENCH_ROUNDS=3 cargo bench -p mip6-testbed --bench tunnel  # interleaved rounds, medians
//! ```
//!
//! Topology (tests/support, shared with tests/dataplane.rs):
//!
//! ```text
//!   cn ──── r ──── ha        every link a veth pair, offloads as the
//!           └───── mn        kernel sets them (TSO/GSO/GRO on)
//! ```
//!
//! Rows:
//! - kernel, cn-r-mn: the router forwards straight to the MN (the
//!   yardstick of docs/ARCHITECTURE.md, kernel fact 7);
//! - kernel, via ha: the same hops as the tunnel, cn-r-ha-r-mn and back,
//!   by policy routes on r and plain forwarding on ha. The reference the
//!   ratio is taken against;
//! - tunnel rows: our data plane in ha and mn: the eBPF kernel fast path
//!   (the default), the user-space TUN path, and TUN variants.
//!
//! Each row runs iperf3 TCP, one stream, CN -> MN and MN -> CN (`-R`), and
//! iperf3 UDP with 64-octet payloads at unlimited rate, CN -> MN (packets
//! per second the MN got).
//! Needs root; prints a table and the commands.

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use mip6_common::dataplane::{ActivePath, DataPlaneConfig, OuterHeader, PathChoice, Stats};
use mip6_testbed::harness::{Child, Node, require_root};
use support::{Topo, ethtool};

const WAIT: Duration = Duration::from_secs(20);

/// The MN holds the home address on eth0 and routes normally.
const MN_PLAIN_ON: &str = "ip -6 addr add 2001:db8:1::100/128 dev eth0 nodad && \
     ip -6 route add default via 2001:db8:2::1 dev eth0";
const MN_PLAIN_OFF: &str = "ip -6 route del default via 2001:db8:2::1 dev eth0; \
     ip -6 addr del 2001:db8:1::100/128 dev eth0";
/// r sends the HoA straight to the MN.
const R_DIRECT_ON: &str = "ip -6 route replace 2001:db8:1::100/128 via 2001:db8:2::100 dev fgn0";
const R_DIRECT_OFF: &str = "ip -6 route replace 2001:db8:1::100/128 via 2001:db8:1::2";
/// r sends the HoA to the HA, what comes back from the HA to the MN, and
/// the MN's answers to the HA again: the tunnel's hops, without the tunnel.
const R_VIA_HA_ON: &str = "ip -6 rule add iif home0 to 2001:db8:1::100/128 lookup 200 && \
     ip -6 route add 2001:db8:1::100/128 via 2001:db8:2::100 dev fgn0 table 200 && \
     ip -6 rule add iif fgn0 from 2001:db8:1::100/128 lookup 201 && \
     ip -6 route add default via 2001:db8:1::2 dev home0 table 201";
const R_VIA_HA_OFF: &str = "ip -6 rule del iif home0 to 2001:db8:1::100/128 lookup 200; \
     ip -6 rule del iif fgn0 from 2001:db8:1::100/128 lookup 201; \
     ip -6 route flush table 200; ip -6 route flush table 201";

/// The HA forwards the HoA back to r (its on-link prefix would make it
/// look for the HoA on the home link).
const HA_VIA_ON: &str = "ip -6 route add 2001:db8:1::100/128 via 2001:db8:1::1 dev eth0";
const HA_VIA_OFF: &str = "ip -6 route del 2001:db8:1::100/128 via 2001:db8:1::1 dev eth0";

/// TSO, GSO and GRO off on every veth end of the lab (for good: the row
/// using it runs last).
fn offloads_off(t: &Topo) {
    for (node, ifs) in [
        (&t.cn, &["eth0"][..]),
        (&t.r, &["cn0", "home0", "fgn0"][..]),
        (&t.ha, &["eth0"][..]),
        (&t.mn, &["eth0"][..]),
    ] {
        let ifs: Vec<String> = ifs.iter().map(|s| (*s).to_owned()).collect();
        node.run_in(move || {
            for i in &ifs {
                for cmd in [ethtool::STSO, ethtool::SGSO, ethtool::SGRO] {
                    ethtool::set(i, cmd, false);
                }
            }
        })
        .expect("enter node");
    }
}

struct Row {
    name: String,
    tcp_gbps: Option<f64>,
    /// MN -> CN.
    tcp_rev_gbps: Option<f64>,
    udp_kpps: Option<f64>,
    note: String,
}

fn iperf_server(mn: &Node) -> Child {
    let mut s = mn
        .spawn(&[
            "iperf3",
            "-s",
            "-1",
            "--forceflush",
            "-B",
            "2001:db8:1::100",
        ])
        .expect("iperf3 server");
    s.wait_log("Server listening", WAIT).expect("server up");
    s
}

fn json_f64(v: &serde_json::Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

fn tcp(cn: &Node, mn: &Node, secs: u64, reverse: bool) -> Option<f64> {
    let _server = iperf_server(mn);
    let t = secs.to_string();
    let mut argv = vec!["iperf3", "-c", "2001:db8:1::100", "-t", &t, "-O", "1", "-J"];
    if reverse {
        argv.push("-R");
    }
    let out = cn
        .exec_timeout(&argv, Duration::from_secs(secs + 30))
        .map_err(|e| eprintln!("iperf3 TCP failed: {e}"))
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    json_f64(&v, &["end", "sum_received", "bits_per_second"]).map(|b| b / 1e9)
}

fn udp(cn: &Node, mn: &Node, secs: u64) -> Option<f64> {
    let _server = iperf_server(mn);
    let t = secs.to_string();
    let out = cn
        .exec_timeout(
            &[
                "iperf3",
                "-c",
                "2001:db8:1::100",
                "-u",
                "-b",
                "0",
                "-l",
                "64",
                "-t",
                &t,
                "-J",
            ],
            Duration::from_secs(secs + 30),
        )
        .map_err(|e| eprintln!("iperf3 UDP failed: {e}"))
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    // iperf3 3.12: end.sum holds the receiver's view for UDP.
    let sum = v.get("end")?.get("sum")?;
    let packets = sum.get("packets")?.as_f64()?;
    let lost = sum.get("lost_packets")?.as_f64()?;
    let seconds = sum.get("seconds")?.as_f64()?;
    (seconds > 0.0).then(|| (packets - lost) / seconds / 1e3)
}

fn measure(t: &Topo, name: &str, secs: u64, note: &dyn Fn() -> String) -> Row {
    t.cn.wait_ping6("2001:db8:1::100", WAIT)
        .unwrap_or_else(|e| panic!("{name}: no path to the HoA: {e}"));
    let tcp_gbps = tcp(&t.cn, &t.mn, secs, false);
    let tcp_rev_gbps = tcp(&t.cn, &t.mn, secs, true);
    // What the TCP runs did (the UDP run would dilute it).
    let note = note();
    let udp_kpps = udp(&t.cn, &t.mn, secs);
    eprintln!(
        "  {name}: TCP {tcp_gbps:?} / reverse {tcp_rev_gbps:?} Gbit/s, UDP {udp_kpps:?} kpps"
    );
    Row {
        name: name.to_owned(),
        tcp_gbps,
        tcp_rev_gbps,
        udp_kpps,
        note,
    }
}

fn summary(ha: &Stats, mn: &Stats) -> String {
    let avg = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    if ha.kernel_encap.bytes > 0 {
        let pct = |k: u64, all: u64| 100.0 * avg(k, all);
        return format!(
            "TCP runs: drops ha {} mn {}; in the kernel: ha {:.1} % of encap, {:.1} % of decap octets; mn {:.1} %, {:.1} %",
            ha.drops.total(),
            mn.drops.total(),
            pct(ha.kernel_encap.bytes, ha.encap.bytes),
            pct(ha.kernel_decap.bytes, ha.decap.bytes),
            pct(mn.kernel_encap.bytes, mn.encap.bytes),
            pct(mn.kernel_decap.bytes, mn.decap.bytes),
        );
    }
    format!(
        "TCP run: drops ha {} mn {}; ha {:.1} pkts/TUN read, mn {:.1} pkts/TUN write",
        ha.drops.total(),
        mn.drops.total(),
        avg(
            ha.encap.packets,
            ha.encap.packets.saturating_sub(ha.gso_segments) + ha.gso_packets
        ),
        avg(
            mn.decap.packets,
            mn.decap.packets.saturating_sub(mn.gro_segments) + mn.gro_packets
        ),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs us
    // without it and must not take two minutes.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("tunnel bench: run it with `cargo bench -p mip6-testbed --bench tunnel`");
        return;
    }
    if require_root().is_err() {
        eprintln!("tunnel bench: needs root (network namespaces); skipped");
        return;
    }
    let secs: u64 = std::env::var("MIP6_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("MIP6_BENCH_ONLY").unwrap_or_default();
    let rounds: usize = std::env::var("MIP6_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let t = Topo::new("bench-tunnel");
    let mut all: Vec<Row> = Vec::new();
    let want = |name: &str| only.is_empty() || only.split('|').any(|o| name.contains(o));

    eprintln!("tunnel bench: {secs} s per measurement, {rounds} round(s)");
    for round in 0..rounds {
        eprintln!("round {}", round + 1);
        all.extend(one_round(&t, secs, &want));
    }
    let mut rows = medians(all);
    // Last, as it changes the links for good: the kernel without
    // offloads, one packet at a time like our tunnel's outer side.
    if want("kernel, via ha, offloads off") {
        offloads_off(&t);
        t.mn.sh(MN_PLAIN_ON).expect("mn plain");
        t.r.sh(R_VIA_HA_ON).expect("r via ha");
        t.ha.sh(HA_VIA_ON).expect("ha via r");
        rows.push(measure(&t, "kernel, via ha, offloads off", secs, &|| {
            "veth TSO/GSO/GRO off".into()
        }));
    }
    print_table(&rows, secs, rounds);
    let _ = &t.ha;
    t.lab.cleanup().expect("cleanup");
}

/// Per row name (first-seen order), the median of each figure over the
/// rounds; the note of the last round.
fn medians(all: Vec<Row>) -> Vec<Row> {
    let mut names: Vec<String> = Vec::new();
    for r in &all {
        if !names.contains(&r.name) {
            names.push(r.name.clone());
        }
    }
    let median = |mut v: Vec<f64>| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    };
    names
        .into_iter()
        .map(|n| {
            let rs: Vec<&Row> = all.iter().filter(|r| r.name == n).collect();
            Row {
                tcp_gbps: median(rs.iter().filter_map(|r| r.tcp_gbps).collect()),
                tcp_rev_gbps: median(rs.iter().filter_map(|r| r.tcp_rev_gbps).collect()),
                udp_kpps: median(rs.iter().filter_map(|r| r.udp_kpps).collect()),
                note: rs.last().map(|r| r.note.clone()).unwrap_or_default(),
                name: n,
            }
        })
        .collect()
}

/// Every row but the last (offloads off), once.
fn one_round(t: &Topo, secs: u64, want: &dyn Fn(&str) -> bool) -> Vec<Row> {
    let mut rows = Vec::new();
    if want("kernel, cn-r-mn") {
        t.mn.sh(MN_PLAIN_ON).expect("mn plain");
        t.r.sh(R_DIRECT_ON).expect("r direct");
        rows.push(measure(t, "kernel, cn-r-mn", secs, &|| {
            "yardstick (kernel fact 7)".into()
        }));
        t.r.sh(R_DIRECT_OFF).expect("r undo");
        t.mn.sh(MN_PLAIN_OFF).expect("mn undo");
    }
    if want("kernel, via ha") {
        t.mn.sh(MN_PLAIN_ON).expect("mn plain");
        t.r.sh(R_VIA_HA_ON).expect("r via ha");
        t.ha.sh(HA_VIA_ON).expect("ha via r");
        rows.push(measure(t, "kernel, via ha", secs, &|| "reference".into()));
        t.ha.sh(HA_VIA_OFF).expect("ha undo");
        t.r.sh(R_VIA_HA_OFF).expect("r undo");
        t.mn.sh(MN_PLAIN_OFF).expect("mn undo");
    }
    type Tweak = Box<dyn Fn(&mut DataPlaneConfig)>;
    let variants: Vec<(&str, Tweak)> = vec![
        (
            "tunnel, eBPF (default, source check on)",
            Box::new(|c: &mut DataPlaneConfig| c.path = PathChoice::Ebpf),
        ),
        (
            "tunnel, TUN (TSO from TUN)",
            Box::new(|c: &mut DataPlaneConfig| c.path = PathChoice::Tun),
        ),
        (
            "tunnel, TUN, no offload",
            Box::new(|c: &mut DataPlaneConfig| {
                c.path = PathChoice::Tun;
                c.offload = false;
            }),
        ),
        (
            "tunnel, TUN, our outer header",
            Box::new(|c: &mut DataPlaneConfig| {
                c.path = PathChoice::Tun;
                c.outer_header = OuterHeader::Ours;
            }),
        ),
        (
            "tunnel, TUN, batch 1",
            Box::new(|c: &mut DataPlaneConfig| {
                c.path = PathChoice::Tun;
                c.batch = 1;
            }),
        ),
    ];
    for (name, tweak) in &variants {
        if !want(name) {
            continue;
        }
        let (ha, mn) = (t.start_ha(tweak), t.start_mn(tweak));
        let wanted = if name.contains("eBPF") {
            ActivePath::Ebpf
        } else {
            ActivePath::Tun
        };
        assert_eq!(ha.path(), wanted, "{}", ha.path_reason());
        assert_eq!(mn.path(), wanted, "{}", mn.path_reason());
        rows.push(measure(t, name, secs, &|| {
            summary(&ha.stats(), &mn.stats())
        }));
        ha.shutdown().expect("ha shutdown");
        mn.shutdown().expect("mn shutdown");
    }
    rows
}

fn print_table(rows: &[Row], secs: u64, rounds: usize) {
    let reference = rows.iter().find(|r| r.name == "kernel, via ha");
    let ref_tcp = reference.and_then(|r| r.tcp_gbps);
    let ref_rev = reference.and_then(|r| r.tcp_rev_gbps);
    let ref_udp = reference.and_then(|r| r.udp_kpps);
    println!();
    println!(
        "| path | TCP CN->MN Gbit/s | x kernel via ha | TCP MN->CN Gbit/s | x kernel via ha | UDP 64 B kpps | x kernel via ha | note |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    let f = |v: Option<f64>, d: usize| v.map_or("-".to_owned(), |x| format!("{x:.d$}"));
    let ratio = |v: Option<f64>, r: Option<f64>| match (v, r) {
        (Some(v), Some(r)) if r > 0.0 => format!("{:.2}", v / r),
        _ => "-".to_owned(),
    };
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            f(r.tcp_gbps, 2),
            ratio(r.tcp_gbps, ref_tcp),
            f(r.tcp_rev_gbps, 2),
            ratio(r.tcp_rev_gbps, ref_rev),
            f(r.udp_kpps, 0),
            ratio(r.udp_kpps, ref_udp),
            r.note
        );
    }
    println!();
    if rounds > 1 {
        println!("medians of {rounds} interleaved rounds (the last row: one run after them)");
    }
    println!("commands (MN server, CN client; {secs} s each):");
    println!("  [mn] iperf3 -s -1 --forceflush -B 2001:db8:1::100");
    println!("  [cn] iperf3 -c 2001:db8:1::100 -t {secs} -O 1 -J [-R]");
    println!("  [cn] iperf3 -c 2001:db8:1::100 -u -b 0 -l 64 -t {secs} -J");
}
