//! A real DHCPv6 server on one router interface: dnsmasq or ISC Kea from
//! Debian, started in the router's namespace (services do not start by
//! themselves here) and stopped with the returned [`Child`]. The router
//! announces the link with M=1 itself (`ra-sender --managed`, radvd's
//! AdvManagedFlag): neither server is asked to send RAs.

use crate::harness::{Child, Node};
use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};
use std::net::Ipv6Addr;
use std::path::Path;
use std::time::Duration;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DhcpServer {
    Dnsmasq,
    Kea,
}

impl std::str::FromStr for DhcpServer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dnsmasq" => Ok(Self::Dnsmasq),
            "kea" => Ok(Self::Kea),
            _ => Err(format!("unknown DHCPv6 server {s:?}: dnsmasq or kea")),
        }
    }
}

impl DhcpServer {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dnsmasq => "dnsmasq",
            Self::Kea => "kea",
        }
    }

    /// What its log says when it hands out, extends, takes back as
    /// declined, and takes back as released a lease.
    pub fn log_markers(self) -> [&'static str; 4] {
        match self {
            Self::Dnsmasq => ["DHCPREPLY", "DHCPRENEW", "DHCPDECLINE", "DHCPRELEASE"],
            Self::Kea => [
                "DHCP6_LEASE_ALLOC",
                "DHCP6_LEASE_RENEW",
                "DHCP6_DECLINE_LEASE",
                "DHCP6_RELEASE_NA",
            ],
        }
    }
}

/// What one server hands out on one link.
#[derive(Debug, Clone)]
pub struct DhcpSettings {
    pub server: DhcpServer,
    /// The router's interface on the link; it needs an address in `prefix`.
    pub ifname: String,
    /// The link's /64.
    pub prefix: Ipv6Addr,
    /// First and last address of the pool.
    pub pool: (Ipv6Addr, Ipv6Addr),
    /// Recursive DNS server to announce (option 23).
    pub dns: Option<Ipv6Addr>,
    /// Lease valid lifetime, seconds; T1 and T2 are 1/2 and 4/5 of it (Kea;
    /// dnsmasq picks its own and has a floor of 120 s).
    pub valid_s: u32,
}

impl DhcpSettings {
    /// Pool `prefix::1000`-`prefix::1fff`, ten-minute leases, the router's
    /// own address as DNS server.
    pub fn for_link(server: DhcpServer, ifname: &str, prefix: Ipv6Addr) -> Self {
        let at = |low: u16| {
            let mut s = prefix.segments();
            s[4..].fill(0);
            s[7] = low;
            Ipv6Addr::from(s)
        };
        Self {
            server,
            ifname: ifname.to_string(),
            prefix,
            pool: (at(0x1000), at(0x1fff)),
            dns: None,
            valid_s: 600,
        }
    }
}

/// Starts the server in `node`, its files in `dir`, and waits until it says
/// it is up.
pub fn start(node: &Node, dir: &Path, s: &DhcpSettings) -> anyhow::Result<Child> {
    let (first, last) = s.pool;
    let stem = format!("{}-{}-{}", s.server.name(), node.name(), s.ifname);
    let path = |ext: &str| {
        let p = dir.join(format!("{stem}.{ext}"));
        p.to_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("non-UTF-8 path {}", p.display()))
    };
    let mut child = match s.server {
        DhcpServer::Dnsmasq => {
            let mut argv = vec![
                "dnsmasq".to_string(),
                "--keep-in-foreground".into(),
                "--conf-file=/dev/null".into(),
                "--user=root".into(),
                // No DNS service, only DHCP.
                "--port=0".into(),
                format!("--interface={}", s.ifname),
                "--bind-interfaces".into(),
                format!("--dhcp-range={first},{last},64,{}", s.valid_s.max(120)),
                format!("--dhcp-leasefile={}", path("leases")?),
                format!("--pid-file={}", path("pid")?),
                "--log-dhcp".into(),
                "--log-facility=-".into(),
            ];
            if let Some(d) = s.dns {
                argv.push(format!("--dhcp-option=option6:dns-server,[{d}]"));
            }
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            node.spawn(&argv).context("starting dnsmasq")?
        }
        DhcpServer::Kea => {
            let conf = path("json")?;
            let mut subnet = serde_json::json!({
                "subnet": format!("{}/64", s.prefix),
                "interface": s.ifname,
                "rapid-commit": true,
                "pools": [{"pool": format!("{first}-{last}")}],
            });
            if let Some(d) = s.dns {
                subnet["option-data"] =
                    serde_json::json!([{"name": "dns-servers", "data": d.to_string()}]);
            }
            let config = serde_json::json!({"Dhcp6": {
                // The link-layer DUID: nothing to keep across runs.
                "server-id": {"type": "LL", "persist": false},
                "interfaces-config": {"interfaces": [s.ifname]},
                "lease-database": {"type": "memfile", "persist": true, "lfc-interval": 0,
                    "name": path("leases")?},
                "renew-timer": s.valid_s / 2,
                "rebind-timer": s.valid_s * 4 / 5,
                "preferred-lifetime": s.valid_s * 4 / 5,
                "valid-lifetime": s.valid_s,
                "subnet6": [subnet],
                "loggers": [{"name": "kea-dhcp6", "severity": "INFO",
                    "output_options": [{"output": "stdout"}]}]
            }});
            std::fs::write(&conf, config.to_string()).context("writing Kea's configuration")?;
            let d = dir
                .to_str()
                .ok_or_else(|| anyhow!("non-UTF-8 path {}", dir.display()))?;
            node.spawn(&[
                "env",
                &format!("KEA_PIDFILE_DIR={d}"),
                &format!("KEA_LOCKFILE_DIR={d}"),
                "kea-dhcp6",
                "-c",
                &conf,
            ])
            .context("starting kea-dhcp6")?
        }
    };
    let ready = match s.server {
        DhcpServer::Dnsmasq => "DHCPv6, IP range",
        DhcpServer::Kea => "DHCP6_STARTED",
    };
    child
        .wait_log(ready, Duration::from_secs(20))
        .map_err(|e| anyhow!("{} did not start: {e}\n{}", s.server.name(), child.log()))?;
    Ok(child)
}
