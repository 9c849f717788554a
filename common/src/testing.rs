//! Support for the tests of every crate in the workspace.

/// Whether the running test may go on: `true` as root. As a normal user it
/// writes `skipped: needs root` with the test's name straight to stderr
/// (past the harness's capture, so the reader sees which tests did not
/// run) and returns `false`. With `CI` set a non-root run panics: CI must
/// run every test, never skip one silently.
pub fn running_as_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{test} needs root, and CI runs every test: run the tests as root");
    }
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: needs root: {test} (it builds network namespaces or opens raw sockets)"
    );
    false
}

/// First line of a test that needs root (namespaces, raw sockets, TUN):
/// returns from the test with `skipped: needs root` on stderr unless it
/// runs as root. See [`testing::running_as_root`](crate::testing::running_as_root).
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::testing::running_as_root() {
            return;
        }
    };
}

/// `mip6-{tag}-{pid}` in the temporary directory: a path of this test
/// process's own, so parallel runs of the suite (and the other tests of this
/// run, with another `tag`) never share sockets, locks or files.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("mip6-{tag}-{}", std::process::id()))
}

/// A Router Advertisement as a home agent's router sends it (RFC 6275 7.1,
/// 7.2): hop limit 64, H flag, lifetime 1800 s; options SLLA `mac`, MTU
/// 1500, the prefix of `router` /64 with the R flag, Advertisement
/// Interval `adv_interval_ms`, Home Agent Information (preference 10,
/// 1800 s). Tests set the other fields with `..` on top of it.
pub fn ha_router_advert(
    mac: [u8; 6],
    router: std::net::Ipv6Addr,
    adv_interval_ms: u32,
) -> crate::wire::nd::RouterAdvert {
    use crate::wire::nd::{HomeAgentInfo, NdOption, PrefixInformation, RouterAdvert};
    RouterAdvert {
        cur_hop_limit: 64,
        home_agent: true,
        router_lifetime: 1800,
        options: vec![
            NdOption::source_mac(mac),
            NdOption::mtu(1500),
            NdOption::PrefixInformation(PrefixInformation {
                router_address: true,
                ..PrefixInformation::new(router, 64, 86_400, 14_400)
            }),
            NdOption::adv_interval(adv_interval_ms),
            NdOption::HomeAgentInformation(HomeAgentInfo::new(10, 1800)),
        ],
        ..RouterAdvert::default()
    }
}
