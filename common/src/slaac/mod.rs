//! Stateless address autoconfiguration with Duplicate Address Detection,
//! sans-IO (RFC 4862, RFC 4861 host side, RFC 4429 optimistic DAD, RFC 7527
//! enhanced DAD, RFC 8981 lifetimes for random identifiers).
//!
//! One [`Slaac`] engine runs per interface. The I/O shell feeds it link
//! events, parsed Router Advertisements and Neighbor Solicitations and
//! Advertisements, and the current time; it answers with [`Action`]s (packets
//! to send, addresses and routes to install) and timestamped [`Event`]s, and
//! says with [`Slaac::poll_timeout`] when it next wants to be woken.

mod engine;
mod types;

pub use engine::Slaac;
pub use types::*;
