//! The home agent's YAML configuration, validated on load.
//!
//! Every option has a default except the home link, the home agent address
//! and the home prefixes; `examples/ha.yaml` shows and explains them all.
//! Errors name the field's path and its line: syntax and type errors get
//! the line from the YAML parser, checks made after parsing (an address
//! off the home prefix, a duplicate SPI...) find the line of the field in
//! the text themselves.

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mip6_common::addr::Prefix;
use mip6_common::binding::cache::{AuthAlgorithm, CacheConfig, HomePrefix, MnPolicy};
use mip6_common::radv::{HomeAgentConfig, PrefixConfig, RaContent, RaTiming};
use mip6_common::wire::dhaad::home_agents_anycast;
use serde::{Deserialize, Serialize};

/// The shortest MN-HA key `check` accepts, in octets (128 bits).
pub const MIN_KEY_OCTETS: usize = 16;

pub use mip6_common::config_check::ConfigError;
use mip6_common::config_check::{Checker, Seg};

fn default_tunnel_device() -> String {
    "mip6ha0".into()
}
fn default_max_lifetime() -> u32 {
    3600
}
fn default_state_file() -> PathBuf {
    PathBuf::from("/var/lib/mip6/ha-bindings.json")
}
pub fn default_control_socket() -> PathBuf {
    PathBuf::from("/run/mip6/ha.sock")
}
fn default_nft_table() -> String {
    "mip6ha".into()
}
fn default_replay_window() -> u32 {
    7
}
fn default_tunnel_mtu() -> u32 {
    1460
}
fn default_ha_lifetime() -> u16 {
    1800
}
fn yes() -> bool {
    true
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The home link: where proxy ND, DAD and Router Advertisements happen.
    pub home_interface: String,
    /// Our address on the home link; mobile nodes send their BUs to it.
    pub ha_address: Ipv6Addr,
    /// Prefixes of the home link; home addresses must be on one of them.
    pub home_prefixes: Vec<HomePrefixConfig>,
    /// The longest binding granted, seconds (RFC 6275 10.3.1).
    #[serde(default = "default_max_lifetime")]
    pub max_binding_lifetime: u32,
    /// The TUN device that routes for home addresses point into.
    #[serde(default = "default_tunnel_device")]
    pub tunnel_device: String,
    /// Its MTU: the path MTU minus 40 (the outer header).
    #[serde(default = "default_tunnel_mtu")]
    pub tunnel_mtu: u32,
    /// Which data plane tunnels: `auto` (the eBPF kernel fast path if the
    /// kernel takes it, else the user-space TUN path), `ebpf`, or `tun`.
    #[serde(default)]
    pub data_plane: mip6_common::dataplane::PathChoice,
    /// The binding cache, written on every change.
    #[serde(default = "default_state_file")]
    pub state_file: PathBuf,
    /// Unix socket `mip6-ha status` asks.
    #[serde(default = "default_control_socket")]
    pub control_socket: PathBuf,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// nftables table (family ip6) suppressing the kernel's Parameter
    /// Problems; created on start, removed on exit.
    #[serde(default = "default_nft_table")]
    pub nftables_table: String,
    /// Lab switch: accept BUs without MN-HA authentication for home
    /// addresses with no configured key.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Seconds a BU's timestamp may be from our clock (RFC 4285 6).
    #[serde(default = "default_replay_window")]
    pub replay_window: u32,
    #[serde(default)]
    pub dad: DadConfig,
    #[serde(default)]
    pub proxy_nd: ProxyNdConfig,
    /// Our Home Agent Preference (RFC 6275 7.4), for DHAAD and RAs.
    #[serde(default)]
    pub home_agent_preference: i16,
    /// Our Home Agent Lifetime, seconds.
    #[serde(default = "default_ha_lifetime")]
    pub home_agent_lifetime: u16,
    #[serde(default)]
    pub router_advertisements: RaConfig,
    /// Log format on stderr: `text` or `json`.
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default)]
    pub mobile_nodes: Vec<MobileNodeConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomePrefixConfig {
    pub prefix: Prefix,
    /// Seconds; absent: infinite.
    #[serde(default)]
    pub valid_lifetime: Option<u32>,
    /// Seconds, for RAs and Mobile Prefix Advertisements; absent: infinite.
    #[serde(default)]
    pub preferred_lifetime: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `address:port` of the Prometheus endpoint; absent: none.
    #[serde(default)]
    pub listen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DadConfig {
    /// Check a new home address is free on the home link first.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Probes (DupAddrDetectTransmits).
    #[serde(default = "one")]
    pub transmits: u8,
    /// Milliseconds between probes and after the last (RetransTimer).
    #[serde(default = "thousand")]
    pub retrans_ms: u32,
}

fn one() -> u8 {
    1
}
fn thousand() -> u32 {
    1000
}
fn three() -> u8 {
    3
}

impl Default for DadConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            transmits: 1,
            retrans_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyNdConfig {
    /// Unsolicited NAs (O=1) sent for a new binding.
    #[serde(default = "three")]
    pub unsolicited_nas: u8,
    /// Milliseconds between them.
    #[serde(default = "thousand")]
    pub interval_ms: u32,
}

impl Default for ProxyNdConfig {
    fn default() -> Self {
        Self {
            unsolicited_nas: 3,
            interval_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaConfig {
    /// Send Router Advertisements on the home link ourselves. Leave off
    /// when another router (radvd) advertises it.
    #[serde(default)]
    pub enabled: bool,
    /// MaxRtrAdvInterval, milliseconds (RFC 6275 7.5 allows 70 ms).
    #[serde(default = "default_ra_interval")]
    pub max_interval_ms: u32,
    /// Router Lifetime, seconds (0: not a default router).
    #[serde(default = "default_router_lifetime")]
    pub router_lifetime: u16,
    #[serde(default)]
    pub managed: bool,
    #[serde(default)]
    pub other: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
}

fn default_ra_interval() -> u32 {
    3000
}
fn default_router_lifetime() -> u16 {
    1800
}

impl Default for RaConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_interval_ms: default_ra_interval(),
            router_lifetime: default_router_lifetime(),
            managed: false,
            other: false,
            mtu: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlgorithmName {
    /// RFC 4285's HMAC_SHA1 (96-bit authenticator).
    #[default]
    #[serde(rename = "hmac-sha1-96")]
    HmacSha1_96,
}

/// A mobile node allowed to register.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileNodeConfig {
    /// RFC 4283 NAI (user@realm); a BU naming another is refused (146).
    #[serde(default)]
    pub id: Option<String>,
    pub home_address: Ipv6Addr,
    /// Mobility SPI of the MN-HA security association (RFC 4285), 256 up.
    pub spi: u32,
    /// The shared key in hexadecimal, as the mobile node's `key_hex`.
    #[serde(default)]
    pub key_hex: Option<String>,
    /// Deprecated: the key as text (its UTF-8 octets). Accepted with a
    /// warning; refused when it looks like hex, the mistake it invites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub algorithm: AlgorithmName,
}

impl fmt::Debug for MobileNodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MobileNodeConfig")
            .field("id", &self.id)
            .field("home_address", &self.home_address)
            .field("spi", &self.spi)
            .field("key", &"<secret>")
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl MobileNodeConfig {
    /// The key octets (validated on load).
    pub fn key_bytes(&self) -> Vec<u8> {
        match (&self.key, &self.key_hex) {
            (Some(k), _) => k.as_bytes().to_vec(),
            (None, Some(h)) => decode_hex(h).unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

fn encode_hex(b: &[u8]) -> String {
    b.iter().map(|o| format!("{o:02x}")).collect()
}

/// A text key that is all hex digits, an even number of them, at least 16
/// (8 octets): someone meant `key_hex`.
fn looks_like_hex(text: &str) -> bool {
    let t = text.strip_prefix("0x").unwrap_or(text);
    t.len() >= 16 && decode_hex(t).is_some() && !t.contains([' ', ':'])
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn valid_ifname(s: &str) -> bool {
    !s.is_empty() && s.len() < 16 && !s.contains(['/', ' ', '\0']) && s != "." && s != ".."
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, anyhow::Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_with_warnings(text).map(|(c, _)| c)
    }

    /// Reads and validates `path`; also returns the warnings (deprecated
    /// names), each naming the file, line and field.
    pub fn load_with_warnings(path: &Path) -> Result<(Self, Vec<String>), anyhow::Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
        let (c, w) = Self::parse_with_warnings(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok((
            c,
            w.iter()
                .map(|w| format!("{}: {w}", path.display()))
                .collect(),
        ))
    }

    /// [`Config::parse`] with the warnings.
    pub fn parse_with_warnings(text: &str) -> Result<(Self, Vec<ConfigError>), ConfigError> {
        let config: Config = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            let msg = e.to_string();
            // "field: message at line L column C": keep the message, the
            // line goes in its own field.
            let msg = match msg.rfind(" at line ") {
                Some(i) if line.is_some() => msg[..i].to_owned(),
                _ => msg,
            };
            let (field, message) = match msg.split_once(": ") {
                Some((f, m)) if !f.contains(' ') => (f.to_owned(), m.to_owned()),
                _ => (String::new(), msg),
            };
            ConfigError {
                file: None,
                field,
                line,
                message,
            }
        })?;
        let mut c = Checker::new(text);
        config.check(&mut c);
        match c.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok((config, c.warnings)),
        }
    }

    /// Why `a` is an anycast address of its home prefix, which cannot be
    /// a home address: the home agent would proxy, and the mobile node
    /// claim, an address routers or home agents already answer for.
    fn reserved_anycast(&self, a: &Ipv6Addr) -> Option<&'static str> {
        for p in self.home_prefixes.iter().filter(|p| p.prefix.contains(*a)) {
            let len = u32::from(p.prefix.prefix_len());
            let host_mask = u128::MAX.checked_shr(len).unwrap_or(0);
            let host = u128::from(*a) & host_mask;
            if host == 0 {
                return Some("the Subnet-Router anycast address of its prefix (RFC 4291 2.6.1)");
            }
            // RFC 2526: the highest 128 interface identifiers of a subnet,
            // in modified EUI-64 form for a /64 (u bit clear), else the
            // host bits all ones but the 7-bit anycast ID.
            let reserved = if len == 64 {
                host | 0x7f == 0xfdff_ffff_ffff_ffff
            } else {
                len <= 121 && host | 0x7f == host_mask
            };
            if reserved {
                return Some(
                    "a reserved subnet anycast address (RFC 2526), such as the Home-Agents \
                     anycast address",
                );
            }
        }
        None
    }

    fn on_home_prefix(&self, a: &Ipv6Addr) -> bool {
        self.home_prefixes.iter().any(|p| p.prefix.contains(*a))
    }

    fn check(&self, c: &mut Checker<'_>) {
        use Seg::{Index, Key};
        if !valid_ifname(&self.home_interface) {
            c.fail(&[Key("home_interface")], "not a valid interface name");
        }
        if !valid_ifname(&self.tunnel_device) {
            c.fail(&[Key("tunnel_device")], "not a valid interface name");
        }
        if self.tunnel_device == self.home_interface {
            c.fail(&[Key("tunnel_device")], "must differ from home_interface");
        }
        if !(1280..=65535).contains(&self.tunnel_mtu) {
            c.fail(
                &[Key("tunnel_mtu")],
                "must be 1280 to 65535 (IPv6 needs 1280)",
            );
        }
        if self.home_prefixes.is_empty() {
            c.fail(
                &[Key("home_prefixes")],
                "at least one home prefix is needed",
            );
        }
        for (i, p) in self.home_prefixes.iter().enumerate() {
            let path = [Key("home_prefixes"), Index(i), Key("prefix")];
            if p.prefix.prefix_len() > 121
                || home_agents_anycast(p.prefix.addr(), p.prefix.prefix_len()).is_none()
            {
                c.fail(
                    &path,
                    "longer than /121: no room for the home agents anycast address",
                );
            }
            if p.prefix.addr().is_multicast() || p.prefix.addr().is_unicast_link_local() {
                c.fail(&path, "must be a global or unique-local prefix");
            }
            if let (Some(v), Some(pr)) = (p.valid_lifetime, p.preferred_lifetime)
                && pr > v
            {
                c.fail(
                    &[Key("home_prefixes"), Index(i), Key("preferred_lifetime")],
                    "longer than valid_lifetime",
                );
            }
        }
        let ha = self.ha_address;
        if ha.is_multicast()
            || ha.is_unspecified()
            || ha.is_loopback()
            || ha.is_unicast_link_local()
        {
            c.fail(&[Key("ha_address")], "must be a global unicast address");
        } else if !self.home_prefixes.is_empty() && !self.on_home_prefix(&ha) {
            c.fail(&[Key("ha_address")], "not on any home prefix");
        }
        if !(4..=262_140).contains(&self.max_binding_lifetime) {
            c.fail(
                &[Key("max_binding_lifetime")],
                "must be 4 to 262140 seconds (16 bits of 4-second units)",
            );
        }
        if let Some(l) = &self.metrics.listen
            && l.parse::<SocketAddr>().is_err()
        {
            c.fail(
                &[Key("metrics"), Key("listen")],
                format!("{l:?} is not address:port (IPv6 in brackets: \"[::1]:9106\")"),
            );
        }
        if !self
            .nftables_table
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
            || !self
                .nftables_table
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_alphabetic())
            || self.nftables_table.len() > 64
        {
            c.fail(
                &[Key("nftables_table")],
                "letters, digits, '_' and '-', starting with a letter",
            );
        }
        if !(1..=300).contains(&self.replay_window) {
            c.fail(&[Key("replay_window")], "must be 1 to 300 seconds");
        }
        if self.dad.transmits > 10 {
            c.fail(&[Key("dad"), Key("transmits")], "at most 10");
        }
        if !(10..=60_000).contains(&self.dad.retrans_ms) {
            c.fail(&[Key("dad"), Key("retrans_ms")], "must be 10 to 60000");
        }
        if self.proxy_nd.unsolicited_nas > 10 {
            c.fail(&[Key("proxy_nd"), Key("unsolicited_nas")], "at most 10");
        }
        if !(10..=60_000).contains(&self.proxy_nd.interval_ms) {
            c.fail(
                &[Key("proxy_nd"), Key("interval_ms")],
                "must be 10 to 60000",
            );
        }
        if self.home_agent_lifetime == 0 {
            c.fail(
                &[Key("home_agent_lifetime")],
                "must not be 0 (RFC 6275 7.4)",
            );
        }
        if !(70..=1_800_000).contains(&self.router_advertisements.max_interval_ms) {
            c.fail(
                &[Key("router_advertisements"), Key("max_interval_ms")],
                "must be 70 to 1800000",
            );
        }
        if let Some(m) = self.router_advertisements.mtu
            && m < 1280
        {
            c.fail(&[Key("router_advertisements"), Key("mtu")], "below 1280");
        }
        let mut hoas = HashSet::new();
        let mut spis = HashSet::new();
        for (i, mn) in self.mobile_nodes.iter().enumerate() {
            let at = |k| [Key("mobile_nodes"), Index(i), Key(k)];
            let hoa = mn.home_address;
            if !self.home_prefixes.is_empty() && !self.on_home_prefix(&hoa) {
                c.fail(&at("home_address"), "not on any home prefix");
            }
            if hoa == ha {
                c.fail(&at("home_address"), "is the home agent's own address");
            }
            if let Some(why) = self.reserved_anycast(&hoa) {
                c.fail(&at("home_address"), why);
            }
            if !hoas.insert(hoa) {
                c.fail(&at("home_address"), "given to two mobile nodes");
            }
            if mn.spi < 256 {
                c.fail(&at("spi"), "SPIs 0 to 255 are reserved (RFC 4285 5)");
            }
            if !spis.insert(mn.spi) {
                c.fail(&at("spi"), "used by two mobile nodes");
            }
            if let Some(id) = &mn.id
                && (id.is_empty() || id.len() > 255 || id.chars().any(char::is_whitespace))
            {
                c.fail(&at("id"), "an NAI (user@realm): 1 to 255 octets, no spaces");
            }
            match (&mn.key, &mn.key_hex) {
                (Some(_), Some(_)) => c.fail(&at("key_hex"), "give key_hex or key, not both"),
                (None, None) => c.fail(&at("key_hex"), "missing: give the key in hex"),
                (Some(k), None) if k.is_empty() => c.fail(&at("key"), "empty"),
                (Some(k), None) if looks_like_hex(k) => c.fail(
                    &at("key"),
                    "is text, but this looks like hexadecimal (the mobile node would \
                     use other octets, and every BU fail as MIPV6-AUTH-FAIL): \
                     write it as key_hex",
                ),
                (None, Some(h)) if decode_hex(h).is_none() => {
                    c.fail(&at("key_hex"), "not an even number of hex digits")
                }
                (k, _) if mn.key_bytes().len() < MIN_KEY_OCTETS => c.fail(
                    &at(if k.is_some() { "key" } else { "key_hex" }),
                    format!(
                        "{} octets is too short: at least {MIN_KEY_OCTETS}. The key signs every \
                         BU with HMAC-SHA1 (RFC 4285 5.1); anyone who captures one BU can try \
                         short keys offline until the authenticator matches, then take the \
                         home address (RFC 2104 3 asks for the hash's 20 octets)",
                        mn.key_bytes().len()
                    ),
                ),
                (Some(k), None) => c.warn(
                    &at("key"),
                    format!(
                        "deprecated (a text key): write key_hex: \"{}\" (the same \
                         octets, in the format the mobile node's key_hex takes)",
                        encode_hex(k.as_bytes())
                    ),
                ),
                _ => {}
            }
        }
    }

    /// The binding engine's configuration.
    pub fn cache_config(&self) -> CacheConfig {
        CacheConfig {
            ha_addresses: vec![self.ha_address],
            home_prefixes: self
                .home_prefixes
                .iter()
                .map(|p| HomePrefix {
                    prefix: p.prefix,
                    valid_lifetime: p.valid_lifetime.map(|s| Duration::from_secs(s.into())),
                })
                .collect(),
            max_lifetime: Duration::from_secs(self.max_binding_lifetime.into()),
            mobile_nodes: self
                .mobile_nodes
                .iter()
                .map(|m| MnPolicy {
                    nai: m.id.clone(),
                    home_address: m.home_address,
                    spi: m.spi,
                    key: m.key_bytes(),
                    algorithm: match m.algorithm {
                        AlgorithmName::HmacSha1_96 => AuthAlgorithm::HmacSha1_96,
                    },
                })
                .collect(),
            allow_unauthenticated: self.allow_unauthenticated,
            replay_window: Duration::from_secs(self.replay_window.into()),
            dad_before_accept: self.dad.enabled,
            // Our DAD's own length plus slack.
            dad_timeout: Duration::from_millis(
                u64::from(self.dad.retrans_ms) * (u64::from(self.dad.transmits) + 1) + 2000,
            ),
            ..CacheConfig::default()
        }
    }

    /// The Router Advertisement we send when `router_advertisements.enabled`:
    /// the home prefixes with our address and the R flag (RFC 6275 7.2), the
    /// H flag and a Home Agent Information option (7.1, 7.4), and an
    /// Advertisement Interval option (7.3).
    pub fn ra_content(&self) -> RaContent {
        let ra = &self.router_advertisements;
        RaContent {
            managed: ra.managed,
            other: ra.other,
            router_lifetime: ra.router_lifetime,
            mtu: ra.mtu,
            prefixes: self
                .home_prefixes
                .iter()
                .map(|p| PrefixConfig {
                    prefix: p.prefix.addr(),
                    len: p.prefix.prefix_len(),
                    valid: p.valid_lifetime,
                    preferred: p.preferred_lifetime,
                    on_link: true,
                    autonomous: true,
                    router_address: p
                        .prefix
                        .contains(self.ha_address)
                        .then_some(self.ha_address),
                })
                .collect(),
            advertisement_interval: Some(ra.max_interval_ms),
            home_agent: Some(HomeAgentConfig {
                preference: self.home_agent_preference,
                lifetime: Some(self.home_agent_lifetime),
            }),
            ..RaContent::default()
        }
    }

    pub fn ra_timing(&self) -> RaTiming {
        RaTiming::mobile(Duration::from_millis(
            self.router_advertisements.max_interval_ms.into(),
        ))
    }

    /// The Home-Agents anycast address of every home prefix.
    pub fn anycast_addresses(&self) -> Vec<Ipv6Addr> {
        self.home_prefixes
            .iter()
            .filter_map(|p| home_agents_anycast(p.prefix.addr(), p.prefix.prefix_len()))
            .collect()
    }

    /// The NAI configured for a home address.
    pub fn nai_of(&self, hoa: &Ipv6Addr) -> Option<&str> {
        self.mobile_nodes
            .iter()
            .find(|m| m.home_address == *hoa)
            .and_then(|m| m.id.as_deref())
    }
}

#[cfg(test)]
mod tests;
