//! TLV options of Hop-by-Hop and Destination Options headers (RFC 8200 4.2).

use crate::wire::{Error, Result};

/// Pad1: a single zero octet, no length field (RFC 8200 4.2).
pub const PAD1: u8 = 0;
/// PadN: type, length, then that many octets of padding (RFC 8200 4.2).
pub const PADN: u8 = 1;

/// What RFC 8200 4.2 tells a node to do with an option type it does not
/// recognise. The two high-order bits of the option type say it, so a
/// receiver can act on options it has never heard of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnrecognizedAction {
    /// `00`: skip the option and keep processing the header.
    Skip,
    /// `01`: discard the packet silently.
    Discard,
    /// `10`: discard and send Parameter Problem code 2, even when the
    /// destination was multicast.
    DiscardAndReport,
    /// `11`: discard and send Parameter Problem code 2 unless the destination
    /// was multicast. The Home Address option carries these bits, which is
    /// why a kernel without MIPv6 rejects it (docs/ARCHITECTURE.md, kernel fact 2).
    DiscardAndReportUnicast,
}

impl UnrecognizedAction {
    /// The action encoded in `opt_type`.
    pub const fn of(opt_type: u8) -> Self {
        match opt_type >> 6 {
            0 => Self::Skip,
            1 => Self::Discard,
            2 => Self::DiscardAndReport,
            _ => Self::DiscardAndReportUnicast,
        }
    }
}

/// True when the option's data may change en route (the third-highest bit,
/// RFC 8200 4.2); such data is zeroed when AH computes its integrity check.
pub const fn may_change_en_route(opt_type: u8) -> bool {
    opt_type & 0x20 != 0
}

/// One option as it sits in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvOption<'a> {
    /// Offset of the option type octet from the start of the enclosing
    /// extension header (alignment rules such as 8n+6 are stated this way).
    pub offset: usize,
    /// Option type, action and change bits included.
    pub opt_type: u8,
    /// Option data, without type and length octets; empty for Pad1.
    pub data: &'a [u8],
}

impl TlvOption<'_> {
    /// Octets the option occupies, type and length included.
    pub fn wire_len(&self) -> usize {
        if self.opt_type == PAD1 {
            1
        } else {
            2 + self.data.len()
        }
    }

    /// Pad1 and PadN carry nothing; every receiver knows them.
    pub fn is_padding(&self) -> bool {
        self.opt_type == PAD1 || self.opt_type == PADN
    }

    /// What a receiver that does not know this option must do.
    pub fn action(&self) -> UnrecognizedAction {
        UnrecognizedAction::of(self.opt_type)
    }
}

/// Iterator over the options of one Hop-by-Hop or Destination Options
/// header. It yields padding too, so callers can check layouts; after the
/// first error it stops.
#[derive(Debug, Clone)]
pub struct TlvOptions<'a> {
    header: &'a [u8],
    pos: usize,
    container: &'static str,
    done: bool,
}

impl<'a> TlvOptions<'a> {
    /// `header` is the whole extension header, Next Header and Hdr Ext Len
    /// octets included, cut to its length; options start at offset 2.
    /// `container` names the header in errors.
    pub fn new(header: &'a [u8], container: &'static str) -> Self {
        Self {
            header,
            pos: 2,
            container,
            done: false,
        }
    }
}

impl<'a> Iterator for TlvOptions<'a> {
    type Item = Result<TlvOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let offset = self.pos;
        let Some(&opt_type) = self.header.get(offset) else {
            self.done = true;
            return None;
        };
        if opt_type == PAD1 {
            self.pos += 1;
            return Some(Ok(TlvOption {
                offset,
                opt_type,
                data: &[],
            }));
        }
        let data = self
            .header
            .get(offset + 1)
            .and_then(|&len| self.header.get(offset + 2..offset + 2 + usize::from(len)));
        match data {
            Some(data) => {
                self.pos = offset + 2 + data.len();
                Some(Ok(TlvOption {
                    offset,
                    opt_type,
                    data,
                }))
            }
            None => {
                self.done = true;
                Some(Err(Error::OptionOverrun {
                    opt_type,
                    container: self.container,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_bits() {
        assert_eq!(UnrecognizedAction::of(0x04), UnrecognizedAction::Skip);
        assert_eq!(UnrecognizedAction::of(0x45), UnrecognizedAction::Discard);
        assert_eq!(
            UnrecognizedAction::of(0x8a),
            UnrecognizedAction::DiscardAndReport
        );
        // RFC 6275 6.3: the Home Address option's top three bits are 110.
        assert_eq!(
            UnrecognizedAction::of(0xc9),
            UnrecognizedAction::DiscardAndReportUnicast
        );
        assert!(!may_change_en_route(0xc9));
        assert!(may_change_en_route(0x3e));
    }

    #[test]
    fn walks_pad1_padn_and_data() {
        // Next Header, Hdr Ext Len, Pad1, PadN(1), option 0x3e with 2 octets.
        let hdr = [59, 0, 0, 1, 1, 0, 0x3e, 2, 0xaa, 0xbb];
        let opts: Vec<_> = TlvOptions::new(&hdr, "test")
            .collect::<Result<_>>()
            .expect("valid");
        assert_eq!(opts.len(), 3);
        assert_eq!((opts[0].offset, opts[0].wire_len()), (2, 1));
        assert_eq!((opts[1].offset, opts[1].wire_len()), (3, 3));
        assert_eq!(opts[2].data, &[0xaa, 0xbb]);
        assert!(opts[1].is_padding() && !opts[2].is_padding());
    }

    #[test]
    fn overrun_is_an_error_then_stops() {
        for hdr in [&[59u8, 0, 1][..], &[59, 0, 0x3e, 5, 0, 0, 0, 0][..]] {
            let mut it = TlvOptions::new(hdr, "test");
            assert!(matches!(
                it.next(),
                Some(Err(Error::OptionOverrun {
                    container: "test",
                    ..
                }))
            ));
            assert!(it.next().is_none());
        }
    }
}
