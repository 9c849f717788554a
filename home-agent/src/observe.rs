//! A small sans-IO helper for what an operator sees: the BU -> BA latency
//! ([`BuTimer`]), with the time from the caller. (Log lines that network
//! input must not flood: `mip6_common::ratelimit`.)

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// Pending BUs whose arrival has not been matched to a BA yet; beyond this
/// (BUs that never get a BA, from addresses the network made up) the oldest
/// are forgotten rather than held.
const MAX_PENDING: usize = 4096;
/// A BU unanswered for this long (DAD takes about a second) is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(30);

/// When the pending BU of each home address arrived, to time its BA.
#[derive(Debug, Default)]
pub struct BuTimer {
    arrived: HashMap<Ipv6Addr, Instant>,
}

impl BuTimer {
    /// A BU for `hoa` arrived. A retransmission keeps the first arrival:
    /// the mobile node waits from its first BU.
    pub fn bu_received(&mut self, now: Instant, hoa: Ipv6Addr) {
        if self.arrived.len() >= MAX_PENDING {
            self.arrived
                .retain(|_, t| now.saturating_duration_since(*t) < FORGET_AFTER);
            if self.arrived.len() >= MAX_PENDING {
                return;
            }
        }
        self.arrived.entry(hoa).or_insert(now);
    }

    /// The BA for `hoa` left: how long after its BU, if one is pending.
    pub fn ba_sent(&mut self, now: Instant, hoa: Ipv6Addr) -> Option<Duration> {
        self.arrived
            .remove(&hoa)
            .map(|t| now.saturating_duration_since(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    #[test]
    fn latency_from_the_first_bu_to_the_ba() {
        let t0 = Instant::now();
        let mut t = BuTimer::default();
        assert_eq!(t.ba_sent(t0, HOA), None);
        t.bu_received(t0, HOA);
        t.bu_received(t0 + Duration::from_millis(500), HOA);
        assert_eq!(
            t.ba_sent(t0 + Duration::from_millis(1200), HOA),
            Some(Duration::from_millis(1200))
        );
        assert_eq!(t.ba_sent(t0 + Duration::from_secs(2), HOA), None);
    }

    #[test]
    fn made_up_home_addresses_cannot_grow_it_without_bound() {
        let t0 = Instant::now();
        let mut t = BuTimer::default();
        for i in 0..10_000u32 {
            let a = Ipv6Addr::from(u128::from(HOA) + u128::from(i));
            t.bu_received(t0, a);
        }
        assert_eq!(t.arrived.len(), MAX_PENDING);
        // Old ones are forgotten to make room.
        t.bu_received(t0 + FORGET_AFTER, HOA);
        assert_eq!(t.arrived.len(), 1);
    }
}
