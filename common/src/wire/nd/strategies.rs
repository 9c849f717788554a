//! proptest strategies for ND options and messages, shared with the
//! DHAAD tests (a Mobile Prefix Advertisement carries ND options).
//! They produce only canonical values: ones that `parse(emit(r)) == r`
//! can hold for (for instance no `Unknown` option whose type and length
//! would parse as a known option).

use std::net::Ipv6Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::{
    HomeAgentInfo, LinkLayerAddress, NdOption, NdRepr, NeighborAdvert, NeighborSolicit,
    PrefixInformation, Redirect, RouterAdvert, RouterPreference, RouterSolicit, opt_type,
};

pub fn addr() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<u128>().prop_map(Ipv6Addr::from),
        Just(Ipv6Addr::UNSPECIFIED),
        Just(super::ALL_NODES),
        (any::<u64>()).prop_map(|iid| Ipv6Addr::from((0xfe80u128 << 112) | u128::from(iid))),
    ]
}

/// Option data for an option of 1..=3 units: 8k - 2 bytes.
fn option_data() -> impl Strategy<Value = Vec<u8>> {
    (1usize..=3).prop_flat_map(|units| vec(any::<u8>(), units * 8 - 2))
}

/// Whether an `Unknown` option of this type and data length parses back
/// as `Unknown` (types we decode at every length never do; fixed-length
/// types do only at a length other than theirs).
fn stays_unknown(ty: u8, data_len: usize) -> bool {
    let total = data_len + 2;
    match ty {
        opt_type::SOURCE_LLA
        | opt_type::TARGET_LLA
        | opt_type::REDIRECTED_HEADER
        | opt_type::NONCE => false,
        opt_type::PREFIX_INFO => total != 32,
        opt_type::MTU | opt_type::ADV_INTERVAL | opt_type::HOME_AGENT_INFO => total != 8,
        _ => true,
    }
}

fn prefix_info() -> impl Strategy<Value = PrefixInformation> {
    (
        any::<u8>(),
        any::<(bool, bool, bool)>(),
        0u8..=0x1f,
        any::<(u32, u32, u32)>(),
        addr(),
    )
        .prop_map(
            |(
                prefix_len,
                (on_link, autonomous, router_address),
                reserved1,
                (valid, preferred, reserved2),
                prefix,
            )| {
                PrefixInformation {
                    prefix_len,
                    on_link,
                    autonomous,
                    router_address,
                    reserved1,
                    valid_lifetime: valid,
                    preferred_lifetime: preferred,
                    reserved2,
                    prefix,
                }
            },
        )
}

pub fn option() -> impl Strategy<Value = NdOption> {
    prop_oneof![
        option_data().prop_map(|d| NdOption::SourceLinkLayerAddr(LinkLayerAddress::from_bytes(&d))),
        option_data().prop_map(|d| NdOption::TargetLinkLayerAddr(LinkLayerAddress::from_bytes(&d))),
        any::<[u8; 6]>().prop_map(NdOption::source_mac),
        prefix_info().prop_map(NdOption::PrefixInformation),
        option_data().prop_map(NdOption::RedirectedHeader),
        any::<(u16, u32)>().prop_map(|(reserved, mtu)| NdOption::Mtu { reserved, mtu }),
        any::<(u16, u32)>().prop_map(|(reserved, interval_ms)| NdOption::AdvertisementInterval {
            reserved,
            interval_ms
        }),
        any::<(u16, i16, u16)>().prop_map(|(reserved, preference, lifetime)| {
            NdOption::HomeAgentInformation(HomeAgentInfo {
                reserved,
                preference,
                lifetime,
            })
        }),
        option_data().prop_map(NdOption::Nonce),
        (any::<u8>(), option_data())
            .prop_filter("would parse as a known option", |(t, d)| stays_unknown(
                *t,
                d.len()
            ))
            .prop_map(|(opt_type, data)| NdOption::Unknown { opt_type, data }),
    ]
}

pub fn options() -> impl Strategy<Value = Vec<NdOption>> {
    vec(option(), 0..5)
}

fn preference() -> impl Strategy<Value = RouterPreference> {
    (0u8..4).prop_map(RouterPreference::from_bits)
}

pub fn nd_repr() -> impl Strategy<Value = NdRepr> {
    prop_oneof![
        (any::<u32>(), options()).prop_map(|(reserved, options)| RouterSolicit {
            reserved,
            options
        }
        .into()),
        (
            any::<u8>(),
            any::<(bool, bool, bool, bool)>(),
            preference(),
            0u8..=3,
            any::<(u16, u32, u32)>(),
            options()
        )
            .prop_map(
                |(
                    cur_hop_limit,
                    (managed, other, home_agent, proxy),
                    preference,
                    reserved,
                    (router_lifetime, reachable_time, retrans_timer),
                    options,
                )| {
                    RouterAdvert {
                        cur_hop_limit,
                        managed,
                        other,
                        home_agent,
                        preference,
                        proxy,
                        reserved,
                        router_lifetime,
                        reachable_time,
                        retrans_timer,
                        options,
                    }
                    .into()
                }
            ),
        (any::<u32>(), addr(), options()).prop_map(|(reserved, target, options)| NeighborSolicit {
            reserved,
            target,
            options
        }
        .into()),
        (
            any::<(bool, bool, bool)>(),
            0u32..=0x1fff_ffff,
            addr(),
            options()
        )
            .prop_map(
                |((router, solicited, override_flag), reserved, target, options)| NeighborAdvert {
                    router,
                    solicited,
                    override_flag,
                    reserved,
                    target,
                    options,
                }
                .into()
            ),
        (any::<u32>(), addr(), addr(), options()).prop_map(
            |(reserved, target, destination, options)| Redirect {
                reserved,
                target,
                destination,
                options
            }
            .into()
        ),
    ]
}
