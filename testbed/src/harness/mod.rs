//! Network-namespace test harness: real networks out of Linux namespaces,
//! veth pairs and bridges, always removed afterwards.
//!
//! A [`Lab`] owns one test run. Every namespace it creates is named
//! `<prefix>-<node>` with a unique prefix `m6PPPPPPCC` (creator pid in hex,
//! per-process counter); bridges live in the lab's switch namespace
//! `<prefix>-sw`, so nothing is ever created in, or changed in, the root
//! namespace. Removal happens
//!
//! - when the `Lab` is dropped, including during a panic's unwinding
//!   (processes inside are killed first; failures are logged, never
//!   panicked on);
//! - on SIGINT or SIGTERM, by a handler installed with the first lab, which
//!   removes every live lab of the process and exits with 128 + signal
//!   (130, 143);
//! - for runs that were SIGKILLed, by [`sweep_stale`] at the next
//!   [`Lab::new`]: namespaces of the scheme whose creator pid is dead.
//!
//! ```no_run
//! use std::time::Duration;
//! use mip6_testbed::harness::{Lab, NodeOptions};
//!
//! # fn main() -> mip6_testbed::harness::Result<()> {
//! let lab = Lab::new("example")?;
//! let fast = NodeOptions::default().no_dad_delay();
//! let (a, b) = (lab.node_with("a", &fast)?, lab.node_with("b", &fast)?);
//! let home = lab.link("home")?;
//! let (ia, ib) = (lab.attach(&a, &home, "eth0")?, lab.attach(&b, &home, "eth0")?);
//! let lla = ia.wait_link_local(lab.timeouts().addr)?;
//! ib.wait_link_local(lab.timeouts().addr)?;
//! assert!(b.ping6(&format!("{lla}%eth0"), Duration::from_secs(2))?);
//! let away = lab.link("away")?;
//! lab.move_iface(&ib, &away)?; // b's eth0 sees NO-CARRIER, then the new link
//! # Ok(()) }
//! ```

mod child;
mod cmd;
mod error;
mod iface;
mod ipjson;
mod lab;
pub mod naming;
mod netns;
mod node;
mod preflight;
mod registry;
mod sweep;
mod wait;

pub use child::Child;
pub use cmd::CmdOutput;
pub use error::{HarnessError, Result};
pub use iface::{Iface, Link};
pub use ipjson::{AddrInfo, LinkState};
pub use lab::{AttachOptions, Lab, LabOptions, MoveOptions, Timeouts};
pub use netns::{NETNS_DIR, list as list_netns, pid_alive};
pub use node::{Node, NodeOptions};
pub use preflight::{check_kernel, require_root};
pub use registry::{install_signal_handler, live_prefixes};
pub use sweep::{SweepReport, sweep_stale, sweep_stale_with};
pub use wait::poll;
