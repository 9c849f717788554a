//! What the daemon's loop publishes for the control socket and the metrics
//! endpoint, which run on their own threads: a copy of the binding cache
//! kept up to date one change at a time (never rebuilt whole, so a large
//! cache costs nothing per BU), the counters, and the data plane to ask
//! for tunnel counters at request time.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use mip6_common::binding::cache::{BindingInfo, CacheStats};
use mip6_common::wire::mh::BuFlags;
use serde::{Deserialize, Serialize};

use crate::tunnel::{TunnelCounters, TunnelPlane};

/// One binding as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubBinding {
    pub hoa: Ipv6Addr,
    pub coa: Ipv6Addr,
    pub mn_id: Option<String>,
    pub sequence: u16,
    pub flags: BuFlags,
    pub lifetime_secs: u64,
    pub expires: Instant,
    pub created: Instant,
    /// The last accepted BU.
    pub updated: Instant,
    /// Care-of address changes since the binding was created (or restored).
    pub handovers: u64,
}

impl PubBinding {
    /// The binding as published, counting a handover when the care-of
    /// address differs from the one `previous` had.
    pub fn from_info(info: &BindingInfo, mn_id: Option<String>, previous: Option<&Self>) -> Self {
        let handovers = previous.map_or(0, |p| p.handovers + u64::from(p.coa != info.coa));
        Self {
            hoa: info.hoa,
            coa: info.coa,
            mn_id,
            sequence: info.sequence,
            flags: info.flags,
            lifetime_secs: info.lifetime.as_secs(),
            expires: info.expires,
            created: info.created,
            updated: info.updated,
            handovers,
        }
    }
}

/// The last BU refused for a configured home address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub at: Instant,
    pub status: u8,
}

impl Rejection {
    /// `146 (MIPV6-AUTH-FAIL), 12 s ago`.
    pub fn text(&self, now: Instant) -> String {
        format!(
            "{}, {} s ago",
            mip6_common::wire::mh::BaStatus(self.status),
            now.saturating_duration_since(self.at).as_secs()
        )
    }
}

/// Counters of the shell itself (the engine counts BUs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellCounters {
    /// Received signalling that did not parse or failed its checksum.
    pub malformed: u64,
    pub dhaad_replies: u64,
    pub mobile_prefix_advertisements: u64,
    pub unsolicited_nas: u64,
    pub dad_conflicts: u64,
    /// Kernel operations (routes, proxy entries) that failed.
    pub kernel_errors: u64,
    pub send_errors: u64,
    pub state_writes: u64,
    /// Home agent addresses from RAs that the bounded home agents list
    /// refused.
    #[serde(default)]
    pub home_agents_refused: u64,
    /// Log lines about rejected, dropped or unauthenticated BUs held back
    /// by the rate limit (the BUs themselves are counted by status).
    #[serde(default)]
    pub log_lines_suppressed: u64,
    /// Neighbor Advertisements on the home link for a bound home address
    /// with another node's link-layer address (each answered, at most once
    /// a second per address, by our own).
    #[serde(default)]
    pub foreign_nas: u64,
    /// DHAAD requests left unanswered by the reply budget.
    #[serde(default)]
    pub dhaad_rate_limited: u64,
}

#[derive(Debug, Default)]
pub struct Published {
    pub bindings: BTreeMap<Ipv6Addr, PubBinding>,
    pub pending_dad: Vec<Ipv6Addr>,
    pub stats: CacheStats,
    pub shell: ShellCounters,
    /// Tunnel counters of bindings that are gone, so the totals never go
    /// down.
    pub retired: TunnelCounters,
    /// BU arrival to BA departure.
    pub bu_latency: mip6_common::sys::metrics_http::Histogram,
    /// The last refusal per configured home address (bounded by the
    /// configuration, not by what the network sends).
    pub rejections: BTreeMap<Ipv6Addr, Rejection>,
}

/// Shared between the loop and the server threads.
pub struct Shared {
    pub started: Instant,
    pub ha_address: Ipv6Addr,
    pub home_interface: String,
    pub allow_unauthenticated: bool,
    pub tunnel: Arc<dyn TunnelPlane>,
    inner: Mutex<Published>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("ha_address", &self.ha_address)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(
        ha_address: Ipv6Addr,
        home_interface: String,
        allow_unauthenticated: bool,
        tunnel: Arc<dyn TunnelPlane>,
    ) -> Self {
        Self {
            started: Instant::now(),
            ha_address,
            home_interface,
            allow_unauthenticated,
            tunnel,
            inner: Mutex::new(Published::default()),
        }
    }

    /// The published state (a poisoned lock still holds usable data).
    pub fn lock(&self) -> MutexGuard<'_, Published> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The report `mip6-ha status` prints.
    pub fn report(&self) -> StatusReport {
        let now = Instant::now();
        let p = self.lock();
        let bindings = p
            .bindings
            .values()
            .map(|b| {
                let (pt, bt, pf, bf) = self.tunnel.counters(&b.hoa).unwrap_or_default();
                BindingStatus {
                    hoa: b.hoa,
                    coa: b.coa,
                    mn_id: b.mn_id.clone(),
                    sequence: b.sequence,
                    flags: flags_text(b.flags),
                    lifetime_secs: b.lifetime_secs,
                    lifetime_left_secs: b.expires.saturating_duration_since(now).as_secs(),
                    packets_to_mn: pt,
                    bytes_to_mn: bt,
                    packets_from_mn: pf,
                    bytes_from_mn: bf,
                    created_secs_ago: now.saturating_duration_since(b.created).as_secs(),
                    last_bu_secs_ago: now.saturating_duration_since(b.updated).as_secs(),
                    handovers: b.handovers,
                    last_rejection: p.rejections.get(&b.hoa).map(|r| r.text(now)),
                }
            })
            .collect();
        let rejections = p
            .rejections
            .iter()
            .map(|(hoa, r)| RejectionStatus {
                hoa: *hoa,
                status: r.status,
                reason: mip6_common::wire::mh::BaStatus(r.status)
                    .name()
                    .unwrap_or("unknown")
                    .to_owned(),
                secs_ago: now.saturating_duration_since(r.at).as_secs(),
            })
            .collect();
        StatusReport {
            ha_address: self.ha_address,
            home_interface: self.home_interface.clone(),
            tunnel_device: self.tunnel.tun_name().to_owned(),
            allow_unauthenticated: self.allow_unauthenticated,
            uptime_secs: now.saturating_duration_since(self.started).as_secs(),
            bindings,
            pending_dad: p.pending_dad.clone(),
            binding_updates: BuReport {
                received: p.stats.bu_received,
                dropped: p.stats.bu_dropped,
                acks_sent: p.stats.ba_sent,
                by_status: p
                    .stats
                    .by_status
                    .iter()
                    .map(|(s, n)| (s.to_string(), *n))
                    .collect(),
            },
            counters: p.shell.clone(),
            rejections,
        }
    }
}

/// The BU flags as letters (RFC 6275 6.1.7), e.g. `AH`.
pub fn flags_text(f: BuFlags) -> String {
    [
        (BuFlags::A, 'A'),
        (BuFlags::H, 'H'),
        (BuFlags::L, 'L'),
        (BuFlags::K, 'K'),
        (BuFlags::M, 'M'),
        (BuFlags::R, 'R'),
        (BuFlags::P, 'P'),
    ]
    .iter()
    .filter(|(b, _)| f.contains(*b))
    .map(|(_, c)| *c)
    .collect()
}

/// One binding in `mip6-ha status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingStatus {
    pub hoa: Ipv6Addr,
    pub coa: Ipv6Addr,
    pub mn_id: Option<String>,
    pub sequence: u16,
    pub flags: String,
    /// The granted lifetime.
    pub lifetime_secs: u64,
    pub lifetime_left_secs: u64,
    pub packets_to_mn: u64,
    pub bytes_to_mn: u64,
    pub packets_from_mn: u64,
    pub bytes_from_mn: u64,
    /// Since the binding was created (or restored from the state file).
    #[serde(default)]
    pub created_secs_ago: u64,
    /// Since the last accepted BU.
    #[serde(default)]
    pub last_bu_secs_ago: u64,
    /// Care-of address changes.
    #[serde(default)]
    pub handovers: u64,
    /// The last refused BU for this home address: status, meaning, age.
    #[serde(default)]
    pub last_rejection: Option<String>,
}

/// The last refused BU of a configured home address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionStatus {
    pub hoa: Ipv6Addr,
    pub status: u8,
    pub reason: String,
    pub secs_ago: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuReport {
    pub received: u64,
    pub dropped: u64,
    pub acks_sent: u64,
    /// BUs answered, by BA status.
    pub by_status: BTreeMap<String, u64>,
}

/// The whole answer to `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub ha_address: Ipv6Addr,
    pub home_interface: String,
    pub tunnel_device: String,
    pub allow_unauthenticated: bool,
    pub uptime_secs: u64,
    pub bindings: Vec<BindingStatus>,
    pub pending_dad: Vec<Ipv6Addr>,
    pub binding_updates: BuReport,
    pub counters: ShellCounters,
    /// The last refusal of each configured home address, bound or not.
    #[serde(default)]
    pub rejections: Vec<RejectionStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_letters() {
        assert_eq!(flags_text(BuFlags::A | BuFlags::H), "AH");
        assert_eq!(flags_text(BuFlags::A | BuFlags::H | BuFlags::L), "AHL");
        assert_eq!(flags_text(BuFlags::default()), "");
    }
}
