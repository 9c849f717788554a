//! mip6-common: the sans-IO protocol library both mip6 daemons stand on.
//!
//! `wire` holds packet formats (views over bytes plus `Repr` structs),
//! `addr` interface identifiers and prefix arithmetic. Nothing here reads a
//! clock or touches a socket except `sys`.

pub mod addr;
pub mod binding;
pub mod config_check;
pub mod dataplane;
pub mod dhcp6;
pub mod movement;
pub mod radv;
pub mod ratelimit;
pub mod slaac;
pub mod sys;
pub mod testing;
pub mod timed;
pub mod wire;
