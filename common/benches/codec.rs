//! Parse and emit cost of the messages on the hot signalling paths: the BU
//! and BA every handover exchanges, and the RA and NS every link visit sees.
//! Run: cargo bench -p mip6-common --bench codec

use criterion::{Criterion, criterion_group, criterion_main};
use mip6_common::wire::mh::{
    BaFlags, BaStatus, BindingAck, BindingUpdate, BuFlags, MhOption, MhRepr, mn_ha_sign,
};
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

criterion_group!(benches, mh);
criterion_main!(benches);
