//! The Home Agents List of the home link (RFC 6275 10.1), sans-IO: us, and
//! the other home agents their Router Advertisements announce (H flag, a
//! Prefix Information option with the R flag carrying their global
//! address, and a Home Agent Information option with their preference and
//! lifetime). A DHAAD reply lists them by preference (10.5).

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use mip6_common::addr::Prefix;
use mip6_common::wire::nd::{NdOptions, RouterAdvert};

/// The most addresses a DHAAD reply carries: what fits in 1280 octets
/// after the IPv6 (40) and ICMPv6 (8) headers (RFC 6275 10.5).
pub const MAX_REPLY_ADDRESSES: usize = (1280 - 48) / 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The link-local source of its RAs.
    link_local: Ipv6Addr,
    preference: i16,
    expires: Instant,
}

#[derive(Debug)]
pub struct HomeAgentList {
    own: Ipv6Addr,
    own_preference: i16,
    home_prefixes: Vec<Prefix>,
    others: HashMap<Ipv6Addr, Entry>,
}

impl HomeAgentList {
    pub fn new(own: Ipv6Addr, own_preference: i16, home_prefixes: Vec<Prefix>) -> Self {
        Self {
            own,
            own_preference,
            home_prefixes,
            others: HashMap::new(),
        }
    }

    /// A valid Router Advertisement from `src` (link-local) on the home
    /// link.
    pub fn handle_ra(&mut self, now: Instant, src: Ipv6Addr, ra: &RouterAdvert) {
        let hai = ra.options.home_agent_info();
        let lifetime = hai.map_or(ra.router_lifetime, |h| h.lifetime);
        if !ra.home_agent || lifetime == 0 {
            // No longer a home agent (RFC 6275 10.1).
            self.others.retain(|_, e| e.link_local != src);
            return;
        }
        let preference = hai.map_or(0, |h| h.preference);
        let expires = now + Duration::from_secs(lifetime.into());
        for pi in ra.options.prefix_infos() {
            let Some(addr) = pi.router_addr() else {
                continue;
            };
            if addr == self.own || !self.home_prefixes.iter().any(|p| p.contains(addr)) {
                continue;
            }
            self.others.insert(
                addr,
                Entry {
                    link_local: src,
                    preference,
                    expires,
                },
            );
        }
    }

    /// Every live home agent, most preferred first; us first among equals,
    /// then by address.
    pub fn addresses(&mut self, now: Instant) -> Vec<Ipv6Addr> {
        self.others.retain(|_, e| e.expires > now);
        let mut v: Vec<(i16, bool, Ipv6Addr)> = self
            .others
            .iter()
            .map(|(a, e)| (e.preference, false, *a))
            .chain(std::iter::once((self.own_preference, true, self.own)))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        v.into_iter()
            .map(|(_, _, a)| a)
            .take(MAX_REPLY_ADDRESSES)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mip6_common::wire::nd::{HomeAgentInfo, NdOption, PrefixInformation};

    fn ra(addr: &str, pref: i16, lifetime: u16) -> RouterAdvert {
        let mut pi = PrefixInformation::new(addr.parse().unwrap(), 64, 86400, 14400);
        pi.router_address = true;
        RouterAdvert {
            home_agent: true,
            router_lifetime: 1800,
            options: vec![
                NdOption::PrefixInformation(pi),
                NdOption::HomeAgentInformation(HomeAgentInfo::new(pref, lifetime)),
            ],
            ..RouterAdvert::default()
        }
    }

    #[test]
    fn ordered_by_preference_and_expiring() {
        let t0 = Instant::now();
        let own: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let mut l = HomeAgentList::new(own, 5, vec!["2001:db8:1::/64".parse().unwrap()]);
        let ll = "fe80::2".parse().unwrap();
        l.handle_ra(t0, ll, &ra("2001:db8:1::2", 10, 100));
        l.handle_ra(
            t0,
            "fe80::3".parse().unwrap(),
            &ra("2001:db8:1::3", 5, 1000),
        );
        // Off the home prefix: ignored.
        l.handle_ra(
            t0,
            "fe80::4".parse().unwrap(),
            &ra("2001:db8:9::4", 50, 1000),
        );
        let want: Vec<Ipv6Addr> = ["2001:db8:1::2", "2001:db8:1::1", "2001:db8:1::3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(l.addresses(t0), want);
        // A lifetime of 0 removes it at once.
        l.handle_ra(t0, "fe80::3".parse().unwrap(), &ra("2001:db8:1::3", 5, 0));
        assert_eq!(l.addresses(t0), want[..2].to_vec());
        assert_eq!(l.addresses(t0 + Duration::from_secs(100)), vec![own]);
        l.handle_ra(t0, ll, &ra("2001:db8:1::2", 10, 100));
        let mut plain = ra("2001:db8:1::2", 10, 100);
        plain.home_agent = false;
        l.handle_ra(t0, ll, &plain);
        assert_eq!(l.addresses(t0), vec![own]);
    }
}
