//! Prometheus metrics of the mobile node (`metrics_listen`), rendered at
//! request time from the status snapshot the loop publishes for the
//! control socket, so the loop does no work for them.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use mip6_common::sys::metrics_http::{self, Histogram, family, label};

use crate::control::Published;
use crate::status::Status;

/// Starts serving on `addr`; returns the bound address (port 0 picks one).
pub fn start(addr: SocketAddr, published: Published) -> io::Result<SocketAddr> {
    metrics_http::start(addr, move || {
        let snap = published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        render(snap.as_ref())
    })
}

/// The exposition text (`None`: the daemon is still starting).
pub fn render(s: Option<&Status>) -> String {
    let mut out = String::new();
    metrics_http::build_info(&mut out, "mip6_mn", env!("CARGO_PKG_VERSION"));
    let Some(s) = s else {
        return out;
    };
    let b = s.binding_update_list.first();
    family(
        &mut out,
        "mip6_mn_registered",
        "gauge",
        "1 while the home agent holds a binding for our care-of address.",
    );
    let registered = b.is_some_and(|b| b.state == "registered");
    let _ = writeln!(out, "mip6_mn_registered {}", u8::from(registered));
    family(
        &mut out,
        "mip6_mn_location",
        "gauge",
        "1 for where the mobile node is: home, away or detached.",
    );
    for l in ["home", "away", "detached"] {
        let _ = writeln!(
            out,
            "mip6_mn_location{{location=\"{l}\"}} {}",
            u8::from(s.location == l)
        );
    }
    family(
        &mut out,
        "mip6_mn_registration_state",
        "gauge",
        "1 for the state of the home registration.",
    );
    if let Some(b) = b {
        let _ = writeln!(
            out,
            "mip6_mn_registration_state{{state=\"{}\"}} 1",
            label(&b.state)
        );
    }
    for (name, help, v) in [
        (
            "mip6_mn_binding_updates_sent_total",
            "Binding Updates sent, retransmissions included.",
            b.map_or(0, |b| b.bu_sent),
        ),
        (
            "mip6_mn_binding_acks_received_total",
            "Binding Acknowledgements accepted.",
            b.map_or(0, |b| b.ba_received),
        ),
        (
            "mip6_mn_binding_acks_ignored_total",
            "Binding Acknowledgements ignored (stale, unauthenticated, malformed).",
            b.map_or(0, |b| b.ba_ignored),
        ),
        (
            "mip6_mn_handovers_total",
            "Handovers in the daemon's history (moves, returns home).",
            s.handovers.len() as u64,
        ),
    ] {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    let mut h = Histogram::default();
    for ms in s.handovers.iter().filter_map(|h| h.total_ms()) {
        h.observe(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    h.render(
        &mut out,
        "mip6_mn_handover_seconds",
        "From the link event to the home agent's answer, per completed handover.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_daemon_has_build_info_only() {
        let text = render(None);
        assert!(text.contains("mip6_mn_build_info{version="), "{text}");
        assert!(!text.contains("mip6_mn_registered"), "{text}");
    }
}
