//! Interface identifiers and address arithmetic.
//!
//! Where an address's low 64 bits come from: modified EUI-64 of the MAC
//! ([`InterfaceId::from_mac`], RFC 4291 appendix A), RFC 7217 stable opaque
//! identifiers ([`StableIdGenerator`]) or RFC 8981 random ones
//! ([`random_iid`]), chosen by [`IidMode`] through [`IidGenerator`]; the
//! reserved values all of them must avoid ([`InterfaceId::is_reserved`],
//! RFC 5453); the lifetimes of temporary addresses ([`TempAddrLifetimes`]);
//! and the prefix and multicast arithmetic SLAAC and DAD need ([`Prefix`],
//! [`link_local`], [`solicited_node`], [`multicast_mac`]).
//!
//! ```
//! use mip6_common::addr::{IidGenerator, IidMode, Mac, Prefix, link_local, solicited_node};
//!
//! let mac: Mac = "50-46-5d-6b-7a-54".parse().unwrap();
//! let ids = IidGenerator::new(IidMode::Eui64, mac, None, b"eth0").unwrap();
//! let mut rng = rand::rng();
//! let iid = ids.candidate(Prefix::LINK_LOCAL.addr(), 0, &mut rng).unwrap().iid;
//! assert_eq!(link_local(iid).to_string(), "fe80::5246:5dff:fe6b:7a54");
//!
//! let global = "2001:db8::/64".parse::<Prefix>().unwrap().with_iid(iid).unwrap();
//! assert_eq!(solicited_node(global).to_string(), "ff02::1:ff6b:7a54");
//! ```
//!
//! Everything is pure except [`SecretKey::load_or_create`], which persists the
//! RFC 7217 key. No clocks: lifetimes are durations the caller measures.

/// `Debug` as `Name(text form)`: these values read best as they are
/// written.
macro_rules! debug_as_text {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({self})", stringify!($ty))
            }
        }
    };
}

/// Serde through the text form (`Display` and `FromStr`), the way
/// configuration files write these values.
macro_rules! serde_as_text {
    ($ty:ident) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

mod error;
mod eui64;
mod iid;
mod mode;
mod multicast;
mod prefix;
mod secret;
mod stable;
mod temporary;

pub use error::AddrError;
pub use eui64::Mac;
pub use iid::InterfaceId;
pub use mode::{IidCandidate, IidGenerator, IidMode};
pub use multicast::{multicast_mac, solicited_node};
pub use prefix::{IID_BITS, Prefix, link_local};
pub use secret::{SECRET_KEY_LEN, SecretKey};
pub use stable::{IDGEN_DELAY_SECS, IDGEN_RETRIES, StableIdGenerator, StableIid};
pub use temporary::{
    REGEN_ADVANCE_MIN, TEMP_IDGEN_RETRIES, TEMP_PREFERRED_LIFETIME, TEMP_VALID_LIFETIME,
    TempAddrConfig, TempAddrLifetimes, random_iid,
};
