//! The Home Agents List of the home link (RFC 6275 10.1), sans-IO: us, and
//! the other home agents their Router Advertisements announce (H flag, a
//! Prefix Information option with the R flag carrying their global
//! address, and a Home Agent Information option with their preference and
//! lifetime). A DHAAD reply lists them by preference (10.5).
//!
//! Router Advertisements are not authenticated, so anyone on the home link
//! can write into this list. It is therefore bounded ([`MAX_ENTRIES`] in
//! all, [`MAX_PER_SOURCE`] per advertising router), kept sorted as it
//! changes (a DHAAD request costs a copy of at most [`MAX_REPLY_ADDRESSES`]
//! addresses, never a sort), always holds our own address however many
//! others claim a higher preference, and a reply is small
//! ([`MAX_REPLY_ADDRESSES`]: 176 octets of ICMPv6 for a 48-octet request),
//! so a request with a forged source is no amplifier.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use mip6_common::addr::Prefix;
use mip6_common::wire::nd::{NdOptions, RouterAdvert};

/// The most addresses a DHAAD reply carries, us included. RFC 6275 10.5
/// allows what fits in 1280 octets (77); a home link with more than a few
/// home agents is not one we serve, and a short reply bounds what a
/// request with a spoofed source can make us send.
pub const MAX_REPLY_ADDRESSES: usize = 8;
/// The most other home agents remembered; RAs announcing more are counted
/// and ignored until entries expire.
pub const MAX_ENTRIES: usize = 32;
/// The most addresses one router (RA source) may announce.
pub const MAX_PER_SOURCE: usize = 2;

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
    /// Every address (ours too), most preferred first; rebuilt only when
    /// an entry comes, goes or changes preference.
    sorted: Vec<(i16, bool, Ipv6Addr)>,
    /// The earliest expiry among `others`.
    next_expiry: Option<Instant>,
    refused: u64,
}

impl HomeAgentList {
    pub fn new(own: Ipv6Addr, own_preference: i16, home_prefixes: Vec<Prefix>) -> Self {
        let mut l = Self {
            own,
            own_preference,
            home_prefixes,
            others: HashMap::new(),
            sorted: Vec::new(),
            next_expiry: None,
            refused: 0,
        };
        l.resort();
        l
    }

    /// Home agent addresses announced that did not fit (list full, or too
    /// many from one router).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// How many other home agents are remembered.
    pub fn len(&self) -> usize {
        self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.others.is_empty()
    }

    fn resort(&mut self) {
        let mut v: Vec<(i16, bool, Ipv6Addr)> = self
            .others
            .iter()
            .map(|(a, e)| (e.preference, false, *a))
            .chain(std::iter::once((self.own_preference, true, self.own)))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        self.sorted = v;
        self.next_expiry = self.others.values().map(|e| e.expires).min();
    }

    /// A valid Router Advertisement from `src` (link-local) on the home
    /// link.
    pub fn handle_ra(&mut self, now: Instant, src: Ipv6Addr, ra: &RouterAdvert) {
        self.expire(now);
        let hai = ra.options.home_agent_info();
        let lifetime = hai.map_or(ra.router_lifetime, |h| h.lifetime);
        if !ra.home_agent || lifetime == 0 {
            // No longer a home agent (RFC 6275 10.1).
            let before = self.others.len();
            self.others.retain(|_, e| e.link_local != src);
            if self.others.len() != before {
                self.resort();
            }
            return;
        }
        let preference = hai.map_or(0, |h| h.preference);
        let expires = now + Duration::from_secs(lifetime.into());
        let mut changed = false;
        for pi in ra.options.prefix_infos() {
            let Some(addr) = pi.router_addr() else {
                continue;
            };
            if addr == self.own || !self.home_prefixes.iter().any(|p| p.contains(addr)) {
                continue;
            }
            let entry = Entry {
                link_local: src,
                preference,
                expires,
            };
            match self.others.get_mut(&addr) {
                Some(e) if e.link_local == src => {
                    changed |= e.preference != preference;
                    *e = entry;
                    continue;
                }
                _ => {}
            }
            // A new address, or one another router announced: both must
            // fit this router's share and the whole list.
            let from_src = self.others.values().filter(|e| e.link_local == src).count();
            let is_new = !self.others.contains_key(&addr);
            if from_src >= MAX_PER_SOURCE || (is_new && self.others.len() >= MAX_ENTRIES) {
                self.refused += 1;
                continue;
            }
            self.others.insert(addr, entry);
            changed = true;
        }
        if changed {
            self.resort();
        } else {
            self.next_expiry = self.others.values().map(|e| e.expires).min();
        }
    }

    fn expire(&mut self, now: Instant) {
        if self.next_expiry.is_some_and(|t| t <= now) {
            self.others.retain(|_, e| e.expires > now);
            self.resort();
        }
    }

    /// The addresses of a DHAAD reply: live home agents, most preferred
    /// first, us first among equals, then by address; at most
    /// [`MAX_REPLY_ADDRESSES`], and always us.
    pub fn addresses(&mut self, now: Instant) -> Vec<Ipv6Addr> {
        self.expire(now);
        let mut v: Vec<Ipv6Addr> = self
            .sorted
            .iter()
            .take(MAX_REPLY_ADDRESSES)
            .map(|(_, _, a)| *a)
            .collect();
        if !v.contains(&self.own) {
            v.pop();
            v.push(self.own);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mip6_common::wire::nd::{HomeAgentInfo, NdOption, PrefixInformation};

    /// Now, our own address 2001:db8:1::1, and the list of a home agent
    /// there with `preference` on 2001:db8:1::/64.
    fn own_list(preference: i16) -> (Instant, Ipv6Addr, HomeAgentList) {
        let own: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let l = HomeAgentList::new(own, preference, vec!["2001:db8:1::/64".parse().unwrap()]);
        (Instant::now(), own, l)
    }

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
        let (t0, own, mut l) = own_list(5);
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

    fn ra_many(first: u128, n: u128, pref: i16) -> RouterAdvert {
        let base: u128 = "2001:db8:1::".parse::<Ipv6Addr>().unwrap().into();
        let mut options: Vec<NdOption> = (0..n)
            .map(|k| {
                let mut pi =
                    PrefixInformation::new(Ipv6Addr::from(base + first + k), 64, 86400, 14400);
                pi.router_address = true;
                NdOption::PrefixInformation(pi)
            })
            .collect();
        options.push(NdOption::HomeAgentInformation(HomeAgentInfo::new(
            pref, 65535,
        )));
        RouterAdvert {
            home_agent: true,
            router_lifetime: 1800,
            options,
            ..RouterAdvert::default()
        }
    }

    /// Issue 11 item 10: 45,000 forged RAs, each from its own link-local
    /// source and claiming the highest preference, leave a list of at most
    /// MAX_ENTRIES, a reply of at most MAX_REPLY_ADDRESSES that still
    /// names us, and a count of what was refused.
    #[test]
    fn a_flood_of_forged_ras_is_bounded_and_never_drops_us() {
        let (t0, own, mut l) = own_list(0);
        for k in 0..45_000u128 {
            let src = Ipv6Addr::from(0xfe80_u128 << 112 | (k + 2));
            l.handle_ra(t0, src, &ra_many(0x1000 + k * 3, 3, i16::MAX));
        }
        assert!(l.len() <= MAX_ENTRIES, "{} entries", l.len());
        assert!(l.refused() >= 45_000 * 3 - MAX_ENTRIES as u64);
        let reply = l.addresses(t0);
        assert!(reply.len() <= MAX_REPLY_ADDRESSES, "{}", reply.len());
        assert!(reply.contains(&own), "the configured home agent is kept");
        // The reply on the wire: IPv6 + ICMPv6 headers and 16 octets per
        // address, a bounded multiple of a 48-octet request.
        assert!(48 + 16 * reply.len() <= 48 + 16 * 8);
    }

    /// Issue 11 item 10: one router cannot fill the list (or push us out)
    /// with one RA carrying many Prefix Information options.
    #[test]
    fn one_router_gets_a_small_share() {
        let (t0, own, mut l) = own_list(0);
        let src: Ipv6Addr = "fe80::66".parse().unwrap();
        l.handle_ra(t0, src, &ra_many(0x10, 100, i16::MAX));
        assert_eq!(l.len(), MAX_PER_SOURCE);
        assert_eq!(l.refused(), 100 - MAX_PER_SOURCE as u64);
        let reply = l.addresses(t0);
        assert_eq!(reply.len(), MAX_PER_SOURCE + 1);
        assert_eq!(reply.last(), Some(&own));
        // A refresh of the same addresses is no new entry and refuses
        // nothing more than before.
        l.handle_ra(t0, src, &ra_many(0x10, 2, i16::MAX));
        assert_eq!(l.len(), MAX_PER_SOURCE);
        assert_eq!(l.refused(), 100 - MAX_PER_SOURCE as u64);
        // The list frees room as entries expire.
        let later = t0 + Duration::from_secs(65_536);
        assert_eq!(l.addresses(later), vec![own]);
        assert!(l.is_empty());
    }
}
