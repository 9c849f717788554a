//! The tunnel entry point: prepending the outer IPv6 header (RFC 2473 3.1).
//!
//! Everything here runs per data packet, so nothing allocates except the
//! `_to_vec` convenience.

use std::net::Ipv6Addr;

use super::decap::inner_header;
use crate::wire::checksum::proto;
use crate::wire::error::need;
use crate::wire::{Error, Result};

/// Length of the outer header: a bare IPv6 header, no extension headers.
pub const OUTER_HEADER_LEN: usize = 40;
/// Hop limit of tunnel packets unless configured (RFC 2473 6.3: the entry
/// point uses its own default, as a host would).
pub const DEFAULT_TUNNEL_HOP_LIMIT: u8 = 64;
/// `Error::Invalid` field of `decrement_inner_hop_limit`'s refusal.
pub const HOP_LIMIT_EXCEEDED: &str = "inner hop limit exhausted";

/// The two tunnel ends: outer source and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelEndpoints {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

/// Where the outer Traffic Class comes from (RFC 2473 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TrafficClass {
    /// The inner packet's, so the path treats the flow as its source asked
    /// (ECN bits included, the RFC 6040 normal mode).
    #[default]
    CopyInner,
    /// A configured octet, DSCP and ECN bits both.
    Fixed(u8),
}

/// Per-tunnel settings for the outer header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncapParams {
    /// Outer hop limit; the inner one is never copied (RFC 2473 3.1, 6.3).
    pub hop_limit: u8,
    pub traffic_class: TrafficClass,
    /// Outer flow label, 20 bits; 0 unless configured (RFC 2473 6.6).
    pub flow_label: u32,
}

impl Default for EncapParams {
    fn default() -> Self {
        Self {
            hop_limit: DEFAULT_TUNNEL_HOP_LIMIT,
            traffic_class: TrafficClass::CopyInner,
            flow_label: 0,
        }
    }
}

/// Writes the outer header for `inner` into `out`, for a data plane that
/// keeps 40 octets of headroom in front of the packet it read. `inner` must
/// be one whole IPv6 packet (version 6, its Payload Length matching its
/// length), no longer than an outer Payload Length can announce.
pub fn write_outer_header(
    out: &mut [u8; OUTER_HEADER_LEN],
    ep: &TunnelEndpoints,
    params: &EncapParams,
    inner: &[u8],
) -> Result<()> {
    let header = inner_header(inner)?;
    if 40 + usize::from(header.payload_len) != inner.len() {
        return Err(Error::BadLength {
            what: "inner IPv6 packet",
            detail: format!(
                "payload length {} in a {}-octet packet",
                header.payload_len,
                inner.len()
            ),
        });
    }
    let payload_len = u16::try_from(inner.len()).map_err(|_| Error::Unencodable {
        what: "tunnel packet",
        detail: format!("{}-octet inner packet needs a jumbogram", inner.len()),
    })?;
    if params.flow_label > 0xf_ffff {
        return Err(Error::Unencodable {
            what: "tunnel header",
            detail: format!("flow label {:#x} is wider than 20 bits", params.flow_label),
        });
    }
    if params.hop_limit == 0 {
        return Err(Error::Unencodable {
            what: "tunnel header",
            detail: "hop limit 0 would not leave this node".into(),
        });
    }
    let tc = match params.traffic_class {
        TrafficClass::CopyInner => header.traffic_class,
        TrafficClass::Fixed(tc) => tc,
    };
    let fl = params.flow_label.to_be_bytes();
    let len = payload_len.to_be_bytes();
    out[0] = 0x60 | (tc >> 4);
    out[1] = (tc << 4) | (fl[1] & 0x0f);
    out[2] = fl[2];
    out[3] = fl[3];
    out[4] = len[0];
    out[5] = len[1];
    out[6] = proto::IPV6;
    out[7] = params.hop_limit;
    out[8..24].copy_from_slice(&ep.src.octets());
    out[24..40].copy_from_slice(&ep.dst.octets());
    Ok(())
}

/// Writes the tunnel packet for `inner` into `out`; returns its length.
pub fn encapsulate(
    inner: &[u8],
    ep: &TunnelEndpoints,
    params: &EncapParams,
    out: &mut [u8],
) -> Result<usize> {
    let total = OUTER_HEADER_LEN + inner.len();
    need(out, total, "tunnel packet buffer")?;
    let Some((head, rest)) = out.split_first_chunk_mut::<OUTER_HEADER_LEN>() else {
        return Err(Error::Truncated {
            what: "tunnel packet buffer",
            need: total,
            have: 0,
        });
    };
    write_outer_header(head, ep, params, inner)?;
    if let Some(dst) = rest.get_mut(..inner.len()) {
        dst.copy_from_slice(inner);
    }
    Ok(total)
}

/// Encapsulates in place: `buf` holds 40 octets of headroom, then the inner
/// packet, and nothing else. Returns the tunnel packet's length.
pub fn encapsulate_in_place(
    buf: &mut [u8],
    ep: &TunnelEndpoints,
    params: &EncapParams,
) -> Result<usize> {
    let len = buf.len();
    let Some((head, inner)) = buf.split_first_chunk_mut::<OUTER_HEADER_LEN>() else {
        return Err(Error::Truncated {
            what: "tunnel packet headroom",
            need: OUTER_HEADER_LEN,
            have: len,
        });
    };
    write_outer_header(head, ep, params, inner)?;
    Ok(len)
}

/// The tunnel packet for `inner` in a new buffer.
pub fn encapsulate_to_vec(
    inner: &[u8],
    ep: &TunnelEndpoints,
    params: &EncapParams,
) -> Result<Vec<u8>> {
    let mut out = vec![0u8; OUTER_HEADER_LEN + inner.len()];
    encapsulate(inner, ep, params, &mut out)?;
    Ok(out)
}

/// Decrements the inner hop limit as a node forwarding the packet into the
/// tunnel must (RFC 2473 3.1: the tunnel is one hop for the inner packet).
/// Refuses, leaving the packet untouched, when the hop limit is 1 or 0:
/// the caller then discards it and sends ICMPv6 Time Exceeded code 0.
/// A data plane fed by a TUN device gets this from the kernel, which
/// decrements when it routes the packet into the TUN.
pub fn decrement_inner_hop_limit(inner: &mut [u8]) -> Result<u8> {
    inner_header(inner)?;
    let Some(hop_limit) = inner.get_mut(7) else {
        return Err(Error::Truncated {
            what: "inner IPv6 header",
            need: 40,
            have: 0,
        });
    };
    if *hop_limit <= 1 {
        return Err(Error::Invalid {
            field: HOP_LIMIT_EXCEEDED,
            value: (*hop_limit).into(),
        });
    }
    *hop_limit -= 1;
    Ok(*hop_limit)
}

/// True for `decrement_inner_hop_limit`'s Time Exceeded case, as opposed to
/// a malformed packet.
pub fn is_hop_limit_exceeded(err: &Error) -> bool {
    matches!(err, Error::Invalid { field, .. } if *field == HOP_LIMIT_EXCEEDED)
}
