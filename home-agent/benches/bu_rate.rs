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

use support::{MnSockets, WINDOW, World, blast, load_config, load_node};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env_usize("MIP6_BU_RATE_NODES", 2000);
    let bus = env_usize("MIP6_BU_RATE_BUS", 20_000);
    let nodes: Vec<support::Creds> = (0..n).map(load_node).collect();
    let w = World::with_mobile_nodes("burate", &load_config(&nodes), "");
    let bin = std::env::var("MIP6_HA_BIN").unwrap_or_else(|_| support::bin().to_string());
    let ha = w.start_ha_quiet(&bin);
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
