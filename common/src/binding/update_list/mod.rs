//! The mobile node's home registration: its Binding Update List entry for
//! the home agent (RFC 6275 11.7.1, 11.7.3, 11.8, 11.5.4), sans-IO.
//!
//! [`HomeRegistration`] sends a Binding Update (A and H set, K clear, the
//! sequence number one more than the last, the Home Address option left to
//! the shell) when the shell reports a new care-of address, and a
//! deregistration (lifetime 0, care-of address = home address, sent from the
//! home address) when it reports the node is home. Each BU carries the
//! MN-ID option (RFC 4283) when an NAI is configured and, when a key is, the
//! Mesg-ID option (RFC 4285 6, an NTP timestamp from the caller's wall
//! clock) and the MN-HA authentication option, computed over the emitted BU
//! (RFC 4285 5.1). The checksum is filled over the home address and the
//! home agent address, so the shell sends [`Action::SendBu`]'s bytes as they
//! are.
//!
//! A BU away from home carries the care-of address in an Alternate Care-of
//! Address option (RFC 6275 11.7.1), so the authenticator covers it, and
//! asks for no longer than the care-of address stays valid
//! ([`HomeRegistration::set_coa_lifetime`]). No more than MAX_UPDATE_RATE
//! (3) BUs leave in any second (RFC 6275 11.8, 12): a fourth waits.
//!
//! A BA counts only when it comes from the home agent, verifies under the
//! key (when one is configured), and answers the BU in flight: it carries
//! that BU's sequence number, or, for 135 (which carries the home agent's
//! number), echoes that BU's Mesg-ID. An accepting BA must echo the Mesg-ID
//! too. A signed BA replayed from an earlier exchange, and an unsigned
//! rejection (the home agent signs no answer to a BU that did not verify),
//! change nothing. Then:
//!
//! - 0 or 1: registered for the granted lifetime, counted from when that BU
//!   was sent; a refresh goes out when `refresh_fraction` of it has passed,
//!   or earlier when the BA carried a Binding Refresh Advice. 1 also raises
//!   [`EventKind::PrefixDiscoveryNeeded`].
//! - 135: the BA carries the home agent's last accepted number; the next BU
//!   (sent at once) continues from it (RFC 6275 11.7.3).
//! - 144 (MIPV6-ID-MISMATCH): the BA's Mesg-ID is the home agent's clock;
//!   later timestamps are shifted by the difference and the BU is sent
//!   again at once (RFC 4285 6).
//! - 133 to a deregistration: the home agent had no binding, which is what
//!   deregistering wanted (RFC 6275 11.5.4 and 10.3.2).
//! - anything else: [`EventKind::RegistrationFailed`], then a new attempt
//!   after `retry_after_error`.
//!
//! Retransmission (RFC 6275 11.8): the first wait is
//! InitialBindackTimeoutFirstReg (1.5 s, section 13) when the home agent has
//! no binding for us, INITIAL_BINDACK_TIMEOUT (1 s, section 12) otherwise,
//! doubling up to MAX_BINDACK_TIMEOUT (32 s) and then staying there, or
//! giving up after `max_retransmissions`. Every retransmission is a new BU
//! with a new sequence number (11.7.1: each BU's number is greater than the
//! previous one's) and a new timestamp.
//!
//! A home agent that rebooted and forgot us either accepts the next BU as a
//! first registration (it must accept any sequence number when it has no
//! entry, 9.5.1), or tells us with a Binding Error status 1 when our traffic
//! carries a Home Address option ([`HomeRegistration::handle_binding_error`]):
//! we register again at once. A Binding Refresh Request from the home agent
//! is answered with a BU at once (11.7.4).

mod engine;
mod types;

#[cfg(test)]
mod tests;

pub use engine::HomeRegistration;
pub use types::*;
