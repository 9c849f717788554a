//! The Mobile IPv6 mobile node: configuration, the daemon behind
//! `mip6-mn run`, its control socket and status, and the tunnel data plane
//! interface.

pub mod config;
pub mod control;
pub mod daemon;
pub mod dhaad;
pub mod dhcp6;
pub mod history;
pub mod iface;
pub mod metrics;
pub mod status;
pub mod tunnel;
