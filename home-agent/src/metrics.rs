//! Prometheus metrics: the text exposition format (version 0.0.4), written
//! by hand from what the loop publishes, served by
//! [`mip6_common::sys::metrics_http`] (any path, one response per
//! connection). No global registry: everything comes from the [`Shared`]
//! it is given.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mip6_common::sys::metrics_http::{self, family, label};
use mip6_common::wire::mh::BaStatus;

use crate::state::Shared;

/// Starts serving on `addr`; returns the bound address (port 0 picks one).
pub fn start(addr: SocketAddr, shared: Arc<Shared>) -> io::Result<SocketAddr> {
    metrics_http::start(addr, move || render(&shared))
}

/// The exposition text.
pub fn render(shared: &Shared) -> String {
    let mut out = String::new();
    let p = shared.lock();
    let mut tunnel = p.retired;
    for hoa in p.bindings.keys() {
        if let Some((a, b, c, d)) = shared.tunnel.counters(hoa) {
            tunnel.0 += a;
            tunnel.1 += b;
            tunnel.2 += c;
            tunnel.3 += d;
        }
    }
    family(
        &mut out,
        "mip6_ha_bindings",
        "gauge",
        "Bindings in the cache.",
    );
    let _ = writeln!(out, "mip6_ha_bindings {}", p.bindings.len());
    family(
        &mut out,
        "mip6_ha_pending_dad",
        "gauge",
        "First registrations waiting for DAD on the home link.",
    );
    let _ = writeln!(out, "mip6_ha_pending_dad {}", p.pending_dad.len());
    family(
        &mut out,
        "mip6_ha_binding_updates_total",
        "counter",
        "Binding Updates answered, by BA status (result) or dropped unanswered.",
    );
    for (status, n) in &p.stats.by_status {
        let name = BaStatus(*status).name().unwrap_or("unknown");
        let _ = writeln!(
            out,
            "mip6_ha_binding_updates_total{{result=\"{}\",status=\"{status}\"}} {n}",
            label(name)
        );
    }
    let _ = writeln!(
        out,
        "mip6_ha_binding_updates_total{{result=\"dropped\",status=\"none\"}} {}",
        p.stats.bu_dropped
    );
    family(
        &mut out,
        "mip6_ha_binding_updates_received_total",
        "counter",
        "Binding Updates received.",
    );
    let _ = writeln!(
        out,
        "mip6_ha_binding_updates_received_total {}",
        p.stats.bu_received
    );
    family(
        &mut out,
        "mip6_ha_binding_acks_sent_total",
        "counter",
        "Binding Acknowledgements sent.",
    );
    let _ = writeln!(out, "mip6_ha_binding_acks_sent_total {}", p.stats.ba_sent);
    family(
        &mut out,
        "mip6_ha_binding_errors_sent_total",
        "counter",
        "Binding Errors sent.",
    );
    let _ = writeln!(
        out,
        "mip6_ha_binding_errors_sent_total {}",
        p.stats.binding_errors_sent
    );
    family(
        &mut out,
        "mip6_ha_tunnel_packets_total",
        "counter",
        "Packets through the tunnels, by direction.",
    );
    let _ = writeln!(
        out,
        "mip6_ha_tunnel_packets_total{{direction=\"to_mn\"}} {}",
        tunnel.0
    );
    let _ = writeln!(
        out,
        "mip6_ha_tunnel_packets_total{{direction=\"from_mn\"}} {}",
        tunnel.2
    );
    family(
        &mut out,
        "mip6_ha_tunnel_bytes_total",
        "counter",
        "Octets through the tunnels (inner packets), by direction.",
    );
    let _ = writeln!(
        out,
        "mip6_ha_tunnel_bytes_total{{direction=\"to_mn\"}} {}",
        tunnel.1
    );
    let _ = writeln!(
        out,
        "mip6_ha_tunnel_bytes_total{{direction=\"from_mn\"}} {}",
        tunnel.3
    );
    family(
        &mut out,
        "mip6_ha_tunnel_drops_total",
        "counter",
        "Packets the tunnel data plane dropped, by reason.",
    );
    for (reason, n) in shared.tunnel.drops() {
        let _ = writeln!(
            out,
            "mip6_ha_tunnel_drops_total{{reason=\"{}\"}} {n}",
            label(&reason)
        );
    }
    family(
        &mut out,
        "mip6_ha_data_plane",
        "gauge",
        "1 for the path that carries the tunnel (ebpf, tun).",
    );
    let _ = writeln!(
        out,
        "mip6_ha_data_plane{{path=\"{}\"}} 1",
        label(shared.tunnel.data_plane())
    );
    let s = &p.shell;
    for (name, help, v) in [
        (
            "mip6_ha_malformed_signalling_total",
            "Signalling packets that did not parse or failed their checksum.",
            s.malformed,
        ),
        (
            "mip6_ha_dhaad_replies_total",
            "DHAAD replies sent.",
            s.dhaad_replies,
        ),
        (
            "mip6_ha_mobile_prefix_advertisements_total",
            "Mobile Prefix Advertisements sent.",
            s.mobile_prefix_advertisements,
        ),
        (
            "mip6_ha_unsolicited_nas_total",
            "Unsolicited Neighbor Advertisements sent for home addresses.",
            s.unsolicited_nas,
        ),
        (
            "mip6_ha_dad_conflicts_total",
            "Home addresses found in use on the home link.",
            s.dad_conflicts,
        ),
        (
            "mip6_ha_kernel_errors_total",
            "Route and neighbour operations that failed.",
            s.kernel_errors,
        ),
        (
            "mip6_ha_send_errors_total",
            "Packets that could not be sent.",
            s.send_errors,
        ),
        (
            "mip6_ha_state_writes_total",
            "Times the binding cache was written to disk.",
            s.state_writes,
        ),
        (
            "mip6_ha_home_agents_refused_total",
            "Home agent addresses from Router Advertisements the bounded home agents list refused.",
            s.home_agents_refused,
        ),
        (
            "mip6_ha_log_lines_suppressed_total",
            "Log lines about rejected, dropped or unauthenticated Binding Updates held back by the rate limit.",
            s.log_lines_suppressed,
        ),
        (
            "mip6_ha_foreign_nas_total",
            "Neighbor Advertisements for bound home addresses naming another node's link-layer address (answered by ours).",
            s.foreign_nas,
        ),
        (
            "mip6_ha_dhaad_rate_limited_total",
            "DHAAD requests left unanswered by the reply budget.",
            s.dhaad_rate_limited,
        ),
    ] {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    p.bu_latency.render(
        &mut out,
        "mip6_ha_bu_to_ba_seconds",
        "From a Binding Update's arrival to its Binding Acknowledgement leaving \
         (first registrations include DAD on the home link).",
    );
    family(
        &mut out,
        "mip6_ha_handovers_total",
        "counter",
        "Care-of address changes of current bindings, by home address.",
    );
    for b in p.bindings.values() {
        let _ = writeln!(
            out,
            "mip6_ha_handovers_total{{hoa=\"{}\"}} {}",
            b.hoa, b.handovers
        );
    }
    metrics_http::build_info(&mut out, "mip6_ha", env!("CARGO_PKG_VERSION"));
    family(
        &mut out,
        "mip6_ha_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    let _ = writeln!(
        out,
        "mip6_ha_uptime_seconds {}",
        shared.started.elapsed().as_secs()
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tunnel::FakePlane;
    use std::net::Ipv6Addr;

    #[test]
    fn exposition_has_the_families() {
        let shared = FakePlane {
            counters: (1, 100, 2, 200),
            name: "tun0",
            drops: vec![("no_binding".into(), 4)],
        }
        .into_shared("2001:db8::1", false);
        {
            let mut p = shared.lock();
            p.stats.by_status.insert(0, 3);
            p.stats.by_status.insert(146, 1);
            p.retired = (10, 1000, 0, 0);
            p.bu_latency.observe(std::time::Duration::from_micros(800));
            let hoa: Ipv6Addr = "2001:db8::100".parse().unwrap();
            let now = std::time::Instant::now();
            p.bindings.insert(
                hoa,
                crate::state::PubBinding {
                    hoa,
                    coa: "2001:db8:2::1".parse().unwrap(),
                    mn_id: None,
                    sequence: 1,
                    flags: mip6_common::wire::mh::BuFlags::A,
                    lifetime_secs: 60,
                    expires: now,
                    created: now,
                    updated: now,
                    handovers: 2,
                },
            );
        }
        let text = render(&shared);
        assert!(text.contains("mip6_ha_bindings 1\n"), "{text}");
        assert!(text.contains("status=\"146\"} 1\n"), "{text}");
        assert!(text.contains("mip6_ha_tunnel_packets_total{direction=\"to_mn\"} 11\n"));
        assert!(text.contains("mip6_ha_tunnel_drops_total{reason=\"no_binding\"} 4\n"));
        assert!(
            text.contains("mip6_ha_bu_to_ba_seconds_bucket{le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("mip6_ha_bu_to_ba_seconds_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("mip6_ha_handovers_total{hoa=\"2001:db8::100\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "mip6_ha_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        // Every sample line belongs to a declared family.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| text.contains(&format!("# TYPE {f} histogram")))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{l}");
        }
    }
}
