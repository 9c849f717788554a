//! Interop with Wireshark's dissector: every packet kind we emit goes into a
//! pcap that `tshark` must decode as what it is, with no malformed packet,
//! no expert warning and good ICMPv6 checksums. tshark does not check
//! Mobility Header checksums, so `interop/mh_csum_check.py`, an independent
//! verifier, checks those over the RFC 6275 6.1.1 pseudo-header.
//!
//! Needs `tshark` and `python3` (`.ci/run` installs them).

mod support;

use mip6_common::wire::exthdr::Ipv6Repr;
use mip6_common::wire::mh::{
    BaFlags, BaStatus, BindingAck, BindingUpdate, BuFlags, MhRepr, mn_ha_sign,
};
use mip6_common::wire::nd::{NdOption, NdRepr, NeighborSolicit};
use mip6_common::wire::tunnel::{EncapParams, TunnelEndpoints, encapsulate_to_vec};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// One packet we emitted and what tshark must call it.
struct Emitted {
    name: String,
    bytes: Vec<u8>,
    info: &'static str,
}

fn emit(ip: &Ipv6Repr, upper: &Upper) -> Vec<u8> {
    let (src, dst) = ip.checksum_addresses();
    let payload = match upper {
        Upper::Mh(r) => r.to_bytes_with_checksum(&src, &dst),
        Upper::Nd(r) => r.to_bytes_with_checksum(&src, &dst),
        Upper::Dhaad(r) => r.to_bytes_with_checksum(&src, &dst),
    }
    .expect("emit upper layer");
    ip.build(&payload).expect("build packet").bytes
}

fn info_for(upper: &Upper) -> &'static str {
    match upper {
        Upper::Mh(MhRepr::BindingUpdate(_)) => "Binding Update",
        Upper::Mh(MhRepr::BindingAck(_)) => "Binding Acknowledgement",
        Upper::Mh(MhRepr::BindingRefreshRequest(_)) => "Binding Refresh Request",
        Upper::Mh(MhRepr::HomeTestInit(_)) => "Home Test Init",
        Upper::Mh(MhRepr::CareOfTestInit(_)) => "Care-of Test Init",
        Upper::Mh(MhRepr::HomeTest(_)) => "Home Test",
        Upper::Mh(MhRepr::CareOfTest(_)) => "Care-of Test",
        Upper::Mh(MhRepr::BindingError(_)) => "Binding Error",
        Upper::Mh(MhRepr::Unknown { .. }) => "Unknown",
        Upper::Nd(NdRepr::RouterSolicit(_)) => "Router Solicitation",
        Upper::Nd(NdRepr::RouterAdvert(_)) => "Router Advertisement",
        Upper::Nd(NdRepr::NeighborSolicit(_)) => "Neighbor Solicitation",
        Upper::Nd(NdRepr::NeighborAdvert(_)) => "Neighbor Advertisement",
        Upper::Nd(NdRepr::Redirect(_)) => "Redirect",
        Upper::Dhaad(d) => match d {
            mip6_common::wire::dhaad::DhaadRepr::HaadRequest(_) => {
                "Home Agent Address Discovery Request"
            }
            mip6_common::wire::dhaad::DhaadRepr::HaadReply(_) => {
                "Home Agent Address Discovery Reply"
            }
            mip6_common::wire::dhaad::DhaadRepr::PrefixSolicit(_) => "Mobile Prefix Solicitation",
            mip6_common::wire::dhaad::DhaadRepr::PrefixAdvert(_) => "Mobile Prefix Advertisement",
        },
    }
}

/// Everything the daemons send: the scapy set rebuilt by our emitters, and
/// what scapy cannot make (a really signed BU and BA, a DAD probe with a
/// Nonce option, a tunnelled packet).
fn emitted() -> Vec<Emitted> {
    let mut out: Vec<Emitted> = expectations()
        .into_iter()
        .map(|e| Emitted {
            name: e.name.to_string(),
            bytes: emit(&e.ip, &e.upper),
            info: info_for(&e.upper),
        })
        .collect();
    let key = b"shared secret of mn1";
    let auth = |r: MhRepr, ip: &Ipv6Repr, coa, hoa| {
        let (src, dst) = ip.checksum_addresses();
        let mut mh = r.to_bytes().expect("emit");
        mn_ha_sign(key, &coa, &hoa, &mut mh).expect("sign");
        mip6_common::wire::mh::fill_checksum(&mut mh, &src, &dst).expect("checksum");
        ip.build(&mh).expect("build").bytes
    };
    let mut bu_ip = Ipv6Repr::new(COA, HA, 135);
    bu_ip.home_address_option = Some(HOA);
    let bu = MhRepr::BindingUpdate(BindingUpdate {
        sequence: 1,
        flags: BuFlags::A | BuFlags::H,
        lifetime: 150,
        options: auth_options(1),
    });
    out.push(Emitted {
        name: "signed BU".into(),
        bytes: auth(bu, &bu_ip, COA, HOA),
        info: "Binding Update",
    });
    let mut ba_ip = Ipv6Repr::new(HA, COA, 135);
    ba_ip.routing_home_address = Some(HOA);
    let ba = MhRepr::BindingAck(BindingAck {
        status: BaStatus(146),
        flags: BaFlags::default(),
        sequence: 1,
        lifetime: 0,
        options: auth_options(2),
    });
    out.push(Emitted {
        name: "signed BA 146".into(),
        bytes: auth(ba, &ba_ip, COA, HOA),
        info: "Binding Acknowledgement",
    });
    let mut ns_ip = Ipv6Repr::new(std::net::Ipv6Addr::UNSPECIFIED, ip("ff02::1:ff00:100"), 58);
    ns_ip.hop_limit = 255;
    let ns = NdRepr::NeighborSolicit(NeighborSolicit::new(
        COA,
        vec![NdOption::nonce([1, 2, 3, 4, 5, 6])],
    ));
    out.push(Emitted {
        name: "DAD probe with nonce".into(),
        bytes: emit(&ns_ip, &Upper::Nd(ns)),
        info: "Neighbor Solicitation",
    });
    // What the HA tunnels: a correspondent's echo request to the HoA.
    let mut echo = vec![128, 0, 0, 0, 0, 1, 0, 1];
    echo.extend_from_slice(b"mip6 tunnel payload");
    let sum = mip6_common::wire::checksum::upper_layer(&CN, &HOA, 58, &echo);
    echo[2..4].copy_from_slice(&sum.to_be_bytes());
    let inner = hdr(CN, HOA, 58).build(&echo).expect("inner packet").bytes;
    out.push(Emitted {
        name: "ip6ip6".into(),
        bytes: encapsulate_to_vec(
            &inner,
            &TunnelEndpoints { src: HA, dst: COA },
            &EncapParams::default(),
        )
        .expect("encapsulate"),
        info: "Echo (ping) request",
    });
    out
}

/// A classic pcap with LINKTYPE_RAW (101): each record an IPv6 packet.
fn write_pcap(path: &Path, packets: &[Emitted]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        let len = u32::try_from(p.bytes.len()).expect("small packet");
        f.extend_from_slice(&u32::try_from(i).expect("few").to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&p.bytes);
    }
    std::fs::write(path, f).expect("write pcap");
}

fn pcap_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mip6-{tag}-{}.pcap", std::process::id()))
}

fn tool(name: &str) -> Command {
    if Command::new(name).arg("--version").output().is_err() {
        panic!("{name} is not installed: run `bash .ci/run` or install it (Debian package {name})");
    }
    Command::new(name)
}

#[test]
fn tshark_decodes_every_packet_we_emit_without_complaint() {
    let packets = emitted();
    let path = pcap_path("tshark");
    write_pcap(&path, &packets);
    let out = tool("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.number",
            "-e",
            "_ws.col.Protocol",
            "-e",
            "_ws.col.Info",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.expert.message",
            "-e",
            "icmpv6.checksum.status",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .expect("run tshark");
    let verbose = tool("tshark")
        .args(["-n", "-V", "-r"])
        .arg(&path)
        .output()
        .expect("run tshark -V");
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        packets.len(),
        "tshark saw another number of frames:\n{text}"
    );
    for (line, p) in lines.iter().zip(&packets) {
        let f: Vec<&str> = line.split('|').collect();
        let (proto, info, severity, message, icmp_ok, malformed) = (
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            f.get(6).copied().unwrap_or(""),
        );
        assert!(info.contains(p.info), "{}: tshark says {info:?}", p.name);
        assert!(malformed.is_empty(), "{}: malformed: {line}", p.name);
        assert!(
            severity.is_empty() && message.is_empty(),
            "{}: tshark expert finding: {line}",
            p.name
        );
        if proto == "ICMPv6" {
            assert!(
                icmp_ok.split(',').all(|s| s == "1"),
                "{}: ICMPv6 checksum: {line}",
                p.name
            );
        }
    }
    let verbose = String::from_utf8_lossy(&verbose.stdout);
    for bad in [
        "Malformed",
        "Expert Info (Error",
        "Expert Info (Warning",
        "[incorrect",
    ] {
        assert!(!verbose.contains(bad), "tshark -V reports {bad:?}");
    }
    // tshark must have understood our options, not skipped them. (Its
    // RFC 4285 dissector labels the authentication data 10 octets long where
    // the option holds 12: it subtracts the option header twice. scapy and
    // the RFC 4285 figure agree with our layout; the authenticator is
    // checked end to end by our own tests.)
    for field in [
        "Mobile Node Identifier: mn1@example.com",
        "AUTH-OPTION-TYPE",
        "Mobility SPI: 256",
        "MESG-ID-OPTION-TYPE",
        "MIPv6 Home Address: 2001:db8:1::100",
        "Home Agent Information",
        "Advertisement Interval",
        "(Nonce)",
    ] {
        assert!(verbose.contains(field), "tshark -V never decoded {field:?}");
    }
}

#[test]
fn independent_checker_verifies_every_mobility_header_checksum() {
    let packets = emitted();
    let path = pcap_path("mhcsum");
    write_pcap(&path, &packets);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../interop/mh_csum_check.py");
    let out = tool("python3")
        .arg(script)
        .arg(&path)
        .output()
        .expect("run checker");
    std::fs::remove_file(&path).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mh_csum_check.py found a bad checksum:\n{text}"
    );
    let mh_count = packets
        .iter()
        .filter(|p| p.info.starts_with("Binding") || p.info.contains("Test"))
        .count();
    assert_eq!(text.matches("-> OK").count(), mh_count, "{text}");
}
