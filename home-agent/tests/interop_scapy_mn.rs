//! Interop: the real `mip6-ha` against a mobile node that is not ours,
//! `interop/scapy_mn.py`, written with scapy only (its BUs, its HMAC, its
//! dissector). It runs in the `mn` namespace of the support lab, one step
//! per run so that the home agent's own account (`mip6-ha status --json`)
//! can be checked between steps. Run as root; needs scapy 2.8.0 in the
//! python named by `MIP6_PYTHON` (`.ci/run` makes `.venv` and sets it),
//! else in the workspace's `.venv`.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::Ipv6Addr;
use std::process::Command;
use std::time::Duration;

use mip6_testbed::harness::Child;
use serde_json::Value;
use support::*;

/// The scapy mobile node's credentials: its own entry in the HA's
/// configuration, with a binary key (`key_hex`).
const S_HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1a5);
const S_NAI: &str = "scapy-mn@example.net";
const S_SPI: u32 = 0x5ca9;
const S_KEY_HEX: &str = "00ff5ca9e1d2c3b4a5968778695a4b3c2d1e0f80";
/// The first BU's sequence number: the next one (bad authenticator, then
/// deregistration) is 0, newer by RFC 6275 9.5.1's modulo-2^16 rule.
const SEQ: u16 = 65535;
/// Requested lifetime in 4-second units.
const LIFETIME: u16 = 100;
const SCAPY_VERSION: &str = "2.8.0";

/// The python that has scapy: `MIP6_PYTHON`, else `<workspace>/.venv`.
/// Missing scapy fails the test, as a missing tshark fails the interop
/// tests of mip6-common.
fn scapy_python() -> String {
    let py = std::env::var("MIP6_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").to_owned());
    let fix = format!(
        "run `bash .ci/run`, or `python3 -m venv .venv && .venv/bin/pip install \
         scapy=={SCAPY_VERSION}` at the workspace root, or point MIP6_PYTHON at a \
         python that has it"
    );
    let out = Command::new(&py)
        .args(["-c", "import scapy; print(scapy.VERSION)"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py} ({e}): {fix}"));
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "scapy is not importable by {py}: {fix}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        version, SCAPY_VERSION,
        "{py} has scapy {version}, the interop tests pin {SCAPY_VERSION}: {fix}"
    );
    py
}

struct ScapyMn<'a> {
    w: &'a World,
    ha: &'a Child,
    python: String,
}

impl ScapyMn<'_> {
    /// Runs one step of `scapy_mn.py` in the mobile node's namespace and
    /// returns its report; any failure shows the script's output and the
    /// home agent's log.
    fn step(&self, step: &str) -> Value {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../interop/scapy_mn.py");
        let (coa, hoa, ha, cn) = (
            COA.to_string(),
            S_HOA.to_string(),
            HA.to_string(),
            CN.to_string(),
        );
        let (spi, seq, lifetime) = (S_SPI.to_string(), SEQ.to_string(), LIFETIME.to_string());
        let argv = [
            self.python.as_str(),
            script,
            "--iface",
            "eth0",
            "--coa",
            &coa,
            "--hoa",
            &hoa,
            "--ha",
            &ha,
            "--cn",
            &cn,
            "--nai",
            S_NAI,
            "--spi",
            &spi,
            "--key-hex",
            S_KEY_HEX,
            "--seq",
            &seq,
            "--lifetime",
            &lifetime,
            "--steps",
            step,
        ];
        let out = self
            .w
            .mn
            .output_timeout(&argv, Duration::from_secs(90))
            .unwrap();
        let lines: Vec<Value> = out
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let ok = lines.last().and_then(|l| l["ok"].as_bool()) == Some(true);
        let report = lines
            .iter()
            .find(|l| l["step"] == step && l.get("ok").is_none())
            .cloned();
        match report {
            Some(r) if out.success() && ok => {
                eprintln!(
                    "scapy_mn.py {step}: {}",
                    lines
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n  ")
                );
                r
            }
            _ => panic!(
                "scapy_mn.py {step}: {}\n--- stdout\n{}--- stderr\n{}--- mip6-ha log (tail)\n{}",
                out.status,
                out.stdout,
                out.stderr,
                tail(&self.ha.log(), 40)
            ),
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The BA to the second BU after registration (sequence SEQ + 1), which
/// either failed or deregistered: `status`, lifetime 0, through a type 2
/// routing header to the home address; `ping_after`, whether the tunnel
/// still carried a ping after it.
fn assert_second_ba(step: &Value, status: u64, ping_after: bool) {
    assert_eq!(step["status"], status, "{step}");
    assert_eq!(step["seq"], SEQ.wrapping_add(1), "{step}");
    assert_eq!(step["lifetime"], 0, "{step}");
    assert_eq!(s(&step["rh2"]), S_HOA.to_string(), "{step}");
    assert_eq!(step["ping_after"], ping_after, "{step}");
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[test]
fn scapy_mobile_node_registers_tunnels_fails_auth_and_deregisters() {
    mip6_common::require_root!();
    let python = scapy_python();
    let node = format!(
        "  - id: {S_NAI}\n    home_address: {S_HOA}\n    spi: {S_SPI}\n    key_hex: \"{S_KEY_HEX}\"\n"
    );
    let w = World::with_mobile_nodes("ha-scapy", &node, "");
    let ha = w.start_ha();
    let mn = ScapyMn {
        w: &w,
        ha: &ha,
        python,
    };

    // (a) Registration: the BA as scapy dissects it.
    let r = mn.step("register");
    assert_eq!(r["status"], 0, "{r}");
    assert_eq!(r["seq"], SEQ, "{r}");
    assert_eq!(r["lifetime"], LIFETIME, "{r}");
    assert_eq!(s(&r["src"]), HA.to_string(), "{r}");
    assert_eq!(s(&r["dst"]), COA.to_string(), "{r}");
    assert_eq!(s(&r["rh2"]), S_HOA.to_string(), "{r}");
    assert_eq!(r["mh_cksum"], r["scapy_cksum"], "{r}");
    assert_eq!(r["spi"], S_SPI, "{r}");
    assert_eq!(r["auth_ok"], true, "{r}");
    assert_eq!(r["mesg_id_echoed"], true, "{r}");
    assert_eq!(r["mn_id"], S_NAI, "the BA echoes the MN-ID option: {r}");
    // ... and as the home agent tells it.
    let st = w.status();
    let b = st
        .bindings
        .iter()
        .find(|b| b.hoa == S_HOA)
        .unwrap_or_else(|| panic!("no binding for {S_HOA}: {st:?}"));
    assert_eq!((b.coa, b.sequence, b.flags.as_str()), (COA, SEQ, "AH"));
    assert_eq!(b.mn_id.as_deref(), Some(S_NAI));
    assert_eq!(b.lifetime_secs, u64::from(LIFETIME) * 4);
    assert!(w.route_to_tun(S_HOA) && w.proxied(S_HOA));
    let before = w.bindings();
    assert_eq!(before.len(), 1, "{before:?}");

    // (c) A ping from the home address through the tunnel; the
    // correspondent's kernel answers.
    let p = mn.step("ping");
    assert_eq!(p["reply"], true, "{p}");
    assert_eq!(p["outer"], serde_json::json!([HA, COA]), "{p}");
    assert_eq!(p["inner"], serde_json::json!([CN, S_HOA]), "{p}");

    // (d) A wrong authenticator: 146, nothing changes, the tunnel still
    // carries traffic.
    assert_second_ba(&mn.step("bad-auth"), 146, true);
    assert_eq!(w.bindings(), before, "the rejected BU changed the binding");
    let st = w.status();
    assert_eq!(st.binding_updates.by_status.get("146"), Some(&1), "{st:?}");
    assert!(w.route_to_tun(S_HOA) && w.proxied(S_HOA));

    // (e) Deregistration from the care-of address, with the sequence
    // number the rejected BU did not use up.
    assert_second_ba(&mn.step("deregister"), 0, false);
    assert!(w.bindings().is_empty(), "{:?}", w.bindings());
    assert!(!w.route_to_tun(S_HOA), "route left");
    assert!(!w.proxied(S_HOA), "proxy entry left");
    let st = w.status();
    assert_eq!(st.binding_updates.by_status.get("0"), Some(&2), "{st:?}");
}
