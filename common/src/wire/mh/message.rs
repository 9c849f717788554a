//! The Mobility Header messages of RFC 6275 6.1.2 to 6.1.9 and their
//! typed fields.

use std::fmt;
use std::net::Ipv6Addr;

use super::options::{MhOption, emit_options, padded_len, parse_options};
use super::{MAX_LEN, MhPacket, field, fixed_len, mh_type};
use crate::wire::be::{be16, octet};
use crate::wire::checksum::proto;
use crate::wire::error::room;
use crate::wire::{Error, Result, flags_ops};

/// Lifetimes in BU and BA (and the BRA refresh interval) count units of 4
/// seconds (RFC 6275 6.1.7, 6.1.8, 6.2.4).
pub const LIFETIME_UNIT_SECS: u32 = 4;

/// Seconds in a wire lifetime.
pub fn lifetime_to_secs(units: u16) -> u32 {
    u32::from(units) * LIFETIME_UNIT_SECS
}

/// The wire lifetime for `secs`, rounded down (a binding never outlives what
/// was asked) and saturated at the largest encodable value.
pub fn lifetime_from_secs(secs: u32) -> u16 {
    u16::try_from(secs / LIFETIME_UNIT_SECS).unwrap_or(u16::MAX)
}

/// The 16-bit flags word of a Binding Update. The whole word is kept so that
/// bits this code does not name survive a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BuFlags(pub u16);

impl BuFlags {
    /// Acknowledge: a BA is requested (RFC 6275 6.1.7).
    pub const A: Self = Self(0x8000);
    /// Home Registration (RFC 6275 6.1.7).
    pub const H: Self = Self(0x4000);
    /// Link-Local Address Compatibility (RFC 6275 6.1.7).
    pub const L: Self = Self(0x2000);
    /// Key Management Mobility Capability (RFC 6275 6.1.7).
    pub const K: Self = Self(0x1000);
    /// MAP Registration (HMIPv6, RFC 5380).
    pub const M: Self = Self(0x0800);
    /// Mobile Router (NEMO, RFC 3963).
    pub const R: Self = Self(0x0400);
    /// Proxy Registration (PMIPv6, RFC 5213).
    pub const P: Self = Self(0x0200);
    /// Forcing UDP encapsulation (DSMIPv6, RFC 5555).
    pub const F: Self = Self(0x0100);
    /// TLV-header format for the tunnel (RFC 5845).
    pub const T: Self = Self(0x0080);
    /// Bulk Binding Update (RFC 6602).
    pub const B: Self = Self(0x0040);

    pub const fn ack_requested(self) -> bool {
        self.contains(Self::A)
    }

    pub const fn home_registration(self) -> bool {
        self.contains(Self::H)
    }

    pub const fn link_local_compat(self) -> bool {
        self.contains(Self::L)
    }

    pub const fn key_management(self) -> bool {
        self.contains(Self::K)
    }
}

flags_ops!(BuFlags);

/// The 8-bit flags octet of a Binding Acknowledgement, kept whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BaFlags(pub u8);

impl BaFlags {
    /// Key Management Mobility Capability (RFC 6275 6.1.8).
    pub const K: Self = Self(0x80);
    /// Mobile Router (RFC 3963).
    pub const R: Self = Self(0x40);
    /// Proxy Registration (RFC 5213).
    pub const P: Self = Self(0x20);
    /// TLV-header format (RFC 5845).
    pub const T: Self = Self(0x10);
    /// Bulk Binding Update (RFC 6602).
    pub const B: Self = Self(0x08);

    pub const fn key_management(self) -> bool {
        self.contains(Self::K)
    }
}

flags_ops!(BaFlags);

/// Binding Acknowledgement status (RFC 6275 6.1.8 and the IANA "Status
/// Codes" registry). Values below 128 accept the binding; unknown values are
/// kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BaStatus(pub u8);

impl BaStatus {
    pub const ACCEPTED: Self = Self(0);
    pub const ACCEPTED_PREFIX_DISCOVERY_NECESSARY: Self = Self(1);
    pub const REASON_UNSPECIFIED: Self = Self(128);
    pub const ADMINISTRATIVELY_PROHIBITED: Self = Self(129);
    pub const INSUFFICIENT_RESOURCES: Self = Self(130);
    pub const HOME_REGISTRATION_NOT_SUPPORTED: Self = Self(131);
    pub const NOT_HOME_SUBNET: Self = Self(132);
    pub const NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE: Self = Self(133);
    pub const DUPLICATE_ADDRESS_DETECTION_FAILED: Self = Self(134);
    pub const SEQUENCE_NUMBER_OUT_OF_WINDOW: Self = Self(135);
    pub const EXPIRED_HOME_NONCE_INDEX: Self = Self(136);
    pub const EXPIRED_CARE_OF_NONCE_INDEX: Self = Self(137);
    pub const EXPIRED_NONCES: Self = Self(138);
    pub const REGISTRATION_TYPE_CHANGE_DISALLOWED: Self = Self(139);
    /// RFC 4285 6 (MIPV6-ID-MISMATCH): the Mesg-ID timestamp is outside
    /// the home agent's window (or not newer than the last one); the BA
    /// carries the home agent's time for the mobile node to resynchronise.
    pub const MIPV6_ID_MISMATCH: Self = Self(144);
    /// RFC 4285 (MIPV6-MESG-ID-REQD): the replay protection option is missing.
    pub const MIPV6_MESG_ID_REQD: Self = Self(145);
    /// RFC 4285 (MIPV6-AUTH-FAIL): the authentication option did not verify.
    pub const MIPV6_AUTH_FAIL: Self = Self(146);
    /// RFC 6275 6.1.8 (new since RFC 3775).
    pub const INVALID_CARE_OF_ADDRESS: Self = Self(174);

    /// RFC 6275 6.1.8: values under 128 mean the BU was accepted.
    pub const fn is_accepted(self) -> bool {
        self.0 < 128
    }

    /// The registry name of the named values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "Binding Update accepted",
            1 => "Accepted but prefix discovery necessary",
            128 => "Reason unspecified",
            129 => "Administratively prohibited",
            130 => "Insufficient resources",
            131 => "Home registration not supported",
            132 => "Not home subnet",
            133 => "Not home agent for this mobile node",
            134 => "Duplicate Address Detection failed",
            135 => "Sequence number out of window",
            136 => "Expired home nonce index",
            137 => "Expired care-of nonce index",
            138 => "Expired nonces",
            139 => "Registration type change disallowed",
            144 => "MIPV6-ID-MISMATCH",
            145 => "MIPV6-MESG-ID-REQD",
            146 => "MIPV6-AUTH-FAIL",
            174 => "Invalid Care-of Address",
            _ => return None,
        })
    }
}

impl fmt::Display for BaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({n})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Binding Error status (RFC 6275 6.1.9); unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BeStatus(pub u8);

impl BeStatus {
    /// A packet with a Home Address option arrived with no binding for it.
    pub const UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION: Self = Self(1);
    /// The MH Type was not recognized.
    pub const UNRECOGNIZED_MH_TYPE: Self = Self(2);
}

/// RFC 6275 6.1.2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindingRefreshRequest {
    pub options: Vec<MhOption>,
}

/// RFC 6275 6.1.3.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HomeTestInit {
    pub home_init_cookie: [u8; 8],
    pub options: Vec<MhOption>,
}

/// RFC 6275 6.1.4.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CareOfTestInit {
    pub care_of_init_cookie: [u8; 8],
    pub options: Vec<MhOption>,
}

/// RFC 6275 6.1.5.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HomeTest {
    pub home_nonce_index: u16,
    pub home_init_cookie: [u8; 8],
    pub home_keygen_token: [u8; 8],
    pub options: Vec<MhOption>,
}

/// RFC 6275 6.1.6.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CareOfTest {
    pub care_of_nonce_index: u16,
    pub care_of_init_cookie: [u8; 8],
    pub care_of_keygen_token: [u8; 8],
    pub options: Vec<MhOption>,
}

/// RFC 6275 6.1.7.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindingUpdate {
    pub sequence: u16,
    pub flags: BuFlags,
    /// In units of 4 seconds; see [`lifetime_to_secs`].
    pub lifetime: u16,
    pub options: Vec<MhOption>,
}

impl BindingUpdate {
    pub fn lifetime_secs(&self) -> u32 {
        lifetime_to_secs(self.lifetime)
    }
}

/// RFC 6275 6.1.8.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindingAck {
    pub status: BaStatus,
    pub flags: BaFlags,
    pub sequence: u16,
    /// In units of 4 seconds; see [`lifetime_to_secs`].
    pub lifetime: u16,
    pub options: Vec<MhOption>,
}

impl BindingAck {
    pub fn lifetime_secs(&self) -> u32 {
        lifetime_to_secs(self.lifetime)
    }
}

/// RFC 6275 6.1.9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingError {
    pub status: BeStatus,
    /// The home address from the offending packet's Home Address option,
    /// or unspecified when there was none.
    pub home_address: Ipv6Addr,
    pub options: Vec<MhOption>,
}

/// A parsed Mobility Header message.
///
/// Reserved fields are not kept: they are zero on emit and ignored on parse
/// (RFC 6275 6.1). Padding options are not kept either (see the module
/// notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MhRepr {
    BindingRefreshRequest(BindingRefreshRequest),
    HomeTestInit(HomeTestInit),
    CareOfTestInit(CareOfTestInit),
    HomeTest(HomeTest),
    CareOfTest(CareOfTest),
    BindingUpdate(BindingUpdate),
    BindingAck(BindingAck),
    BindingError(BindingError),
    /// A type this module does not know. A receiver answers it with a
    /// Binding Error of status [`BeStatus::UNRECOGNIZED_MH_TYPE`] (RFC 6275
    /// 9.2). `data` is the whole message data after the checksum, so its
    /// length is 2 more than a multiple of 8.
    Unknown {
        mh_type: u8,
        data: Vec<u8>,
    },
}

fn array8(b: &[u8], at: usize) -> [u8; 8] {
    let mut a = [0; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    a
}

impl MhRepr {
    /// Parses a Mobility Header. Runs the packet's length and field checks
    /// (so an unchecked packet is fine) but not the checksum, whose
    /// pseudo-header only the caller knows.
    pub fn parse<T: AsRef<[u8]>>(packet: &MhPacket<T>) -> Result<Self> {
        packet.check_len()?;
        packet.check_fields()?;
        let mh = packet.mh_bytes();
        let d = packet.message_data();
        let t = packet.mh_type();
        let Some(start) = fixed_len(t) else {
            return Ok(Self::Unknown {
                mh_type: t,
                data: d.to_vec(),
            });
        };
        let options = parse_options(mh, start)?;
        Ok(match t {
            mh_type::BINDING_REFRESH_REQUEST => {
                Self::BindingRefreshRequest(BindingRefreshRequest { options })
            }
            mh_type::HOME_TEST_INIT => Self::HomeTestInit(HomeTestInit {
                home_init_cookie: array8(d, 2),
                options,
            }),
            mh_type::CARE_OF_TEST_INIT => Self::CareOfTestInit(CareOfTestInit {
                care_of_init_cookie: array8(d, 2),
                options,
            }),
            mh_type::HOME_TEST => Self::HomeTest(HomeTest {
                home_nonce_index: be16(d, 0),
                home_init_cookie: array8(d, 2),
                home_keygen_token: array8(d, 10),
                options,
            }),
            mh_type::CARE_OF_TEST => Self::CareOfTest(CareOfTest {
                care_of_nonce_index: be16(d, 0),
                care_of_init_cookie: array8(d, 2),
                care_of_keygen_token: array8(d, 10),
                options,
            }),
            mh_type::BINDING_UPDATE => Self::BindingUpdate(BindingUpdate {
                sequence: be16(d, 0),
                flags: BuFlags(be16(d, 2)),
                lifetime: be16(d, 4),
                options,
            }),
            mh_type::BINDING_ACK => Self::BindingAck(BindingAck {
                status: BaStatus(octet(d, 0)),
                flags: BaFlags(octet(d, 1)),
                sequence: be16(d, 2),
                lifetime: be16(d, 4),
                options,
            }),
            // Binding Error: the last type `fixed_len` knows.
            _ => {
                let mut hoa = [0; 16];
                if let Some(s) = d.get(2..18) {
                    hoa.copy_from_slice(s);
                }
                Self::BindingError(BindingError {
                    status: BeStatus(octet(d, 0)),
                    home_address: Ipv6Addr::from(hoa),
                    options,
                })
            }
        })
    }

    /// [`MhPacket::new_checked`] then [`parse`](Self::parse).
    pub fn parse_bytes(buf: &[u8]) -> Result<Self> {
        Self::parse(&MhPacket::new_checked(buf)?)
    }

    pub fn mh_type(&self) -> u8 {
        match self {
            Self::BindingRefreshRequest(_) => mh_type::BINDING_REFRESH_REQUEST,
            Self::HomeTestInit(_) => mh_type::HOME_TEST_INIT,
            Self::CareOfTestInit(_) => mh_type::CARE_OF_TEST_INIT,
            Self::HomeTest(_) => mh_type::HOME_TEST,
            Self::CareOfTest(_) => mh_type::CARE_OF_TEST,
            Self::BindingUpdate(_) => mh_type::BINDING_UPDATE,
            Self::BindingAck(_) => mh_type::BINDING_ACK,
            Self::BindingError(_) => mh_type::BINDING_ERROR,
            Self::Unknown { mh_type, .. } => *mh_type,
        }
    }

    /// The message's options; empty for `Unknown`, whose options are part of
    /// its opaque data.
    pub fn options(&self) -> &[MhOption] {
        match self {
            Self::BindingRefreshRequest(m) => &m.options,
            Self::HomeTestInit(m) => &m.options,
            Self::CareOfTestInit(m) => &m.options,
            Self::HomeTest(m) => &m.options,
            Self::CareOfTest(m) => &m.options,
            Self::BindingUpdate(m) => &m.options,
            Self::BindingAck(m) => &m.options,
            Self::BindingError(m) => &m.options,
            Self::Unknown { .. } => &[],
        }
    }

    /// Octets [`emit`](Self::emit) writes: fixed part, options, padding.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Unknown { data, .. } => field::DATA + data.len(),
            _ => padded_len(
                self.options(),
                fixed_len(self.mh_type()).unwrap_or(field::DATA),
            ),
        }
    }

    /// Writes the message at the start of `buf` with a zero checksum (fill
    /// it with [`super::fill_checksum`]) and returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if len > MAX_LEN || !len.is_multiple_of(8) {
            return Err(Error::Unencodable {
                what: "mobility header",
                detail: format!("{len} octets; the length must be a multiple of 8 up to {MAX_LEN}"),
            });
        }
        let buf = room(buf, len, "mobility header emit buffer")?;
        buf.fill(0);
        let header = [proto::NO_NEXT, (len / 8 - 1) as u8, self.mh_type()];
        put(buf, 0, &header);
        let d = field::DATA;
        match self {
            Self::BindingRefreshRequest(_) => {}
            Self::HomeTestInit(m) => put(buf, d + 2, &m.home_init_cookie),
            Self::CareOfTestInit(m) => put(buf, d + 2, &m.care_of_init_cookie),
            Self::HomeTest(m) => {
                put(buf, d, &m.home_nonce_index.to_be_bytes());
                put(buf, d + 2, &m.home_init_cookie);
                put(buf, d + 10, &m.home_keygen_token);
            }
            Self::CareOfTest(m) => {
                put(buf, d, &m.care_of_nonce_index.to_be_bytes());
                put(buf, d + 2, &m.care_of_init_cookie);
                put(buf, d + 10, &m.care_of_keygen_token);
            }
            Self::BindingUpdate(m) => {
                put(buf, d, &m.sequence.to_be_bytes());
                put(buf, d + 2, &m.flags.0.to_be_bytes());
                put(buf, d + 4, &m.lifetime.to_be_bytes());
            }
            Self::BindingAck(m) => {
                put(buf, d, &[m.status.0, m.flags.0]);
                put(buf, d + 2, &m.sequence.to_be_bytes());
                put(buf, d + 4, &m.lifetime.to_be_bytes());
            }
            Self::BindingError(m) => {
                put(buf, d, &[m.status.0]);
                put(buf, d + 2, &m.home_address.octets());
            }
            Self::Unknown { data, .. } => {
                put(buf, d, data);
                return Ok(len);
            }
        }
        let start = fixed_len(self.mh_type()).unwrap_or(d);
        emit_options(self.options(), buf, start)
    }

    /// The emitted message with a zero checksum.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut buf = vec![0; self.buffer_len()];
        let len = self.emit(&mut buf)?;
        buf.truncate(len);
        Ok(buf)
    }

    /// The emitted message with its checksum over the pseudo-header of `src`
    /// and `dst` (see the module notes for which addresses these are).
    pub fn to_bytes_with_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<Vec<u8>> {
        let mut buf = self.to_bytes()?;
        super::fill_checksum(&mut buf, src, dst)?;
        Ok(buf)
    }
}

/// Copies `bytes` to `buf[at..]`; the caller sized `buf` from
/// `buffer_len`, so this never falls off the end, and if it did it would
/// write less rather than panic.
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::mh::{ERR_HEADER_LEN, ERR_PAYLOAD_PROTO, param_problem_pointer};

    /// Parses `wire`, checks it equals `repr`, and that `repr` emits `wire`.
    fn round_trip(wire: &[u8], repr: &MhRepr) {
        assert_eq!(&MhRepr::parse_bytes(wire).unwrap(), repr);
        assert_eq!(repr.buffer_len(), wire.len());
        assert_eq!(repr.to_bytes().unwrap(), wire);
    }

    #[test]
    fn binding_refresh_request() {
        // RFC 6275 6.1.2: Reserved (16 bits), options. 8 octets in all.
        let wire = [59, 0, 0, 0, 0, 0, 0, 0];
        round_trip(
            &wire,
            &MhRepr::BindingRefreshRequest(BindingRefreshRequest::default()),
        );
    }

    /// The return routability messages (RFC 6275 6.1.3 to 6.1.6), each
    /// with its octets: HoTI and CoTI are Reserved (16) and an Init Cookie
    /// (64), 16 octets, MH types 1 and 2; HoT and CoT a Nonce Index (16),
    /// an Init Cookie (64) and a Keygen Token (64), 24 octets, MH types 3
    /// and 4.
    #[test]
    fn return_routability_messages() {
        let cases: [(&[u8], MhRepr); 4] = [
            (
                &[59, 1, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
                MhRepr::HomeTestInit(HomeTestInit {
                    home_init_cookie: [1, 2, 3, 4, 5, 6, 7, 8],
                    options: vec![],
                }),
            ),
            (
                &[59, 1, 2, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1],
                MhRepr::CareOfTestInit(CareOfTestInit {
                    care_of_init_cookie: [8, 7, 6, 5, 4, 3, 2, 1],
                    options: vec![],
                }),
            ),
            (
                &[
                    59, 2, 3, 0, 0, 0, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 0xa1, 0xa2, 0xa3, 0xa4,
                    0xa5, 0xa6, 0xa7, 0xa8,
                ],
                MhRepr::HomeTest(HomeTest {
                    home_nonce_index: 0x1234,
                    home_init_cookie: [1, 2, 3, 4, 5, 6, 7, 8],
                    home_keygen_token: [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8],
                    options: vec![],
                }),
            ),
            (
                &[
                    59, 2, 4, 0, 0, 0, 0x00, 0x07, 1, 2, 3, 4, 5, 6, 7, 8, 0xb1, 0xb2, 0xb3, 0xb4,
                    0xb5, 0xb6, 0xb7, 0xb8,
                ],
                MhRepr::CareOfTest(CareOfTest {
                    care_of_nonce_index: 7,
                    care_of_init_cookie: [1, 2, 3, 4, 5, 6, 7, 8],
                    care_of_keygen_token: [0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8],
                    options: vec![],
                }),
            ),
        ];
        for (wire, repr) in &cases {
            round_trip(wire, repr);
        }
    }

    #[test]
    fn binding_update() {
        // RFC 6275 6.1.7: Sequence # (16), A|H|L|K + 12 reserved bits,
        // Lifetime (16, 4-second units), options. 12 octets plus PadN of 4
        // octets (6.2.3: length 2) to reach 16.
        let wire = [
            59, 1, 5, 0, 0, 0, 0xbe, 0xef, 0xd0, 0x00, 0x00, 0x96, 1, 2, 0, 0,
        ];
        let repr = MhRepr::BindingUpdate(BindingUpdate {
            sequence: 0xbeef,
            flags: BuFlags::A | BuFlags::H | BuFlags::K,
            lifetime: 150,
            options: vec![],
        });
        round_trip(&wire, &repr);
        let MhRepr::BindingUpdate(bu) = repr else {
            unreachable!()
        };
        assert!(bu.flags.ack_requested() && bu.flags.home_registration());
        assert!(!bu.flags.link_local_compat() && bu.flags.key_management());
        assert_eq!(bu.lifetime_secs(), 600);
    }

    #[test]
    fn binding_update_keeps_unnamed_flag_bits() {
        // The 12 bits RFC 6275 reserves now carry M/R/P/F/T/B and more; all
        // of them survive.
        let wire = [59, 1, 5, 0, 0, 0, 0, 1, 0x0f, 0xff, 0, 0, 1, 2, 0, 0];
        let repr = MhRepr::parse_bytes(&wire).unwrap();
        let MhRepr::BindingUpdate(bu) = &repr else {
            panic!()
        };
        assert_eq!(bu.flags, BuFlags(0x0fff));
        for f in [
            BuFlags::M,
            BuFlags::R,
            BuFlags::P,
            BuFlags::F,
            BuFlags::T,
            BuFlags::B,
        ] {
            assert!(bu.flags.contains(f));
        }
        assert_eq!(repr.to_bytes().unwrap(), wire);
    }

    #[test]
    fn binding_ack() {
        // RFC 6275 6.1.8: Status (8), K + 7 reserved bits, Sequence # (16),
        // Lifetime (16), options; here a Binding Refresh Advice (6.2.4).
        let wire = [59, 1, 6, 0, 0, 0, 128, 0x80, 0, 9, 0, 10, 2, 2, 0, 5];
        let repr = MhRepr::BindingAck(BindingAck {
            status: BaStatus::REASON_UNSPECIFIED,
            flags: BaFlags::K,
            sequence: 9,
            lifetime: 10,
            options: vec![MhOption::BindingRefreshAdvice {
                refresh_interval: 5,
            }],
        });
        round_trip(&wire, &repr);
        let MhRepr::BindingAck(ba) = repr else {
            unreachable!()
        };
        assert!(!ba.status.is_accepted());
        assert_eq!(ba.lifetime_secs(), 40);
    }

    #[test]
    fn binding_error() {
        // RFC 6275 6.1.9: Status (8), Reserved (8), Home Address (128).
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let mut wire = vec![59, 2, 7, 0, 0, 0, 2, 0];
        wire.extend_from_slice(&hoa.octets());
        round_trip(
            &wire,
            &MhRepr::BindingError(BindingError {
                status: BeStatus::UNRECOGNIZED_MH_TYPE,
                home_address: hoa,
                options: vec![],
            }),
        );
    }

    #[test]
    fn unknown_type_is_kept_not_refused() {
        // MH type 8 (Fast Binding Update, RFC 5568) is not ours: the HA
        // answers with Binding Error status 2, so it must parse.
        let wire = [59, 1, 8, 0, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let repr = MhRepr::parse_bytes(&wire).unwrap();
        assert_eq!(
            repr,
            MhRepr::Unknown {
                mh_type: 8,
                data: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
            }
        );
        let mut zeroed = wire;
        zeroed[4..6].fill(0);
        assert_eq!(repr.to_bytes().unwrap(), zeroed);
    }

    #[test]
    fn reserved_fields_are_ignored_then_zeroed() {
        let wire = [59, 1, 1, 0xff, 0, 0, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8];
        let repr = MhRepr::parse_bytes(&wire).unwrap();
        assert_eq!(
            repr.to_bytes().unwrap(),
            [59, 1, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn truncated() {
        assert!(matches!(
            MhRepr::parse_bytes(&[59, 0, 0, 0, 0]),
            Err(Error::Truncated { need: 6, .. })
        ));
        // Header Len says 16 octets, the buffer holds 8.
        assert!(matches!(
            MhRepr::parse_bytes(&[59, 1, 0, 0, 0, 0, 0, 0]),
            Err(Error::Truncated {
                need: 16,
                have: 8,
                ..
            })
        ));
        // Trailing bytes beyond Header Len are not part of the header.
        let mut wire = vec![59, 0, 0, 0, 0, 0, 0, 0];
        wire.extend_from_slice(&[0xff; 5]);
        assert_eq!(
            MhRepr::parse_bytes(&wire).unwrap(),
            MhRepr::BindingRefreshRequest(BindingRefreshRequest::default())
        );
    }

    #[test]
    fn header_len_below_type_minimum() {
        // A HoT needs 24 octets; Header Len 1 gives 16 (RFC 6275 9.2:
        // Parameter Problem pointing at Header Len).
        let wire = [59, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let err = MhRepr::parse_bytes(&wire).unwrap_err();
        assert!(matches!(
            err,
            Error::BadLength {
                what: ERR_HEADER_LEN,
                ..
            }
        ));
        assert_eq!(param_problem_pointer(&err), Some(1));
        // A BU with Header Len 0 is 8 octets, short of its 12.
        assert!(matches!(
            MhRepr::parse_bytes(&[59, 0, 5, 0, 0, 0, 0, 0]),
            Err(Error::BadLength {
                what: ERR_HEADER_LEN,
                ..
            })
        ));
    }

    #[test]
    fn payload_proto_must_be_none() {
        // RFC 6275 9.2: Parameter Problem pointing at Payload Proto; the
        // value is in the error for the log.
        let err = MhRepr::parse_bytes(&[6, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(
            err,
            Error::Invalid {
                field: ERR_PAYLOAD_PROTO,
                value: 6
            }
        );
        assert_eq!(param_problem_pointer(&err), Some(0));
        // The raw value stays readable on an unchecked view.
        assert_eq!(MhPacket::new_unchecked(&[6u8, 0][..]).payload_proto(), 6);
    }

    #[test]
    fn option_overrunning_the_message() {
        // BU whose PadN claims 3 data octets where 2 remain.
        let wire = [59, 1, 5, 0, 0, 0, 0, 1, 0x80, 0, 0, 1, 1, 3, 0, 0];
        assert_eq!(
            MhRepr::parse_bytes(&wire),
            Err(Error::OptionOverrun {
                opt_type: 1,
                container: "mobility header"
            })
        );
    }

    #[test]
    fn bad_option_length_in_message() {
        // BA with a Binding Refresh Advice of length 1 (must be 2).
        let wire = [59, 1, 6, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 1, 0, 0];
        assert!(matches!(
            MhRepr::parse_bytes(&wire),
            Err(Error::BadLength {
                what: "binding refresh advice option",
                ..
            })
        ));
    }

    #[test]
    fn emit_errors() {
        let bu = MhRepr::BindingUpdate(BindingUpdate::default());
        let mut small = [0; 8];
        assert!(matches!(
            bu.emit(&mut small),
            Err(Error::Truncated {
                need: 16,
                have: 8,
                ..
            })
        ));
        let bad_unknown = MhRepr::Unknown {
            mh_type: 99,
            data: vec![0; 3],
        };
        assert!(matches!(
            bad_unknown.to_bytes(),
            Err(Error::Unencodable { .. })
        ));
        let huge = MhRepr::BindingRefreshRequest(BindingRefreshRequest {
            options: vec![
                MhOption::Unknown {
                    opt_type: 200,
                    data: vec![0; 255]
                };
                9
            ],
        });
        assert!(matches!(huge.to_bytes(), Err(Error::Unencodable { .. })));
    }

    #[test]
    fn lifetime_helpers() {
        assert_eq!(lifetime_to_secs(0xffff), 262_140);
        assert_eq!(lifetime_from_secs(600), 150);
        assert_eq!(lifetime_from_secs(7), 1);
        assert_eq!(lifetime_from_secs(u32::MAX), u16::MAX);
    }

    #[test]
    fn status_names() {
        assert_eq!(BaStatus(146).to_string(), "146 (MIPV6-AUTH-FAIL)");
        assert_eq!(
            BaStatus::INVALID_CARE_OF_ADDRESS.name(),
            Some("Invalid Care-of Address")
        );
        assert_eq!(BaStatus(200).to_string(), "200");
        assert!(BaStatus::ACCEPTED_PREFIX_DISCOVERY_NECESSARY.is_accepted());
    }
}
