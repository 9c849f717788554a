//! Helpers both engines use to read mobility options and to emit finished
//! (signed, checksummed) Mobility Headers.

use std::net::Ipv6Addr;

use crate::wire::mh::{
    self, MN_HA_AUTHENTICATOR_LEN, MhOption, MhRepr, auth_subtype, mn_id_subtype,
};

/// The options of a BU or BA that the binding engines act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KnownOptions<'a> {
    /// SPI of the MN-HA authentication option (RFC 4285 5), if any.
    pub mn_ha_spi: Option<u32>,
    /// The MN-HA option is the last option, as RFC 4285 5 requires.
    pub mn_ha_last: bool,
    /// Timestamp of the replay protection option (RFC 4285 6).
    pub mesg_id: Option<u64>,
    /// The NAI of a Mobile Node Identifier option (RFC 4283).
    pub nai: Option<&'a [u8]>,
    /// Any Mobile Node Identifier option, for echoing it.
    pub mn_id: Option<&'a MhOption>,
    /// RFC 6275 6.2.5.
    pub alt_coa: Option<Ipv6Addr>,
    /// RFC 6275 6.2.4, in 4-second units.
    pub refresh_advice: Option<u16>,
    /// RFC 6275 6.2.6: return routability, never in a home registration.
    pub nonce_indices: bool,
}

impl<'a> KnownOptions<'a> {
    pub fn of(options: &'a [MhOption]) -> Self {
        let mut k = Self::default();
        for (i, o) in options.iter().enumerate() {
            match o {
                MhOption::MobilityAuth { subtype, spi, .. } if *subtype == auth_subtype::MN_HA => {
                    k.mn_ha_spi = Some(*spi);
                    k.mn_ha_last = i + 1 == options.len();
                }
                MhOption::ReplayProtection { timestamp } => k.mesg_id = Some(*timestamp),
                MhOption::MobileNodeId {
                    subtype,
                    identifier,
                } => {
                    k.mn_id = Some(o);
                    if *subtype == mn_id_subtype::NAI {
                        k.nai = Some(identifier);
                    }
                }
                MhOption::AltCareOfAddress(a) => k.alt_coa = Some(*a),
                MhOption::BindingRefreshAdvice { refresh_interval } => {
                    k.refresh_advice = Some(*refresh_interval);
                }
                MhOption::NonceIndices { .. } => k.nonce_indices = true,
                _ => {}
            }
        }
        k
    }
}

/// An MN-HA authentication option with a zero authenticator, to be filled by
/// [`finish`].
pub(crate) fn mn_ha_placeholder(spi: u32) -> MhOption {
    MhOption::MobilityAuth {
        subtype: auth_subtype::MN_HA,
        spi,
        auth_data: vec![0; MN_HA_AUTHENTICATOR_LEN],
    }
}

/// Emits `repr`, signs it when `sign` gives a key and the (CoA, HoA) of the
/// authenticator's Mobility Data (RFC 4285 5.1), and fills the checksum over
/// the pseudo-header of `csum_src` and `csum_dst`.
pub(crate) fn finish(
    repr: &MhRepr,
    sign: Option<(&[u8], Ipv6Addr, Ipv6Addr)>,
    csum_src: Ipv6Addr,
    csum_dst: Ipv6Addr,
) -> crate::wire::Result<Vec<u8>> {
    let mut bytes = repr.to_bytes()?;
    if let Some((key, coa, hoa)) = sign {
        mh::mn_ha_sign(key, &coa, &hoa, &mut bytes)?;
    }
    mh::fill_checksum(&mut bytes, &csum_src, &csum_dst)?;
    Ok(bytes)
}

/// A unicast address that can leave the link: not unspecified, loopback,
/// multicast, link-local or IPv4-mapped (RFC 6275 9.5.1 asks this of home
/// addresses; we ask it of care-of addresses too).
pub(crate) fn is_unicast_routable(a: &Ipv6Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || a.is_unicast_link_local()
        || a.to_ipv4_mapped().is_some())
}

/// fe80::/64 with the interface identifier of `addr` (the address the L
/// flag of RFC 6275 6.1.7 asks the home agent to defend as well).
pub(crate) fn link_local_of(addr: &Ipv6Addr) -> Ipv6Addr {
    let low = u128::from(*addr) & u128::from(u64::MAX);
    Ipv6Addr::from((0xfe80u128 << 112) | low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes() {
        for bad in ["::", "::1", "ff02::1", "fe80::1", "::ffff:192.0.2.1"] {
            assert!(
                !is_unicast_routable(&bad.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
                "{bad}"
            );
        }
        for good in ["2001:db8::1", "fd00::1"] {
            assert!(
                is_unicast_routable(&good.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
                "{good}"
            );
        }
        assert_eq!(
            link_local_of(
                &"2001:db8:1::1234:5678"
                    .parse()
                    .unwrap_or(Ipv6Addr::UNSPECIFIED)
            ),
            "fe80::1234:5678"
                .parse::<Ipv6Addr>()
                .unwrap_or(Ipv6Addr::UNSPECIFIED)
        );
    }
}
