//! Parse and emit cost of the messages on the hot signalling paths: the BU
//! and BA every handover exchanges, and the RA and NS every link visit sees.
//! Run: cargo bench -p mip6-common --bench codec

use criterion::{Criterion, criterion_group, criterion_main};
use mip6_common::wire::exthdr::parse_ipv6;
use mip6_common::wire::mh::{
    BaFlags, BaStatus, BindingAck, BindingUpdate, BuFlags, MhOption, MhRepr, mn_ha_sign,
};
use mip6_common::wire::nd::{NdRepr, NeighborSolicit};
use std::hint::black_box;
use std::net::Ipv6Addr;

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const KEY: &[u8] = b"0123456789abcdef0123";

/// The BU our mobile node sends: MN-ID, Mesg-ID and MN-HA authentication.
fn bu() -> MhRepr {
    MhRepr::BindingUpdate(BindingUpdate {
        sequence: 7,
        flags: BuFlags::A | BuFlags::H,
        lifetime: 150,
        options: vec![
            MhOption::MobileNodeId {
                subtype: 1,
                identifier: b"mn1@example.com".to_vec(),
            },
            MhOption::ReplayProtection {
                timestamp: 0x0123_4567_89ab_cdef,
            },
            MhOption::MobilityAuth {
                subtype: 1,
                spi: 256,
                auth_data: vec![0; 12],
            },
        ],
    })
}

fn ba() -> MhRepr {
    MhRepr::BindingAck(BindingAck {
        status: BaStatus::ACCEPTED,
        flags: BaFlags::default(),
        sequence: 7,
        lifetime: 150,
        options: vec![MhOption::BindingRefreshAdvice {
            refresh_interval: 120,
        }],
    })
}

fn mh(c: &mut Criterion) {
    for (name, repr, src, dst) in [("bu", bu(), HOA, HA), ("ba", ba(), HA, HOA)] {
        let bytes = repr.to_bytes_with_checksum(&src, &dst).expect("emit");
        c.bench_function(&format!("{name}/parse"), |b| {
            b.iter(|| MhRepr::parse_bytes(black_box(&bytes)).expect("parse"))
        });
        let mut buf = vec![0u8; repr.buffer_len()];
        c.bench_function(&format!("{name}/emit"), |b| {
            b.iter(|| black_box(&repr).emit(&mut buf).expect("emit"))
        });
    }
    let mut signed = bu().to_bytes().expect("emit");
    c.bench_function("bu/emit+sign (HMAC-SHA1-96)", |b| {
        b.iter(|| {
            bu().emit(&mut signed).expect("emit");
            mn_ha_sign(KEY, &COA, &HOA, black_box(&mut signed)).expect("sign")
        })
    });
}

/// An RA as a home agent's router sends it: SLLA, MTU, prefix with R,
/// Advertisement Interval, Home Agent Information.
fn ra() -> NdRepr {
    NdRepr::RouterAdvert(mip6_common::testing::ha_router_advert(
        [2, 0, 0, 0, 0, 1],
        HA,
        1000,
    ))
}

/// A DAD probe with an RFC 7527 nonce.
fn ns() -> NdRepr {
    NdRepr::NeighborSolicit(NeighborSolicit::dad(COA, Some([1, 2, 3, 4, 5, 6])))
}

fn nd(c: &mut Criterion) {
    let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    for (name, repr) in [("ra", ra()), ("ns", ns())] {
        let bytes = repr.to_bytes_with_checksum(&ll, &all_nodes).expect("emit");
        c.bench_function(&format!("{name}/parse"), |b| {
            b.iter(|| NdRepr::from_bytes(black_box(&bytes)).expect("parse"))
        });
        c.bench_function(&format!("{name}/parse+verify checksum"), |b| {
            b.iter(|| NdRepr::parse_verified(black_box(&bytes), &ll, &all_nodes).expect("parse"))
        });
        let mut buf = vec![0u8; repr.buffer_len()];
        c.bench_function(&format!("{name}/emit"), |b| {
            b.iter(|| black_box(&repr).emit(&mut buf).expect("emit"))
        });
    }
}

/// The yardstick: etherparse, a widely used packet library, slicing the same
/// whole BU packet (IPv6 header, destination options, payload) that our
/// chain walker parses, so the figures can be read as a ratio.
fn chain(c: &mut Criterion) {
    let mh = bu().to_bytes_with_checksum(&HOA, &HA).expect("emit");
    let mut ip = mip6_common::wire::exthdr::Ipv6Repr::new(COA, HA, 135);
    ip.home_address_option = Some(HOA);
    let packet = ip.build(&mh).expect("build").bytes;
    c.bench_function("bu packet/ours: parse_ipv6 (HAO found)", |b| {
        b.iter(|| {
            parse_ipv6(black_box(&packet))
                .expect("parse")
                .home_address()
        })
    });
    c.bench_function("bu packet/etherparse: Ipv6Slice::from_slice", |b| {
        b.iter(|| etherparse::Ipv6Slice::from_slice(black_box(&packet)).expect("parse"))
    });
}

criterion_group!(benches, mh, nd, chain);
criterion_main!(benches);
