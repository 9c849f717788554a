//! Between the engine and the wire: received ND messages into engine inputs,
//! engine actions into ND messages.

use super::types::{PrefixInfo, RaInfo};
use crate::wire::nd::{
    INFINITE_LIFETIME, NdOption, NdOptions, NdRepr, NeighborSolicit, RouterAdvert, RouterSolicit,
};
use std::net::Ipv6Addr;
use std::time::Duration;

fn lifetime(secs: u32) -> Option<Duration> {
    (secs != INFINITE_LIFETIME).then(|| Duration::from_secs(u64::from(secs)))
}

fn millis(ms: u32) -> Option<Duration> {
    (ms != 0).then(|| Duration::from_millis(u64::from(ms)))
}

/// What the engine needs of a Router Advertisement from `router`.
pub fn ra_info(router: Ipv6Addr, ra: &RouterAdvert) -> RaInfo {
    RaInfo {
        router,
        cur_hop_limit: ra.cur_hop_limit,
        managed: ra.managed,
        other: ra.other,
        home_agent: ra.home_agent,
        router_lifetime: Duration::from_secs(u64::from(ra.router_lifetime)),
        reachable_time: millis(ra.reachable_time),
        retrans_timer: millis(ra.retrans_timer),
        mtu: ra.options.mtu(),
        prefixes: ra
            .options
            .prefix_infos()
            .map(|p| PrefixInfo {
                prefix: p.network(),
                prefix_len: p.prefix_len,
                on_link: p.on_link,
                autonomous: p.autonomous,
                valid: lifetime(p.valid_lifetime),
                preferred: lifetime(p.preferred_lifetime),
            })
            .collect(),
    }
}

/// A DAD probe (RFC 4862 5.4.2, RFC 7527 nonce).
pub fn dad_probe(target: Ipv6Addr, nonce: Option<[u8; 6]>) -> NdRepr {
    NdRepr::NeighborSolicit(NeighborSolicit::dad(target, nonce))
}

/// A Router Solicitation, with our link-layer address when allowed.
pub fn router_solicit(sllao: Option<[u8; 6]>) -> NdRepr {
    NdRepr::RouterSolicit(RouterSolicit {
        reserved: 0,
        options: sllao.map(NdOption::source_mac).into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::nd::PrefixInformation;

    #[test]
    fn ra_fields_map_to_engine_units() {
        let ra = RouterAdvert {
            cur_hop_limit: 64,
            other: true,
            home_agent: true,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_timer: 250,
            options: vec![
                NdOption::mtu(1400),
                NdOption::PrefixInformation(PrefixInformation::new(
                    "2001:db8:a::1".parse().unwrap(),
                    64,
                    INFINITE_LIFETIME,
                    600,
                )),
            ],
            ..RouterAdvert::default()
        };
        let info = ra_info("fe80::1".parse().unwrap(), &ra);
        assert_eq!(info.router_lifetime, Duration::from_secs(1800));
        assert_eq!(info.reachable_time, None);
        assert_eq!(info.retrans_timer, Some(Duration::from_millis(250)));
        assert_eq!(info.mtu, Some(1400));
        assert!(info.other && info.home_agent && !info.managed);
        let p = &info.prefixes[0];
        assert_eq!(p.prefix, "2001:db8:a::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.valid, None);
        assert_eq!(p.preferred, Some(Duration::from_secs(600)));
    }

    #[test]
    fn solicitation_carries_sllao_only_when_given() {
        assert!(router_solicit(None).options().is_empty());
        assert_eq!(router_solicit(Some([1, 2, 3, 4, 5, 6])).options().len(), 1);
    }
}
