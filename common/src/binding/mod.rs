//! Home registration bindings, sans-IO (RFC 6275 sections 9.5, 10.3, 11.7,
//! 11.8 and 12; RFC 4285 for the MN-HA authentication and replay
//! protection options; RFC 4283 for the mobile node identifier).
//!
//! - [`seq`]: Binding Update sequence numbers, compared modulo 2^16.
//! - [`ntp`]: the 64-bit NTP timestamps of the replay protection option and a
//!   wall clock the engines extrapolate from the caller's samples.
//! - [`cache`]: the home agent's binding cache ([`BindingCache`]).
//! - [`update_list`]: the mobile node's home registration
//!   ([`HomeRegistration`]).
//!
//! Both engines follow the project's sans-IO style (see `slaac`): the I/O
//! shell calls `handle_*` with the current [`std::time::Instant`], drains
//! `poll_action` and `poll_event`, and calls `handle_timeout` when
//! `poll_timeout` says. They never read a clock; wall-clock time (for the
//! RFC 4285 timestamps) comes from the caller through `set_wall_clock`.
//!
//! Messages leave the engines finished: emitted, signed with the MN-HA
//! authenticator when a key is configured, and with the Mobility Header
//! checksum filled over the pseudo-header of the home address and the home
//! agent address (see `wire::mh` for why those two).

pub mod cache;
pub mod ntp;
pub mod seq;
pub mod update_list;

mod msg;

#[cfg(test)]
mod e2e_tests;

pub use cache::BindingCache;
pub use update_list::HomeRegistration;
