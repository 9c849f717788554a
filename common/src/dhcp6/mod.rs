//! DHCPv6 client for stateful address autoconfiguration (RFC 8415), sans-IO.
//!
//! One [`Dhcp6`] engine runs per interface and leases one address in one
//! IA_NA: Solicit/Advertise/Request/Reply (or Solicit/Reply with Rapid
//! Commit), Renew and Rebind at T1 and T2, Confirm when the link comes back,
//! Release when leaving, Decline when DAD finds the address taken, and the
//! RFC 8415 section 15 retransmission rules with jitter from an injected
//! generator. The wire format is `dhcproto`'s; the state machine is ours.
//!
//! The I/O shell sends and receives the UDP datagrams (port 546 on the
//! link-local address, to ff02::1:2 port 547), carries out the
//! [`Dhcp6Action`]s and runs DAD on the leased address: the SLAAC engine's
//! [`crate::slaac::Slaac::add_managed_address`] does that, standard or
//! optimistic, and reports a conflict for [`Dhcp6::handle_dad_conflict`].

mod engine;
mod types;

pub use engine::{Dhcp6, Dhcp6Drop};
pub use types::*;

#[cfg(test)]
mod tests;
