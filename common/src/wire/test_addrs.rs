//! The addresses the wire tests share, those of the interop captures
//! (shared/interop/README.md): one place, so fixtures from different
//! formats agree on who is who.

use std::net::Ipv6Addr;

pub(crate) fn a(s: &str) -> Ipv6Addr {
    s.parse().expect("test address")
}

pub(crate) fn ha() -> Ipv6Addr {
    a("2001:db8:1::1")
}

pub(crate) fn hoa() -> Ipv6Addr {
    a("2001:db8:1::100")
}

pub(crate) fn coa() -> Ipv6Addr {
    a("2001:db8:2::100")
}

pub(crate) fn cn() -> Ipv6Addr {
    a("2001:db8:3::5")
}
