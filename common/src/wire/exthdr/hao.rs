//! The Home Address destination option (RFC 6275 6.3).
//!
//! ```text
//!                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!                                 |  Option Type  | Option Length |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                          Home Address                         |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv6Addr;

pub(crate) use crate::wire::be::addr_at;
use crate::wire::error::need;
use crate::wire::{Error, Result};

/// Option Type 201: action bits 11 (discard and report unless multicast),
/// change bit 0 (the address does not change en route).
pub const OPTION_TYPE: u8 = 0xC9;
/// Option Length: octets after the type and length fields.
pub const DATA_LEN: u8 = 16;
/// The whole option on the wire.
pub const WIRE_LEN: usize = 2 + DATA_LEN as usize;
/// Alignment requirement 8n+6: puts the address on an 8-octet boundary.
pub const ALIGN_OFFSET: usize = 6;

/// Writes `addr` at `at` if the buffer is long enough.
pub(crate) fn set_addr_at(buf: &mut [u8], at: usize, addr: &Ipv6Addr) {
    if let Some(b) = buf.get_mut(at..at + 16) {
        b.copy_from_slice(&addr.octets());
    }
}

/// A view over a Home Address option, starting at its Option Type octet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeAddressOption<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> HomeAddressOption<T> {
    /// Wraps a buffer without checks; accessors on a short buffer read zeros
    /// instead of panicking. Meant for `emit` into a fresh buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer that must hold a well-formed Home Address option.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let opt = Self::new_unchecked(buffer);
        opt.check()?;
        Ok(opt)
    }

    /// Checks type, length field and buffer length.
    pub fn check(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need(buf, 2, "home address option")?;
        if self.option_type() != OPTION_TYPE {
            return Err(Error::Invalid {
                field: "home address option type",
                value: self.option_type().into(),
            });
        }
        if self.option_len() != DATA_LEN {
            return Err(Error::BadLength {
                what: "home address option",
                detail: format!("option length {}, must be {DATA_LEN}", self.option_len()),
            });
        }
        need(buf, WIRE_LEN, "home address option")
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn option_type(&self) -> u8 {
        self.buffer.as_ref().first().copied().unwrap_or(0)
    }

    pub fn option_len(&self) -> u8 {
        self.buffer.as_ref().get(1).copied().unwrap_or(0)
    }

    pub fn home_address(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), 2)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> HomeAddressOption<T> {
    pub fn set_option_type(&mut self, value: u8) {
        if let Some(b) = self.buffer.as_mut().first_mut() {
            *b = value;
        }
    }

    pub fn set_option_len(&mut self, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(1) {
            *b = value;
        }
    }

    pub fn set_home_address(&mut self, addr: &Ipv6Addr) {
        set_addr_at(self.buffer.as_mut(), 2, addr);
    }
}

/// The meaning of a Home Address option: the sender's home address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HomeAddressOptionRepr {
    pub home_address: Ipv6Addr,
}

impl HomeAddressOptionRepr {
    pub fn parse<T: AsRef<[u8]>>(opt: &HomeAddressOption<T>) -> Result<Self> {
        opt.check()?;
        Ok(Self {
            home_address: opt.home_address(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        WIRE_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, opt: &mut HomeAddressOption<T>) -> Result<()> {
        need(opt.buffer.as_ref(), WIRE_LEN, "home address option buffer")?;
        opt.set_option_type(OPTION_TYPE);
        opt.set_option_len(DATA_LEN);
        opt.set_home_address(&self.home_address);
        Ok(())
    }

    pub fn to_bytes(&self) -> [u8; WIRE_LEN] {
        let mut out = [0u8; WIRE_LEN];
        out[0] = OPTION_TYPE;
        out[1] = DATA_LEN;
        out[2..].copy_from_slice(&self.home_address.octets());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    /// RFC 6275 6.3: Option Type 201, Option Length 16, then the home address.
    const HAO: [u8; 18] = [
        0xc9, 0x10, // Option Type 201, Option Length 16
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // Home Address
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // 2001:db8:1::100
    ];

    #[test]
    fn parse_and_emit_rfc_layout() {
        let view = HomeAddressOption::new_checked(&HAO[..]).expect("valid");
        let repr = HomeAddressOptionRepr::parse(&view).expect("valid");
        assert_eq!(repr.home_address, HOA);
        assert_eq!(repr.to_bytes(), HAO);
        let mut buf = [0u8; 18];
        repr.emit(&mut HomeAddressOption::new_unchecked(&mut buf[..]))
            .expect("fits");
        assert_eq!(buf, HAO);
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            HomeAddressOption::new_checked(&HAO[..17]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            HomeAddressOption::new_checked(&HAO[..1]),
            Err(Error::Truncated { .. })
        ));
        let mut bad = HAO;
        bad[1] = 15;
        assert!(matches!(
            HomeAddressOption::new_checked(&bad[..]),
            Err(Error::BadLength { .. })
        ));
        bad = HAO;
        bad[0] = 0xc8;
        assert!(matches!(
            HomeAddressOption::new_checked(&bad[..]),
            Err(Error::Invalid { .. })
        ));
        let repr = HomeAddressOptionRepr { home_address: HOA };
        let mut short = [0u8; 17];
        assert!(
            repr.emit(&mut HomeAddressOption::new_unchecked(&mut short[..]))
                .is_err()
        );
    }

    #[test]
    fn unchecked_short_view_reads_zeros() {
        let v = HomeAddressOption::new_unchecked(&[][..]);
        assert_eq!(v.option_type(), 0);
        assert_eq!(v.home_address(), Ipv6Addr::UNSPECIFIED);
    }
}
