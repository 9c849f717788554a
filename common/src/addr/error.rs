//! Why an address operation was refused.

use thiserror::Error;

use super::InterfaceId;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddrError {
    #[error("invalid MAC address {0:?}: expected six hex pairs separated by ':' or '-'")]
    ParseMac(String),
    #[error(
        "invalid interface identifier {0:?}: expected four groups of hex like 5246:5dff:fe6b:7a54"
    )]
    ParseIid(String),
    #[error("invalid prefix {input:?}: {reason}")]
    ParsePrefix { input: String, reason: String },
    #[error("invalid interface identifier mode {0:?}: expected eui64, stable or random")]
    ParseMode(String),
    #[error("prefix length {0} is greater than 128")]
    PrefixLength(u8),
    /// RFC 4862 5.5.3 d: the Prefix Information option MUST be ignored.
    #[error(
        "prefix length {0} plus a 64-bit interface identifier is not 128 bits; \
         SLAAC ignores such a prefix (RFC 4862 5.5.3 d)"
    )]
    NotSlaacLength(u8),
    /// The identifier is in the IANA reserved registry (RFC 5453) and the
    /// method that produced it cannot choose another (EUI-64 of an IANA
    /// 00-00-5E MAC).
    #[error("interface identifier {0} is reserved (RFC 5453) and cannot be autoconfigured")]
    ReservedIid(InterfaceId),
    /// DAD failed for a MAC-derived identifier, which has no second value to
    /// try (RFC 4862 5.4.5: manual intervention is needed; for the
    /// link-local address the node SHOULD disable IP on the interface).
    #[error(
        "duplicate address: EUI-64 interface identifier {0} cannot be regenerated; \
         another node uses the same MAC or identifier (RFC 4862 5.4.5)"
    )]
    Eui64Duplicate(InterfaceId),
    /// RFC 7217 DAD_Counter (a u8 here) ran out; unreachable unless the
    /// caller retries far beyond IDGEN_RETRIES.
    #[error("DAD counter exhausted: no more stable interface identifiers to try")]
    DadCounterExhausted,
    /// RFC 8981 section 3.8 requires TEMP_PREFERRED_LIFETIME to be smaller
    /// than TEMP_VALID_LIFETIME.
    #[error(
        "temporary address preferred lifetime ({preferred} s) must be smaller than \
         its valid lifetime ({valid} s) (RFC 8981 section 3.8)"
    )]
    TempLifetimes { preferred: u64, valid: u64 },
    #[error("interface identifier mode 'stable' needs a secret key")]
    MissingSecretKey,
}
