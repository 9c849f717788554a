//! mip6-ha, the Mobile IPv6 home agent: configuration, the daemon's I/O
//! shell around `mip6_common::binding::BindingCache`, its control socket and
//! metrics.

pub mod config;
