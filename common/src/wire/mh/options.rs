//! Mobility options (RFC 6275 6.2, RFC 4283, RFC 4285): type-length-value
//! items after a message's fixed fields, each with an alignment rule that
//! the sender meets by inserting Pad1/PadN before it.

use std::net::Ipv6Addr;

use super::MAX_LEN;
use crate::wire::be::{be16, be32, be64};
use crate::wire::error::room;
use crate::wire::{Error, Result};

/// Mobility option types (IANA "Mobility Options" registry).
pub mod opt_type {
    /// RFC 6275 6.2.2: a single zero octet, no length field.
    pub const PAD1: u8 = 0;
    /// RFC 6275 6.2.3.
    pub const PADN: u8 = 1;
    /// RFC 6275 6.2.4.
    pub const BINDING_REFRESH_ADVICE: u8 = 2;
    /// RFC 6275 6.2.5.
    pub const ALT_CARE_OF_ADDRESS: u8 = 3;
    /// RFC 6275 6.2.6.
    pub const NONCE_INDICES: u8 = 4;
    /// RFC 6275 6.2.7.
    pub const BINDING_AUTH_DATA: u8 = 5;
    /// RFC 4283 (MN-ID-OPTION-TYPE).
    pub const MOBILE_NODE_ID: u8 = 8;
    /// RFC 4285 section 5 (AUTH-OPTION-TYPE).
    pub const MOBILITY_AUTH: u8 = 9;
    /// RFC 4285 section 6 (MESG-ID-OPTION-TYPE).
    pub const REPLAY_PROTECTION: u8 = 10;
}

/// Subtypes of the Mobile Node Identifier option (RFC 4283).
pub mod mn_id_subtype {
    /// Network Access Identifier, user@realm (RFC 4282).
    pub const NAI: u8 = 1;
}

/// Subtypes of the Mobility Message Authentication option (RFC 4285 5).
pub mod auth_subtype {
    /// Keyed by the MN-HA shared key; protects BU and BA (RFC 4285 5.1).
    pub const MN_HA: u8 = 1;
    /// Keyed by the MN-AAA shared key; BU only (RFC 4285 5.2).
    pub const MN_AAA: u8 = 2;
}

/// One mobility option. Pad1 and PadN have no variant: parsing drops them and
/// emitting inserts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MhOption {
    /// RFC 6275 6.2.4: when the mobile node should refresh, in units of 4
    /// seconds. Length 2, alignment 2n.
    BindingRefreshAdvice { refresh_interval: u16 },
    /// RFC 6275 6.2.5. Length 16, alignment 8n+6.
    AltCareOfAddress(Ipv6Addr),
    /// RFC 6275 6.2.6. Length 4, alignment 2n.
    NonceIndices {
        home_nonce_index: u16,
        care_of_nonce_index: u16,
    },
    /// RFC 6275 6.2.7: the authenticator (96 bits for return routability,
    /// 5.2.6, but the length belongs to the procedure). Alignment 8n+2.
    BindingAuthData { authenticator: Vec<u8> },
    /// RFC 4283: an identifier of kind `subtype` (see [`mn_id_subtype`]).
    /// Length 1 + identifier; no alignment rule.
    MobileNodeId { subtype: u8, identifier: Vec<u8> },
    /// RFC 4285 5: Mobility SPI and authenticator (see [`auth_subtype`]).
    /// Length 5 + data, alignment 4n+1 (so the SPI is 4-aligned).
    MobilityAuth {
        subtype: u8,
        spi: u32,
        auth_data: Vec<u8>,
    },
    /// RFC 4285 6: 64-bit timestamp (NTP format). Length 8, alignment 8n+2.
    ReplayProtection { timestamp: u64 },
    /// Any other type, kept so the caller sees it (RFC 6275 6.2.1: a
    /// receiver skips options it does not understand). Emitted without
    /// alignment.
    Unknown { opt_type: u8, data: Vec<u8> },
}

/// An option as it sits in the buffer, padding included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Offset of the Option Type octet from the start of the Mobility Header.
    pub offset: usize,
    pub opt_type: u8,
    /// The option data, without type and length (empty for Pad1).
    pub data: &'a [u8],
}

/// Walks the options of a Mobility Header without interpreting them. Yields
/// an error (and then stops) when an option runs past the end.
#[derive(Debug, Clone)]
pub struct RawOptions<'a> {
    mh: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> RawOptions<'a> {
    /// Iterates over `mh[start..]`; `mh` should be exactly the Mobility
    /// Header (see `MhPacket::mh_bytes`) so offsets count from its start.
    pub fn new(mh: &'a [u8], start: usize) -> Self {
        Self {
            mh,
            pos: start,
            failed: false,
        }
    }
}

impl<'a> Iterator for RawOptions<'a> {
    type Item = Result<RawOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let offset = self.pos;
        let rest = self.mh.get(offset..)?;
        let (&opt_type, after_type) = rest.split_first()?;
        if opt_type == opt_type::PAD1 {
            self.pos += 1;
            return Some(Ok(RawOption {
                offset,
                opt_type,
                data: &[],
            }));
        }
        let data = after_type
            .split_first()
            .and_then(|(&len, after_len)| after_len.get(..usize::from(len)));
        match data {
            Some(data) => {
                self.pos += 2 + data.len();
                Some(Ok(RawOption {
                    offset,
                    opt_type,
                    data,
                }))
            }
            None => {
                self.failed = true;
                Some(Err(Error::OptionOverrun {
                    opt_type,
                    container: "mobility header",
                }))
            }
        }
    }
}

fn exact_len(what: &'static str, data: &[u8], want: usize) -> Result<()> {
    if data.len() == want {
        Ok(())
    } else {
        Err(Error::BadLength {
            what,
            detail: format!("option length {}, must be {want}", data.len()),
        })
    }
}

fn min_len(what: &'static str, data: &[u8], min: usize) -> Result<()> {
    if data.len() >= min {
        Ok(())
    } else {
        Err(Error::BadLength {
            what,
            detail: format!("option length {}, must be at least {min}", data.len()),
        })
    }
}

/// Types that parse into a variant other than `Unknown`; an `Unknown` of one
/// of these could not survive a round trip.
fn is_known_type(t: u8) -> bool {
    matches!(
        t,
        opt_type::PAD1
            | opt_type::PADN
            | opt_type::BINDING_REFRESH_ADVICE
            | opt_type::ALT_CARE_OF_ADDRESS
            | opt_type::NONCE_INDICES
            | opt_type::BINDING_AUTH_DATA
            | opt_type::MOBILE_NODE_ID
            | opt_type::MOBILITY_AUTH
            | opt_type::REPLAY_PROTECTION
    )
}

impl MhOption {
    /// Interprets a raw option; `None` for Pad1 and PadN.
    pub fn parse(raw: &RawOption<'_>) -> Result<Option<Self>> {
        let d = raw.data;
        let opt = match raw.opt_type {
            opt_type::PAD1 | opt_type::PADN => return Ok(None),
            opt_type::BINDING_REFRESH_ADVICE => {
                exact_len("binding refresh advice option", d, 2)?;
                Self::BindingRefreshAdvice {
                    refresh_interval: be16(d, 0),
                }
            }
            opt_type::ALT_CARE_OF_ADDRESS => {
                exact_len("alternate care-of address option", d, 16)?;
                let mut a = [0; 16];
                a.copy_from_slice(d);
                Self::AltCareOfAddress(Ipv6Addr::from(a))
            }
            opt_type::NONCE_INDICES => {
                exact_len("nonce indices option", d, 4)?;
                Self::NonceIndices {
                    home_nonce_index: be16(d, 0),
                    care_of_nonce_index: be16(d, 2),
                }
            }
            opt_type::BINDING_AUTH_DATA => Self::BindingAuthData {
                authenticator: d.to_vec(),
            },
            opt_type::MOBILE_NODE_ID => {
                min_len("mobile node identifier option", d, 1)?;
                Self::MobileNodeId {
                    subtype: d.first().copied().unwrap_or(0),
                    identifier: d.get(1..).unwrap_or(&[]).to_vec(),
                }
            }
            opt_type::MOBILITY_AUTH => {
                min_len("mobility message authentication option", d, 5)?;
                Self::MobilityAuth {
                    subtype: d.first().copied().unwrap_or(0),
                    spi: be32(d, 1),
                    auth_data: d.get(5..).unwrap_or(&[]).to_vec(),
                }
            }
            opt_type::REPLAY_PROTECTION => {
                exact_len("mobility message replay protection option", d, 8)?;
                Self::ReplayProtection {
                    timestamp: be64(d, 0),
                }
            }
            t => Self::Unknown {
                opt_type: t,
                data: d.to_vec(),
            },
        };
        Ok(Some(opt))
    }

    pub fn opt_type(&self) -> u8 {
        match self {
            Self::BindingRefreshAdvice { .. } => opt_type::BINDING_REFRESH_ADVICE,
            Self::AltCareOfAddress(_) => opt_type::ALT_CARE_OF_ADDRESS,
            Self::NonceIndices { .. } => opt_type::NONCE_INDICES,
            Self::BindingAuthData { .. } => opt_type::BINDING_AUTH_DATA,
            Self::MobileNodeId { .. } => opt_type::MOBILE_NODE_ID,
            Self::MobilityAuth { .. } => opt_type::MOBILITY_AUTH,
            Self::ReplayProtection { .. } => opt_type::REPLAY_PROTECTION,
            Self::Unknown { opt_type, .. } => *opt_type,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::BindingRefreshAdvice { .. } => "binding refresh advice option",
            Self::AltCareOfAddress(_) => "alternate care-of address option",
            Self::NonceIndices { .. } => "nonce indices option",
            Self::BindingAuthData { .. } => "binding authorization data option",
            Self::MobileNodeId { .. } => "mobile node identifier option",
            Self::MobilityAuth { .. } => "mobility message authentication option",
            Self::ReplayProtection { .. } => "mobility message replay protection option",
            Self::Unknown { .. } => "unknown mobility option",
        }
    }

    /// Length of the option data (the Option Length field).
    pub fn data_len(&self) -> usize {
        match self {
            Self::BindingRefreshAdvice { .. } => 2,
            Self::AltCareOfAddress(_) => 16,
            Self::NonceIndices { .. } => 4,
            Self::BindingAuthData { authenticator } => authenticator.len(),
            Self::MobileNodeId { identifier, .. } => 1 + identifier.len(),
            Self::MobilityAuth { auth_data, .. } => 5 + auth_data.len(),
            Self::ReplayProtection { .. } => 8,
            Self::Unknown { data, .. } => data.len(),
        }
    }

    /// The alignment rule `xn+y` as `(x, y)` (RFC 6275 6.2.4 to 6.2.7; RFC
    /// 4285 figures 2 and 3 place the SPI and the timestamp on 4- and
    /// 8-octet boundaries; RFC 4283 sets none). `(1, 0)` means none.
    pub fn alignment(&self) -> (usize, usize) {
        match self {
            Self::BindingRefreshAdvice { .. } | Self::NonceIndices { .. } => (2, 0),
            Self::AltCareOfAddress(_) => (8, 6),
            Self::BindingAuthData { .. } | Self::ReplayProtection { .. } => (8, 2),
            Self::MobilityAuth { .. } => (4, 1),
            Self::MobileNodeId { .. } | Self::Unknown { .. } => (1, 0),
        }
    }

    /// Where this option must start when the previous one ended at `off`.
    ///
    /// RFC 4285 5 makes the authentication option the last one in the
    /// message; when it is, and its length allows, it is placed so it ends on
    /// the 8-octet boundary, because padding after it would make it not last
    /// for a strict receiver. Its 4n+1 rule still holds.
    fn start_at(&self, off: usize, last: bool) -> usize {
        let (x, y) = match self {
            Self::MobilityAuth { .. } if last && (2 + self.data_len()) % 4 == 3 => {
                (8, (8 - (2 + self.data_len()) % 8) % 8)
            }
            _ => self.alignment(),
        };
        off + (y + x - off % x) % x
    }

    fn validate(&self) -> Result<()> {
        if self.data_len() > usize::from(u8::MAX) {
            return Err(Error::Unencodable {
                what: self.name(),
                detail: format!("{} octets of option data, at most 255 fit", self.data_len()),
            });
        }
        if let Self::Unknown { opt_type, .. } = self
            && is_known_type(*opt_type)
        {
            return Err(Error::Unencodable {
                what: self.name(),
                detail: format!("type {opt_type} has its own variant"),
            });
        }
        Ok(())
    }

    /// Writes type, length and data at the start of `buf`, which the caller
    /// sized with `data_len() + 2`.
    fn emit_into(&self, buf: &mut [u8]) {
        let mut w = Writer { buf, pos: 0 };
        w.put(&[self.opt_type(), self.data_len() as u8]);
        match self {
            Self::BindingRefreshAdvice { refresh_interval } => {
                w.put(&refresh_interval.to_be_bytes());
            }
            Self::AltCareOfAddress(a) => w.put(&a.octets()),
            Self::NonceIndices {
                home_nonce_index,
                care_of_nonce_index,
            } => {
                w.put(&home_nonce_index.to_be_bytes());
                w.put(&care_of_nonce_index.to_be_bytes());
            }
            Self::BindingAuthData { authenticator } => w.put(authenticator),
            Self::MobileNodeId {
                subtype,
                identifier,
            } => {
                w.put(&[*subtype]);
                w.put(identifier);
            }
            Self::MobilityAuth {
                subtype,
                spi,
                auth_data,
            } => {
                w.put(&[*subtype]);
                w.put(&spi.to_be_bytes());
                w.put(auth_data);
            }
            Self::ReplayProtection { timestamp } => w.put(&timestamp.to_be_bytes()),
            Self::Unknown { data, .. } => w.put(data),
        }
    }
}

/// A cursor that silently stops at the end of its buffer; callers size the
/// buffer first, so a short write only happens on a bug, never a panic.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// Parses the options in `mh[start..]`, dropping padding.
pub(super) fn parse_options(mh: &[u8], start: usize) -> Result<Vec<MhOption>> {
    let mut out = Vec::new();
    for raw in RawOptions::new(mh, start) {
        if let Some(opt) = MhOption::parse(&raw?)? {
            out.push(opt);
        }
    }
    Ok(out)
}

/// Writes minimal padding of `n` octets: Pad1 for one, PadN otherwise
/// (RFC 6275 6.2.2, 6.2.3). PadN's data octets are zero.
fn emit_padding(buf: &mut [u8], n: usize) {
    let Some(pad) = buf.get_mut(..n) else { return };
    pad.fill(0);
    if let [t, len, ..] = pad {
        *t = opt_type::PADN;
        *len = (n - 2) as u8;
    }
}

/// Where each option starts, and where the padded message ends, for options
/// laid out after the fixed part ending at `start`.
fn layout(options: &[MhOption], start: usize) -> (Vec<usize>, usize) {
    let mut starts = Vec::with_capacity(options.len());
    let mut off = start;
    for (i, opt) in options.iter().enumerate() {
        let at = opt.start_at(off, i + 1 == options.len());
        starts.push(at);
        off = at + 2 + opt.data_len();
    }
    (starts, off.next_multiple_of(8))
}

/// Total length of a message whose fixed part ends at `start`, with options
/// and padding (a multiple of 8).
pub(super) fn padded_len(options: &[MhOption], start: usize) -> usize {
    layout(options, start).1
}

/// Writes `options` with their padding into `buf` from `start` on, up to the
/// padded end, which it returns. `buf` is the whole Mobility Header.
pub(super) fn emit_options(options: &[MhOption], buf: &mut [u8], start: usize) -> Result<usize> {
    for opt in options {
        opt.validate()?;
    }
    let (starts, end) = layout(options, start);
    if end > MAX_LEN {
        return Err(Error::Unencodable {
            what: "mobility header",
            detail: format!("{end} octets, at most {MAX_LEN} fit"),
        });
    }
    let buf = room(buf, end, "mobility header emit buffer")?;
    let mut off = start;
    for (opt, &at) in options.iter().zip(&starts) {
        emit_padding(buf.get_mut(off..).unwrap_or_default(), at - off);
        let opt_end = at + 2 + opt.data_len();
        opt.emit_into(buf.get_mut(at..opt_end).unwrap_or_default());
        off = opt_end;
    }
    emit_padding(buf.get_mut(off..).unwrap_or_default(), end - off);
    Ok(end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Emits `options` after a fixed part ending at `start` and returns the
    /// bytes from `start` on.
    fn emit_at(options: &[MhOption], start: usize) -> Vec<u8> {
        let mut buf = vec![0xee; padded_len(options, start)];
        let end = emit_options(options, &mut buf, start).unwrap();
        assert_eq!(end, buf.len());
        buf[start..].to_vec()
    }

    fn parse_at(bytes: &[u8], start: usize) -> Result<Vec<MhOption>> {
        let mut mh = vec![0; start];
        mh.extend_from_slice(bytes);
        parse_options(&mh, start)
    }

    #[test]
    fn binding_refresh_advice() {
        // RFC 6275 6.2.4: type 2, length 2, Refresh Interval; 2n alignment.
        // After a BA's fixed part (12 octets) it needs no padding, and fills
        // the message to 16.
        let opt = MhOption::BindingRefreshAdvice {
            refresh_interval: 0x0102,
        };
        let wire = [0x02, 0x02, 0x01, 0x02];
        assert_eq!(emit_at(std::slice::from_ref(&opt), 12), wire);
        assert_eq!(parse_at(&wire, 12).unwrap(), vec![opt]);
    }

    #[test]
    fn alternate_care_of_address() {
        // RFC 6275 6.2.5: type 3, length 16, 8n+6. After a BU's 12-octet
        // fixed part: PadN with no data (2 octets), then the option at 14,
        // ending at 32.
        let a: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        let opt = MhOption::AltCareOfAddress(a);
        let mut wire = vec![0x01, 0x00, 0x03, 0x10];
        wire.extend_from_slice(&a.octets());
        assert_eq!(emit_at(std::slice::from_ref(&opt), 12), wire);
        assert_eq!(parse_at(&wire, 12).unwrap(), vec![opt]);
    }

    #[test]
    fn nonce_indices_then_binding_auth_data() {
        // RFC 6275 6.2.6 (type 4, length 4, 2n) and 6.2.7 (type 5, 8n+2):
        // the correspondent BU of 5.2.6 lays out with no padding at all:
        // nonce indices at 12, authorization data at 18, end at 32.
        let opts = [
            MhOption::NonceIndices {
                home_nonce_index: 3,
                care_of_nonce_index: 4,
            },
            MhOption::BindingAuthData {
                authenticator: vec![0x55; 12],
            },
        ];
        let mut wire = vec![0x04, 0x04, 0x00, 0x03, 0x00, 0x04, 0x05, 0x0c];
        wire.extend_from_slice(&[0x55; 12]);
        assert_eq!(emit_at(&opts, 12), wire);
        assert_eq!(parse_at(&wire, 12).unwrap(), opts);
    }

    #[test]
    fn binding_auth_data_alone_after_bu() {
        // 8n+2 after offset 12: Pad1 is not enough, PadN of 6 octets
        // (length 4) brings it to 18.
        let opt = MhOption::BindingAuthData {
            authenticator: vec![0xaa; 12],
        };
        let mut wire = vec![0x01, 0x04, 0, 0, 0, 0, 0x05, 0x0c];
        wire.extend_from_slice(&[0xaa; 12]);
        assert_eq!(emit_at(std::slice::from_ref(&opt), 12), wire);
        assert_eq!(parse_at(&wire, 12).unwrap(), vec![opt]);
    }

    #[test]
    fn mobile_node_identifier() {
        // RFC 4283 section 3: type 8, length = 1 + identifier, subtype 1
        // (NAI), identifier; no alignment rule. 12 + 2 + 1 + 14 = 29, then
        // PadN of 3 octets to 32.
        let opt = MhOption::MobileNodeId {
            subtype: mn_id_subtype::NAI,
            identifier: b"mn@example.org".to_vec(),
        };
        let mut wire = vec![0x08, 0x0f, 0x01];
        wire.extend_from_slice(b"mn@example.org");
        wire.extend_from_slice(&[0x01, 0x01, 0x00]);
        assert_eq!(emit_at(std::slice::from_ref(&opt), 12), wire);
        assert_eq!(parse_at(&wire, 12).unwrap(), vec![opt]);
    }

    #[test]
    fn mobility_message_authentication_is_last_and_ends_aligned() {
        // RFC 4285 5 figure 2: type 9, length = 5 + data, subtype, SPI
        // (32 bits), authentication data. After a BU's fixed part (12):
        // Pad1 to 13 (4n+1 puts the SPI at 16), option ends at 13 + 19 = 32.
        let opt = MhOption::MobilityAuth {
            subtype: auth_subtype::MN_HA,
            spi: 0x0000_1000,
            auth_data: vec![0xab; 12],
        };
        let mut wire = vec![0x00, 0x09, 0x11, 0x01, 0x00, 0x00, 0x10, 0x00];
        wire.extend_from_slice(&[0xab; 12]);
        assert_eq!(emit_at(std::slice::from_ref(&opt), 12), wire);
        assert_eq!(parse_at(&wire, 12).unwrap(), vec![opt.clone()]);

        // After an Alternate CoA the message is at 32; plain 4n+1 would put
        // the option at 33 and need a PadN after it. Being last, it starts
        // at 37 instead (37 = 4*9+1) and ends at 56 with nothing after it.
        let a: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        let opts = [MhOption::AltCareOfAddress(a), opt];
        let bytes = emit_at(&opts, 12);
        assert_eq!(bytes.len(), 56 - 12);
        assert_eq!(&bytes[20..25], &[0x01, 0x03, 0, 0, 0]);
        assert_eq!(bytes[25], opt_type::MOBILITY_AUTH);
        assert_eq!(parse_at(&bytes, 12).unwrap(), opts);
    }

    #[test]
    fn mobility_auth_not_last_uses_plain_4n_plus_1() {
        let auth = MhOption::MobilityAuth {
            subtype: auth_subtype::MN_AAA,
            spi: 7,
            auth_data: vec![1; 12],
        };
        let opts = [auth, MhOption::ReplayProtection { timestamp: 1 }];
        let bytes = emit_at(&opts, 12);
        // Pad1 at 12, auth 13..32, replay protection at 8n+2 = 34 after a
        // PadN of 2 octets, ending at 44, then PadN of 4 to 48.
        assert_eq!(bytes[0], 0x00);
        assert_eq!(bytes[1], opt_type::MOBILITY_AUTH);
        assert_eq!(&bytes[20..22], &[0x01, 0x00]);
        assert_eq!(bytes[22], opt_type::REPLAY_PROTECTION);
        assert_eq!(bytes.len(), 48 - 12);
        assert_eq!(parse_at(&bytes, 12).unwrap(), opts);
    }

    #[test]
    fn replay_protection() {
        // RFC 4285 6 figure 3: type 10, length 8, 64-bit timestamp; the
        // figure puts type and length at 8n+2. From 12: PadN of 6 octets to
        // 18, the option to 28, PadN of 4 octets to 32.
        let opt = MhOption::ReplayProtection {
            timestamp: 0x0102_0304_0506_0708,
        };
        let wire = [
            0x01, 0x04, 0, 0, 0, 0, 0x0a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x01, 0x02, 0, 0,
        ];
        assert_eq!(emit_at(std::slice::from_ref(&opt), 12), wire);
        assert_eq!(parse_at(&wire, 12).unwrap(), vec![opt]);
    }

    #[test]
    fn unknown_options_are_kept_and_pads_dropped() {
        // RFC 6275 6.2.1: skip what you do not understand, but the caller
        // still sees it. Pad1 and a PadN with nonzero content both vanish.
        let wire = [0x00, 0x01, 0x01, 0xff, 0x63, 0x03, 0xa, 0xb, 0xc, 0x00];
        assert_eq!(
            parse_at(&wire, 12).unwrap(),
            vec![MhOption::Unknown {
                opt_type: 0x63,
                data: vec![0xa, 0xb, 0xc]
            }]
        );
    }

    #[test]
    fn bad_lengths_name_the_option() {
        let cases: [(&[u8], &str); 5] = [
            (&[0x02, 0x03, 0, 0, 0], "binding refresh advice option"),
            (
                &[0x03, 0x04, 0, 0, 0, 0],
                "alternate care-of address option",
            ),
            (
                &[0x04, 0x10, 0, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                "nonce indices option",
            ),
            (
                &[0x09, 0x04, 1, 0, 0, 0],
                "mobility message authentication option",
            ),
            (
                &[0x0a, 0x04, 0, 0, 0, 0],
                "mobility message replay protection option",
            ),
        ];
        for (wire, name) in cases {
            match parse_at(wire, 12) {
                Err(Error::BadLength { what, .. }) => assert_eq!(what, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_at(&[0x08, 0x00], 12),
            Err(Error::BadLength {
                what: "mobile node identifier option",
                ..
            })
        ));
    }

    #[test]
    fn overrun_is_an_error() {
        assert_eq!(
            parse_at(&[0x03, 0x10, 0, 0], 12),
            Err(Error::OptionOverrun {
                opt_type: 3,
                container: "mobility header"
            })
        );
        // A lone type octet with no room for its length.
        assert_eq!(
            parse_at(&[0x00, 0x02], 12),
            Err(Error::OptionOverrun {
                opt_type: 2,
                container: "mobility header"
            })
        );
    }

    #[test]
    fn unencodable_options() {
        let too_long = MhOption::BindingAuthData {
            authenticator: vec![0; 256],
        };
        let mut buf = vec![0; 1024];
        assert!(matches!(
            emit_options(&[too_long], &mut buf, 12),
            Err(Error::Unencodable { .. })
        ));
        for t in [0, 1, 2, 3, 4, 5, 8, 9, 10] {
            let clash = MhOption::Unknown {
                opt_type: t,
                data: vec![0; 2],
            };
            assert!(matches!(
                emit_options(&[clash], &mut buf, 12),
                Err(Error::Unencodable { .. })
            ));
        }
    }
}
