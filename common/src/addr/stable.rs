//! Stable, semantically opaque interface identifiers (RFC 7217).
//!
//! Pure: the secret key comes in as a value; reading or creating the key file
//! is [`super::SecretKey::load_or_create`]'s job.

use std::fmt;
use std::net::Ipv6Addr;

use ring::hmac;

use super::{AddrError, InterfaceId, SecretKey};

/// RFC 7217 section 7: hosts SHOULD try at least this many new tentative
/// addresses, each with DAD_Counter one higher, after DAD fails (section 6).
pub const IDGEN_RETRIES: u8 = 3;

/// RFC 7217 section 7: the upper bound of the random delay a host SHOULD
/// wait before trying the next tentative address (section 6), so hosts that
/// collided do not retry in lockstep. Seconds.
pub const IDGEN_DELAY_SECS: u64 = 1;

/// An identifier from [`StableIdGenerator::generate`] with the DAD_Counter
/// that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StableIid {
    pub iid: InterfaceId,
    /// May be higher than the counter asked for, when reserved identifiers
    /// were skipped. After a DAD conflict on `iid`, ask again with
    /// `dad_counter + 1`, not with the old request + 1: the latter would
    /// return this same identifier.
    pub dad_counter: u8,
}

/// Computes RFC 7217 identifiers:
/// RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key).
///
/// F() is HMAC-SHA-256 keyed with the secret key. RFC 7217 section 5 asks for
/// a PRF that cannot be computed or reversed without the key and names SHA-1
/// and SHA-256 as options; a keyed HMAC is a PRF by construction, which a
/// plain hash of the concatenation with the key appended is only by
/// assumption.
#[derive(Clone)]
pub struct StableIdGenerator {
    // Boxed: the key schedule is hundreds of bytes and would bloat every
    // enum that holds a generator.
    key: Box<hmac::Key>,
}

impl StableIdGenerator {
    pub fn new(secret: &SecretKey) -> Self {
        Self {
            key: Box::new(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())),
        }
    }

    /// The identifier for `prefix` (only its first 64 bits are used) on the
    /// interface named by `net_iface`, optionally tied to a network (such as
    /// a Wi-Fi SSID), at `dad_counter` (0 for the first try).
    ///
    /// Reserved identifiers (RFC 5453) are skipped by incrementing the
    /// counter, as RFC 7217 section 5 says to treat them like a DAD conflict;
    /// the counter used is returned. The caller must also treat an identifier
    /// that is already in use on the same interface and prefix as a conflict
    /// (same section), and bound its retries by [`IDGEN_RETRIES`].
    pub fn generate(
        &self,
        prefix: Ipv6Addr,
        net_iface: &[u8],
        network_id: Option<&[u8]>,
        dad_counter: u8,
    ) -> Result<StableIid, AddrError> {
        first_unreserved(dad_counter, |c| self.rid(prefix, net_iface, network_id, c))
    }

    /// F(). Each field is length-prefixed (and Network_ID's presence flagged)
    /// so that no two distinct inputs concatenate to the same message: with a
    /// bare concatenation, interface "eth1" on network "0" and interface
    /// "eth10" with no network would share every identifier.
    fn rid(
        &self,
        prefix: Ipv6Addr,
        net_iface: &[u8],
        network_id: Option<&[u8]>,
        dad_counter: u8,
    ) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&prefix.octets()[..8]);
        ctx.update(&(net_iface.len() as u64).to_be_bytes());
        ctx.update(net_iface);
        match network_id {
            Some(id) => {
                ctx.update(&[1]);
                ctx.update(&(id.len() as u64).to_be_bytes());
                ctx.update(id);
            }
            None => ctx.update(&[0]),
        }
        ctx.update(&[dad_counter]);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

impl fmt::Debug for StableIdGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StableIdGenerator { key: <redacted> }")
    }
}

/// The identifier of a 256-bit RID: its 64 least significant bits, as RFC
/// 7217 section 5 step 2 says ("starting from the least significant bit"),
/// reading the HMAC output as one big-endian number.
fn iid_of_rid(rid: &[u8; 32]) -> InterfaceId {
    let mut iid = [0u8; 8];
    iid.copy_from_slice(&rid[24..]);
    InterfaceId(iid)
}

/// Runs `f` from `start` upward until its identifier is not reserved. Split
/// out so tests can feed it forged PRF output that hits a reserved value.
fn first_unreserved(start: u8, mut f: impl FnMut(u8) -> [u8; 32]) -> Result<StableIid, AddrError> {
    let mut counter = start;
    loop {
        let iid = iid_of_rid(&f(counter));
        if !iid.is_reserved() {
            return Ok(StableIid {
                iid,
                dad_counter: counter,
            });
        }
        // Unreachable in practice (about 2^-39 per try), but the counter is
        // a u8 and must not wrap back onto identifiers already tried.
        counter = counter
            .checked_add(1)
            .ok_or(AddrError::DadCounterExhausted)?;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn generator(byte: u8) -> StableIdGenerator {
        StableIdGenerator::new(&SecretKey::from_bytes([byte; 32]))
    }

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn gen_iid(
        g: &StableIdGenerator,
        prefix: &str,
        iface: &str,
        net: Option<&str>,
        c: u8,
    ) -> InterfaceId {
        g.generate(a(prefix), iface.as_bytes(), net.map(str::as_bytes), c)
            .unwrap()
            .iid
    }

    #[test]
    fn stable_for_same_inputs() {
        let g = generator(7);
        let one = gen_iid(&g, "2001:db8::", "eth0", None, 0);
        assert_eq!(one, gen_iid(&g, "2001:db8::", "eth0", None, 0));
        // A second generator from the same key agrees: nothing but the
        // inputs determines the output.
        assert_eq!(one, gen_iid(&generator(7), "2001:db8::", "eth0", None, 0));
        // Only the first 64 bits of the prefix matter.
        assert_eq!(one, gen_iid(&g, "2001:db8::1:2:3:4", "eth0", None, 0));
    }

    #[test]
    fn each_input_changes_the_identifier() {
        let g = generator(7);
        let base = gen_iid(&g, "2001:db8::", "eth0", None, 0);
        let others = [
            gen_iid(&g, "2001:db8:0:1::", "eth0", None, 0),
            gen_iid(&g, "fe80::", "eth0", None, 0),
            gen_iid(&g, "2001:db8::", "eth1", None, 0),
            gen_iid(&g, "2001:db8::", "eth0", Some("ssid"), 0),
            gen_iid(&g, "2001:db8::", "eth0", Some(""), 0),
            gen_iid(&g, "2001:db8::", "eth0", None, 1),
            gen_iid(&generator(8), "2001:db8::", "eth0", None, 0),
        ];
        for (i, o) in others.iter().enumerate() {
            assert_ne!(base, *o, "input {i} did not change the identifier");
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let g = generator(7);
        assert_ne!(
            gen_iid(&g, "2001:db8::", "eth1", Some("0"), 0),
            gen_iid(&g, "2001:db8::", "eth10", None, 0)
        );
        assert_ne!(
            gen_iid(&g, "2001:db8::", "eth1", Some("0"), 0),
            gen_iid(&g, "2001:db8::", "eth10", Some(""), 0)
        );
    }

    #[test]
    fn known_answer() {
        // Pins the input encoding: changing it would silently renumber every
        // deployed host, so a change must be deliberate and show up here.
        let g = generator(0);
        let got = g.generate(a("2001:db8::"), b"eth0", None, 0).unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[0u8; 32]);
        let mut msg = Vec::new();
        msg.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0]);
        msg.extend_from_slice(&4u64.to_be_bytes());
        msg.extend_from_slice(b"eth0");
        msg.push(0); // no Network_ID
        msg.push(0); // DAD_Counter
        let tag = hmac::sign(&key, &msg);
        assert_eq!(got.iid.octets()[..], tag.as_ref()[24..32]);
        assert_eq!(got.dad_counter, 0);
    }

    #[test]
    fn least_significant_bits_are_taken() {
        let mut rid = [0xaa; 32];
        rid[24..].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(iid_of_rid(&rid).octets(), [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn reserved_identifier_bumps_the_counter() {
        // Forge F() so counters 0 and 1 yield reserved identifiers
        // (Subnet-Router Anycast, then Proxy Mobile IPv6).
        let forged = |c: u8| {
            let mut rid = [0x11; 32];
            match c {
                0 => rid[24..].copy_from_slice(&[0; 8]),
                1 => rid[24..].copy_from_slice(&[0x02, 0, 0x5e, 0xff, 0xfe, 0, 0x52, 0x13]),
                _ => rid[31] = c,
            }
            rid
        };
        let got = first_unreserved(0, forged).unwrap();
        assert_eq!(got.dad_counter, 2);
        assert_eq!(
            got.iid.octets(),
            [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 2]
        );
        // The caller's next try after a DAD conflict starts past it.
        let next = first_unreserved(got.dad_counter + 1, forged).unwrap();
        assert_eq!(next.dad_counter, 3);
        assert_ne!(next.iid, got.iid);
    }

    #[test]
    fn counter_never_wraps() {
        let always_reserved = |_| [0u8; 32];
        assert!(matches!(
            first_unreserved(250, always_reserved),
            Err(AddrError::DadCounterExhausted)
        ));
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", generator(0x5a)).contains("5a"));
    }
}
