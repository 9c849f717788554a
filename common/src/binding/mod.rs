//! Home registration bindings, sans-IO (RFC 6275 sections 9.5, 10.3, 11.7,
//! 11.8 and 12; RFC 4285 for the MN-HA authentication and replay
//! protection options; RFC 4283 for the mobile node identifier).
//!
//! - [`seq`]: Binding Update sequence numbers, compared modulo 2^16.
//! - [`ntp`]: the 64-bit NTP timestamps of the replay protection option and a
//!   wall clock the engines extrapolate from the caller's samples.

pub mod ntp;
pub mod seq;
