//! The Mobility Header (RFC 6275 6.1) and its mobility options (RFC 6275
//! 6.2, RFC 4283, RFC 4285).
//!
//! [`MhPacket`] is a checked view over the bytes of one Mobility Header,
//! starting at its Payload Proto field; [`MhRepr`] is the parsed message with
//! its options. Padding options never appear in a `MhRepr`: parsing drops
//! them and [`MhRepr::emit`] inserts the minimal padding the alignment rules
//! ask for, so `emit(parse(x)) == x` for canonically padded input with zero
//! reserved fields.
//!
//! # Checksum addresses
//!
//! The checksum covers an IPv6 pseudo-header whose addresses the caller
//! supplies, because only the caller has seen the extension headers
//! (RFC 6275 6.1.1, RFC 8200 8.1):
//! - source: the home address from the Home Address destination option when
//!   one is present (a BU sent from a care-of address), else the IPv6 source;
//! - destination: the final destination, i.e. the address in a type 2
//!   routing header when one is present (a BA sent to a care-of address),
//!   else the IPv6 destination.
//!
//! # Receive order (RFC 6275 9.2)
//!
//! RFC 6275 9.2 checks the checksum first (silently discard), then the MH
//! type (unknown: Binding Error status 2, see [`MhRepr::Unknown`]), then
//! Payload Proto and Header Len (ICMPv6 Parameter Problem code 0 pointing at
//! the field, see [`param_problem_pointer`]). To follow that order use
//! [`MhPacket::new_unchecked`], [`MhPacket::check_len`],
//! [`MhPacket::verify_checksum`] and then [`MhPacket::check_fields`];
//! [`MhPacket::new_checked`] runs both checks at once.

mod auth;
mod message;
mod options;

#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;

use super::checksum::{self, proto};
use super::error::need;
use super::{Error, Result};

pub use auth::{
    MN_HA_AUTHENTICATOR_LEN, mn_ha_auth_input, mn_ha_authenticator, mn_ha_sign, mn_ha_verify,
};
pub use message::{
    BaFlags, BaStatus, BeStatus, BindingAck, BindingError, BindingRefreshRequest, BindingUpdate,
    BuFlags, CareOfTest, CareOfTestInit, HomeTest, HomeTestInit, LIFETIME_UNIT_SECS, MhRepr,
    lifetime_from_secs, lifetime_to_secs,
};
pub use options::{MhOption, RawOption, RawOptions, auth_subtype, mn_id_subtype, opt_type};

/// Byte offsets of the fixed Mobility Header fields (RFC 6275 6.1.1).
pub mod field {
    use core::ops::Range;

    pub const PAYLOAD_PROTO: usize = 0;
    pub const HEADER_LEN: usize = 1;
    pub const MH_TYPE: usize = 2;
    pub const RESERVED: usize = 3;
    pub const CHECKSUM: Range<usize> = 4..6;
    /// Where the message data (type-specific fields, then options) starts.
    pub const DATA: usize = 6;
}

/// MH Type values (RFC 6275 6.1.2 to 6.1.9).
pub mod mh_type {
    pub const BINDING_REFRESH_REQUEST: u8 = 0;
    pub const HOME_TEST_INIT: u8 = 1;
    pub const CARE_OF_TEST_INIT: u8 = 2;
    pub const HOME_TEST: u8 = 3;
    pub const CARE_OF_TEST: u8 = 4;
    pub const BINDING_UPDATE: u8 = 5;
    pub const BINDING_ACK: u8 = 6;
    pub const BINDING_ERROR: u8 = 7;
}

/// `field` of the [`Error::Invalid`] returned for a Payload Proto other than
/// 59; RFC 6275 9.2 answers it with ICMPv6 Parameter Problem code 0.
pub const ERR_PAYLOAD_PROTO: &str = "mh payload proto";
/// `what` of the [`Error::BadLength`] returned when Header Len is below the
/// minimum for the MH type; RFC 6275 9.2 answers it with Parameter Problem.
pub const ERR_HEADER_LEN: &str = "mh header len";

/// The largest Mobility Header: Header Len is one octet of 8-octet units,
/// not counting the first 8 octets.
pub const MAX_LEN: usize = (u8::MAX as usize + 1) * 8;

/// Length of the fixed part of a message: the 6-octet header plus the
/// type-specific fields before the options, from the figures of RFC 6275
/// 6.1.2 to 6.1.9. `None` for a type this module does not know.
pub fn fixed_len(mh_type: u8) -> Option<usize> {
    let data = match mh_type {
        mh_type::BINDING_REFRESH_REQUEST => 2,
        mh_type::HOME_TEST_INIT | mh_type::CARE_OF_TEST_INIT => 10,
        mh_type::HOME_TEST | mh_type::CARE_OF_TEST => 18,
        mh_type::BINDING_UPDATE | mh_type::BINDING_ACK => 6,
        mh_type::BINDING_ERROR => 18,
        _ => return None,
    };
    Some(field::DATA + data)
}

/// The ICMPv6 Parameter Problem (code 0) pointer that RFC 6275 9.2 asks a
/// receiver to send for `err`, relative to the start of the Mobility Header:
/// the Payload Proto field for a wrong Payload Proto, the Header Len field
/// for a message shorter than its type's minimum. `None` for every other
/// error, which is silently discarded. The caller adds the MH's offset in the
/// IPv6 packet.
pub fn param_problem_pointer(err: &Error) -> Option<u32> {
    match err {
        Error::Invalid { field, .. } if *field == ERR_PAYLOAD_PROTO => {
            Some(field::PAYLOAD_PROTO as u32)
        }
        Error::BadLength { what, .. } if *what == ERR_HEADER_LEN => Some(field::HEADER_LEN as u32),
        _ => None,
    }
}

/// A view over the bytes of one Mobility Header, from its Payload Proto
/// field on. Bytes past Header Len (anything after an IPPROTO_NONE header)
/// are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MhPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MhPacket<T> {
    /// Wraps `buffer` without checking it. The accessors never panic on a
    /// short buffer (they read zeros), but their values mean nothing until
    /// [`check_len`](Self::check_len) passed.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len) and
    /// [`check_fields`](Self::check_fields).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        packet.check_fields()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the fixed header and every octet Header
    /// Len claims.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need(buf, field::DATA, "mobility header")?;
        need(buf, self.total_len(), "mobility header")
    }

    /// Checks the rules of RFC 6275 9.2 that a receiver answers with ICMPv6
    /// Parameter Problem: Payload Proto must be IPPROTO_NONE (59), and Header
    /// Len must leave room for the fixed fields of the MH type. Unknown types
    /// pass (a receiver answers those with a Binding Error).
    pub fn check_fields(&self) -> Result<()> {
        let payload_proto = self.payload_proto();
        if payload_proto != proto::NO_NEXT {
            return Err(Error::Invalid {
                field: ERR_PAYLOAD_PROTO,
                value: u64::from(payload_proto),
            });
        }
        let mh_type = self.mh_type();
        if let Some(min) = fixed_len(mh_type) {
            let len = self.total_len();
            if len < min {
                return Err(Error::BadLength {
                    what: ERR_HEADER_LEN,
                    detail: format!(
                        "MH type {mh_type} needs at least {min} octets, Header Len gives {len}"
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    /// The Payload Proto field; 59 (IPPROTO_NONE) in every valid message.
    pub fn payload_proto(&self) -> u8 {
        self.byte(field::PAYLOAD_PROTO)
    }

    /// The raw Header Len field: the length in 8-octet units, not counting
    /// the first 8 octets.
    pub fn header_len(&self) -> u8 {
        self.byte(field::HEADER_LEN)
    }

    /// The length in octets that Header Len gives: `(header_len + 1) * 8`.
    pub fn total_len(&self) -> usize {
        (usize::from(self.header_len()) + 1) * 8
    }

    pub fn mh_type(&self) -> u8 {
        self.byte(field::MH_TYPE)
    }

    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([
            self.byte(field::CHECKSUM.start),
            self.byte(field::CHECKSUM.end - 1),
        ])
    }

    /// The Mobility Header's own octets (Header Len of them), without any
    /// trailing bytes of the buffer; empty if the buffer is too short.
    pub fn mh_bytes(&self) -> &[u8] {
        self.buffer.as_ref().get(..self.total_len()).unwrap_or(&[])
    }

    /// The message data: type-specific fields followed by mobility options.
    pub fn message_data(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::DATA..self.total_len())
            .unwrap_or(&[])
    }

    /// True when the checksum verifies over the pseudo-header of `src` and
    /// `dst` (see the module notes for which addresses these are). False
    /// when the buffer is shorter than Header Len says.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let bytes = self.mh_bytes();
        !bytes.is_empty() && checksum::verify(src, dst, proto::MOBILITY, bytes)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MhPacket<T> {
    pub fn set_checksum(&mut self, value: u16) {
        if let Some(c) = self.buffer.as_mut().get_mut(field::CHECKSUM) {
            c.copy_from_slice(&value.to_be_bytes());
        }
    }

    /// Computes and stores the checksum over the pseudo-header of `src` and
    /// `dst`. The buffer must have passed [`check_len`](Self::check_len).
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<()> {
        self.check_len()?;
        self.set_checksum(0);
        let value = checksum::upper_layer(src, dst, proto::MOBILITY, self.mh_bytes());
        self.set_checksum(value);
        Ok(())
    }
}

/// Stores the checksum of the Mobility Header at the start of `buf`, over
/// the pseudo-header of `src` and `dst` (see the module notes).
pub fn fill_checksum(buf: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<()> {
    MhPacket::new_unchecked(buf).fill_checksum(src, dst)
}

/// True when the Mobility Header at the start of `buf` has a valid checksum
/// for the pseudo-header of `src` and `dst`.
pub fn verify_checksum(buf: &[u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
    MhPacket::new_unchecked(buf).verify_checksum(src, dst)
}
