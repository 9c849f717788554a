//! mip6 testbed: topologies of network namespaces for end-to-end tests,
//! scenarios and measurements.

pub mod build;
pub mod harness;
pub mod probe;
pub mod report;
pub mod topology;
pub mod traffic;
