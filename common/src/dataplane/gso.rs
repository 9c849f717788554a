//! Cutting the TCP super-packets an offload-enabled TUN device hands over
//! (`virtio_net_hdr` with GSO_TCPV6) into packets that fit the tunnel, and
//! finishing partial checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM): what the
//! kernel's software GSO would have done before the TUN device, done here
//! where it costs one `read` per 64 KiB instead of one per packet.

use crate::sys::tun::VirtioNetHdr;
use crate::wire::checksum::proto;

const IPV6_HEADER_LEN: usize = 40;
const TCP_MIN_HEADER_LEN: usize = 20;
const TCP_FLAG_FIN: u8 = 0x01;
const TCP_FLAG_PSH: u8 = 0x08;
const TCP_FLAG_CWR: u8 = 0x80;

/// Why a super-packet could not be cut up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GsoError {
    /// Not IPv6 + TCP right after the fixed header, or lengths disagree.
    Malformed,
    /// A GSO type we never asked for (UDP, IPv4).
    Unsupported,
}

/// Ones'-complement sum of `data` as big-endian 16-bit words, added to
/// `sum`, not folded. Eight octets at a time: the data plane runs it over
/// every octet it segments.
pub(crate) fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_be_bytes(w);
        // Add the two 32-bit halves: no overflow for any input length we
        // see (2^32 additions of 2^33 at most).
        acc += (v >> 32) + (v & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a [`sum`] to 16 bits (not complemented).
pub(crate) fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Finishes a partial checksum: the field at `start + offset` holds the
/// pseudo-header sum, the rest of `packet[start..]` the data it covers.
pub(crate) fn finish_partial(packet: &mut [u8], start: usize, offset: usize) -> bool {
    let Some(region) = packet.get(start..) else {
        return false;
    };
    if offset + 2 > region.len() {
        return false;
    }
    let ck = !fold(sum(0, region));
    // A computed 0 is sent as 0xffff (RFC 768; harmless for TCP).
    let ck = if ck == 0 { 0xffff } else { ck };
    match packet.get_mut(start + offset..start + offset + 2) {
        Some(f) => {
            f.copy_from_slice(&ck.to_be_bytes());
            true
        }
        None => false,
    }
}

fn tcp_checksum(seg: &mut [u8], tcp_len: usize) {
    let Some(field) = seg.get_mut(IPV6_HEADER_LEN + 16..IPV6_HEADER_LEN + 18) else {
        return;
    };
    field.copy_from_slice(&[0, 0]);
    let mut acc = sum(0, seg.get(8..40).unwrap_or(&[]));
    acc += tcp_len as u64 + u64::from(proto::TCP);
    acc = sum(acc, seg.get(IPV6_HEADER_LEN..).unwrap_or(&[]));
    let ck = !fold(acc);
    if let Some(f) = seg.get_mut(IPV6_HEADER_LEN + 16..IPV6_HEADER_LEN + 18) {
        f.copy_from_slice(&ck.to_be_bytes());
    }
}

/// How many segments [`segment_tcp6`] will make of `packet`.
pub(crate) fn segment_count(hdr: &VirtioNetHdr, packet: &[u8]) -> Result<usize, GsoError> {
    if hdr.gso_type & !VirtioNetHdr::GSO_ECN != VirtioNetHdr::GSO_TCPV6 {
        return Err(GsoError::Unsupported);
    }
    let doff = packet
        .get(IPV6_HEADER_LEN + 12)
        .map(|b| usize::from(b >> 4) * 4)
        .ok_or(GsoError::Malformed)?;
    let mss = usize::from(hdr.gso_size);
    if mss == 0 || doff < TCP_MIN_HEADER_LEN || packet.len() < IPV6_HEADER_LEN + doff {
        return Err(GsoError::Malformed);
    }
    Ok((packet.len() - IPV6_HEADER_LEN - doff).div_ceil(mss).max(1))
}

/// Cuts `packet` (IPv6 + TCP + payload, as described by `hdr`) into
/// segments of at most `hdr.gso_size` payload octets, segment `i` written
/// into `outs[i][at..]` (`outs` must hold [`segment_count`] buffers), its
/// length reported through `done(i, len)`. Returns the count.
pub(crate) fn segment_tcp6(
    hdr: &VirtioNetHdr,
    packet: &[u8],
    outs: &mut [Vec<u8>],
    at: usize,
    mut done: impl FnMut(usize, usize),
) -> Result<usize, GsoError> {
    let mut bufs = outs.iter_mut();
    let mut out = |_: usize| bufs.next().and_then(|b| b.get_mut(at..));
    if hdr.gso_type & !VirtioNetHdr::GSO_ECN != VirtioNetHdr::GSO_TCPV6 {
        return Err(GsoError::Unsupported);
    }
    let fixed = packet
        .first_chunk::<IPV6_HEADER_LEN>()
        .ok_or(GsoError::Malformed)?;
    if fixed[0] >> 4 != 6 || fixed[6] != proto::TCP {
        return Err(GsoError::Malformed);
    }
    let doff = packet
        .get(IPV6_HEADER_LEN + 12)
        .map(|b| usize::from(b >> 4) * 4)
        .ok_or(GsoError::Malformed)?;
    if doff < TCP_MIN_HEADER_LEN {
        return Err(GsoError::Malformed);
    }
    let hlen = IPV6_HEADER_LEN + doff;
    let headers = packet.get(..hlen).ok_or(GsoError::Malformed)?;
    let payload = packet.get(hlen..).ok_or(GsoError::Malformed)?;
    let mss = usize::from(hdr.gso_size);
    if mss == 0 {
        return Err(GsoError::Malformed);
    }
    let seq0 = u32::from_be_bytes(
        packet
            .get(IPV6_HEADER_LEN + 4..IPV6_HEADER_LEN + 8)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .ok_or(GsoError::Malformed)?,
    );
    let flags = packet
        .get(IPV6_HEADER_LEN + 13)
        .copied()
        .ok_or(GsoError::Malformed)?;
    let count = payload.len().div_ceil(mss).max(1);
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let seg = out(i).ok_or(GsoError::Malformed)?;
        let total = hlen + chunk.len();
        let seg = seg.get_mut(..total).ok_or(GsoError::Malformed)?;
        seg[..hlen].copy_from_slice(headers);
        seg[hlen..].copy_from_slice(chunk);
        let plen = u16::try_from(total - IPV6_HEADER_LEN).map_err(|_| GsoError::Malformed)?;
        seg[4..6].copy_from_slice(&plen.to_be_bytes());
        let seq = seq0.wrapping_add(u32::try_from(i * mss).map_err(|_| GsoError::Malformed)?);
        seg[IPV6_HEADER_LEN + 4..IPV6_HEADER_LEN + 8].copy_from_slice(&seq.to_be_bytes());
        let mut f = flags;
        if i + 1 != count {
            f &= !(TCP_FLAG_FIN | TCP_FLAG_PSH);
        }
        if i != 0 {
            f &= !TCP_FLAG_CWR;
        }
        seg[IPV6_HEADER_LEN + 13] = f;
        tcp_checksum(seg, total - IPV6_HEADER_LEN);
        done(i, total);
    }
    if payload.is_empty() {
        // A super-packet without payload: pass the headers on as one.
        let seg = out(0).ok_or(GsoError::Malformed)?;
        let seg = seg.get_mut(..hlen).ok_or(GsoError::Malformed)?;
        seg.copy_from_slice(headers);
        tcp_checksum(seg, doff);
        done(0, hlen);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum;
    use std::net::Ipv6Addr;

    const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);
    const B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    fn tcp_packet(payload: &[u8], flags: u8) -> Vec<u8> {
        let tcp_len = 20 + payload.len();
        let mut p = vec![0x60, 0x01, 0x23, 0x45];
        p.extend_from_slice(&u16::try_from(tcp_len).expect("fits").to_be_bytes());
        p.extend_from_slice(&[proto::TCP, 63]);
        p.extend_from_slice(&A.octets());
        p.extend_from_slice(&B.octets());
        p.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]); // ports
        p.extend_from_slice(&0xffff_ff00u32.to_be_bytes()); // seq near wrap
        p.extend_from_slice(&7u32.to_be_bytes()); // ack
        p.extend_from_slice(&[0x50, flags, 0x10, 0x00, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn sum_matches_the_reference() {
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 2, 7, 8, 9, 15, 16, 17, 1000, 1001] {
            let reference = checksum::finish(checksum::accumulate(0, &data[..len]));
            assert_eq!(!fold(sum(0, &data[..len])), reference, "len {len}");
        }
    }

    #[test]
    fn segments_carry_consecutive_sequence_numbers_and_good_checksums() {
        let payload: Vec<u8> = (0..3500u32).map(|i| i as u8).collect();
        let sp = tcp_packet(&payload, TCP_FLAG_PSH | TCP_FLAG_FIN | TCP_FLAG_CWR | 0x10);
        let hdr = VirtioNetHdr {
            flags: VirtioNetHdr::F_NEEDS_CSUM,
            gso_type: VirtioNetHdr::GSO_TCPV6,
            hdr_len: 60,
            gso_size: 1400,
            csum_start: 40,
            csum_offset: 16,
        };
        let mut bufs = vec![vec![0u8; 2048]; 4];
        let mut lens = [0usize; 4];
        assert_eq!(segment_count(&hdr, &sp), Ok(3));
        let n = segment_tcp6(&hdr, &sp, &mut bufs, 0, |i, l| lens[i] = l).expect("segments");
        assert_eq!(n, 3);
        assert_eq!(&lens[..3], &[1460, 1460, 760]);
        let mut seen = Vec::new();
        for (i, b) in bufs.iter().take(3).enumerate() {
            let seg = &b[..lens[i]];
            assert_eq!(
                usize::from(u16::from_be_bytes([seg[4], seg[5]])),
                lens[i] - 40
            );
            assert_eq!(&seg[..4], &sp[..4], "flow label and class kept");
            let seq = u32::from_be_bytes([seg[44], seg[45], seg[46], seg[47]]);
            assert_eq!(seq, 0xffff_ff00u32.wrapping_add(1400 * i as u32));
            let f = seg[53];
            assert_eq!(f & TCP_FLAG_CWR != 0, i == 0, "CWR on the first only");
            assert_eq!(
                f & (TCP_FLAG_FIN | TCP_FLAG_PSH) != 0,
                i == 2,
                "FIN/PSH last"
            );
            assert_eq!(f & 0x10, 0x10, "ACK everywhere");
            assert_eq!(
                checksum::upper_layer(&A, &B, proto::TCP, &seg[40..]),
                0,
                "segment {i} checksum verifies"
            );
            seen.extend_from_slice(&seg[60..]);
        }
        assert_eq!(seen, payload);
    }

    #[test]
    fn refuses_what_it_cannot_cut() {
        let sp = tcp_packet(&[1; 100], 0x10);
        let mut buf = vec![vec![0u8; 2048]; 3];
        let udp = VirtioNetHdr {
            gso_type: VirtioNetHdr::GSO_UDP_L4,
            gso_size: 50,
            ..VirtioNetHdr::default()
        };
        assert_eq!(
            segment_tcp6(&udp, &sp, &mut buf, 0, |_, _| {}),
            Err(GsoError::Unsupported)
        );
        let zero = VirtioNetHdr {
            gso_type: VirtioNetHdr::GSO_TCPV6,
            gso_size: 0,
            ..VirtioNetHdr::default()
        };
        assert_eq!(segment_count(&zero, &sp), Err(GsoError::Malformed));
        assert_eq!(
            segment_tcp6(&zero, &sp, &mut buf, 0, |_, _| {}),
            Err(GsoError::Malformed)
        );
        let tcp = VirtioNetHdr {
            gso_type: VirtioNetHdr::GSO_TCPV6,
            gso_size: 50,
            ..VirtioNetHdr::default()
        };
        assert_eq!(
            segment_tcp6(&tcp, &sp[..50], &mut buf, 0, |_, _| {}),
            Err(GsoError::Malformed)
        );
    }

    #[test]
    fn partial_checksum_is_finished() {
        let mut p = tcp_packet(&[9; 333], 0x18);
        // What the kernel leaves in the field: the folded pseudo-header sum.
        let ph = checksum::pseudo_header(&A, &B, proto::TCP, 353);
        let ph = fold(u64::from(ph));
        p[56..58].copy_from_slice(&ph.to_be_bytes());
        assert!(finish_partial(&mut p, 40, 16));
        assert_eq!(checksum::upper_layer(&A, &B, proto::TCP, &p[40..]), 0);
        assert!(!finish_partial(&mut p, 400, 16));
    }
}
