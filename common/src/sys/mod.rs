#![cfg(target_os = "linux")]

//! Linux I/O for the daemons: rtnetlink, Neighbor Discovery sockets and
//! per-interface sysctls. Thin and synchronous: every socket type exposes
//! `AsRawFd`/`AsFd` and a non-blocking mode so the daemons can wrap it in
//! tokio's `AsyncFd`.
//!
//! Everything here acts on the network namespace of the calling thread.

pub mod icmp6;
pub mod netlink;
pub mod sysctl;
