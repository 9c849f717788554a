#!/usr/bin/env python3
"""A minimal Mobile IPv6 mobile node written with scapy only: an
implementation independent of ours, to run against the real home agent.

It runs inside the mobile node's network namespace, on a foreign link where
it owns the care-of address, and does the steps it is told, in order:

  register    Binding Update (A and H set, sequence SEQ) from the CoA with a
              Home Address option, a Mobile Node Identifier option (RFC 4283,
              the NAI), a Mesg-ID option (RFC 4285 6, NTP time) and the MN-HA
              Mobility Message Authentication option (RFC 4285 5, HMAC_SHA1-96
              computed here). The BA must be status 0, sequence SEQ, from the
              HA to the CoA with a type 2 routing header holding the HoA, a
              good Mobility Header checksum and a good MN-HA authenticator.
  ping        An ICMPv6 Echo Request from the HoA to the correspondent, in
              IPv6-in-IPv6 (outer CoA -> HA); the Echo Reply must come back
              tunnelled (outer HA -> CoA, inner correspondent -> HoA).
  bad-auth    The BU again (sequence SEQ+1) with a wrong authenticator: the
              BA must be MIPV6-AUTH-FAIL (146, RFC 4285 5 / 8) with lifetime 0, unsigned,
              and the tunnel must still work (the binding did not change).
  deregister  BU with lifetime 0 (sequence SEQ+1: the rejected BU must not
              have used it up), from the CoA with a Home Address option: the
              BA must be status 0 with lifetime 0; a tunnelled ping then gets
              no answer.

Every packet is received with a scapy sniffer on the interface (AF_PACKET):
without MIPv6 in the kernel the stack drops a BA with a type 2 routing header
(answering Parameter Problem) before any socket of an upper protocol sees it.
Packets are sent through scapy's L3RawSocket6 (IPPROTO_RAW, the kernel routes
them and resolves the next hop).

Each step prints one JSON line; the last line is {"ok": true, ...}. On any
mismatch the script prints {"ok": false, "error": ...}, says the same on
stderr and exits 1 (2 for bad usage, 3 when scapy is missing).

Usage: scapy_mn.py --coa A --hoa A --ha A --cn A --nai S --spi N
                   --key-hex HEX --seq N [--lifetime UNITS] [--iface IF]
                   [--steps register,ping,bad-auth,deregister] [--timeout S]
"""
import argparse
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time

try:
    import scapy
    from scapy.all import AsyncSniffer, raw
    from scapy.layers.inet6 import (
        HAO, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6,
        IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, MIP6MH_BA, MIP6MH_BU,
        MIP6OptMNID, MIP6OptMsgAuth, MIP6OptReplayProtection, PadN, Pad1,
        in6_chksum,
    )
    from scapy.supersocket import L3RawSocket6
except ImportError as e:  # pragma: no cover - environment problem
    print(json.dumps({"ok": False, "error": f"scapy is not importable: {e}"}))
    print(f"scapy_mn.py: scapy is not importable ({e}); install scapy==2.8.0",
          file=sys.stderr)
    sys.exit(3)

MH = 135
IPV6_IN_IPV6 = 41
# RFC 4285 5: subtype 1 is the MN-HA authentication mobility option.
MN_HA_SUBTYPE = 1
AUTH_LEN = 12  # HMAC_SHA1 truncated to 96 bits
# RFC 4285 8 (IANA): MIPV6-AUTH-FAIL.
AUTH_FAIL = 146
# Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
NTP_UNIX_OFFSET = 2208988800


class Mismatch(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch(what)


class MobileNode:
    def __init__(self, a):
        self.a = a
        self.key = bytes.fromhex(a.key_hex)
        self.sock = L3RawSocket6()
        self.last_ts = 0

    # -- RFC 4285 ---------------------------------------------------------

    def mesg_id(self):
        """RFC 4285 6: a 64-bit NTP timestamp, strictly increasing here."""
        now = time.time()
        secs = int(now)
        frac = int((now - secs) * (1 << 32)) & 0xFFFFFFFF
        ts = ((secs + NTP_UNIX_OFFSET) << 32) | frac
        ts = max(ts, self.last_ts + 1)
        self.last_ts = ts
        return ts

    @staticmethod
    def mn_ha_covered(mh_bytes):
        """RFC 4285 5.1 MH Data: the Mobility Header from its first octet up
        to and including the SPI of the MN-HA option, checksum as zero.
        Also returns where the authentication data starts."""
        mh = bytearray(mh_bytes[: (mh_bytes[1] + 1) * 8])
        mh_type = mh[2]
        # Options start after the fixed part (RFC 6275 6.1.7 / 6.1.8): 12 octets.
        check(mh_type in (5, 6), f"MH type {mh_type} is neither BU nor BA")
        off = 12
        found = None
        while off < len(mh):
            t = mh[off]
            if t == 0:  # Pad1
                off += 1
                continue
            ln = mh[off + 1]
            if t == 9 and ln >= 5 and mh[off + 2] == MN_HA_SUBTYPE:
                found = off
            off += 2 + ln
        check(found is not None, "no MN-HA authentication option")
        spi_end = found + 2 + 1 + 4
        mh[4:6] = b"\0\0"
        return bytes(mh[:spi_end]), spi_end

    def authenticator(self, coa, hoa, mh_bytes, key=None):
        """First(96, HMAC_SHA1(key, CoA | HoA | MH Data)), RFC 4285 5.1."""
        covered, _ = self.mn_ha_covered(mh_bytes)
        data = ip6_bytes(coa) + ip6_bytes(hoa) + covered
        return hmac.new(key or self.key, data, hashlib.sha1).digest()[:AUTH_LEN]

    # -- building ---------------------------------------------------------

    def bu(self, seq, lifetime, key=None):
        a = self.a

        def build(authdata):
            return (IPv6(src=a.coa, dst=a.ha, hlim=64)
                    / IPv6ExtHdrDestOpt(options=[HAO(hoa=a.hoa)])
                    / MIP6MH_BU(seq=seq, flags="AH", mhtime=lifetime, options=[
                        MIP6OptMNID(subtype=1, id=a.nai.encode()),
                        MIP6OptReplayProtection(timestamp=ts),
                        MIP6OptMsgAuth(subtype=MN_HA_SUBTYPE, mspi=a.spi,
                                       authdata=authdata)]))

        ts = self.mesg_id()
        unsigned = build(b"\0" * AUTH_LEN)
        auth = self.authenticator(a.coa, a.hoa, raw(unsigned[MIP6MH_BU]), key)
        # Same length, same layout: scapy fills Header Len and the checksum
        # (over the HoA from the Home Address option, RFC 6275 6.1.1).
        pkt = build(auth)
        return IPv6(raw(pkt)), ts

    def tunnelled_echo(self, ident, seq, data):
        a = self.a
        return (IPv6(src=a.coa, dst=a.ha, nh=IPV6_IN_IPV6, hlim=64)
                / IPv6(src=a.hoa, dst=a.cn, hlim=64)
                / ICMPv6EchoRequest(id=ident, seq=seq, data=data))

    # -- the wire ---------------------------------------------------------

    def exchange(self, pkt, match, timeout, resend=False):
        """Sends `pkt` (again every second if `resend`) and returns the first
        frame on the interface that `match` accepts, or None."""
        started = threading.Event()
        sniffer = AsyncSniffer(iface=self.a.iface, lfilter=match, count=1,
                               store=True, started_callback=started.set)
        sniffer.start()
        check(started.wait(10), "the sniffer did not start")
        deadline = time.monotonic() + timeout
        while True:
            self.sock.send(pkt)
            left = deadline - time.monotonic()
            sniffer.join(timeout=max(0.0, min(1.0, left) if resend else left))
            if not sniffer.running or time.monotonic() >= deadline:
                break
        if sniffer.running:
            sniffer.stop()
        res = sniffer.results or []
        return res[0] if res else None

    def send_bu(self, seq, lifetime, key=None):
        """Sends one BU and returns (the BA frame, its check report)."""
        a = self.a
        bu, ts = self.bu(seq, lifetime, key)

        def is_ba(f):
            return (f.haslayer(MIP6MH_BA) and f.haslayer(IPv6)
                    and f[IPv6].src == a.ha and f[MIP6MH_BA].seq == seq)

        # Sent once: the HA may wait for DAD before it answers, and a second
        # copy would be a replay (same Mesg-ID) answered 144.
        f = self.exchange(bu, is_ba, a.timeout)
        check(f is not None, f"no Binding Acknowledgement for sequence {seq} "
              f"within {a.timeout} s")
        return f, ts

    # -- judging ----------------------------------------------------------

    def judge_ba(self, f, seq, status, lifetime, ts):
        """Checks a BA frame with scapy's own dissector; returns a report."""
        a = self.a
        ip = f[IPv6]
        ba = f[MIP6MH_BA]
        check(ip.src == a.ha, f"BA source {ip.src}, want the HA {a.ha}")
        check(ip.dst == a.coa, f"BA destination {ip.dst}, want the CoA {a.coa}")
        # RFC 6275 6.4.1 / 9.5.4: one type 2 routing header, segments left 1,
        # holding the home address; the MH right after it.
        check(f.haslayer(IPv6ExtHdrRouting), "BA has no routing header")
        rh = f[IPv6ExtHdrRouting]
        check(ip.nh == 43 and rh.underlayer is ip,
              "the routing header does not follow the IPv6 header")
        check(rh.type == 2, f"routing header type {rh.type}, want 2")
        check(rh.segleft == 1, f"routing header segments left {rh.segleft}, want 1")
        check(rh.len == 2, f"routing header length {rh.len}, want 2")
        check(list(rh.addresses) == [a.hoa],
              f"routing header addresses {list(rh.addresses)}, want [{a.hoa}]")
        check(rh.nh == MH and ba.underlayer is rh, "the MH does not follow the RH2")
        # Mobility Header checksum (RFC 6275 6.1.1), recomputed by scapy over
        # the final destination of the routing header (the HoA).
        mh = raw(ba)
        mh_len = (mh[1] + 1) * 8
        check(len(mh) == mh_len, f"MH Header Len says {mh_len} octets, "
              f"the packet holds {len(mh)}")
        zeroed = mh[:4] + b"\0\0" + mh[6:]
        want = in6_chksum(MH, rh, zeroed)
        check(ba.cksum == want,
              f"MH checksum 0x{ba.cksum:04x}, scapy computes 0x{want:04x}")
        # scapy's own rebuild (lengths, padding, checksum) gives the same bytes.
        again = f.copy()
        del again[MIP6MH_BA].cksum
        check(raw(again) == raw(f), "scapy rebuilds a different packet")
        check(ba.nh == 59, f"MH payload proto {ba.nh}, want 59 (no next header)")
        check(ba.status == status, f"BA status {ba.status}, want {status}")
        check(ba.seq == seq, f"BA sequence {ba.seq}, want {seq}")
        check(int(ba.flags) == 0, f"BA flags {ba.flags}, want none (no K, R, P)")
        check(ba.mhtime == lifetime, f"BA lifetime {ba.mhtime} units, want {lifetime}")
        # Options: MN-HA last (RFC 4285 5), its SPI ours, its authenticator
        # the HMAC over CoA | HoA | BA up to the SPI.
        opts = [o for o in ba.options if not isinstance(o, (Pad1, PadN))]
        names = [type(o).__name__ for o in opts]
        auth = [o for o in opts if isinstance(o, MIP6OptMsgAuth)]
        mesg = [o.timestamp for o in opts if isinstance(o, MIP6OptReplayProtection)]
        mnid = [o.id for o in opts if isinstance(o, MIP6OptMNID)]
        if status == AUTH_FAIL:
            # A BU that did not verify gets no signed answer: the HA would
            # sign fields a forger chose.
            check(auth == [], f"BA options {names}: a 146 must not be signed")
            return {
                "status": ba.status, "seq": ba.seq, "lifetime": ba.mhtime,
                "src": ip.src, "dst": ip.dst, "rh2": rh.addresses[0],
                "mh_cksum": f"0x{ba.cksum:04x}", "scapy_cksum": f"0x{want:04x}",
                "options": names, "spi": None, "auth_ok": None,
                "mesg_id_echoed": mesg == [ts],
                "mn_id": mnid[0].decode(errors="replace") if mnid else None,
            }
        check(len(auth) == 1, f"BA options {names}: want one MN-HA option")
        check(opts[-1] is auth[0], f"BA options {names}: MN-HA is not the last")
        check(auth[0].subtype == MN_HA_SUBTYPE, f"auth subtype {auth[0].subtype}")
        check(auth[0].mspi == a.spi, f"BA SPI {auth[0].mspi}, want {a.spi}")
        expect = self.authenticator(a.coa, a.hoa, mh)
        check(auth[0].authdata == expect,
              f"BA authenticator {auth[0].authdata.hex()}, want {expect.hex()}")
        if status == 0:
            # RFC 4285 6: the BA echoes the BU's Mesg-ID.
            check(mesg == [ts], f"BA Mesg-ID {mesg}, want [{ts}]")
        return {
            "status": ba.status, "seq": ba.seq, "lifetime": ba.mhtime,
            "src": ip.src, "dst": ip.dst, "rh2": rh.addresses[0],
            "mh_cksum": f"0x{ba.cksum:04x}", "scapy_cksum": f"0x{want:04x}",
            "options": names, "spi": auth[0].mspi, "auth_ok": True,
            "mesg_id_echoed": mesg == [ts],
            "mn_id": mnid[0].decode(errors="replace") if mnid else None,
        }

    def ping(self, ident, seq, timeout, expect_reply=True):
        a = self.a
        data = os.urandom(16)

        def is_reply(f):
            if not (f.haslayer(IPv6) and f[IPv6].nh == IPV6_IN_IPV6):
                return False
            outer = f[IPv6]
            inner = outer.payload
            return (isinstance(inner, IPv6) and outer.src == a.ha
                    and inner.haslayer(ICMPv6EchoReply)
                    and inner[ICMPv6EchoReply].id == ident
                    and inner[ICMPv6EchoReply].seq == seq)

        f = self.exchange(self.tunnelled_echo(ident, seq, data), is_reply, timeout,
                          resend=True)
        if not expect_reply:
            check(f is None, "a tunnelled Echo Reply came back after deregistration")
            return {"reply": False}
        check(f is not None, f"no tunnelled Echo Reply within {timeout} s")
        outer = f[IPv6]
        inner = outer.payload
        check(outer.src == a.ha and outer.dst == a.coa,
              f"outer {outer.src} -> {outer.dst}, want {a.ha} -> {a.coa}")
        check(inner.src == a.cn and inner.dst == a.hoa,
              f"inner {inner.src} -> {inner.dst}, want {a.cn} -> {a.hoa}")
        reply = inner[ICMPv6EchoReply]
        check(reply.data == data, "the Echo Reply carries other data")
        icmp = raw(reply)
        zeroed = icmp[:2] + b"\0\0" + icmp[4:]
        want = in6_chksum(58, inner, zeroed)
        check(reply.cksum == want,
              f"inner ICMPv6 checksum 0x{reply.cksum:04x}, scapy computes 0x{want:04x}")
        check(outer.plen == len(raw(inner)),
              f"outer payload length {outer.plen}, inner packet {len(raw(inner))}")
        return {"reply": True, "outer": [outer.src, outer.dst],
                "inner": [inner.src, inner.dst], "inner_hlim": inner.hlim}

    # -- the steps --------------------------------------------------------

    def step_register(self):
        a = self.a
        f, ts = self.send_bu(a.seq, a.lifetime)
        return self.judge_ba(f, a.seq, 0, a.lifetime, ts)

    def step_ping(self):
        return self.ping(0x6d36, 1, self.a.timeout)

    def step_bad_auth(self):
        a = self.a
        seq = (a.seq + 1) & 0xFFFF
        wrong = bytes(b ^ 0x5A for b in self.key)
        f, ts = self.send_bu(seq, a.lifetime, key=wrong)
        report = self.judge_ba(f, seq, AUTH_FAIL, 0, ts)
        # The binding still carries traffic.
        report["ping_after"] = self.ping(0x6d36, 2, a.timeout)["reply"]
        return report

    def step_deregister(self):
        a = self.a
        seq = (a.seq + 1) & 0xFFFF
        f, ts = self.send_bu(seq, 0)
        report = self.judge_ba(f, seq, 0, 0, ts)
        report["ping_after"] = self.ping(0x6d36, 3, 2.0, expect_reply=False)["reply"]
        return report


def ip6_bytes(a):
    return socket.inet_pton(socket.AF_INET6, a)


STEPS = {
    "register": MobileNode.step_register,
    "ping": MobileNode.step_ping,
    "bad-auth": MobileNode.step_bad_auth,
    "deregister": MobileNode.step_deregister,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iface", default="eth0")
    p.add_argument("--coa", required=True)
    p.add_argument("--hoa", required=True)
    p.add_argument("--ha", required=True)
    p.add_argument("--cn", required=True)
    p.add_argument("--nai", required=True)
    p.add_argument("--spi", type=int, required=True)
    p.add_argument("--key-hex", required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--lifetime", type=int, default=100, help="4-second units")
    p.add_argument("--timeout", type=float, default=15.0)
    p.add_argument("--steps", default=",".join(STEPS))
    a = p.parse_args()
    steps = a.steps.split(",")
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        p.error(f"unknown steps {unknown}; known: {list(STEPS)}")
    a.seq &= 0xFFFF
    done = []
    mn = MobileNode(a)
    try:
        for s in steps:
            report = STEPS[s](mn)
            report["step"] = s
            print(json.dumps(report), flush=True)
            done.append(s)
    except Mismatch as e:
        print(json.dumps({"ok": False, "step": s, "done": done, "error": str(e)}),
              flush=True)
        print(f"scapy_mn.py: step {s}: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"ok": True, "done": done, "scapy": scapy.VERSION}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
