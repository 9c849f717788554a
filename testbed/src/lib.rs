//! mip6 testbed: topologies of network namespaces for end-to-end tests,
//! scenarios and measurements.

pub mod build;
pub mod daemons;
pub mod demo;
pub mod dhcp6_server;
pub mod harness;
pub mod probe;
pub mod report;
pub mod run;
pub mod scenario;
pub mod topology;
pub mod traffic;
