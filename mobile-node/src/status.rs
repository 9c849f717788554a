//! What `mip6-mn status` shows: a snapshot the daemon publishes after every
//! step of its loop, served as one JSON object over the control socket.
//! Times are UNIX milliseconds (with microseconds in the fraction), so a
//! reader can line them up with packet captures and other logs.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Maps the monotonic clock the engines use onto UNIX time, once, so every
/// timestamp of a run is on the same scale.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    instant: Instant,
    unix_ms: f64,
}

impl WallClock {
    pub fn now() -> Self {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        Self {
            instant: Instant::now(),
            unix_ms,
        }
    }

    /// UNIX milliseconds of `t`, rounded to microseconds.
    pub fn unix_ms(&self, t: Instant) -> f64 {
        let ms = if t >= self.instant {
            self.unix_ms + t.duration_since(self.instant).as_secs_f64() * 1000.0
        } else {
            self.unix_ms - self.instant.duration_since(t).as_secs_f64() * 1000.0
        };
        (ms * 1000.0).round() / 1000.0
    }
}

/// The home registration's entry of the Binding Update List (RFC 6275
/// 11.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulEntry {
    /// The home agent (none while it is being discovered).
    pub destination: Option<Ipv6Addr>,
    pub home_address: Ipv6Addr,
    /// The care-of address of the last BU (the home address for a
    /// deregistration from home).
    pub care_of_address: Option<Ipv6Addr>,
    /// idle, registering, registered, deregistering, at_home, failed.
    pub state: String,
    /// Sequence number of the last BU sent.
    pub sequence: u16,
    pub requested_lifetime_s: u64,
    /// What the home agent granted, while the binding lasts.
    pub granted_lifetime_s: Option<u64>,
    pub registered_coa: Option<Ipv6Addr>,
    pub expires_unix_ms: Option<f64>,
    pub refresh_unix_ms: Option<f64>,
    pub last_bu_unix_ms: Option<f64>,
    pub bu_sent: u64,
    pub ba_received: u64,
    pub ba_ignored: u64,
    /// While `state` is failed: why, with the home agent's status code and
    /// its meaning ([`failure_text`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Why a registration failed, in words: the Binding Acknowledgement's
/// status with its RFC 6275 / RFC 4285 name and what to check, or what
/// happened instead of an answer.
pub fn failure_text(
    status: Option<mip6_common::wire::mh::BaStatus>,
    reason: mip6_common::binding::update_list::FailReason,
) -> String {
    use mip6_common::binding::update_list::FailReason;
    let hint = match status.map(|s| s.0) {
        Some(146) => {
            ": the home agent refused our authenticator; both sides need the same spi and key_hex"
        }
        Some(144) => ": the home agent knows this home address under another mn_id",
        Some(133) => ": this home agent does not serve our home address",
        Some(132) => ": the home address is not on the home agent's home prefix",
        Some(129) => ": the home agent does not allow this home address",
        _ => "",
    };
    match (status, reason) {
        (Some(s), _) => format!("status {s}{hint}"),
        (None, FailReason::NoResponse) => "no answer from the home agent".into(),
        (None, FailReason::TooManyResyncs) => {
            "the sequence number or timestamp kept being refused (135/145)".into()
        }
        (None, FailReason::MobilityUnsupported) => {
            "the home agent answered with a Binding Error: it does not speak Mobile IPv6".into()
        }
        (None, FailReason::ZeroLifetime) => "the home agent granted a lifetime of 0".into(),
        (None, FailReason::Rejected) => "refused".into(),
    }
}

/// One address on a managed interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddrStatus {
    pub addr: Ipv6Addr,
    pub prefix_len: u8,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IfaceStatus {
    pub name: String,
    pub priority: i32,
    pub table: u32,
    pub carrier: bool,
    pub at_home: bool,
    pub routers: Vec<Ipv6Addr>,
    pub addresses: Vec<AddrStatus>,
}

/// One handover: from the link event that caused it to the home agent's
/// answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handover {
    pub number: u32,
    /// "away" (registration of a care-of address) or "home"
    /// (deregistration on the home link).
    pub kind: String,
    pub link: String,
    pub coa: Option<Ipv6Addr>,
    /// How the care-of address was obtained: "slaac" or "dhcpv6".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coa_source: Option<String>,
    pub previous_coa: Option<Ipv6Addr>,
    /// The carrier change (or daemon start) that led here.
    pub link_event_unix_ms: Option<f64>,
    /// The first Router Advertisement on the link after its carrier came up.
    pub ra_unix_ms: Option<f64>,
    /// When the care-of address became usable (optimistic or preferred).
    pub coa_usable_unix_ms: Option<f64>,
    /// The first BU of this handover.
    pub bu_sent_unix_ms: Option<f64>,
    /// The BA that completed it.
    pub ba_received_unix_ms: Option<f64>,
    /// BUs sent for it, retransmissions included.
    pub bu_count: u32,
    /// registered, deregistered, failed (...), superseded, or empty while
    /// it runs.
    pub outcome: String,
}

impl Handover {
    /// Link event to BA, in milliseconds.
    pub fn total_ms(&self) -> Option<f64> {
        Some(self.ba_received_unix_ms? - self.link_event_unix_ms?)
    }
}

/// Dynamic Home Agent Address Discovery (RFC 6275 11.4.1), when the
/// configuration gives no home agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DhaadStatus {
    /// idle, discovering, found, failed.
    pub state: String,
    /// The Home-Agents anycast address the Requests go to.
    pub anycast: Ipv6Addr,
    /// The care-of address they leave from.
    pub care_of_address: Option<Ipv6Addr>,
    /// Requests of the current (or last) discovery.
    pub requests_sent: u32,
    pub last_request_unix_ms: Option<f64>,
    /// The Reply that gave the home agent.
    pub reply_from: Option<Ipv6Addr>,
    pub reply_unix_ms: Option<f64>,
    /// Every home agent it listed, most preferred first.
    pub home_agents: Vec<Ipv6Addr>,
    pub replies_ignored: u64,
}

/// The whole snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub now_unix_ms: f64,
    pub started_unix_ms: f64,
    pub pid: u32,
    pub home_address: Ipv6Addr,
    pub home_prefix: String,
    /// None until discovered.
    pub home_agent: Option<Ipv6Addr>,
    /// How the home agent is known: configured, dhaad; or discovering,
    /// unknown, dhaad failed while it is not.
    pub home_agent_source: String,
    pub dhaad: Option<DhaadStatus>,
    /// away, home or detached.
    pub location: String,
    pub current_link: Option<String>,
    pub care_of_address: Option<Ipv6Addr>,
    pub tunnel: String,
    pub binding_update_list: Vec<BulEntry>,
    pub interfaces: Vec<IfaceStatus>,
    pub handovers: Vec<Handover>,
}

fn ago(now: f64, t: Option<f64>) -> String {
    match t {
        Some(t) if t <= now => format!("{:.1} s ago", (now - t) / 1000.0),
        Some(t) => format!("in {:.1} s", (t - now) / 1000.0),
        None => "-".into(),
    }
}

fn rel(base: Option<f64>, t: Option<f64>) -> String {
    match (base, t) {
        (Some(b), Some(t)) => format!("{:+.1}", t - b),
        _ => "-".into(),
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

impl Status {
    /// The human-readable form of `mip6-mn status`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let now = self.now_unix_ms;
        let _ = writeln!(
            s,
            "mobile node {}  (home prefix {}, home agent {} ({}), pid {})",
            self.home_address,
            self.home_prefix,
            opt(&self.home_agent),
            self.home_agent_source,
            self.pid
        );
        if let Some(d) = &self.dhaad {
            let _ = writeln!(
                s,
                "DHAAD: {}  {} request(s) to {} from {}, last {}; reply from {} {}: {}; {} replies ignored",
                d.state,
                d.requests_sent,
                d.anycast,
                opt(&d.care_of_address),
                ago(now, d.last_request_unix_ms),
                opt(&d.reply_from),
                ago(now, d.reply_unix_ms),
                d.home_agents
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                d.replies_ignored
            );
        }
        let _ = writeln!(
            s,
            "location: {}  link: {}  care-of address: {}  tunnel: {}",
            self.location,
            opt(&self.current_link),
            opt(&self.care_of_address),
            self.tunnel
        );
        let _ = writeln!(s, "\nbinding update list:");
        for b in &self.binding_update_list {
            let _ = writeln!(
                s,
                "  {} -> home agent {}: {}  care-of {}  seq {}",
                b.home_address,
                opt(&b.destination),
                match &b.failure {
                    Some(f) if b.state == "failed" => format!("failed ({f})"),
                    _ => b.state.clone(),
                },
                opt(&b.care_of_address),
                b.sequence
            );
            let _ = writeln!(
                s,
                "    lifetime requested {} s, granted {}; registered care-of {}; expires {}; refresh {}",
                b.requested_lifetime_s,
                b.granted_lifetime_s
                    .map_or_else(|| "-".to_string(), |l| format!("{l} s")),
                opt(&b.registered_coa),
                ago(now, b.expires_unix_ms),
                ago(now, b.refresh_unix_ms)
            );
            let _ = writeln!(
                s,
                "    last BU {}; BUs sent {}, BAs received {}, BAs ignored {}",
                ago(now, b.last_bu_unix_ms),
                b.bu_sent,
                b.ba_received,
                b.ba_ignored
            );
        }
        let _ = writeln!(s, "\ninterfaces:");
        for i in &self.interfaces {
            let _ = writeln!(
                s,
                "  {} priority {} table {}: {}{}",
                i.name,
                i.priority,
                i.table,
                if i.carrier { "carrier" } else { "no carrier" },
                if i.at_home { ", home link" } else { "" }
            );
            for r in &i.routers {
                let _ = writeln!(s, "    router {r}");
            }
            for a in &i.addresses {
                let _ = writeln!(s, "    {}/{} {}", a.addr, a.prefix_len, a.state);
            }
        }
        let _ = writeln!(
            s,
            "\nhandovers (ms after the link event):\n  {:>3} {:<5} {:<10} {:<28} {:>8} {:>9} {:>8} {:>8} {:>3}  outcome",
            "#", "kind", "link", "care-of address", "RA", "CoA ok", "BU", "BA", "BUs"
        );
        for h in &self.handovers {
            let base = h.link_event_unix_ms;
            let _ = writeln!(
                s,
                "  {:>3} {:<5} {:<10} {:<28} {:>8} {:>9} {:>8} {:>8} {:>3}  {}",
                h.number,
                h.kind,
                h.link,
                opt(&h.coa),
                rel(base, h.ra_unix_ms),
                rel(base, h.coa_usable_unix_ms),
                rel(base, h.bu_sent_unix_ms),
                rel(base, h.ba_received_unix_ms),
                h.bu_count,
                h.outcome
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            now_unix_ms: 10_000.0,
            started_unix_ms: 1000.0,
            pid: 7,
            home_address: "2001:db8:1::100".parse().expect("a"),
            home_prefix: "2001:db8:1::/64".into(),
            home_agent: Some("2001:db8:1::1".parse().expect("a")),
            home_agent_source: "dhaad".into(),
            dhaad: Some(DhaadStatus {
                state: "found".into(),
                anycast: "2001:db8:1::fdff:ffff:ffff:fffe".parse().expect("a"),
                care_of_address: Some("2001:db8:a::5".parse().expect("a")),
                requests_sent: 1,
                last_request_unix_ms: Some(1990.0),
                reply_from: Some("2001:db8:1::1".parse().expect("a")),
                reply_unix_ms: Some(1995.0),
                home_agents: vec!["2001:db8:1::1".parse().expect("a")],
                replies_ignored: 0,
            }),
            location: "away".into(),
            current_link: Some("eth0".into()),
            care_of_address: Some("2001:db8:a::5".parse().expect("a")),
            tunnel: "mip6tun0".into(),
            binding_update_list: vec![BulEntry {
                destination: Some("2001:db8:1::1".parse().expect("a")),
                home_address: "2001:db8:1::100".parse().expect("a"),
                care_of_address: Some("2001:db8:a::5".parse().expect("a")),
                state: "registered".into(),
                sequence: 9,
                requested_lifetime_s: 600,
                granted_lifetime_s: Some(600),
                registered_coa: Some("2001:db8:a::5".parse().expect("a")),
                expires_unix_ms: Some(600_000.0),
                refresh_unix_ms: Some(480_000.0),
                last_bu_unix_ms: Some(2000.0),
                bu_sent: 1,
                ba_received: 1,
                ba_ignored: 0,
                failure: None,
            }],
            interfaces: vec![IfaceStatus {
                name: "eth0".into(),
                priority: 10,
                table: 200,
                carrier: true,
                at_home: false,
                routers: vec!["fe80::1".parse().expect("a")],
                addresses: vec![AddrStatus {
                    addr: "2001:db8:a::5".parse().expect("a"),
                    prefix_len: 64,
                    state: "preferred".into(),
                }],
            }],
            handovers: vec![Handover {
                number: 1,
                kind: "away".into(),
                link: "eth0".into(),
                coa: Some("2001:db8:a::5".parse().expect("a")),
                coa_source: Some("slaac".into()),
                previous_coa: None,
                link_event_unix_ms: Some(1000.0),
                ra_unix_ms: Some(1010.0),
                coa_usable_unix_ms: Some(2000.0),
                bu_sent_unix_ms: Some(2000.5),
                ba_received_unix_ms: Some(2003.0),
                bu_count: 1,
                outcome: "registered".into(),
            }],
        }
    }

    #[test]
    fn json_round_trip_and_text() {
        let s = sample();
        let json = serde_json::to_string(&s).expect("json");
        let back: Status = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, s);
        let text = s.render();
        assert!(text.contains("registered"), "{text}");
        assert!(text.contains("+1003.0"), "{text}");
        assert!(text.contains("home agent 2001:db8:1::1 (dhaad)"), "{text}");
        assert!(text.contains("DHAAD: found"), "{text}");
        assert_eq!(s.handovers[0].total_ms(), Some(1003.0));
    }

    #[test]
    fn failed_says_the_status_code_and_its_meaning() {
        use mip6_common::binding::update_list::FailReason;
        use mip6_common::wire::mh::BaStatus;
        let mut s = sample();
        s.binding_update_list[0].state = "failed".into();
        s.binding_update_list[0].failure =
            Some(failure_text(Some(BaStatus(146)), FailReason::Rejected));
        let text = s.render();
        assert!(
            text.contains(
                "failed (status 146 (MIPV6-AUTH-FAIL): the home agent refused our authenticator"
            ),
            "{text}"
        );
        let json = serde_json::to_string(&s).expect("json");
        assert!(
            json.contains("\"failure\":\"status 146 (MIPV6-AUTH-FAIL)"),
            "{json}"
        );
        assert_eq!(
            failure_text(None, FailReason::NoResponse),
            "no answer from the home agent"
        );
        assert!(
            failure_text(Some(BaStatus(133)), FailReason::Rejected)
                .starts_with("status 133 (Not home agent for this mobile node)")
        );
    }

    #[test]
    fn metrics_follow_the_snapshot() {
        let text = crate::metrics::render(Some(&sample()));
        for line in [
            "mip6_mn_registered 1\n",
            "mip6_mn_location{location=\"away\"} 1\n",
            "mip6_mn_registration_state{state=\"registered\"} 1\n",
            "mip6_mn_binding_updates_sent_total 1\n",
            "mip6_mn_handovers_total 1\n",
            // The sample's handover took 1003 ms.
            "mip6_mn_handover_seconds_bucket{le=\"1\"} 0\n",
            "mip6_mn_handover_seconds_bucket{le=\"2.5\"} 1\n",
        ] {
            assert!(text.contains(line), "{line}{text}");
        }
    }

    #[test]
    fn wall_clock_is_consistent() {
        let c = WallClock::now();
        let t = Instant::now();
        let later = t + std::time::Duration::from_millis(1500);
        let d = c.unix_ms(later) - c.unix_ms(t);
        assert!((d - 1500.0).abs() < 0.01, "{d}");
    }
}
