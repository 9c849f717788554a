#!/usr/bin/env python3
"""Builds one packet of every kind mip6 speaks with scapy, an implementation
independent of ours, and writes them as hex to a JSON fixture file that the
Rust interop tests parse and re-emit byte for byte.

Usage: scapy_gen.py OUT.json [OUT.pcap]

scapy's defaults are not RFC-neutral (BU flags "KHA", BA flags "K", DHAAD
R=1, RA Prf=1, Nonce Indices length 16), so every field the Rust side checks
is set explicitly here.
"""
import json
import sys

from scapy.all import IPv6, raw, wrpcap, Ether
from scapy.layers.inet6 import (
    HAO, ICMPv6EchoRequest, ICMPv6HAADReply, ICMPv6HAADRequest, ICMPv6MPAdv,
    ICMPv6MPSol, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_RS,
    ICMPv6NDOptAdvInterval, ICMPv6NDOptDstLLAddr, ICMPv6NDOptHAInfo,
    ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr,
    ICMPv6NDOptUnknown, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, MIP6MH_BA,
    MIP6MH_BE, MIP6MH_BRR, MIP6MH_BU, MIP6MH_CoT, MIP6MH_CoTI, MIP6MH_HoT,
    MIP6MH_HoTI, MIP6OptAltCoA, MIP6OptBindingAuthData, MIP6OptBRAdvice,
    MIP6OptMNID, MIP6OptMsgAuth, MIP6OptNonceIndices, MIP6OptReplayProtection,
)

HA = "2001:db8:1::1"
HOA = "2001:db8:1::100"
COA = "2001:db8:2::100"
CN = "2001:db8:3::5"
ROUTER_LL = "fe80::1"
MN_LL = "fe80::5246:5dff:fe6b:7a54"
MAC = "50:46:5d:6b:7a:54"
ROUTER_MAC = "02:00:00:00:00:01"
NAI = b"mn1@example.com"
AUTH = bytes(range(1, 13))  # a 96-bit authenticator; its value is not checked here
DHAAD_ANYCAST = "2001:db8:1:0:fdff:ffff:ffff:fffe"


def hao():
    return IPv6ExtHdrDestOpt(options=[HAO(hoa=HOA)])


def rh2():
    return IPv6ExtHdrRouting(type=2, segleft=1, addresses=[HOA])


def packets():
    p = {}
    # RFC 6275 6.1.7: home registration, A and H set, lifetime 100 units (400 s).
    p["bu_home"] = IPv6(src=COA, dst=HA) / hao() / MIP6MH_BU(
        seq=4660, flags="AH", mhtime=100, options=[MIP6OptAltCoA(acoa=COA)])
    # RFC 4283 + RFC 4285: the BU our mobile node sends by default.
    p["bu_auth"] = IPv6(src=COA, dst=HA) / hao() / MIP6MH_BU(
        seq=7, flags="AH", mhtime=150, options=[
            MIP6OptMNID(subtype=1, id=NAI),
            MIP6OptReplayProtection(timestamp=0x0123456789ABCDEF),
            MIP6OptMsgAuth(subtype=1, mspi=256, authdata=AUTH)])
    p["bu_dereg"] = IPv6(src=COA, dst=HA) / hao() / MIP6MH_BU(
        seq=4661, flags="AH", mhtime=0)
    # RFC 6275 6.1.8: accepted, with a Binding Refresh Advice.
    p["ba_ok"] = IPv6(src=HA, dst=COA) / rh2() / MIP6MH_BA(
        status=0, flags=0, seq=4660, mhtime=100, options=[MIP6OptBRAdvice(rinter=50)])
    p["ba_seq_oow"] = IPv6(src=HA, dst=COA) / rh2() / MIP6MH_BA(
        status=135, flags=0, seq=4000, mhtime=0)
    p["ba_auth"] = IPv6(src=HA, dst=COA) / rh2() / MIP6MH_BA(
        status=0, flags=0, seq=7, mhtime=150, options=[
            MIP6OptMNID(subtype=1, id=NAI),
            MIP6OptReplayProtection(timestamp=0x0123456789ABCDEF),
            MIP6OptMsgAuth(subtype=1, mspi=256, authdata=AUTH)])
    p["brr"] = IPv6(src=HA, dst=HOA) / MIP6MH_BRR()
    p["hoti"] = IPv6(src=HOA, dst=CN) / MIP6MH_HoTI(cookie=b"\x11" * 8)
    p["coti"] = IPv6(src=COA, dst=CN) / MIP6MH_CoTI(cookie=b"\x22" * 8)
    p["hot"] = IPv6(src=CN, dst=HOA) / MIP6MH_HoT(index=3, cookie=b"\x11" * 8, token=b"\x33" * 8)
    p["cot"] = IPv6(src=CN, dst=COA) / MIP6MH_CoT(index=4, cookie=b"\x22" * 8, token=b"\x44" * 8)
    # RFC 6275 6.2.6 / 6.2.7: correspondent registration. scapy's default
    # Nonce Indices length (16) is not the RFC's (4), nor is BAD's.
    p["bu_cn"] = IPv6(src=COA, dst=CN) / hao() / MIP6MH_BU(
        seq=9, flags=0, mhtime=60, options=[
            MIP6OptNonceIndices(olen=4, hni=3, coni=4),
            MIP6OptBindingAuthData(olen=12, authenticator=0x0102030405060708090A0B0C)])
    p["be"] = IPv6(src=CN, dst=COA) / MIP6MH_BE(status=2, ha=HOA)

    # RFC 4861 4.1-4.4 and RFC 6275 7.1-7.4.
    p["rs"] = IPv6(src=MN_LL, dst="ff02::2", hlim=255) / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=MAC)
    p["ra_home"] = (IPv6(src=ROUTER_LL, dst="ff02::1", hlim=255)
                    / ICMPv6ND_RA(chlim=64, M=0, O=1, H=1, prf=0, routerlifetime=1800,
                                  reachabletime=30000, retranstimer=1000)
                    / ICMPv6NDOptSrcLLAddr(lladdr=ROUTER_MAC)
                    / ICMPv6NDOptMTU(mtu=1500)
                    / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, R=1, validlifetime=86400,
                                            preferredlifetime=14400, prefix=HA)
                    / ICMPv6NDOptAdvInterval(advint=1000)
                    / ICMPv6NDOptHAInfo(pref=10, lifetime=1800))
    p["ns_dad"] = (IPv6(src="::", dst="ff02::1:ff6b:7a54", hlim=255)
                   / ICMPv6ND_NS(tgt=MN_LL)
                   / ICMPv6NDOptUnknown(type=14, len=1, data=b"\xa1\xb2\xc3\xd4\xe5\xf6"))
    p["ns"] = (IPv6(src=ROUTER_LL, dst="ff02::1:ff6b:7a54", hlim=255)
               / ICMPv6ND_NS(tgt=MN_LL) / ICMPv6NDOptSrcLLAddr(lladdr=ROUTER_MAC))
    p["na"] = (IPv6(src=MN_LL, dst=ROUTER_LL, hlim=255)
               / ICMPv6ND_NA(R=0, S=1, O=1, tgt=MN_LL) / ICMPv6NDOptDstLLAddr(lladdr=MAC))
    p["na_unsolicited"] = (IPv6(src="fe80::2", dst="ff02::1", hlim=255)
                           / ICMPv6ND_NA(R=1, S=0, O=1, tgt=HOA) / ICMPv6NDOptDstLLAddr(lladdr=ROUTER_MAC))

    # RFC 6275 6.5-6.8.
    p["dhaad_req"] = IPv6(src=COA, dst=DHAAD_ANYCAST) / ICMPv6HAADRequest(id=0x1234, R=0)
    p["dhaad_rep"] = IPv6(src=HA, dst=COA) / ICMPv6HAADReply(
        id=0x1234, R=0, addresses=[HA, "2001:db8:1::2"])
    p["mps"] = IPv6(src=COA, dst=HA) / hao() / ICMPv6MPSol(id=0x4321)
    p["mpa"] = IPv6(src=HA, dst=COA) / rh2() / ICMPv6MPAdv(id=0x4321, flags=0) / ICMPv6NDOptPrefixInfo(
        prefixlen=64, L=1, A=1, R=0, validlifetime=86400, preferredlifetime=14400, prefix="2001:db8:1::")

    # RFC 2473: the HA tunnels a correspondent's echo request to the CoA.
    p["ip6ip6"] = IPv6(src=HA, dst=COA, hlim=64) / IPv6(src=CN, dst=HOA, hlim=63) / ICMPv6EchoRequest(
        id=1, seq=1, data=b"mip6 tunnel payload")
    return p


def main():
    out = sys.argv[1]
    pkts = packets()
    fixtures = {name: raw(pkt).hex() for name, pkt in pkts.items()}
    with open(out, "w") as f:
        json.dump(fixtures, f, indent=1, sort_keys=True)
        f.write("\n")
    if len(sys.argv) > 2:
        wrpcap(sys.argv[2], [Ether(src=ROUTER_MAC, dst=MAC) / p for p in pkts.values()])


if __name__ == "__main__":
    main()
