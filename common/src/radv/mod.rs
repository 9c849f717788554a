//! Router Advertisement sender, sans-IO (RFC 4861 6.2, RFC 6275 7.5).
//!
//! The scheduling rules live in [`RaScheduler`]: when to multicast an
//! unsolicited advertisement, how to answer a Router Solicitation without
//! flooding the link. The testbed's routers and the home agent both use it.

mod content;
mod schedule;

pub use content::{HomeAgentConfig, PrefixConfig, RaContent};
pub use schedule::{RaScheduler, RaTiming};
