//! Mobile IPv6 signalling sockets for a stock kernel (no CONFIG_IPV6_MIP6),
//! and the nftables table that keeps the kernel from answering our
//! signalling with errors (docs/ARCHITECTURE.md, kernel facts 1-4).
//!
//! - [`SignalSocket::mobility`]: a raw socket of protocol 135. It sends
//!   Binding Updates: the Home Address option goes in IPV6_DSTOPTS
//!   ancillary data (the kernel puts it after any routing header, where RFC
//!   6275 6.3 wants it), the source (the care-of address) in IPV6_PKTINFO so
//!   that policy routing ("from CoA lookup T") sends it out of the physical
//!   interface. Kernel checksumming is off (IPV6_CHECKSUM = -1): the kernel
//!   would checksum over the care-of address, while RFC 6275 6.1.1 wants the
//!   home address in the pseudo-header, and the binding engine has filled
//!   it already. The same socket receives plain Mobility Headers (a BA to
//!   the home address at home, a Binding Refresh Request or Binding Error);
//!   with kernel checksumming off the caller verifies their checksum.
//! - [`SignalSocket::routing`]: a raw socket of protocol 43. The kernel drops
//!   a packet with a type 2 routing header itself (and answers Parameter
//!   Problem code 0), but the raw socket receives a copy first: this is how
//!   a mobile node gets its Binding Acknowledgements.
//!   [`mh_behind_rh2`] takes the Mobility Header out of what it received.
//! - [`ParamProblemFilter`]: an nftables table of our own that drops the
//!   kernel's Parameter Problem answers to those packets, and nothing else.
//!
//! Why ancillary data rather than a whole packet through IPPROTO_RAW: with
//! a header-included socket the kernel still routes by the flow it builds
//! from the socket, not from the header we wrote, so the CoA source must be
//! given as IPV6_PKTINFO anyway for the policy rule to match; and the kernel
//! then does no fragmentation or path-MTU handling for us. The ancillary
//! route keeps the kernel in charge of the IPv6 header (hop limit, flow
//! label, fragmentation) while we control every octet above it.

use std::io;
use std::net::Ipv6Addr;

use socket2::Socket;

use super::nft::NftTable;
use super::rawsock::{ctx, fd_through, open_receiving, recv_with_info, send_from, set_int};
use crate::wire::checksum::proto;
use crate::wire::exthdr::{FixedHeader, hao_destination_options, parse_payload};

/// What [`SignalSocket::recv`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Octets in the buffer: the packet after its IPv6 header.
    pub len: usize,
    pub src: Ipv6Addr,
    /// `::` if the kernel gave no IPV6_PKTINFO (it always does).
    pub dst: Ipv6Addr,
    pub ifindex: u32,
}

/// A raw IPv6 socket of one protocol, with IPV6_RECVPKTINFO.
#[derive(Debug)]
pub struct SignalSocket {
    sock: Socket,
    protocol: u8,
}

fd_through!(SignalSocket, sock);

impl SignalSocket {
    /// A raw socket of `protocol`, non-blocking, reporting each packet's
    /// destination.
    pub fn open(protocol: u8) -> io::Result<Self> {
        let sock = open_receiving(protocol, false)?;
        sock.set_nonblocking(true)
            .map_err(ctx(format!("raw IPv6 socket of protocol {protocol}")))?;
        Ok(Self { sock, protocol })
    }

    /// The Mobility Header socket (protocol 135) with kernel checksumming
    /// off: see the module notes.
    pub fn mobility() -> io::Result<Self> {
        let s = Self::open(proto::MOBILITY)?;
        set_int(&s.sock, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, -1)
            .map_err(ctx("turn off kernel checksums on the MH socket".into()))?;
        Ok(s)
    }

    /// The routing header socket (protocol 43) that receives BAs carrying
    /// a type 2 routing header.
    pub fn routing() -> io::Result<Self> {
        Self::open(proto::ROUTING)
    }

    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// Sends `payload` (for the MH socket: a finished Mobility Header) from
    /// `src` to `dst`, with a Destination Options header carrying a Home
    /// Address option for `home_address` when given.
    pub fn send(
        &self,
        payload: &[u8],
        src: Ipv6Addr,
        dst: Ipv6Addr,
        home_address: Option<Ipv6Addr>,
    ) -> io::Result<usize> {
        let dstopts = home_address.map(|h| hao_destination_options(self.protocol, h));
        send_from(
            &self.sock,
            payload,
            src,
            dst,
            0,
            dstopts.as_ref().map(|d| &d[..]),
        )
        .map_err(ctx(format!(
            "send protocol {} from {src} to {dst}{}",
            self.protocol,
            home_address.map_or(String::new(), |h| format!(" with home address {h}"))
        )))
    }

    /// Receives one packet (the part after its IPv6 header). `WouldBlock`
    /// when nothing waits; a packet larger than `buf` fails `InvalidData`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let info = recv_with_info(&self.sock, buf, || {
            format!("protocol {} packet larger than the buffer", self.protocol)
        })?;
        Ok(Received {
            len: info.len,
            src: info.src,
            dst: info.dst,
            ifindex: info.ifindex,
        })
    }
}

/// A Mobility Header found behind a type 2 routing header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rh2Mh<'a> {
    /// The home address the routing header carries (the final
    /// destination, over which the MH checksum is computed).
    pub home_address: Ipv6Addr,
    pub mh: &'a [u8],
}

/// Takes the Mobility Header out of a packet a protocol-43 socket received
/// from `src` to `dst` (`payload` starts at the routing header). `None`
/// unless the packet starts with a type 2 routing header with Segments Left
/// 1 (anything else is not a BA to our home address), followed,
/// possibly after other extension headers, by a Mobility Header.
pub fn mh_behind_rh2(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Option<Rh2Mh<'_>> {
    let header = FixedHeader {
        traffic_class: 0,
        flow_label: 0,
        payload_len: 0,
        next_header: proto::ROUTING,
        hop_limit: 64,
        src,
        dst,
    };
    // RFC 6275 6.4, 11.3.3 (issue 11 item 9): the home agent's type 2
    // routing header has Segments Left 1; with 0 it names no destination
    // we stand for, and the packet was not sent to our home address.
    if payload.get(2) != Some(&2) || payload.get(3) != Some(&1) {
        return None;
    }
    let parsed = parse_payload(header, payload).ok()?;
    let home_address = parsed.routing_home_address()?;
    if parsed.upper_protocol() != proto::MOBILITY {
        return None;
    }
    Some(Rh2Mh {
        home_address,
        mh: parsed.upper(),
    })
}

/// The nftables table (family ip6) that drops the kernel's Parameter
/// Problem answers to a type 2 routing header (code 0, the invoking packet's
/// next header 43, routing type 2) and to IPv6-in-IPv6 it has no tunnel for
/// (code 1, next header 41). Nothing else is touched. Removed by
/// [`ParamProblemFilter::remove`] or on drop.
///
/// Narrower than the home agent's ruleset
/// ([`super::nft::param_problem_ruleset`]), which also drops the answers to
/// Home Address options, to Mobility Headers and to routing headers of any
/// type: only the table's life cycle is shared.
#[derive(Debug)]
pub struct ParamProblemFilter {
    table: NftTable,
}

/// The set of the mobile node's table that holds its optimistic addresses
/// (see [`param_problem_ruleset`]).
pub const OPTIMISTIC_SET: &str = "optimistic";

/// Puts `addr` in (`on`) or takes it out of the optimistic set of table
/// `table` (see [`param_problem_ruleset`]).
pub fn set_optimistic(table: &str, addr: Ipv6Addr, on: bool) -> io::Result<()> {
    let verb = if on { "add" } else { "delete" };
    super::nft::run_script(&format!(
        "{verb} element ip6 {table} {OPTIMISTIC_SET} {{ {addr} }}\n"
    ))
}

/// The ruleset [`ParamProblemFilter`] installs, for logs and tests.
pub fn param_problem_ruleset(table: &str) -> String {
    // @th offsets are bits from the ICMPv6 header: the invoking packet
    // starts at octet 8, its Next Header at 8 + 6 = 14 (bit 112), and a
    // routing header right behind its fixed header has Routing Type at
    // 8 + 40 + 2 = 50 (bit 400).
    //
    // The set `optimistic` holds our addresses while they are optimistic
    // (RFC 4429): the kernel knows them only as `nodad` addresses, so it
    // would solicit neighbours from them and answer solicitations for them
    // with the Override flag, both of which RFC 4429 3.3 forbids. While an
    // address is in the set, Neighbor Solicitations from it, and Neighbor
    // Advertisements from it with the Override flag (bit 34 of the ICMPv6
    // message; the kernel puts the target in the source of its answers), do
    // not leave; the SLAAC engine answers in their place with O clear. Once
    // DAD succeeds the address leaves the set.
    format!(
        "table ip6 {table} {{\n\
         \tset {OPTIMISTIC_SET} {{ type ipv6_addr; }}\n\
         \tchain out {{\n\
         \t\ttype filter hook output priority 0; policy accept;\n\
         \t\ticmpv6 type parameter-problem icmpv6 code 0 @th,112,8 43 @th,400,8 2 counter drop\n\
         \t\ticmpv6 type parameter-problem icmpv6 code 1 @th,112,8 41 counter drop\n\
         \t\tip6 saddr @{OPTIMISTIC_SET} icmpv6 type nd-neighbor-solicit counter drop\n\
         \t\tip6 saddr @{OPTIMISTIC_SET} icmpv6 type nd-neighbor-advert @th,34,1 1 counter drop\n\
         \t}}\n\
         }}\n"
    )
}

impl ParamProblemFilter {
    /// Installs the table, replacing one of the same name that a previous
    /// run left behind.
    pub fn install(table: &str) -> io::Result<Self> {
        Ok(Self {
            table: NftTable::install(table, &param_problem_ruleset(table))?,
        })
    }

    /// [`ParamProblemFilter::install`], or `None` without the `nft`
    /// program ([`super::nft::MISSING_NFT`] says what is lost).
    pub fn install_if_available(table: &str) -> io::Result<Option<Self>> {
        Ok(
            NftTable::install_if_available(table, &param_problem_ruleset(table))?
                .map(|table| Self { table }),
        )
    }

    pub fn table(&self) -> &str {
        self.table.name()
    }

    /// Deletes the table.
    pub fn remove(&mut self) -> io::Result<()> {
        self.table.remove()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::exthdr::Ipv6Repr;

    #[test]
    fn finds_mh_behind_rh2() {
        let ha: Ipv6Addr = "2001:db8:1::1".parse().expect("addr");
        let coa: Ipv6Addr = "2001:db8:2::5".parse().expect("addr");
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().expect("addr");
        let mh = [59u8, 1, 6, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let repr = Ipv6Repr {
            routing_home_address: Some(hoa),
            ..Ipv6Repr::new(ha, coa, proto::MOBILITY)
        };
        let pkt = repr.build(&mh).expect("build");
        let found = mh_behind_rh2(ha, coa, &pkt.bytes[40..]).expect("found");
        assert_eq!(found.home_address, hoa);
        assert_eq!(found.mh, &mh[..]);
        // Without the routing header there is nothing to find.
        let plain = Ipv6Repr::new(ha, coa, proto::MOBILITY)
            .build(&mh)
            .expect("build");
        assert!(mh_behind_rh2(ha, coa, &plain.bytes[40..]).is_none());
        // RFC 6275 6.4: Segments Left is 1; a type 2 routing header with
        // nothing left to do routed nothing to our home address.
        let mut spent = pkt.bytes.clone();
        spent[40 + 3] = 0;
        assert!(mh_behind_rh2(ha, coa, &spent[40..]).is_none());
    }

    #[test]
    fn ruleset_names_table() {
        let r = param_problem_ruleset("mip6_mn");
        assert!(r.starts_with("table ip6 mip6_mn {"));
        assert!(r.contains("code 0 @th,112,8 43 @th,400,8 2"));
        // RFC 4429 3.3: no solicitations from optimistic addresses, no
        // advertisements with the Override flag for them.
        assert!(r.contains("set optimistic { type ipv6_addr; }"));
        assert!(r.contains("ip6 saddr @optimistic icmpv6 type nd-neighbor-solicit counter drop"));
        assert!(r.contains("nd-neighbor-advert @th,34,1 1 counter drop"));
    }
}
