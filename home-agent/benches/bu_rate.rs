//! How many authenticated Binding Updates per second the real `mip6-ha`
//! answers with N bindings in place, end to end through its sockets: the
//! test mobile node's namespace sends refresh BUs for N home addresses
//! (each its own SPI and key, Home Address option, MN-ID, Mesg-ID, MN-HA
//! authenticator) with at most WINDOW unanswered, and counts the BAs.
//!
//! `cargo bench -p mip6-home-agent --bench bu_rate` (root). Environment:
//! MIP6_BU_RATE_NODES (default 2000), MIP6_BU_RATE_BUS (default 20000),
//! MIP6_HA_BIN (another mip6-ha binary, to compare two builds in one run).

#[path = "../tests/support/mod.rs"]
mod support;

use mip6_common::wire::exthdr::parse_payload;
use mip6_common::wire::mh::{BaStatus, MhRepr};
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use support::{COA, Creds, MnSockets, World, bu, now_ntp};

const WINDOW: usize = 256;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn node(k: usize) -> Creds {
    Creds {
        hoa: Ipv6Addr::from(u128::from(support::HOA) + 0x1_0000 + k as u128),
        spi: 1000 + k as u32,
        key: format!("load key number {k:06}").into_bytes(),
        nai: Some(format!("load{k}@example.org")),
    }
}

/// Sends `bus` BUs round robin over `nodes`, sequence numbers from
/// `first_seq`, and returns (BAs accepted, BAs with another status,
/// seconds from the first BU to the last BA).
fn blast(s: &MnSockets, nodes: &[Creds], bus: usize, first_seq: u16) -> (usize, usize, f64) {
    let mut sent = 0;
    let (mut ok, mut other) = (0, 0);
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let mut buf = vec![0u8; 4096];
    while ok + other < bus {
        while sent < bus && sent - (ok + other) < WINDOW {
            let c = &nodes[sent % nodes.len()];
            let seq = first_seq.wrapping_add((sent / nodes.len()) as u16);
            s.send_mh(COA, c.hoa, &bu(c, COA, seq, 100, now_ntp()));
            sent += 1;
        }
        match next_ba(s, &mut buf) {
            Some(st) if st == BaStatus::ACCEPTED => {
                ok += 1;
                last_progress = Instant::now();
            }
            Some(_) => {
                other += 1;
                last_progress = Instant::now();
            }
            None if last_progress.elapsed() > Duration::from_secs(5) => {
                eprintln!(
                    "bu_rate: {} BAs missing after 5 s; giving up",
                    sent - ok - other
                );
                break;
            }
            None => {}
        }
    }
    (ok, other, start.elapsed().as_secs_f64())
}

/// The status of the next BA, waiting up to 50 ms for one (the support
/// module's reader naps 10 ms when the socket is empty: too coarse here).
fn next_ba(s: &MnSockets, buf: &mut [u8]) -> Option<BaStatus> {
    loop {
        match s.rx.recv(buf) {
            Ok(meta) => {
                let Ok(p) = parse_payload(meta.header(), &buf[..meta.len]) else {
                    continue;
                };
                if let Ok(MhRepr::BindingAck(ba)) = MhRepr::parse_bytes(p.upper()) {
                    return Some(ba.status);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut fd = libc::pollfd {
                    fd: s.rx.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one live pollfd for the call.
                if unsafe { libc::poll(&mut fd, 1, 50) } <= 0 {
                    return None;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn main() {
    let n = env_usize("MIP6_BU_RATE_NODES", 2000);
    let bus = env_usize("MIP6_BU_RATE_BUS", 20_000);
    let nodes: Vec<Creds> = (0..n).map(node).collect();
    let mut more = String::new();
    for c in &nodes {
        more.push_str(&format!(
            "  - id: {}\n    home_address: \"{}\"\n    spi: {}\n    key: \"{}\"\n",
            c.nai.as_deref().unwrap_or_default(),
            c.hoa,
            c.spi,
            String::from_utf8_lossy(&c.key)
        ));
    }
    let w = World::with_mobile_nodes("burate", &more, "");
    let bin = std::env::var("MIP6_HA_BIN").unwrap_or_else(|_| support::bin().to_string());
    // Info level: a debug line per BU would be what is measured.
    let mut ha =
        w.ha.spawn(&[&bin, "run", "-c", w.config.to_str().expect("utf-8")])
            .expect("start mip6-ha");
    ha.wait_log(mip6_home_agent::daemon::READY, support::T)
        .expect("mip6-ha ready");
    let nodes2 = nodes.clone();
    let (reg, rej, reg_s, ok, other, secs) =
        w.mn.run_in(move || {
            let s = MnSockets::open();
            // First registrations (each waits for the home agent's DAD on
            // behalf of its home address, all at once), then the refreshes.
            let (reg, rej, reg_s) = blast(&s, &nodes2, nodes2.len(), 1);
            let (ok, other, secs) = blast(&s, &nodes2, bus, 2);
            (reg, rej, reg_s, ok, other, secs)
        })
        .expect("run in the mobile node's namespace");
    let bindings = w.bindings().len();
    drop(ha);
    println!(
        "mip6-ha {bin}\n  {n} mobile nodes: {reg} registered ({rej} refused) in {reg_s:.2} s; \
         {bindings} bindings\n  refresh BUs: {ok} accepted, {other} other, in {secs:.2} s = \
         {:.0} BUs/s answered (window {WINDOW})",
        (ok + other) as f64 / secs
    );
}
