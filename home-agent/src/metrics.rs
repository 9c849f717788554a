//! Prometheus metrics: the text exposition format (version 0.0.4), written
//! by hand from what the loop publishes, served over a tiny HTTP/1.0
//! responder on its own thread (any path, one response per connection).
//! No global registry: everything comes from the [`Shared`] it is given.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use mip6_common::wire::mh::BaStatus;

use crate::state::Shared;

/// Starts serving on `addr`; returns the bound address (port 0 picks one).
pub fn start(addr: SocketAddr, shared: Arc<Shared>) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("metrics: bind {addr}: {e}")))?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(s) => {
                        if let Err(e) = serve(s, &shared) {
                            tracing::debug!(error = %e, "metrics connection");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "metrics accept"),
                }
            }
        })?;
    Ok(local)
}

fn serve(mut s: TcpStream, shared: &Shared) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    // Read the request head (we answer every request alike).
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let body = render(shared);
    let resp = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes())
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values are ours (numbers, fixed words); quote what must be.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
    ] {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
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
    use crate::tunnel::{TunnelCounters, TunnelPlane};
    use std::collections::HashMap;
    use std::net::Ipv6Addr;

    struct Fake;
    impl TunnelPlane for Fake {
        fn set_bindings(&self, _: Arc<HashMap<Ipv6Addr, Ipv6Addr>>) {}
        fn counters(&self, _: &Ipv6Addr) -> Option<TunnelCounters> {
            Some((1, 100, 2, 200))
        }
        fn tun_name(&self) -> &str {
            "tun0"
        }
        fn drops(&self) -> Vec<(String, u64)> {
            vec![("no_binding".into(), 4)]
        }
    }

    #[test]
    fn exposition_has_the_families() {
        let shared = Shared::new(
            "2001:db8::1".parse().unwrap(),
            "eth0".into(),
            false,
            Arc::new(Fake),
        );
        {
            let mut p = shared.lock();
            p.stats.by_status.insert(0, 3);
            p.stats.by_status.insert(146, 1);
            p.retired = (10, 1000, 0, 0);
        }
        let text = render(&shared);
        assert!(text.contains("mip6_ha_bindings 0\n"), "{text}");
        assert!(text.contains("status=\"146\"} 1\n"), "{text}");
        assert!(text.contains("mip6_ha_tunnel_packets_total{direction=\"to_mn\"} 10\n"));
        assert!(text.contains("mip6_ha_tunnel_drops_total{reason=\"no_binding\"} 4\n"));
        // Every sample line belongs to a declared family.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{l}");
        }
    }
}
