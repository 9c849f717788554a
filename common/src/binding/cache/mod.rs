//! The home agent's binding cache (RFC 6275 9.5, 10.3), sans-IO.
//!
//! [`BindingCache::handle_bu`] runs every check of RFC 6275 9.5.1, 10.3.1
//! and 10.3.2 and of RFC 4285 on one Binding Update, in this order, and
//! answers with the first status that applies:
//!
//! | # | check | status |
//! |---|-------|--------|
//! | 0 | home address (HAO, else source) or source not unicast routable; Nonce Indices in a home registration (9.5.1) | silently dropped |
//! | 1 | MN-HA option missing (unless `allow_unauthenticated`), unknown SPI, wrong authenticator, not the last option (RFC 4285 5); the BA is unsigned | 146 |
//! | 2 | MN-ID option names someone other than the SPI's owner (RFC 4285, RFC 4283) | 146 |
//! | 3 | the SPI's owner asks for another node's home address | 133 |
//! | 3 | unauthenticated (lab mode) BU for a home address that has a key | 129 |
//! | 4 | Mesg-ID missing (RFC 4285 6) | 145 |
//! | 4 | Mesg-ID outside the replay window, or not newer than the last accepted one (RFC 4285 6); the BA carries the HA's time | 144 |
//! | 5 | sequence number not newer than the binding's (9.5.1); the BA carries the binding's number | 135 |
//! | 6 | H flag clear: a home registration exists (9.5.1) | 139 |
//! | 6 | H flag clear, no home registration: we are no correspondent node | silently dropped |
//! | 7 | destination is not one of our home agent addresses (10.3.1) | 131 |
//! | 8 | deregistration (lifetime 0 or CoA = HoA) without a binding (10.3.2) | 133 |
//! | 9 | home address not on a valid home prefix (10.3.1) | 132 |
//! | 10 | care-of address is the home address of another binding (6.1.7) | silently dropped |
//! | 10 | care-of address not unicast routable, one of ours, or on a home prefix | 174 |
//! | 11 | a new binding beyond `max_bindings` | 130 |
//! | 12 | Duplicate Address Detection of a new home address fails (10.3.1) | 134 |
//! | - | accepted; lifetime cut by the home prefix's valid lifetime and `prefix_discovery_status` | 1 |
//! | - | accepted | 0 |
//!
//! A rejected BU changes nothing in the cache. Every rejection, and every
//! home registration or deregistration, is acknowledged whatever the A flag
//! says (RFC 6275 9.5.4, 10.3.1, 10.3.2; the TAHI tests HA_2_2_5,
//! HA_2_6_10, HA_3_2_12 send A=0 and expect the BA). The BA carries the
//! BU's sequence number (the binding's for 135), the granted lifetime (0
//! for errors), the K flag clear (no key management mobility), and, when
//! the BU carried them, the MN-ID option, the Mesg-ID option (echoing the
//! BU's timestamp, or the HA's time for 144) and the MN-HA option, computed
//! over the emitted BA. A BU whose authenticator did not verify is answered
//! unsigned: a forger gets no signed answer over fields of its choosing.
//!
//! The care-of address is the Alternate Care-of Address option's when the
//! BU has one (RFC 6275 6.2.5, 11.7.1), else the IPv6 source; it is checked
//! as a care-of address, and it is the care-of address of the
//! authenticator's Mobility Data both ways (RFC 4285 5.1, RFC 6275 6.2.7),
//! so the address registered is the address the mobile node signed.
//!
//! The granted lifetime is the least of the requested one, `max_lifetime`
//! and what remains of the home prefix's valid lifetime (10.3.1), rounded
//! down to the 4-second unit of the wire; the binding lives exactly as long
//! as the BA says.
//!
//! A first registration for a home address waits for the shell's Duplicate
//! Address Detection on the home link ([`Action::StartDad`], answered with
//! [`BindingCache::handle_dad_result`]) when `dad_before_accept` is set; BUs
//! for that address meanwhile replace the pending one, and the latest is
//! answered once DAD is done. With the L flag the shell checks (and later
//! defends) the link-local address with the same interface identifier too.

mod engine;
mod types;

#[cfg(test)]
mod tests;

pub use engine::BindingCache;
pub use types::*;
