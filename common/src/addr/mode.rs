//! Choosing the identifier to try: the one entry point the SLAAC engine
//! calls for the link-local address and for every advertised prefix.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{AddrError, IDGEN_RETRIES, InterfaceId, Mac, SecretKey, StableIdGenerator, random_iid};

/// How interface identifiers are formed, as written in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IidMode {
    /// Modified EUI-64 from the MAC (RFC 4291 appendix A). Traceable across
    /// networks; kept for interoperability tests and teaching.
    Eui64,
    /// RFC 7217 stable, opaque identifiers. The default because RFC 8064
    /// recommends it for stable addresses over MAC-derived ones.
    #[default]
    Stable,
    /// A fresh random identifier for every address (as Windows does for
    /// "Randomize Identifiers").
    Random,
}

impl IidMode {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Eui64 => "eui64",
            Self::Stable => "stable",
            Self::Random => "random",
        }
    }
}

impl fmt::Display for IidMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IidMode {
    type Err = AddrError;

    /// The same names serde accepts, so a value means the same thing on the
    /// command line and in the YAML file.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Eui64, Self::Stable, Self::Random]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| AddrError::ParseMode(s.to_owned()))
    }
}

/// An identifier to try, with the attempt number that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IidCandidate {
    pub iid: InterfaceId,
    /// The attempt actually used. In stable mode this is RFC 7217's
    /// DAD_Counter, which may exceed the one asked for when reserved
    /// identifiers were skipped; after a DAD conflict ask for `attempt + 1`.
    pub attempt: u8,
}

/// Yields the interface identifier to try for a prefix, by [`IidMode`].
#[derive(Debug, Clone)]
pub enum IidGenerator {
    Eui64(Mac),
    Stable {
        ids: StableIdGenerator,
        /// RFC 7217 Net_Iface: stable across reboots and unique per
        /// interface. The interface name is the usual choice; the permanent
        /// MAC instead ties addresses to the NIC (RFC 7217 appendix A).
        net_iface: Vec<u8>,
        /// RFC 7217 Network_ID (such as an SSID), if known.
        network_id: Option<Vec<u8>>,
    },
    Random,
}

impl IidGenerator {
    /// The generator for `mode` on an interface with hardware address `mac`
    /// and name `net_iface`. `secret` is needed only in stable mode, so
    /// callers in other modes need not create a key file.
    pub fn new(
        mode: IidMode,
        mac: Mac,
        secret: Option<&SecretKey>,
        net_iface: &[u8],
    ) -> Result<Self, AddrError> {
        Ok(match mode {
            IidMode::Eui64 => Self::Eui64(mac),
            IidMode::Stable => Self::Stable {
                ids: StableIdGenerator::new(secret.ok_or(AddrError::MissingSecretKey)?),
                net_iface: net_iface.to_vec(),
                network_id: None,
            },
            IidMode::Random => Self::Random,
        })
    }

    pub fn mode(&self) -> IidMode {
        match self {
            Self::Eui64(_) => IidMode::Eui64,
            Self::Stable { .. } => IidMode::Stable,
            Self::Random => IidMode::Random,
        }
    }

    /// How many new identifiers to try after DAD failures before giving up
    /// on the address. RFC 7217 section 6 says at least IDGEN_RETRIES and
    /// MUST be bounded; random identifiers get the same budget. EUI-64 has
    /// nothing else to try.
    pub fn max_retries(&self) -> u8 {
        match self {
            Self::Eui64(_) => 0,
            Self::Stable { .. } | Self::Random => IDGEN_RETRIES,
        }
    }

    /// The identifier to try for `prefix` (first 64 bits used) on DAD
    /// attempt `attempt` (0 first, then the previous candidate's attempt + 1).
    ///
    /// EUI-64 always gives the same identifier, so any attempt after the
    /// first is [`AddrError::Eui64Duplicate`], and a MAC whose identifier is
    /// reserved is [`AddrError::ReservedIid`]. Stable mode is deterministic
    /// in (prefix, interface, network, attempt). Random mode draws anew from
    /// `rng` each call; `rng` is unused in the other modes.
    pub fn candidate<R: Rng + ?Sized>(
        &self,
        prefix: Ipv6Addr,
        attempt: u8,
        rng: &mut R,
    ) -> Result<IidCandidate, AddrError> {
        match self {
            Self::Eui64(mac) => {
                let iid = InterfaceId::from_mac(*mac);
                if attempt > 0 {
                    Err(AddrError::Eui64Duplicate(iid))
                } else if iid.is_reserved() {
                    Err(AddrError::ReservedIid(iid))
                } else {
                    Ok(IidCandidate { iid, attempt })
                }
            }
            Self::Stable {
                ids,
                net_iface,
                network_id,
            } => {
                let s = ids.generate(prefix, net_iface, network_id.as_deref(), attempt)?;
                Ok(IidCandidate {
                    iid: s.iid,
                    attempt: s.dad_counter,
                })
            }
            Self::Random => Ok(IidCandidate {
                iid: random_iid(rng),
                attempt,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const MAC: Mac = Mac([0x50, 0x46, 0x5d, 0x6b, 0x7a, 0x54]);
    const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0);
    const GLOBAL: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0);

    #[test]
    fn mode_names() {
        for (m, s) in [
            (IidMode::Eui64, "eui64"),
            (IidMode::Stable, "stable"),
            (IidMode::Random, "random"),
        ] {
            assert_eq!(m.to_string(), s);
            assert_eq!(s.parse::<IidMode>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<IidMode>(&format!("\"{s}\"")).unwrap(),
                m
            );
        }
        assert!("EUI64".parse::<IidMode>().is_err());
        assert!("eui-64".parse::<IidMode>().is_err());
        assert!(serde_json::from_str::<IidMode>("\"Stable\"").is_err());
        assert_eq!(IidMode::default(), IidMode::Stable);
    }

    #[test]
    fn eui64_has_no_second_try() {
        let mut rng = StdRng::seed_from_u64(0);
        let g = IidGenerator::new(IidMode::Eui64, MAC, None, b"eth0").unwrap();
        assert_eq!(g.mode(), IidMode::Eui64);
        assert_eq!(g.max_retries(), 0);
        let c = g.candidate(LL, 0, &mut rng).unwrap();
        assert_eq!(c.iid.to_string(), "5246:5dff:fe6b:7a54");
        // Same identifier under every prefix.
        assert_eq!(g.candidate(GLOBAL, 0, &mut rng).unwrap(), c);
        assert_eq!(
            g.candidate(LL, 1, &mut rng),
            Err(AddrError::Eui64Duplicate(c.iid))
        );
    }

    #[test]
    fn eui64_of_iana_mac_is_refused() {
        let mut rng = StdRng::seed_from_u64(0);
        let g = IidGenerator::Eui64(Mac([0, 0, 0x5e, 0, 0x52, 0x13]));
        assert!(matches!(
            g.candidate(LL, 0, &mut rng),
            Err(AddrError::ReservedIid(_))
        ));
    }

    #[test]
    fn stable_follows_attempt_and_prefix() {
        let mut rng = StdRng::seed_from_u64(0);
        let key = SecretKey::from_bytes([9; 32]);
        assert_eq!(
            IidGenerator::new(IidMode::Stable, MAC, None, b"eth0").unwrap_err(),
            AddrError::MissingSecretKey
        );
        let g = IidGenerator::new(IidMode::Stable, MAC, Some(&key), b"eth0").unwrap();
        assert_eq!(g.max_retries(), 3);
        let first = g.candidate(GLOBAL, 0, &mut rng).unwrap();
        assert_eq!(first.attempt, 0);
        assert_eq!(g.candidate(GLOBAL, 0, &mut rng).unwrap(), first);
        let retry = g.candidate(GLOBAL, first.attempt + 1, &mut rng).unwrap();
        assert_ne!(retry.iid, first.iid);
        assert_ne!(g.candidate(LL, 0, &mut rng).unwrap().iid, first.iid);
        // Matches the generator used directly.
        let direct = StableIdGenerator::new(&key)
            .generate(GLOBAL, b"eth0", None, 0)
            .unwrap();
        assert_eq!(direct.iid, first.iid);
        // The network id is part of the input.
        let IidGenerator::Stable { ids, net_iface, .. } = g else {
            unreachable!()
        };
        let on_net = IidGenerator::Stable {
            ids,
            net_iface,
            network_id: Some(b"ssid".to_vec()),
        };
        assert_ne!(
            on_net.candidate(GLOBAL, 0, &mut rng).unwrap().iid,
            first.iid
        );
    }

    #[test]
    fn random_draws_anew() {
        let mut rng = StdRng::seed_from_u64(5);
        let g = IidGenerator::new(IidMode::Random, MAC, None, b"eth0").unwrap();
        let a = g.candidate(GLOBAL, 0, &mut rng).unwrap();
        let b = g.candidate(GLOBAL, 0, &mut rng).unwrap();
        assert_ne!(a.iid, b.iid);
        assert_eq!(g.candidate(GLOBAL, 2, &mut rng).unwrap().attempt, 2);
    }
}
