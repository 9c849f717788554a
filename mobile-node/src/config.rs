//! The mobile node's YAML configuration, validated on load. Every error
//! names the field (`interfaces[1].iid_mode`) and, where the file has it,
//! the line. `examples/mn.yaml` shows every option with its default.

use mip6_common::addr::IidMode;
use serde::Deserialize;
use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon listens for `mip6-mn status` by default.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/mip6/mn.sock";
/// RFC 4285 5: SPIs 0-255 are reserved.
pub const MIN_SPI: u32 = 256;
/// The largest lifetime a BU can ask for: 65535 units of 4 seconds.
pub const MAX_LIFETIME_SECS: u32 = 65_535 * 4;

/// How interface identifiers are made on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IidModeConfig {
    /// Modified EUI-64 from the MAC address (RFC 4291 Appendix A).
    Eui64,
    /// Stable, semantically opaque (RFC 7217): the default.
    #[default]
    Stable,
    /// Random (RFC 8981 temporary addresses).
    Random,
}

impl From<IidModeConfig> for IidMode {
    fn from(m: IidModeConfig) -> Self {
        match m {
            IidModeConfig::Eui64 => IidMode::Eui64,
            IidModeConfig::Stable => IidMode::Stable,
            IidModeConfig::Random => IidMode::Random,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceConfig {
    pub name: String,
    /// Higher wins: the best interface that has a care-of address carries
    /// the registration.
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub iid_mode: IidModeConfig,
    /// This interface is on the home link whenever it has carrier (besides
    /// any interface that hears the home prefix in a Router Advertisement).
    #[serde(default)]
    pub home_link: bool,
    /// How care-of addresses are made here: slaac, dhcpv6 (RFC 8415), or
    /// auto (DHCPv6 when the RA has M=1).
    #[serde(default)]
    pub autoconf: crate::dhcp6::AutoconfMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Mobility SPI of the MN-HA security association (RFC 4285).
    pub spi: Option<u32>,
    /// The MN-HA shared key, in hexadecimal (the home agent's `key_hex`).
    pub key_hex: Option<String>,
    /// Deprecated older name of `key_hex` (hexadecimal too): accepted with
    /// a warning.
    pub key: Option<String>,
    /// A file holding the key (raw octets), instead of `key_hex`.
    pub key_file: Option<PathBuf>,
    /// Lab only: send BUs without authentication.
    #[serde(default)]
    pub unauthenticated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelConfig {
    #[serde(default = "default_tun_name")]
    pub name: String,
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Which data plane tunnels: `auto` (the eBPF kernel fast path if the
    /// kernel takes it, else the user-space TUN path), `ebpf`, or `tun`.
    #[serde(default)]
    pub data_plane: mip6_common::dataplane::PathChoice,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        Self {
            name: default_tun_name(),
            mtu: default_mtu(),
            data_plane: mip6_common::dataplane::PathChoice::default(),
        }
    }
}

fn default_tun_name() -> String {
    "mip6tun0".into()
}
fn default_mtu() -> u32 {
    1460
}
fn default_prefix_len() -> u8 {
    64
}
fn default_lifetime() -> u32 {
    600
}
fn default_table() -> u32 {
    200
}
fn default_rule_priority() -> u32 {
    1000
}
fn default_dad_transmits() -> u8 {
    1
}
fn default_socket() -> PathBuf {
    PathBuf::from(DEFAULT_CONTROL_SOCKET)
}
fn default_secret() -> PathBuf {
    PathBuf::from("/var/lib/mip6/stable-secret")
}
fn default_nft_table() -> String {
    "mip6_mn".into()
}

/// The file as written (before validation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    home_address: Ipv6Addr,
    #[serde(default = "default_prefix_len")]
    home_prefix_len: u8,
    home_agent: Option<Ipv6Addr>,
    mn_id: Option<String>,
    security: Option<SecurityConfig>,
    interfaces: Vec<InterfaceConfig>,
    #[serde(default)]
    optimistic_dad: bool,
    #[serde(default = "default_dad_transmits")]
    dad_transmits: u8,
    #[serde(default = "default_lifetime")]
    binding_lifetime: u32,
    #[serde(default)]
    tunnel: TunnelConfig,
    #[serde(default = "default_table")]
    routing_table: u32,
    #[serde(default = "default_rule_priority")]
    rule_priority: u32,
    #[serde(default = "default_socket")]
    control_socket: PathBuf,
    #[serde(default = "default_secret")]
    stable_secret_file: PathBuf,
    #[serde(default = "default_nft_table")]
    nft_table: String,
    #[serde(default)]
    metrics_listen: Option<String>,
}

/// The validated configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub home_address: Ipv6Addr,
    pub home_prefix_len: u8,
    /// `None`: discovered with DHAAD once away from home.
    pub home_agent: Option<Ipv6Addr>,
    pub mn_id: Option<String>,
    pub spi: u32,
    /// `None`: unauthenticated (lab only).
    pub key: Option<Vec<u8>>,
    pub interfaces: Vec<InterfaceConfig>,
    pub optimistic_dad: bool,
    pub dad_transmits: u8,
    pub binding_lifetime: Duration,
    pub tunnel: TunnelConfig,
    /// Interface `i` (in file order) routes its care-of addresses through
    /// table `routing_table + i`.
    pub routing_table: u32,
    pub rule_priority: u32,
    pub control_socket: PathBuf,
    pub stable_secret_file: PathBuf,
    pub nft_table: String,
    /// Where the Prometheus endpoint listens (none: no endpoint).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// What works but should change (deprecated names), with file and line.
    pub warnings: Vec<ConfigError>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("home_address", &self.home_address)
            .field("home_prefix_len", &self.home_prefix_len)
            .field("home_agent", &self.home_agent)
            .field("mn_id", &self.mn_id)
            .field("spi", &self.spi)
            .field(
                "key",
                &self.key.as_ref().map(|k| format!("<{} octets>", k.len())),
            )
            .field("interfaces", &self.interfaces)
            .field("optimistic_dad", &self.optimistic_dad)
            .field("binding_lifetime", &self.binding_lifetime)
            .field("tunnel", &self.tunnel)
            .field("routing_table", &self.routing_table)
            .field("control_socket", &self.control_socket)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The home prefix (home address masked to `home_prefix_len`).
    pub fn home_prefix(&self) -> Ipv6Addr {
        mask(self.home_address, self.home_prefix_len)
    }

    /// Whether `addr` is on the home prefix.
    pub fn on_home_prefix(&self, addr: Ipv6Addr) -> bool {
        mask(addr, self.home_prefix_len) == self.home_prefix()
    }

    /// The routing table of interface number `i`.
    pub fn table_of(&self, i: usize) -> u32 {
        self.routing_table + u32::try_from(i).unwrap_or(0)
    }
}

pub fn mask(addr: Ipv6Addr, len: u8) -> Ipv6Addr {
    let len = u32::from(len.min(128));
    let m = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    Ipv6Addr::from(u128::from(addr) & m)
}

pub use mip6_common::config_check::ConfigError;
use mip6_common::config_check::{Checker, Seg};

fn is_global_unicast(a: Ipv6Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || a.segments()[0] & 0xffc0 == 0xfe80
        || a.to_ipv4_mapped().is_some())
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let s: String = s.chars().filter(|c| *c != ':' && *c != ' ').collect();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses and validates `text`. `base` resolves a relative `key_file`.
pub fn parse(text: &str, base: Option<&Path>) -> Result<Config, Vec<ConfigError>> {
    let raw: RawConfig = match serde_yaml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let message = e.to_string();
            // yaml_serde names the field path in front ("interfaces[0]: ...")
            // and the line at the end when it has one.
            let line = e.location().map(|l| l.line());
            let message = match message.rfind(" at line ") {
                Some(i) if line.is_some() => message[..i].to_string(),
                _ => message,
            };
            return Err(vec![ConfigError {
                file: None,
                field: String::new(),
                line,
                message,
            }]);
        }
    };
    let mut c = Checker::new(text);
    use Seg::{Index, Key};
    if !is_global_unicast(raw.home_address) {
        c.fail(
            &[Key("home_address")],
            format!("{} is not a global unicast address", raw.home_address),
        );
    }
    if !(1..=128).contains(&raw.home_prefix_len) {
        c.fail(&[Key("home_prefix_len")], "must be between 1 and 128");
    }
    let home_agent = match raw.home_agent {
        // Discovered with DHAAD (RFC 6275 11.4.1), which needs room for the
        // Home-Agents anycast address in the home prefix.
        None => {
            if raw.home_prefix_len > 121 {
                c.fail(
                    &[Key("home_agent")],
                    "missing, and a home prefix longer than /121 has no Home-Agents anycast address to discover it with",
                );
            }
            None
        }
        Some(a) if !is_global_unicast(a) => {
            c.fail(
                &[Key("home_agent")],
                format!("{a} is not a global unicast address"),
            );
            Some(a)
        }
        Some(a) if a == raw.home_address => {
            c.fail(&[Key("home_agent")], "is the home address itself");
            Some(a)
        }
        Some(a) => Some(a),
    };
    if let Some(id) = &raw.mn_id
        && (id.is_empty() || id.len() > 253)
    {
        c.fail(
            &[Key("mn_id")],
            "must be 1 to 253 characters (an NAI, user@realm)",
        );
    }
    let (spi, key) = match &raw.security {
        None => {
            c.fail(
                &[Key("security")],
                "missing: give spi and key_hex (or key_file), or unauthenticated: true for a lab",
            );
            (0, None)
        }
        Some(s) => {
            let spi = match s.spi {
                Some(spi) if spi < MIN_SPI => {
                    c.fail(
                        &[Key("security"), Key("spi")],
                        format!(
                            "{spi} is reserved; SPIs below {MIN_SPI} cannot be used (RFC 4285 5)"
                        ),
                    );
                    spi
                }
                Some(spi) => spi,
                None if s.unauthenticated => 0,
                None => {
                    c.fail(&[Key("security"), Key("spi")], "missing");
                    0
                }
            };
            // `key` and `key_hex` are one field under two names.
            let (hex, hex_name) = match (&s.key_hex, &s.key) {
                (Some(_), Some(_)) => {
                    c.fail(
                        &[Key("security"), Key("key")],
                        "give key_hex or key (the same thing), not both",
                    );
                    (None, "key_hex")
                }
                (Some(k), None) => (Some(k), "key_hex"),
                (None, Some(k)) => {
                    c.warn(
                        &[Key("security"), Key("key")],
                        "deprecated name: call it key_hex (the same hex key, \
                         the name the home agent uses)",
                    );
                    (Some(k), "key")
                }
                (None, None) => (None, "key_hex"),
            };
            let key = match (hex, &s.key_file, s.unauthenticated) {
                (Some(_), Some(_), _) => {
                    c.fail(
                        &[Key("security"), Key("key_file")],
                        format!("give {hex_name} or key_file, not both"),
                    );
                    None
                }
                (Some(_), _, true) | (_, Some(_), true) => {
                    c.fail(
                        &[Key("security"), Key("unauthenticated")],
                        "unauthenticated: true with a key; remove one of them",
                    );
                    None
                }
                (Some(k), None, false) => match parse_hex(k) {
                    Some(k) => Some(k),
                    None => {
                        c.fail(
                            &[Key("security"), Key(hex_name)],
                            "must be an even number of hexadecimal digits (a text key: \
                             put its octets in key_file)",
                        );
                        None
                    }
                },
                (None, Some(f), false) => {
                    let path = match base {
                        Some(b) if f.is_relative() => b.join(f),
                        _ => f.clone(),
                    };
                    match std::fs::read(&path) {
                        Ok(k) if !k.is_empty() => Some(k),
                        Ok(_) => {
                            c.fail(
                                &[Key("security"), Key("key_file")],
                                format!("{} is empty", path.display()),
                            );
                            None
                        }
                        Err(e) => {
                            c.fail(
                                &[Key("security"), Key("key_file")],
                                format!("cannot read {}: {e}", path.display()),
                            );
                            None
                        }
                    }
                }
                (None, None, true) => None,
                (None, None, false) => {
                    c.fail(
                        &[Key("security"), Key("key_hex")],
                        "missing: give key_hex or key_file (or unauthenticated: true for a lab)",
                    );
                    None
                }
            };
            (spi, key)
        }
    };
    if raw.interfaces.is_empty() {
        c.fail(&[Key("interfaces")], "name at least one interface");
    }
    for (i, iface) in raw.interfaces.iter().enumerate() {
        let name_ok = !iface.name.is_empty()
            && iface.name.len() < 16
            && !iface.name.contains(['/', ' ', '\0'])
            && iface.name != "."
            && iface.name != "..";
        if !name_ok {
            c.fail(
                &[Key("interfaces"), Index(i), Key("name")],
                format!("{:?} is not an interface name", iface.name),
            );
        }
        if raw.interfaces[..i].iter().any(|o| o.name == iface.name) {
            c.fail(
                &[Key("interfaces"), Index(i), Key("name")],
                format!("{} is listed twice", iface.name),
            );
        }
        if iface.name == raw.tunnel.name {
            c.fail(
                &[Key("interfaces"), Index(i), Key("name")],
                "is the tunnel device's name",
            );
        }
    }
    let tun_ok = !raw.tunnel.name.is_empty()
        && raw.tunnel.name.len() < 16
        && raw
            .tunnel
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        && raw.tunnel.name != "."
        && raw.tunnel.name != "..";
    if !tun_ok {
        c.fail(
            &[Key("tunnel"), Key("name")],
            format!("{:?} is not a usable interface name", raw.tunnel.name),
        );
    }
    if !(1280..=65_535).contains(&raw.tunnel.mtu) {
        c.fail(
            &[Key("tunnel"), Key("mtu")],
            "must be between 1280 (the IPv6 minimum; below it the kernel removes every IPv6 address) and 65535",
        );
    }
    if !(4..=MAX_LIFETIME_SECS).contains(&raw.binding_lifetime) {
        c.fail(
            &[Key("binding_lifetime")],
            format!("must be between 4 and {MAX_LIFETIME_SECS} seconds"),
        );
    }
    let n = u32::try_from(raw.interfaces.len()).unwrap_or(u32::MAX);
    let last = raw.routing_table.checked_add(n.saturating_sub(1));
    let reserved = |t: u32| t == 0 || (253..=255).contains(&t);
    match last {
        Some(last) if !(raw.routing_table..=last).any(reserved) => {}
        _ => c.fail(
            &[Key("routing_table")],
            format!(
                "tables {}..{} (one per interface) must avoid 0 and the kernel's 253-255",
                raw.routing_table,
                raw.routing_table.saturating_add(n)
            ),
        ),
    }
    if raw.rule_priority == 0 || raw.rule_priority >= 32_766 {
        c.fail(
            &[Key("rule_priority")],
            "must be between 1 and 32765 (before the kernel's main-table rule)",
        );
    }
    let sock = &raw.control_socket;
    if !sock.is_absolute() || sock.as_os_str().len() >= 108 {
        c.fail(
            &[Key("control_socket")],
            "must be an absolute path shorter than 108 bytes",
        );
    }
    let metrics_listen = match &raw.metrics_listen {
        None => None,
        Some(a) => match a.parse::<std::net::SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                c.fail(
                    &[Key("metrics_listen")],
                    "must be address:port, IPv6 addresses in brackets (\"[::1]:9107\")",
                );
                None
            }
        },
    };
    let nft_ok = !raw.nft_table.is_empty()
        && raw.nft_table.len() <= 64
        && raw
            .nft_table
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
    if !nft_ok {
        c.fail(&[Key("nft_table")], "letters, digits, '_' and '-' only");
    }
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(Config {
        home_address: raw.home_address,
        home_prefix_len: raw.home_prefix_len,
        home_agent,
        mn_id: raw.mn_id,
        spi,
        key,
        interfaces: raw.interfaces,
        optimistic_dad: raw.optimistic_dad,
        dad_transmits: raw.dad_transmits,
        binding_lifetime: Duration::from_secs(u64::from(raw.binding_lifetime)),
        tunnel: raw.tunnel,
        routing_table: raw.routing_table,
        rule_priority: raw.rule_priority,
        control_socket: raw.control_socket,
        stable_secret_file: raw.stable_secret_file,
        nft_table: raw.nft_table,
        metrics_listen,
        warnings: c.warnings,
    })
}

/// Reads and validates a configuration file; the errors name the file.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            file: Some(path.to_owned()),
            field: String::new(),
            line: None,
            message: format!("cannot read: {e}"),
        }]
    })?;
    let named = |mut e: ConfigError| {
        e.file = Some(path.to_owned());
        e
    };
    let mut c = parse(&text, path.parent())
        .map_err(|errs| errs.into_iter().map(named).collect::<Vec<_>>())?;
    c.warnings = std::mem::take(&mut c.warnings)
        .into_iter()
        .map(named)
        .collect();
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
home_address: 2001:db8:1::100
home_agent: 2001:db8:1::1
mn_id: laptop@example.org
security:
  spi: 4660
  key_hex: 00112233445566778899aabbccddeeff
interfaces:
  - name: eth0
    priority: 10
  - name: wlan0
    priority: 5
    iid_mode: random
";

    fn errors(text: &str) -> Vec<ConfigError> {
        parse(text, None).expect_err("must fail")
    }

    #[test]
    fn good_config_and_defaults() {
        let c = parse(GOOD, None).expect("valid");
        assert_eq!(c.home_prefix_len, 64);
        assert_eq!(
            c.home_prefix(),
            "2001:db8:1::".parse::<Ipv6Addr>().expect("a")
        );
        assert_eq!(c.key.as_ref().map(Vec::len), Some(16));
        assert_eq!(c.spi, 4660);
        assert_eq!(c.interfaces[1].iid_mode, IidModeConfig::Random);
        assert_eq!(c.interfaces[0].iid_mode, IidModeConfig::Stable);
        assert_eq!(c.interfaces[0].autoconf, crate::dhcp6::AutoconfMode::Slaac);
        assert_eq!(c.tunnel.mtu, 1460);
        assert_eq!(c.tunnel.name, "mip6tun0");
        assert_eq!(c.binding_lifetime, Duration::from_secs(600));
        assert_eq!(c.control_socket, PathBuf::from(DEFAULT_CONTROL_SOCKET));
        assert_eq!(c.table_of(1), 201);
        assert!(c.on_home_prefix("2001:db8:1::5".parse().expect("a")));
        assert!(!c.on_home_prefix("2001:db8:2::5".parse().expect("a")));
        // The key never shows in logs.
        assert!(!format!("{c:?}").contains("0011"));
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../examples/mn.yaml");
        let c = parse(text, None).expect("the example must load");
        assert!(!c.interfaces.is_empty());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.metrics_listen, Some("[::1]:9107".parse().expect("addr")));
    }

    #[test]
    fn metrics_listen_is_checked() {
        let c = parse(&format!("{GOOD}metrics_listen: \"[::]:9107\"\n"), None).expect("valid");
        assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9107));
        assert_eq!(parse(GOOD, None).expect("valid").metrics_listen, None);
        let e = errors(&format!("{GOOD}metrics_listen: \"::1:9107\"\n"));
        assert_eq!(e[0].field, "metrics_listen");
        assert_eq!(e[0].line, Some(13));
    }

    #[test]
    fn key_is_a_deprecated_name_of_key_hex() {
        let c = parse(&GOOD.replace("key_hex:", "key:"), None).expect("still accepted");
        assert_eq!(c.key.as_ref().map(Vec::len), Some(16));
        assert_eq!(c.warnings.len(), 1);
        let w = c.warnings[0].to_string();
        assert!(w.starts_with("line 6: security.key: deprecated"), "{w}");
        assert!(parse(GOOD, None).expect("valid").warnings.is_empty());
    }

    #[test]
    fn missing_home_agent_means_dhaad() {
        let text = GOOD.replace("home_agent: 2001:db8:1::1\n", "");
        let c = parse(&text, None).expect("home_agent is optional");
        assert_eq!(c.home_agent, None);
        let text = format!("home_prefix_len: 124\n{text}");
        let e = errors(&text);
        assert_eq!(e[0].field, "home_agent");
        assert!(e[0].message.contains("anycast"), "{}", e[0]);
    }

    #[test]
    fn autoconf_mode_per_interface() {
        let text = GOOD.replace("iid_mode: random", "iid_mode: random\n    autoconf: auto");
        let c = parse(&text, None).expect("autoconf: auto");
        assert_eq!(c.interfaces[1].autoconf, crate::dhcp6::AutoconfMode::Auto);
        let e = errors(&GOOD.replace("iid_mode: random", "iid_mode: random\n    autoconf: dhcp"));
        assert!(e[0].message.contains("interfaces[1].autoconf"), "{}", e[0]);
    }

    #[test]
    fn bad_values_name_field_and_line() {
        let text = GOOD.replace("iid_mode: random", "iid_mode: bogus");
        let e = errors(&text);
        assert_eq!(e[0].line, Some(12), "{}", e[0]);
        assert!(e[0].message.contains("interfaces[1].iid_mode"), "{}", e[0]);

        let text = GOOD.replace("priority: 5", "priority: 5\n    mtu: 1400");
        let e = errors(&text);
        assert!(e[0].message.contains("unknown field `mtu`"), "{}", e[0]);
        assert_eq!(e[0].line, Some(12));

        let text = GOOD.replace("home_agent: 2001:db8:1::1", "home_agent: ff02::1");
        let e = errors(&text);
        assert_eq!(e[0].field, "home_agent");
        assert_eq!(e[0].line, Some(2));

        let text = GOOD.replace("spi: 4660", "spi: 7");
        let e = errors(&text);
        assert_eq!(e[0].field, "security.spi");
        assert_eq!(e[0].line, Some(5));

        let text = GOOD.replace("name: wlan0", "name: eth0");
        let e = errors(&text);
        assert_eq!(e[0].field, "interfaces[1].name");
        assert_eq!(e[0].line, Some(10));
        assert!(
            e[0].to_string().starts_with("line 10: interfaces[1].name:"),
            "{}",
            e[0]
        );

        let text = format!("{GOOD}tunnel:\n  mtu: 1000\n");
        let e = errors(&text);
        assert_eq!(e[0].field, "tunnel.mtu");
        assert_eq!(e[0].line, Some(14));

        let text = format!("{GOOD}routing_table: 253\n");
        assert_eq!(errors(&text)[0].field, "routing_table");
        let text = format!("{GOOD}routing_table: 252\n");
        assert_eq!(errors(&text)[0].field, "routing_table");
    }

    #[test]
    fn keys() {
        let text = GOOD.replace("key_hex: 00112233445566778899aabbccddeeff", "key_hex: 0g");
        assert_eq!(errors(&text)[0].field, "security.key_hex");
        let text = GOOD.replace(
            "  key_hex: 00112233445566778899aabbccddeeff\n",
            "  unauthenticated: true\n",
        );
        let c = parse(&text, None).expect("lab mode");
        assert!(c.key.is_none());
        // key is the same field as key_hex, under its older name.
        let text = GOOD.replace("  key_hex: 0011", "  key: 0011");
        let c = parse(&text, None).expect("key");
        assert_eq!(c.key.as_ref().map(Vec::len), Some(16));
        let text = GOOD.replace("  key_hex: 0011", "  key_hex: 0g\n  key: 0011");
        assert_eq!(errors(&text)[0].field, "security.key");
        let text = GOOD.replace("  key_hex: 0011", "  key_hex: 0g11");
        let e = errors(&text);
        assert_eq!(e[0].field, "security.key_hex");
        assert!(e[0].to_string().contains("key_file"), "{}", e[0]);
        let text = GOOD.replace("  spi: 4660\n", "");
        assert_eq!(errors(&text)[0].field, "security.spi");
        assert_eq!(parse_hex("0x00:11"), Some(vec![0, 0x11]));
    }
}
