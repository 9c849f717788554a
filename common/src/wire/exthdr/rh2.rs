//! The type 2 routing header (RFC 6275 6.4).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Header  | Hdr Ext Len=2 | Routing Type=2|Segments Left=1|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                                                               |
//! +                         Home Address                          +
//! |                                                               |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv6Addr;

use super::hao::{addr_at, set_addr_at};
use crate::wire::error::need;
use crate::wire::{Error, Result};

/// Routing Type of the MIPv6 routing header.
pub const ROUTING_TYPE: u8 = 2;
/// Hdr Ext Len: one address, in 8-octet units beyond the first 8.
pub const HDR_EXT_LEN: u8 = 2;
/// The whole header on the wire.
pub const WIRE_LEN: usize = 24;
const WHAT: &str = "type 2 routing header";

/// A view over a type 2 routing header, starting at its Next Header octet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type2RoutingHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Type2RoutingHeader<T> {
    /// Wraps a buffer without checks; accessors on a short buffer read zeros
    /// instead of panicking. Meant for `emit` into a fresh buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer that must hold a well-formed type 2 routing header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let rh = Self::new_unchecked(buffer);
        rh.check()?;
        Ok(rh)
    }

    /// Checks the fixed fields RFC 6275 6.4 pins down. Segments Left may be
    /// 0 (a header already processed) or 1; with one address anything more
    /// is the Parameter Problem case of RFC 8200 4.4.
    pub fn check(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need(buf, 4, WHAT)?;
        if self.routing_type() != ROUTING_TYPE {
            return Err(Error::Unsupported {
                what: "routing type",
                value: self.routing_type().into(),
            });
        }
        if self.hdr_ext_len() != HDR_EXT_LEN {
            return Err(Error::BadLength {
                what: WHAT,
                detail: format!("hdr ext len {}, must be {HDR_EXT_LEN}", self.hdr_ext_len()),
            });
        }
        need(buf, WIRE_LEN, WHAT)?;
        if self.segments_left() > 1 {
            return Err(Error::Invalid {
                field: "type 2 routing header segments left",
                value: self.segments_left().into(),
            });
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    pub fn next_header(&self) -> u8 {
        self.byte(0)
    }

    pub fn hdr_ext_len(&self) -> u8 {
        self.byte(1)
    }

    pub fn routing_type(&self) -> u8 {
        self.byte(2)
    }

    pub fn segments_left(&self) -> u8 {
        self.byte(3)
    }

    /// Zero on transmission, ignored on reception.
    pub fn reserved(&self) -> u32 {
        u32::from_be_bytes([self.byte(4), self.byte(5), self.byte(6), self.byte(7)])
    }

    pub fn home_address(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), 8)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Type2RoutingHeader<T> {
    fn set_byte(&mut self, at: usize, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(at) {
            *b = value;
        }
    }

    pub fn set_next_header(&mut self, value: u8) {
        self.set_byte(0, value);
    }

    pub fn set_hdr_ext_len(&mut self, value: u8) {
        self.set_byte(1, value);
    }

    pub fn set_routing_type(&mut self, value: u8) {
        self.set_byte(2, value);
    }

    pub fn set_segments_left(&mut self, value: u8) {
        self.set_byte(3, value);
    }

    pub fn set_reserved(&mut self, value: u32) {
        for (i, b) in value.to_be_bytes().into_iter().enumerate() {
            self.set_byte(4 + i, b);
        }
    }

    pub fn set_home_address(&mut self, addr: &Ipv6Addr) {
        set_addr_at(self.buffer.as_mut(), 8, addr);
    }
}

/// The meaning of a type 2 routing header. Reserved is not kept: it is
/// ignored on reception and emitted as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Type2RoutingHeaderRepr {
    pub next_header: u8,
    /// 1 as sent; 0 once a node has processed the header.
    pub segments_left: u8,
    pub home_address: Ipv6Addr,
}

impl Type2RoutingHeaderRepr {
    /// The header as a sender emits it (Segments Left 1).
    pub const fn new(next_header: u8, home_address: Ipv6Addr) -> Self {
        Self {
            next_header,
            segments_left: 1,
            home_address,
        }
    }

    pub fn parse<T: AsRef<[u8]>>(rh: &Type2RoutingHeader<T>) -> Result<Self> {
        rh.check()?;
        Ok(Self {
            next_header: rh.next_header(),
            segments_left: rh.segments_left(),
            home_address: rh.home_address(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        WIRE_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, rh: &mut Type2RoutingHeader<T>) -> Result<()> {
        if self.segments_left > 1 {
            return Err(Error::Unencodable {
                what: WHAT,
                detail: format!("segments left {} with one address", self.segments_left),
            });
        }
        need(rh.buffer.as_ref(), WIRE_LEN, "type 2 routing header buffer")?;
        rh.set_next_header(self.next_header);
        rh.set_hdr_ext_len(HDR_EXT_LEN);
        rh.set_routing_type(ROUTING_TYPE);
        rh.set_segments_left(self.segments_left);
        rh.set_reserved(0);
        rh.set_home_address(&self.home_address);
        Ok(())
    }

    /// The header as bytes, ready for a raw socket or a packet builder.
    pub fn to_bytes(&self) -> Result<[u8; WIRE_LEN]> {
        let mut out = [0u8; WIRE_LEN];
        self.emit(&mut Type2RoutingHeader::new_unchecked(&mut out[..]))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::proto;

    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    /// RFC 6275 6.4, as a home agent sends it before a Binding Acknowledgement.
    const RH2: [u8; 24] = [
        0x87, 0x02, 0x02,
        0x01, // Next Header 135 (MH), Hdr Ext Len 2, Routing Type 2, Segments Left 1
        0x00, 0x00, 0x00, 0x00, // Reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // Home Address
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // 2001:db8:1::100
    ];

    #[test]
    fn parse_and_emit_rfc_layout() {
        let view = Type2RoutingHeader::new_checked(&RH2[..]).expect("valid");
        let repr = Type2RoutingHeaderRepr::parse(&view).expect("valid");
        assert_eq!(repr, Type2RoutingHeaderRepr::new(proto::MOBILITY, HOA));
        assert_eq!(repr.to_bytes().expect("encodable"), RH2);
    }

    #[test]
    fn processed_header_is_valid() {
        let mut b = RH2;
        b[3] = 0;
        let view = Type2RoutingHeader::new_checked(&b[..]).expect("segments left 0");
        assert_eq!(view.segments_left(), 0);
    }

    #[test]
    fn reserved_is_ignored_on_reception() {
        let mut b = RH2;
        b[4..8].copy_from_slice(&[1, 2, 3, 4]);
        let view = Type2RoutingHeader::new_checked(&b[..]).expect("valid");
        assert_eq!(view.reserved(), 0x0102_0304);
        let repr = Type2RoutingHeaderRepr::parse(&view).expect("valid");
        assert_eq!(repr.to_bytes().expect("encodable"), RH2);
    }

    #[test]
    fn malformed() {
        let cases: [(usize, u8, Error); 4] = [
            (
                1,
                4,
                Error::BadLength {
                    what: WHAT,
                    detail: "hdr ext len 4, must be 2".into(),
                },
            ),
            (
                3,
                2,
                Error::Invalid {
                    field: "type 2 routing header segments left",
                    value: 2,
                },
            ),
            (
                2,
                0,
                Error::Unsupported {
                    what: "routing type",
                    value: 0,
                },
            ),
            (
                2,
                4,
                Error::Unsupported {
                    what: "routing type",
                    value: 4,
                },
            ),
        ];
        for (at, value, want) in cases {
            let mut b = RH2;
            b[at] = value;
            assert_eq!(Type2RoutingHeader::new_checked(&b[..]), Err(want));
        }
        for len in [0, 3, 4, 23] {
            assert!(matches!(
                Type2RoutingHeader::new_checked(&RH2[..len]),
                Err(Error::Truncated { .. })
            ));
        }
        let mut repr = Type2RoutingHeaderRepr::new(proto::MOBILITY, HOA);
        repr.segments_left = 2;
        assert!(matches!(repr.to_bytes(), Err(Error::Unencodable { .. })));
    }
}
