//! A checked view over one ICMPv6 message (RFC 4443 2.1): type, code,
//! checksum, body. Neighbor Discovery and the Mobile IPv6 ICMP messages
//! (DHAAD, mobile prefix discovery) all share this header, so both `nd` and
//! `dhaad` parse through it.

use std::net::Ipv6Addr;

use crate::wire::checksum::{self, proto};
use crate::wire::{Error, Result};

/// Type, code and checksum: the part every ICMPv6 message has.
pub const HEADER_LEN: usize = 4;

mod field {
    use core::ops::{Range, RangeFrom};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const BODY: RangeFrom<usize> = 4..;
}

/// A view over the bytes of one ICMPv6 message, starting at its Type field
/// and ending where the IPv6 payload ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// The same view under the name the ND code reads best with.
pub type NdPacket<T> = Icmpv6Packet<T>;

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps `buffer` without looking at it. Accessors never panic on a
    /// short buffer (they read missing bytes as zero), but only
    /// [`Icmpv6Packet::new_checked`] promises the header is really there.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after checking it holds at least the 4-byte header.
    /// Per-type minimum lengths are checked by the `Repr` parsers, which
    /// know the type.
    pub fn new_checked(buffer: T) -> Result<Self> {
        crate::wire::error::need(buffer.as_ref(), HEADER_LEN, "ICMPv6 header")?;
        Ok(Self { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole message, header included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        self.byte(field::TYPE)
    }

    pub fn msg_code(&self) -> u8 {
        self.byte(field::CODE)
    }

    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([
            self.byte(field::CHECKSUM.start),
            self.byte(field::CHECKSUM.start + 1),
        ])
    }

    /// Everything after the checksum.
    pub fn body(&self) -> &[u8] {
        self.buffer.as_ref().get(field::BODY).unwrap_or(&[])
    }

    /// The checksum this message should carry when sent from `src` to
    /// `dst` (RFC 4443 2.3), whatever its checksum field holds now.
    ///
    /// With a Home Address option `src` is the home address, and with a
    /// type 2 routing header `dst` is the final destination (the home
    /// address), as RFC 6275 6.3 and 6.4 require of upper-layer checksums.
    pub fn compute_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let bytes = self.buffer.as_ref();
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut sum = checksum::pseudo_header(src, dst, proto::ICMPV6, len);
        // Skip the checksum field itself: it counts as zero. The first
        // piece has even length, so word alignment of the rest is kept.
        sum = checksum::accumulate(sum, bytes.get(..field::CHECKSUM.start).unwrap_or(bytes));
        sum = checksum::accumulate(sum, self.body());
        checksum::finish(sum)
    }

    /// True when the stored checksum verifies for `src` and `dst`.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        checksum::verify(src, dst, proto::ICMPV6, self.buffer.as_ref())
    }

    /// Like [`Icmpv6Packet::verify_checksum`], but says what was expected.
    pub fn check_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<()> {
        if self.verify_checksum(src, dst) {
            Ok(())
        } else {
            Err(Error::BadChecksum {
                what: "ICMPv6",
                found: self.checksum(),
                expected: self.compute_checksum(src, dst),
            })
        }
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    pub fn set_msg_type(&mut self, value: u8) {
        self.set_byte(field::TYPE, value);
    }

    pub fn set_msg_code(&mut self, value: u8) {
        self.set_byte(field::CODE, value);
    }

    pub fn set_checksum(&mut self, value: u16) {
        if let Some(c) = self.buffer.as_mut().get_mut(field::CHECKSUM) {
            c.copy_from_slice(&value.to_be_bytes());
        }
    }

    /// Computes and stores the checksum for `src` and `dst` (see
    /// [`Icmpv6Packet::compute_checksum`] for which addresses to pass).
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let c = self.compute_checksum(src, dst);
        self.set_checksum(c);
    }

    pub fn body_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut().get_mut(field::BODY).unwrap_or(&mut [])
    }

    fn set_byte(&mut self, at: usize, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(at) {
            *b = value;
        }
    }
}

/// Checks an ICMPv6 code that must be zero (every ND and DHAAD message).
pub(crate) fn expect_code_zero<T: AsRef<[u8]>>(packet: &Icmpv6Packet<T>) -> Result<()> {
    match packet.msg_code() {
        0 => Ok(()),
        code => Err(Error::Invalid {
            field: "ICMPv6 code",
            value: u64::from(code),
        }),
    }
}

/// Checks that an emit buffer can hold `need` bytes.
pub(crate) fn emit_room(buf: &[u8], need: usize, what: &'static str) -> Result<()> {
    crate::wire::error::need(buf, need, what)
}

/// Writes type, zero code and zero checksum.
pub(crate) fn emit_header(buf: &mut [u8], msg_type: u8) {
    if let Some(h) = buf.get_mut(..HEADER_LEN) {
        h.copy_from_slice(&[msg_type, 0, 0, 0]);
    }
}

/// Checks that `bytes` hold an ICMPv6 packet and, with `addrs` (source,
/// destination of its pseudo-header), that its checksum is right, then
/// `parse`s it: the byte-level entry of every ICMPv6 message family (ND,
/// DHAAD and Mobile Prefix).
pub(crate) fn parse_bytes<'a, M>(
    bytes: &'a [u8],
    addrs: Option<(&Ipv6Addr, &Ipv6Addr)>,
    parse: impl FnOnce(&Icmpv6Packet<&'a [u8]>) -> Result<M>,
) -> Result<M> {
    let packet = Icmpv6Packet::new_checked(bytes)?;
    if let Some((src, dst)) = addrs {
        packet.check_checksum(src, dst)?;
    }
    parse(&packet)
}
