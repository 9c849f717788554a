//! The packets of the interop suites: what scapy was told to build, as our
//! own values. Shared by the scapy and tshark tests.
#![allow(dead_code)]

use mip6_common::wire::checksum::proto;
use mip6_common::wire::dhaad::{
    DhaadRepr, HaadReply, HaadRequest, MobilePrefixAdvert, MobilePrefixSolicit,
};
use mip6_common::wire::exthdr::Ipv6Repr;
use mip6_common::wire::mh::{
    BaFlags, BaStatus, BeStatus, BindingAck, BindingError, BindingRefreshRequest, BindingUpdate,
    BuFlags, CareOfTest, CareOfTestInit, HomeTest, HomeTestInit, MhOption, MhRepr,
};
use mip6_common::wire::nd::{
    NdOption, NdRepr, NeighborAdvert, NeighborSolicit, PrefixInformation, RouterAdvert,
    RouterSolicit,
};
use std::collections::BTreeMap;
use std::net::Ipv6Addr;

pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
pub const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);
pub const MAC: [u8; 6] = [0x50, 0x46, 0x5d, 0x6b, 0x7a, 0x54];
pub const ROUTER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const NAI: &[u8] = b"mn1@example.com";

pub fn ip(s: &str) -> Ipv6Addr {
    s.parse().expect("address literal")
}

pub fn fixtures() -> BTreeMap<String, Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scapy_packets.json"
    );
    let text = std::fs::read_to_string(path).expect("scapy fixture file");
    let map: BTreeMap<String, String> = serde_json::from_str(&text).expect("fixture JSON");
    map.into_iter()
        .map(|(k, v)| {
            let bytes = (0..v.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&v[i..i + 2], 16).expect("hex"))
                .collect();
            (k, bytes)
        })
        .collect()
}

/// What the upper layer of a fixture must parse into.
pub enum Upper {
    Mh(MhRepr),
    Nd(NdRepr),
    Dhaad(DhaadRepr),
}

pub struct Expect {
    pub name: &'static str,
    pub ip: Ipv6Repr,
    pub upper: Upper,
}

pub fn hdr(src: Ipv6Addr, dst: Ipv6Addr, proto: u8) -> Ipv6Repr {
    let mut r = Ipv6Repr::new(src, dst, proto);
    r.hop_limit = 64;
    r
}

fn with_hao(mut r: Ipv6Repr) -> Ipv6Repr {
    r.home_address_option = Some(HOA);
    r
}

fn with_rh2(mut r: Ipv6Repr) -> Ipv6Repr {
    r.routing_home_address = Some(HOA);
    r
}

fn nd_hdr(src: Ipv6Addr, dst: Ipv6Addr) -> Ipv6Repr {
    let mut r = Ipv6Repr::new(src, dst, proto::ICMPV6);
    r.hop_limit = 255;
    r
}

pub fn auth_options(timestamp: u64) -> Vec<MhOption> {
    vec![
        MhOption::MobileNodeId {
            subtype: 1,
            identifier: NAI.to_vec(),
        },
        MhOption::ReplayProtection { timestamp },
        MhOption::MobilityAuth {
            subtype: 1,
            spi: 256,
            auth_data: (1..=12).collect(),
        },
    ]
}

pub fn expectations() -> Vec<Expect> {
    let mh = proto::MOBILITY;
    let icmp = proto::ICMPV6;
    let ah = BuFlags::A | BuFlags::H;
    let ll_mn = ip("fe80::5246:5dff:fe6b:7a54");
    let ll_router = ip("fe80::1");
    let sol_node = ip("ff02::1:ff6b:7a54");
    vec![
        Expect {
            name: "bu_home",
            ip: with_hao(hdr(COA, HA, mh)),
            upper: Upper::Mh(MhRepr::BindingUpdate(BindingUpdate {
                sequence: 4660,
                flags: ah,
                lifetime: 100,
                options: vec![MhOption::AltCareOfAddress(COA)],
            })),
        },
        Expect {
            name: "bu_auth",
            ip: with_hao(hdr(COA, HA, mh)),
            upper: Upper::Mh(MhRepr::BindingUpdate(BindingUpdate {
                sequence: 7,
                flags: ah,
                lifetime: 150,
                options: auth_options(0x0123_4567_89ab_cdef),
            })),
        },
        Expect {
            name: "bu_dereg",
            ip: with_hao(hdr(COA, HA, mh)),
            upper: Upper::Mh(MhRepr::BindingUpdate(BindingUpdate {
                sequence: 4661,
                flags: ah,
                lifetime: 0,
                options: vec![],
            })),
        },
        Expect {
            name: "ba_ok",
            ip: with_rh2(hdr(HA, COA, mh)),
            upper: Upper::Mh(MhRepr::BindingAck(BindingAck {
                status: BaStatus::ACCEPTED,
                flags: BaFlags::default(),
                sequence: 4660,
                lifetime: 100,
                options: vec![MhOption::BindingRefreshAdvice {
                    refresh_interval: 50,
                }],
            })),
        },
        Expect {
            name: "ba_seq_oow",
            ip: with_rh2(hdr(HA, COA, mh)),
            upper: Upper::Mh(MhRepr::BindingAck(BindingAck {
                status: BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW,
                flags: BaFlags::default(),
                sequence: 4000,
                lifetime: 0,
                options: vec![],
            })),
        },
        Expect {
            name: "ba_auth",
            ip: with_rh2(hdr(HA, COA, mh)),
            upper: Upper::Mh(MhRepr::BindingAck(BindingAck {
                status: BaStatus::ACCEPTED,
                flags: BaFlags::default(),
                sequence: 7,
                lifetime: 150,
                options: auth_options(0x0123_4567_89ab_cdef),
            })),
        },
        Expect {
            name: "brr",
            ip: hdr(HA, HOA, mh),
            upper: Upper::Mh(MhRepr::BindingRefreshRequest(BindingRefreshRequest {
                options: vec![],
            })),
        },
        Expect {
            name: "hoti",
            ip: hdr(HOA, CN, mh),
            upper: Upper::Mh(MhRepr::HomeTestInit(HomeTestInit {
                home_init_cookie: [0x11; 8],
                options: vec![],
            })),
        },
        Expect {
            name: "coti",
            ip: hdr(COA, CN, mh),
            upper: Upper::Mh(MhRepr::CareOfTestInit(CareOfTestInit {
                care_of_init_cookie: [0x22; 8],
                options: vec![],
            })),
        },
        Expect {
            name: "hot",
            ip: hdr(CN, HOA, mh),
            upper: Upper::Mh(MhRepr::HomeTest(HomeTest {
                home_nonce_index: 3,
                home_init_cookie: [0x11; 8],
                home_keygen_token: [0x33; 8],
                options: vec![],
            })),
        },
        Expect {
            name: "cot",
            ip: hdr(CN, COA, mh),
            upper: Upper::Mh(MhRepr::CareOfTest(CareOfTest {
                care_of_nonce_index: 4,
                care_of_init_cookie: [0x22; 8],
                care_of_keygen_token: [0x44; 8],
                options: vec![],
            })),
        },
        Expect {
            name: "bu_cn",
            ip: with_hao(hdr(COA, CN, mh)),
            upper: Upper::Mh(MhRepr::BindingUpdate(BindingUpdate {
                sequence: 9,
                flags: BuFlags::default(),
                lifetime: 60,
                options: vec![
                    MhOption::NonceIndices {
                        home_nonce_index: 3,
                        care_of_nonce_index: 4,
                    },
                    MhOption::BindingAuthData {
                        authenticator: (1..=12).collect(),
                    },
                ],
            })),
        },
        Expect {
            name: "be",
            ip: hdr(CN, COA, mh),
            upper: Upper::Mh(MhRepr::BindingError(BindingError {
                status: BeStatus::UNRECOGNIZED_MH_TYPE,
                home_address: HOA,
                options: vec![],
            })),
        },
        Expect {
            name: "rs",
            ip: nd_hdr(ll_mn, ip("ff02::2")),
            upper: Upper::Nd(NdRepr::RouterSolicit(RouterSolicit {
                reserved: 0,
                options: vec![NdOption::source_mac(MAC)],
            })),
        },
        Expect {
            name: "ra_home",
            ip: nd_hdr(ll_router, ip("ff02::1")),
            upper: Upper::Nd(NdRepr::RouterAdvert(RouterAdvert {
                managed: false,
                other: true,
                reachable_time: 30000,
                retrans_timer: 1000,
                ..mip6_common::testing::ha_router_advert(ROUTER_MAC, HA, 1000)
            })),
        },
        Expect {
            name: "ns_dad",
            ip: nd_hdr(Ipv6Addr::UNSPECIFIED, sol_node),
            upper: Upper::Nd(NdRepr::NeighborSolicit(NeighborSolicit::dad(
                ll_mn,
                Some([0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6]),
            ))),
        },
        Expect {
            name: "ns",
            ip: nd_hdr(ll_router, sol_node),
            upper: Upper::Nd(NdRepr::NeighborSolicit(NeighborSolicit::new(
                ll_mn,
                vec![NdOption::source_mac(ROUTER_MAC)],
            ))),
        },
        Expect {
            name: "na",
            ip: nd_hdr(ll_mn, ll_router),
            upper: Upper::Nd(NdRepr::NeighborAdvert(NeighborAdvert::new(
                ll_mn,
                false,
                true,
                true,
                vec![NdOption::target_mac(MAC)],
            ))),
        },
        Expect {
            name: "na_unsolicited",
            ip: nd_hdr(ip("fe80::2"), ip("ff02::1")),
            upper: Upper::Nd(NdRepr::NeighborAdvert(NeighborAdvert::new(
                HOA,
                true,
                false,
                true,
                vec![NdOption::target_mac(ROUTER_MAC)],
            ))),
        },
        Expect {
            name: "dhaad_req",
            ip: hdr(COA, ip("2001:db8:1:0:fdff:ffff:ffff:fffe"), icmp),
            upper: Upper::Dhaad(DhaadRepr::HaadRequest(HaadRequest {
                identifier: 0x1234,
                mobile_router: false,
                reserved: 0,
            })),
        },
        Expect {
            name: "dhaad_rep",
            ip: hdr(HA, COA, icmp),
            upper: Upper::Dhaad(DhaadRepr::HaadReply(HaadReply {
                identifier: 0x1234,
                mobile_router: false,
                reserved: 0,
                home_agents: vec![HA, ip("2001:db8:1::2")],
            })),
        },
        Expect {
            name: "mps",
            ip: with_hao(hdr(COA, HA, icmp)),
            upper: Upper::Dhaad(DhaadRepr::PrefixSolicit(MobilePrefixSolicit {
                identifier: 0x4321,
                reserved: 0,
            })),
        },
        Expect {
            name: "mpa",
            ip: with_rh2(hdr(HA, COA, icmp)),
            upper: Upper::Dhaad(DhaadRepr::PrefixAdvert(MobilePrefixAdvert {
                identifier: 0x4321,
                managed: false,
                other: false,
                reserved: 0,
                options: vec![NdOption::PrefixInformation(PrefixInformation::new(
                    ip("2001:db8:1::"),
                    64,
                    86400,
                    14400,
                ))],
            })),
        },
    ]
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
