//! The MN-HA authenticator of RFC 4285 5.1, as pure functions: no key
//! storage, no replay state (that belongs to the binding layer).
//!
//! ```text
//! Authenticator = First(96, HMAC_SHA1(MN-HA shared key, Mobility Data))
//! Mobility Data = care-of address | home address | MH Data
//! ```
//!
//! MH Data is the Mobility Header from its first octet up to and including
//! the Mobility SPI of the MN-HA authentication option, with the MH checksum
//! taken as zero. The same order (CoA, then HoA) holds for a BU and for the
//! BA that answers it.

use std::net::Ipv6Addr;

use ring::hmac;

use super::options::{RawOptions, auth_subtype, opt_type};
use super::{MhPacket, field, fixed_len};
use crate::wire::{Error, Result};

/// Octets of an MN-HA authenticator: HMAC-SHA1 truncated to 96 bits.
pub const MN_HA_AUTHENTICATOR_LEN: usize = 12;

/// Octets of an authentication option before its authentication data:
/// type, length, subtype, SPI.
const AUTH_OPTION_HEAD: usize = 2 + 1 + 4;

/// Where the MN-HA authentication option's authentication data starts and
/// ends in `mh` (the exact Mobility Header bytes).
fn locate(mh: &[u8]) -> Result<core::ops::Range<usize>> {
    let t = MhPacket::new_unchecked(mh).mh_type();
    let start = fixed_len(t).ok_or(Error::Unsupported {
        what: "mh type for mn-ha authentication",
        value: u64::from(t),
    })?;
    for raw in RawOptions::new(mh, start) {
        let raw = raw?;
        if raw.opt_type == opt_type::MOBILITY_AUTH
            && raw.data.len() >= AUTH_OPTION_HEAD - 2
            && raw.data.first() == Some(&auth_subtype::MN_HA)
        {
            return Ok(raw.offset + AUTH_OPTION_HEAD..raw.offset + 2 + raw.data.len());
        }
    }
    // No variant says "absent"; Invalid with value 0 is the nearest.
    Err(Error::Invalid {
        field: "mn-ha authentication option (absent)",
        value: 0,
    })
}

/// The checked Mobility Header octets of `buf` (Header Len of them).
fn checked_mh(buf: &[u8]) -> Result<&[u8]> {
    let len = MhPacket::new_checked(buf)?.total_len();
    Ok(buf.get(..len).unwrap_or(&[]))
}

/// The octets the MN-HA authenticator covers (RFC 4285 5.1): `coa`, `hoa`,
/// then `mh` up to and including the SPI of its MN-HA authentication
/// option, with the checksum zeroed. `mh` is an emitted Mobility Header;
/// its checksum may already be filled.
pub fn mn_ha_auth_input(coa: &Ipv6Addr, hoa: &Ipv6Addr, mh: &[u8]) -> Result<Vec<u8>> {
    let mh = checked_mh(mh)?;
    let data = locate(mh)?;
    let covered = mh.get(..data.start).unwrap_or(&[]);
    let mut out = Vec::with_capacity(32 + covered.len());
    out.extend_from_slice(&coa.octets());
    out.extend_from_slice(&hoa.octets());
    out.extend_from_slice(covered);
    if let Some(c) = out.get_mut(32 + field::CHECKSUM.start..32 + field::CHECKSUM.end) {
        c.fill(0);
    }
    Ok(out)
}

fn hmac_sha1_96(key: &[u8], data: &[u8]) -> [u8; MN_HA_AUTHENTICATOR_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, data);
    let mut out = [0; MN_HA_AUTHENTICATOR_LEN];
    if let Some(t) = tag.as_ref().get(..MN_HA_AUTHENTICATOR_LEN) {
        out.copy_from_slice(t);
    }
    out
}

/// The MN-HA authenticator of the Mobility Header `mh` under `key`.
pub fn mn_ha_authenticator(
    key: &[u8],
    coa: &Ipv6Addr,
    hoa: &Ipv6Addr,
    mh: &[u8],
) -> Result<[u8; MN_HA_AUTHENTICATOR_LEN]> {
    Ok(hmac_sha1_96(key, &mn_ha_auth_input(coa, hoa, mh)?))
}

/// Writes the MN-HA authenticator into the authentication option of the
/// emitted Mobility Header `mh`, whose authentication data must already be
/// 12 octets (emit it with zeros). Fill the checksum before or after: the
/// authenticator does not cover it.
pub fn mn_ha_sign(key: &[u8], coa: &Ipv6Addr, hoa: &Ipv6Addr, mh: &mut [u8]) -> Result<()> {
    let data = locate(checked_mh(mh)?)?;
    if data.len() != MN_HA_AUTHENTICATOR_LEN {
        return Err(Error::Unencodable {
            what: "mn-ha authenticator",
            detail: format!(
                "authentication data is {} octets, must be {MN_HA_AUTHENTICATOR_LEN}",
                data.len()
            ),
        });
    }
    let auth = mn_ha_authenticator(key, coa, hoa, mh)?;
    if let Some(dst) = mh.get_mut(data) {
        dst.copy_from_slice(&auth);
    }
    Ok(())
}

/// Checks the MN-HA authenticator of `mh` under `key` in constant time.
/// `Ok(false)` when it does not match (answer with BA status 146,
/// MIPV6-AUTH-FAIL); `Err` when there is no well-formed MN-HA option.
pub fn mn_ha_verify(key: &[u8], coa: &Ipv6Addr, hoa: &Ipv6Addr, mh: &[u8]) -> Result<bool> {
    let checked = checked_mh(mh)?;
    let data = locate(checked)?;
    let received = checked.get(data).unwrap_or(&[]);
    if received.len() != MN_HA_AUTHENTICATOR_LEN {
        return Err(Error::BadLength {
            what: "mn-ha authenticator",
            detail: format!(
                "{} octets, must be {MN_HA_AUTHENTICATOR_LEN}",
                received.len()
            ),
        });
    }
    let expected = mn_ha_authenticator(key, coa, hoa, mh)?;
    Ok(constant_time_eq(&expected, received))
}

/// Equality whose running time does not depend on where the inputs differ.
/// ring's own comparison is deprecated for outside use, hence this fold.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::mh::{BindingUpdate, BuFlags, MhOption, MhRepr, verify_checksum};

    fn addrs() -> (Ipv6Addr, Ipv6Addr, Ipv6Addr) {
        (
            "2001:db8:2::100".parse().unwrap(),
            "2001:db8:1::100".parse().unwrap(),
            "2001:db8:1::1".parse().unwrap(),
        )
    }

    fn signed_bu() -> MhRepr {
        MhRepr::BindingUpdate(BindingUpdate {
            sequence: 42,
            flags: BuFlags::A | BuFlags::H,
            lifetime: 100,
            options: vec![MhOption::MobilityAuth {
                subtype: auth_subtype::MN_HA,
                spi: 0x0000_0100,
                auth_data: vec![0; 12],
            }],
        })
    }

    #[test]
    fn hmac_sha1_rfc2202_case_2() {
        // RFC 2202 test case 2, truncated to 96 bits as RFC 4285 does.
        let tag = hmac_sha1_96(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            tag,
            [
                0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5
            ]
        );
    }

    #[test]
    fn input_is_coa_hoa_then_mh_up_to_spi_with_zero_checksum() {
        let (coa, hoa, ha) = addrs();
        let mh = signed_bu().to_bytes_with_checksum(&hoa, &ha).unwrap();
        // BU fixed part to 12, Pad1, option at 13: type, len, subtype, SPI
        // end at 20, authenticator 20..32.
        assert_eq!(mh.len(), 32);
        assert_eq!(&mh[12..20], &[0, 9, 17, 1, 0, 0, 1, 0]);
        let input = mn_ha_auth_input(&coa, &hoa, &mh).unwrap();
        assert_eq!(&input[..16], &coa.octets());
        assert_eq!(&input[16..32], &hoa.octets());
        let mut expected_mh = mh[..20].to_vec();
        expected_mh[4..6].fill(0);
        assert_eq!(&input[32..], &expected_mh[..]);
    }

    #[test]
    fn known_authenticator() {
        // Computed independently with Python's hmac module: key
        // bytes(range(16)), data CoA | HoA | 3b 03 05 00 00 00 00 2a c0 00
        // 00 64 00 09 11 01 00 00 01 00, sha1, first 12 octets.
        let (coa, hoa, _) = addrs();
        let key: Vec<u8> = (0..16).collect();
        let mh = signed_bu().to_bytes().unwrap();
        let auth = mn_ha_authenticator(&key, &coa, &hoa, &mh).unwrap();
        assert_eq!(
            auth,
            [
                0xa6, 0x74, 0x44, 0x1b, 0x2a, 0xfa, 0xcc, 0xe9, 0x11, 0xd1, 0x50, 0x37
            ]
        );
    }

    #[test]
    fn sign_then_verify_then_tamper() {
        let (coa, hoa, ha) = addrs();
        let key = b"0123456789abcdef";
        let mut mh = signed_bu().to_bytes().unwrap();
        mn_ha_sign(key, &coa, &hoa, &mut mh).unwrap();
        crate::wire::mh::fill_checksum(&mut mh, &hoa, &ha).unwrap();
        assert!(verify_checksum(&mh, &hoa, &ha));
        assert!(mn_ha_verify(key, &coa, &hoa, &mh).unwrap());
        // The checksum is outside the authenticated data.
        let mut other_csum = mh.clone();
        other_csum[4] ^= 0xff;
        assert!(mn_ha_verify(key, &coa, &hoa, &other_csum).unwrap());
        // Everything else is inside it.
        let mut seq = mh.clone();
        seq[7] ^= 1;
        assert!(!mn_ha_verify(key, &coa, &hoa, &seq).unwrap());
        let other_coa: Ipv6Addr = "2001:db8:9::1".parse().unwrap();
        assert!(!mn_ha_verify(key, &other_coa, &hoa, &mh).unwrap());
        assert!(!mn_ha_verify(b"another key", &coa, &hoa, &mh).unwrap());
        let mut auth = mh.clone();
        auth[31] ^= 0x80;
        assert!(!mn_ha_verify(key, &coa, &hoa, &auth).unwrap());
    }

    #[test]
    fn missing_or_malformed_option() {
        let (coa, hoa, _) = addrs();
        let plain = MhRepr::BindingUpdate(BindingUpdate::default())
            .to_bytes()
            .unwrap();
        assert!(matches!(
            mn_ha_auth_input(&coa, &hoa, &plain),
            Err(Error::Invalid { .. })
        ));
        // An MN-AAA option is not the MN-HA one.
        let aaa = MhRepr::BindingUpdate(BindingUpdate {
            options: vec![MhOption::MobilityAuth {
                subtype: auth_subtype::MN_AAA,
                spi: 3,
                auth_data: vec![0; 12],
            }],
            ..BindingUpdate::default()
        })
        .to_bytes()
        .unwrap();
        assert!(mn_ha_auth_input(&coa, &hoa, &aaa).is_err());
        // Wrong authenticator length: cannot sign, cannot verify.
        let mut short = MhRepr::BindingUpdate(BindingUpdate {
            options: vec![MhOption::MobilityAuth {
                subtype: auth_subtype::MN_HA,
                spi: 3,
                auth_data: vec![0; 8],
            }],
            ..BindingUpdate::default()
        })
        .to_bytes()
        .unwrap();
        assert!(matches!(
            mn_ha_sign(b"k", &coa, &hoa, &mut short),
            Err(Error::Unencodable { .. })
        ));
        assert!(matches!(
            mn_ha_verify(b"k", &coa, &hoa, &short),
            Err(Error::BadLength { .. })
        ));
        // Unknown MH types have no known place for options.
        let unknown = MhRepr::Unknown {
            mh_type: 77,
            data: vec![0; 10],
        }
        .to_bytes()
        .unwrap();
        assert!(matches!(
            mn_ha_auth_input(&coa, &hoa, &unknown),
            Err(Error::Unsupported { .. })
        ));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
