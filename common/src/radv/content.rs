use crate::wire::nd::{
    HomeAgentInfo, INFINITE_LIFETIME, NdOption, PrefixInformation, RouterAdvert,
};
use serde::{Deserialize, Serialize};
use std::net::Ipv6Addr;

/// One advertised prefix (RFC 4861 4.6.2, RFC 6275 7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixConfig {
    pub prefix: Ipv6Addr,
    #[serde(default = "default_len")]
    pub len: u8,
    /// Seconds; `None` is infinity.
    #[serde(default = "default_valid")]
    pub valid: Option<u32>,
    #[serde(default = "default_preferred")]
    pub preferred: Option<u32>,
    #[serde(default = "yes")]
    pub on_link: bool,
    #[serde(default = "yes")]
    pub autonomous: bool,
    /// Put the router's full address in the prefix field with the R flag
    /// (RFC 6275 7.2), so mobile nodes learn the home agent's address.
    #[serde(default)]
    pub router_address: Option<Ipv6Addr>,
}

fn default_len() -> u8 {
    64
}
fn default_valid() -> Option<u32> {
    Some(86400)
}
fn default_preferred() -> Option<u32> {
    Some(14400)
}
fn yes() -> bool {
    true
}

/// What a router says about itself and its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaContent {
    #[serde(default = "default_hop_limit")]
    pub cur_hop_limit: u8,
    #[serde(default)]
    pub managed: bool,
    #[serde(default)]
    pub other: bool,
    /// Seconds; 0 says "not a default router".
    #[serde(default = "default_router_lifetime")]
    pub router_lifetime: u16,
    /// Milliseconds, 0 unspecified.
    #[serde(default)]
    pub reachable_time: u32,
    /// Milliseconds, 0 unspecified.
    #[serde(default)]
    pub retrans_timer: u32,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub prefixes: Vec<PrefixConfig>,
    /// Advertisement Interval option (RFC 6275 7.3), milliseconds: lets
    /// mobile nodes notice a missing router quickly.
    #[serde(default)]
    pub advertisement_interval: Option<u32>,
    /// Set the H flag and, with a preference or lifetime, add a Home Agent
    /// Information option (RFC 6275 7.1, 7.4).
    #[serde(default)]
    pub home_agent: Option<HomeAgentConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeAgentConfig {
    #[serde(default)]
    pub preference: i16,
    /// Seconds; `None` means the router lifetime (no option needed when
    /// the preference is 0 too).
    #[serde(default)]
    pub lifetime: Option<u16>,
}

fn default_hop_limit() -> u8 {
    64
}
fn default_router_lifetime() -> u16 {
    1800
}

impl Default for RaContent {
    fn default() -> Self {
        Self {
            cur_hop_limit: default_hop_limit(),
            managed: false,
            other: false,
            router_lifetime: default_router_lifetime(),
            reachable_time: 0,
            retrans_timer: 0,
            mtu: None,
            prefixes: Vec::new(),
            advertisement_interval: None,
            home_agent: None,
        }
    }
}

impl RaContent {
    /// The advertisement, with our link-layer address when we have one.
    /// `router_lifetime_override` sends a final RA with lifetime 0 when a
    /// router stops (RFC 4861 6.2.5).
    pub fn advert(&self, mac: Option<[u8; 6]>, final_ra: bool) -> RouterAdvert {
        let mut options = Vec::new();
        if let Some(mac) = mac {
            options.push(NdOption::source_mac(mac));
        }
        if let Some(mtu) = self.mtu {
            options.push(NdOption::mtu(mtu));
        }
        for p in &self.prefixes {
            let mut pi = PrefixInformation::new(
                p.router_address.unwrap_or(p.prefix),
                p.len,
                p.valid.unwrap_or(INFINITE_LIFETIME),
                p.preferred.unwrap_or(INFINITE_LIFETIME),
            );
            pi.on_link = p.on_link;
            pi.autonomous = p.autonomous;
            pi.router_address = p.router_address.is_some();
            options.push(NdOption::PrefixInformation(pi));
        }
        if let Some(ms) = self.advertisement_interval {
            options.push(NdOption::adv_interval(ms));
        }
        if let Some(ha) = &self.home_agent
            && (ha.preference != 0 || ha.lifetime.is_some())
        {
            options.push(NdOption::HomeAgentInformation(HomeAgentInfo::new(
                ha.preference,
                ha.lifetime.unwrap_or(self.router_lifetime),
            )));
        }
        RouterAdvert {
            cur_hop_limit: self.cur_hop_limit,
            managed: self.managed,
            other: self.other,
            home_agent: self.home_agent.is_some(),
            router_lifetime: if final_ra { 0 } else { self.router_lifetime },
            reachable_time: self.reachable_time,
            retrans_timer: self.retrans_timer,
            options,
            ..RouterAdvert::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::nd::{NdOptions, NdRepr};

    #[test]
    fn home_agent_router_advert_round_trips() {
        let c = RaContent {
            mtu: Some(1500),
            advertisement_interval: Some(1000),
            prefixes: vec![PrefixConfig {
                prefix: "2001:db8:1::".parse().unwrap(),
                len: 64,
                valid: Some(86400),
                preferred: None,
                on_link: true,
                autonomous: true,
                router_address: Some("2001:db8:1::1".parse().unwrap()),
            }],
            home_agent: Some(HomeAgentConfig {
                preference: 10,
                lifetime: None,
            }),
            ..RaContent::default()
        };
        let ra = c.advert(Some([2, 0, 0, 0, 0, 1]), false);
        let bytes = NdRepr::RouterAdvert(ra.clone()).to_bytes().unwrap();
        let NdRepr::RouterAdvert(back) = NdRepr::from_bytes(&bytes).unwrap() else {
            panic!("not an RA");
        };
        assert_eq!(back, ra);
        assert!(back.home_agent);
        let pi = back.options.prefix_infos().next().unwrap();
        assert!(pi.router_address);
        assert_eq!(pi.preferred_lifetime, INFINITE_LIFETIME);
        let hai = back.options.home_agent_info().unwrap();
        assert_eq!((hai.preference, hai.lifetime), (10, 1800));
        assert_eq!(c.advert(None, true).router_lifetime, 0);
    }

    #[test]
    fn config_from_yaml_with_defaults() {
        let c: RaContent = serde_yaml::from_str(
            // An address ending in "::" must be quoted in YAML: a plain
            // scalar cannot end with ':'.
            "prefixes:\n  - prefix: \"2001:db8:a::\"\nhome_agent: {}\n",
        )
        .unwrap();
        assert_eq!(c.prefixes[0].valid, Some(86400));
        assert_eq!(c.router_lifetime, 1800);
        // H set, but no option: preference 0 and lifetime = router lifetime
        // are the defaults a host assumes (RFC 6275 7.4).
        assert!(c.advert(None, false).options.home_agent_info().is_none());
        assert!(serde_yaml::from_str::<RaContent>("bogus: 1").is_err());
    }
}
