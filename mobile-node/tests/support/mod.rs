//! What the namespace tests of `mip6-mn` share: the binary under test and a
//! router advertising a prefix with the project's RA sender.

use mip6_common::radv::{PrefixConfig, RaContent, RaTiming};
use mip6_common::sys::radv_io::RaSender;
use mip6_testbed::harness::Node;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub const MN: &str = env!("CARGO_BIN_EXE_mip6-mn");

/// Whether `a` is in the /64 `prefix`.
#[allow(dead_code)]
pub fn in_prefix(a: &Ipv6Addr, prefix: &Ipv6Addr) -> bool {
    a.segments()[..4] == prefix.segments()[..4]
}

/// A router advertising one /64 prefix on one interface, with our RA
/// sender in its namespace, until dropped.
pub struct OwnRouter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<mip6_testbed::harness::Result<std::io::Result<()>>>>,
}

impl OwnRouter {
    #[allow(dead_code)]
    pub fn start(router: &Node, ifname: &'static str, prefix: Ipv6Addr) -> OwnRouter {
        Self::start_with(router, ifname, prefix, false)
    }

    /// A managed link (RFC 4861 4.2): M=1 and O=1, the prefix on-link but
    /// not autonomous, so addresses come only from a DHCPv6 server.
    #[allow(dead_code)]
    pub fn start_managed(router: &Node, ifname: &'static str, prefix: Ipv6Addr) -> OwnRouter {
        Self::start_with(router, ifname, prefix, true)
    }

    fn start_with(
        router: &Node,
        ifname: &'static str,
        prefix: Ipv6Addr,
        managed: bool,
    ) -> OwnRouter {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = router
            .thread_in(move || {
                let content = RaContent {
                    managed,
                    other: managed,
                    prefixes: vec![PrefixConfig {
                        prefix,
                        len: 64,
                        valid: Some(86400),
                        preferred: Some(14400),
                        on_link: true,
                        autonomous: !managed,
                        router_address: None,
                    }],
                    ..RaContent::default()
                };
                let timing = RaTiming::mobile(Duration::from_millis(500));
                let mut sender = RaSender::open(ifname, content, timing, 7)?;
                sender.run(&flag)
            })
            .expect("RA sender thread");
        OwnRouter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for OwnRouter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let r = t.join().expect("RA sender thread panicked");
            if !std::thread::panicking() {
                r.expect("enter namespace").expect("RA sender failed");
            }
        }
    }
}
