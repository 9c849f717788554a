//! The parts of `ip -j link` and `ip -j addr` output the harness reads.

use std::net::IpAddr;

use serde::Deserialize;

use super::error::{HarnessError, Result};

/// One address as `ip -j addr show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AddrInfo {
    /// "inet" or "inet6".
    pub family: String,
    /// The address.
    pub local: IpAddr,
    /// Prefix length.
    pub prefixlen: u8,
    /// "link", "global", "host".
    pub scope: String,
    /// DAD has not finished.
    #[serde(default)]
    pub tentative: bool,
    /// DAD found a duplicate.
    #[serde(default)]
    pub dadfailed: bool,
    /// Optimistic DAD (RFC 4429).
    #[serde(default)]
    pub optimistic: bool,
    /// Preferred lifetime expired.
    #[serde(default)]
    pub deprecated: bool,
    /// A temporary address (RFC 8981).
    #[serde(default)]
    pub temporary: bool,
    /// Configured from a prefix (SLAAC) rather than by hand.
    #[serde(default)]
    pub dynamic: bool,
    /// Added with `nodad`.
    #[serde(default)]
    pub nodad: bool,
    /// Marked as a home address.
    #[serde(default)]
    pub home: bool,
    /// Valid lifetime in seconds (4294967295 = forever).
    #[serde(default)]
    pub valid_life_time: Option<u64>,
    /// Preferred lifetime in seconds (4294967295 = forever).
    #[serde(default)]
    pub preferred_life_time: Option<u64>,
}

impl AddrInfo {
    /// Whether the address is usable: present and not tentative, not
    /// failed. (Optimistic addresses are usable but still tentative.)
    #[must_use]
    pub fn is_ready(&self) -> bool {
        !self.tentative && !self.dadfailed
    }

    /// Whether it is an IPv6 link-local (fe80::/10) address.
    #[must_use]
    pub fn is_link_local(&self) -> bool {
        matches!(self.local, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
    }
}

#[derive(Debug, Deserialize)]
struct AddrDev {
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

/// The state of one interface as `ip -j link show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LinkState {
    /// Interface name.
    pub ifname: String,
    /// Flags such as "UP", "LOWER_UP", "NO-CARRIER".
    #[serde(default)]
    pub flags: Vec<String>,
    /// RFC 2863 operational state: "UP", "DOWN", "LOWERLAYERDOWN", "UNKNOWN".
    #[serde(default)]
    pub operstate: String,
    /// MTU.
    #[serde(default)]
    pub mtu: u32,
    /// Link-layer address.
    #[serde(default)]
    pub address: Option<String>,
    /// The bridge it is enslaved to, if any.
    #[serde(default)]
    pub master: Option<String>,
}

impl LinkState {
    /// Administratively up (IFF_UP).
    #[must_use]
    pub fn admin_up(&self) -> bool {
        self.has_flag("UP")
    }

    /// Has carrier (IFF_LOWER_UP).
    #[must_use]
    pub fn carrier(&self) -> bool {
        self.has_flag("LOWER_UP")
    }

    fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
}

/// Parses `ip -j addr show` output into the addresses of all devices.
pub fn parse_addrs(cmd: &str, json: &str) -> Result<Vec<AddrInfo>> {
    let devs: Vec<AddrDev> = parse(cmd, json)?;
    Ok(devs.into_iter().flat_map(|d| d.addr_info).collect())
}

/// Parses `ip -j link show dev X` output into the one device's state.
pub fn parse_link(cmd: &str, json: &str) -> Result<LinkState> {
    let mut links: Vec<LinkState> = parse(cmd, json)?;
    match links.len() {
        1 => Ok(links.remove(0)),
        n => Err(HarnessError::Parse {
            cmd: cmd.to_owned(),
            why: format!("expected one link, got {n}"),
        }),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(cmd: &str, json: &str) -> Result<Vec<T>> {
    // `ip -j` prints nothing at all for an empty list on some versions.
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(json).map_err(|e| HarnessError::Parse {
        cmd: cmd.to_owned(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from iproute2 6.x on Linux 6.18: a veth whose bridge-side
    // peer was just set down, then its addresses right after carrier came
    // back (the link-local address is tentative again).
    const LINK_NO_CARRIER: &str = r#"[{"ifindex":2,"link_index":3,"ifname":"eth0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"qdisc":"noqueue","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"2a:8e:61:6e:f8:23","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0}]"#;
    const ADDR_TENTATIVE: &str = r#"[{"ifindex":2,"link_index":3,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_netnsid":0,"addr_info":[{"family":"inet6","local":"fe80::288e:61ff:fe6e:f823","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]"#;

    #[test]
    fn link_without_carrier() {
        let l = parse_link("ip", LINK_NO_CARRIER).expect("valid JSON");
        assert_eq!(l.ifname, "eth0");
        assert!(l.admin_up());
        assert!(!l.carrier());
        assert_eq!(l.operstate, "DOWN");
        assert_eq!(l.address.as_deref(), Some("2a:8e:61:6e:f8:23"));
    }

    #[test]
    fn tentative_link_local() {
        let a = parse_addrs("ip", ADDR_TENTATIVE).expect("valid JSON");
        assert_eq!(a.len(), 1);
        assert!(a[0].tentative);
        assert!(!a[0].is_ready());
        assert!(a[0].is_link_local());
        assert_eq!(a[0].prefixlen, 64);
        assert_eq!(
            a[0].local,
            "fe80::288e:61ff:fe6e:f823"
                .parse::<IpAddr>()
                .expect("valid address")
        );
    }

    #[test]
    fn empty_output_is_no_addresses() {
        assert!(parse_addrs("ip", "").expect("empty").is_empty());
        assert!(parse_addrs("ip", "[]").expect("empty").is_empty());
        assert!(parse_link("ip", "[]").is_err());
        assert!(parse_link("ip", "{").is_err());
    }
}
