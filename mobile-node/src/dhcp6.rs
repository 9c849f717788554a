//! DHCPv6 beside SLAAC on one interface: the stateful half of care-of
//! address autoconfiguration (RFC 8415 IA_NA), used by `mip6-mn autoconf
//! --dhcpv6` and by the daemon's interfaces with `autoconf: dhcpv6 | auto`.
//!
//! The [`Dhcp6`] engine leases; the SLAAC engine of the same interface runs
//! DAD on the leased address (standard or optimistic, like its own) and
//! installs it, so every address reaches the kernel, the routing rules and
//! the binding update path the same way whichever way it was obtained.
//! When to start follows the Router Advertisement (RFC 4861 4.2): M=1 asks
//! for an address, O=1 only for other configuration (DNS servers).

use mip6_common::dhcp6::{
    Dhcp6, Dhcp6Action, Dhcp6Config, Dhcp6Drop, Dhcp6Event, Dhcp6EventKind, Dhcp6State, duid_ll,
};
use mip6_common::slaac::{EventKind, Slaac};
use mip6_common::sys::dhcp6_io::Dhcp6Socket;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

/// How an interface gets its global (care-of) addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoconfMode {
    /// Stateless only (RFC 4862); M and O are ignored.
    #[default]
    Slaac,
    /// DHCPv6 for the address whatever the RA says (SLAAC still forms
    /// addresses from autonomous prefixes, as RFC 4862 allows both).
    Dhcpv6,
    /// DHCPv6 when the RA says M=1, only DNS by DHCPv6 with O=1, SLAAC
    /// from autonomous prefixes.
    Auto,
}

impl std::str::FromStr for AutoconfMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "slaac" => Ok(Self::Slaac),
            "dhcpv6" => Ok(Self::Dhcpv6),
            "auto" => Ok(Self::Auto),
            _ => Err(format!(
                "unknown autoconf mode {s:?}: slaac, dhcpv6 or auto"
            )),
        }
    }
}

impl AutoconfMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Slaac => "slaac",
            Self::Dhcpv6 => "dhcpv6",
            Self::Auto => "auto",
        }
    }
}

/// The DHCPv6 client of one interface with its socket. See the module docs.
#[derive(Debug)]
pub struct Dhcp6Link {
    pub mode: AutoconfMode,
    engine: Dhcp6,
    sock: Dhcp6Socket,
    /// A usable link-local address exists: our source (RFC 8415 13.1).
    /// Before it, a datagram could not leave.
    source_ready: bool,
    /// What the RA asked for (stateful, DNS) while we had no source yet.
    pending: Option<(bool, bool)>,
}

/// A stable IAID per interface name (RFC 8415 12: the same across restarts).
fn iaid(ifname: &str) -> u32 {
    ifname.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl Dhcp6Link {
    /// `None` for [`AutoconfMode::Slaac`]: nothing to run.
    pub fn open(
        mode: AutoconfMode,
        ifname: &str,
        ifindex: u32,
        mac: Option<[u8; 6]>,
        rapid_commit: bool,
        seed: u64,
    ) -> io::Result<Option<Self>> {
        if mode == AutoconfMode::Slaac {
            return Ok(None);
        }
        // An interface without a MAC (TUN, point-to-point) still needs a
        // stable DUID: a locally administered one from its name.
        let mac = mac.unwrap_or_else(|| {
            let h = iaid(ifname).to_be_bytes();
            [0x02, 0, h[0], h[1], h[2], h[3]]
        });
        let config = Dhcp6Config {
            duid: duid_ll(mac),
            iaid: iaid(ifname),
            rapid_commit,
            skip_initial_delay: true,
        };
        let engine = Dhcp6::new(config, Box::new(StdRng::seed_from_u64(seed)));
        let sock = Dhcp6Socket::open(ifname, ifindex)?;
        Ok(Some(Self {
            mode,
            engine,
            sock,
            source_ready: false,
            pending: None,
        }))
    }

    pub fn engine(&self) -> &Dhcp6 {
        &self.engine
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// The leased address, if one is held.
    pub fn leased(&self) -> Option<Ipv6Addr> {
        self.engine.lease().map(|l| l.addr)
    }

    /// Whether `addr` is the lease this client holds.
    pub fn is_leased(&self, addr: Ipv6Addr) -> bool {
        self.leased() == Some(addr)
    }

    /// Follows what the interface's SLAAC engine reported: link changes,
    /// the RA's flags, the link-local address becoming usable (our source
    /// address), DAD conflicts on the leased address. `on_link` are the
    /// prefixes the link's RAs announce on-link (empty: not known): a lease
    /// outside them belongs to another link and is not worth a Confirm.
    pub fn on_slaac_event(&mut self, now: Instant, ev: &EventKind, on_link: &[(Ipv6Addr, u8)]) {
        match ev {
            EventKind::LinkDown => {
                self.source_ready = false;
                self.pending = None;
                self.engine.handle_link_down(now);
            }
            EventKind::RouterFlags { managed, other, .. } => {
                let stateful = *managed || self.mode == AutoconfMode::Dhcpv6;
                if stateful
                    && !on_link.is_empty()
                    && let Some(a) = self.leased()
                    && self.engine.state() == Dhcp6State::Idle
                    && !on_link.iter().any(|(p, l)| covers(*p, *l, a))
                {
                    self.engine.forget(now);
                }
                self.on_flags(now, *managed, *other);
            }
            EventKind::AddressState {
                link_local: true,
                to,
                ..
            } => {
                self.source_ready = to.usable();
                if let Some((stateful, dns)) = self.pending.take().filter(|_| self.source_ready) {
                    self.begin(now, stateful, dns);
                }
                // In dhcpv6 mode there is no need to wait for an RA: the
                // server is on the link as soon as we have a source.
                if self.source_ready && self.mode == AutoconfMode::Dhcpv6 {
                    self.begin(now, true, true);
                }
            }
            EventKind::DadConflict {
                addr, retry: None, ..
            } => self.engine.handle_dad_conflict(now, *addr),
            _ => {}
        }
    }

    fn on_flags(&mut self, now: Instant, managed: bool, other: bool) {
        match self.mode {
            AutoconfMode::Auto if managed => self.begin(now, true, true),
            AutoconfMode::Auto if other => self.begin(now, false, true),
            AutoconfMode::Dhcpv6 => self.begin(now, true, true),
            _ => {}
        }
    }

    /// Starts the client now, or once the link-local address is usable:
    /// with standard DAD that is one RetransTimer after the link came up,
    /// and a Solicit sent before it would be lost (and retransmitted only
    /// about a second later).
    fn begin(&mut self, now: Instant, stateful: bool, dns: bool) {
        if self.source_ready {
            self.engine.start(now, stateful, dns);
        } else {
            self.pending = Some((stateful, dns));
        }
    }

    /// Whether nothing more is to come for now: in dhcpv6 mode a lease whose
    /// address `ready` says is through DAD; in auto mode also no stateful
    /// exchange asked for (M=0) or only other configuration (O=1).
    pub fn settled(&self, ready: impl Fn(Ipv6Addr) -> bool) -> bool {
        if self.leased().is_some_and(&ready) {
            return true;
        }
        self.mode == AutoconfMode::Auto
            && self.pending.is_none_or(|(stateful, _)| !stateful)
            && matches!(
                self.engine.state(),
                Dhcp6State::Idle | Dhcp6State::InformationRequest | Dhcp6State::Informed
            )
    }

    /// Whether the engine has actions or events waiting.
    pub fn has_output(&self) -> bool {
        self.engine.has_output()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
    }

    pub fn poll_event(&mut self) -> Option<Dhcp6Event> {
        self.engine.poll_event()
    }

    /// Gives the lease back (leaving the link, or shutting down).
    pub fn release(&mut self, now: Instant) {
        self.engine.release(now);
    }

    pub fn state(&self) -> Dhcp6State {
        self.engine.state()
    }

    /// Carries out the engine's actions: datagrams go out, addresses go to
    /// the SLAAC engine for DAD (run its actions afterwards). A datagram
    /// that cannot leave (the link just went) is lost like one on the wire:
    /// the engine retransmits.
    pub fn apply(&mut self, now: Instant, slaac: &mut Slaac) {
        while let Some(a) = self.engine.poll_action() {
            match a {
                Dhcp6Action::Send { dst, payload } => {
                    if let Err(e) = self.sock.send(dst, &payload) {
                        tracing::debug!(%dst, error = %e, "DHCPv6 datagram not sent");
                    }
                }
                Dhcp6Action::ConfigureAddress {
                    addr,
                    valid,
                    preferred,
                } => {
                    // RFC 8415 has no prefix length: the address alone,
                    // on-link prefixes come from the RA (RFC 5942).
                    slaac.add_managed_address(now, addr, 128, valid, preferred);
                }
                Dhcp6Action::RemoveAddress { addr } => slaac.remove_managed_address(now, addr),
                // Reported as an event; resolver configuration is the
                // system's business (resolvconf, systemd-resolved).
                Dhcp6Action::SetDns(_) => {}
            }
        }
    }

    /// Reads every waiting datagram into the engine.
    pub fn receive(&mut self, now: Instant) -> io::Result<Vec<Dhcp6Drop>> {
        let mut dropped = Vec::new();
        while let Some((src, data)) = self.sock.recv()? {
            if let Err(d) = self.engine.handle_message(now, src, &data) {
                dropped.push(d);
            }
        }
        Ok(dropped)
    }
}

/// Whether `addr` is in `prefix`/`len`.
fn covers(prefix: Ipv6Addr, len: u8, addr: Ipv6Addr) -> bool {
    let len = u32::from(len.min(128));
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    u128::from(prefix) & mask == u128::from(addr) & mask
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round()
}

/// One DHCPv6 event as a JSON object (`event` names it).
pub fn event_json(kind: &Dhcp6EventKind) -> Value {
    use Dhcp6EventKind as K;
    match kind {
        K::State { from, to } => {
            json!({"event": "dhcp6_state", "from": from.name(), "to": to.name()})
        }
        K::Sent { msg, attempt } => json!({"event": "dhcp6_sent", "msg": msg, "attempt": attempt}),
        K::Advertised {
            server,
            addr,
            preference,
        } => json!({"event": "dhcp6_advertised", "server": server, "addr": addr,
                    "preference": preference}),
        K::Leased {
            addr,
            server,
            valid,
            preferred,
            t1,
            t2,
            rapid_commit,
        } => json!({"event": "dhcp6_leased", "addr": addr, "server": server,
                    "valid_s": valid.as_secs(), "preferred_s": preferred.as_secs(),
                    "t1_ms": t1.map(ms), "t2_ms": t2.map(ms), "rapid_commit": rapid_commit}),
        K::Renewed { addr, valid, by } => {
            json!({"event": "dhcp6_renewed", "addr": addr, "valid_s": valid.as_secs(), "by": by})
        }
        K::Confirmed { addr } => json!({"event": "dhcp6_confirmed", "addr": addr}),
        K::ConfirmUnanswered { addr } => {
            json!({"event": "dhcp6_confirm_unanswered", "addr": addr})
        }
        K::NotOnLink { addr } => json!({"event": "dhcp6_not_on_link", "addr": addr}),
        K::Declined { addr } => json!({"event": "dhcp6_declined", "addr": addr}),
        K::Released { addr } => json!({"event": "dhcp6_released", "addr": addr}),
        K::Expired { addr } => json!({"event": "dhcp6_expired", "addr": addr}),
        K::Dns { servers } => json!({"event": "dhcp6_dns", "servers": servers}),
        K::Status { code, message } => {
            json!({"event": "dhcp6_status", "code": code, "message": message})
        }
        K::GaveUp { msg } => json!({"event": "dhcp6_gave_up", "msg": msg}),
    }
}

/// One DHCPv6 event as a line of text.
pub fn event_text(kind: &Dhcp6EventKind) -> String {
    use Dhcp6EventKind as K;
    match kind {
        K::State { from, to } => format!("DHCPv6 {} -> {}", from.name(), to.name()),
        K::Sent { msg, attempt } => format!("DHCPv6 {msg} #{attempt} sent"),
        K::Advertised {
            server,
            addr,
            preference,
        } => format!("DHCPv6 advertise from {server}: {addr} (preference {preference})"),
        K::Leased {
            addr,
            server,
            valid,
            t1,
            rapid_commit,
            ..
        } => format!(
            "DHCPv6 lease {addr} from {server}, valid {} s, T1 {}{}",
            valid.as_secs(),
            t1.map_or("infinite".to_string(), |t| format!("{} s", t.as_secs())),
            if *rapid_commit { " (rapid commit)" } else { "" }
        ),
        K::Renewed { addr, valid, by } => {
            format!("DHCPv6 {addr} renewed by {by}, valid {} s", valid.as_secs())
        }
        K::Confirmed { addr } => format!("DHCPv6 {addr} confirmed on this link"),
        K::ConfirmUnanswered { addr } => {
            format!("DHCPv6 confirm unanswered: keeping {addr} (RFC 8415 18.2.3)")
        }
        K::NotOnLink { addr } => format!("DHCPv6 {addr} is not on this link"),
        K::Declined { addr } => format!("DHCPv6 DECLINED {addr}: another node holds it"),
        K::Released { addr } => format!("DHCPv6 released {addr}"),
        K::Expired { addr } => format!("DHCPv6 lease {addr} expired"),
        K::Dns { servers } => format!(
            "DHCPv6 DNS servers: {}",
            servers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        K::Status { code, message } => format!("DHCPv6 server status {code}: {message}"),
        K::GaveUp { msg } => format!("DHCPv6 {msg} unanswered, giving up on it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_prefixes_cover() {
        assert_eq!("auto".parse::<AutoconfMode>(), Ok(AutoconfMode::Auto));
        assert!("dhcp".parse::<AutoconfMode>().is_err());
        let p: Ipv6Addr = "2001:db8:b::".parse().expect("prefix");
        assert!(covers(p, 64, "2001:db8:b::1000".parse().expect("a")));
        assert!(!covers(p, 64, "2001:db8:a::1000".parse().expect("a")));
        assert!(covers(Ipv6Addr::UNSPECIFIED, 0, p));
    }

    #[test]
    fn iaid_is_stable_per_name() {
        assert_eq!(iaid("eth0"), iaid("eth0"));
        assert_ne!(iaid("eth0"), iaid("eth1"));
    }
}
