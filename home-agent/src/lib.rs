//! mip6-ha, the Mobile IPv6 home agent: configuration, the daemon's I/O
//! shell around `mip6_common::binding::BindingCache`, its control socket and
//! metrics.
//!
//! Decisions worth knowing:
//! - one `poll(2)` loop drives the signalling; the control socket and the
//!   metrics endpoint are threads reading what it publishes (`state`);
//! - proxy ND is the kernel's (netlink proxy neighbour entries with
//!   `proxy_ndp`), plus our own unsolicited NAs with O=1 on registration;
//! - the data plane plugs in through [`tunnel::TunnelPlane`].

pub mod config;
pub mod control;
pub mod dad;
pub mod daemon;
pub mod halist;
pub mod home_link;
pub mod icmp_io;
pub mod metrics;
pub mod observe;
pub mod persist;
pub mod preflight;
pub mod state;
pub mod tunnel;
