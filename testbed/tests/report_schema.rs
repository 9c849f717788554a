//! The report schema itself: a report with every optional part validates,
//! and each kind of mistake a change could make is caught.

mod schema_check;

use mip6_testbed::report::{
    Gap, Handover, Iperf3Result, Report, SCHEMA, Segment, Summary, TcpResult,
};
use std::collections::BTreeMap;

fn full_report() -> Report {
    let h = Handover {
        mn: "mn1".into(),
        index: 1,
        from_link: "home".into(),
        to_link: "a".into(),
        interface: Some("wlan0".into()),
        cause: Some("carrier down eth0".into()),
        at_ms: 2000.0,
        care_of_address: Some("2001:db8:a::1".into()),
        coa_source: Some("dhcpv6".into()),
        link_to_ra_ms: None,
        dad_ms: None,
        link_to_bu_ms: Some(0.3),
        bu_to_ba_ms: Some(1.2),
        bu_count: Some(1),
        outcome: Some("registered".into()),
        link_to_first_probe_ms: Some(5.0),
        gap_ms: 4.0,
        lost_probes: 3,
        gap_ms_up: Some(4.1),
        lost_probes_up: Some(3),
    };
    let mut metrics = BTreeMap::new();
    metrics.insert("mip6_ha_binding_updates_received_total".to_string(), 3.0);
    let mut by_name = BTreeMap::new();
    by_name.insert("ha1".to_string(), metrics.clone());
    Report {
        schema: SCHEMA.into(),
        topology: "t".into(),
        started_unix_ms: 1.0e12,
        duration_ms: 5000.0,
        summary: Summary::of(std::slice::from_ref(&h)),
        handovers: vec![h],
        tcp_survived: true,
        tcp: vec![TcpResult {
            name: "cn -> mn1".into(),
            bytes: 10,
            survived: true,
            error: None,
            throughput: vec![mip6_testbed::report::Throughput {
                at_ms: 200.0,
                bits_per_second: 400.0,
            }],
        }],
        timeline: vec![Segment {
            mn: "mn1".into(),
            link: "a".into(),
            interface: Some("wlan0".into()),
            care_of_address: None,
            from_ms: 0.0,
            to_ms: 5000.0,
        }],
        probe_gaps: vec![Gap {
            mn: "mn1".into(),
            from_ms: 2000.0,
            to_ms: 2004.0,
        }],
        home_agent_metrics: metrics,
        home_agent_metrics_by_name: by_name,
        iperf3: vec![Iperf3Result {
            name: "cn -> mn1".into(),
            bytes_received: 100,
            bits_per_second: 8.0e6,
            retransmits: Some(2),
            stalled_intervals: 0,
            survived: true,
            error: None,
        }],
        notes: vec!["a note".into()],
    }
}

#[test]
fn a_report_with_every_part_is_valid() {
    schema_check::assert_valid(&serde_json::to_string(&full_report()).expect("json"));
}

/// A way to break a valid report.
type Spoil = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn the_schema_catches_what_a_change_could_break() {
    let good = serde_json::to_value(full_report()).expect("json");
    let broken: Vec<(&str, Spoil)> = vec![
        (
            "another schema name",
            Box::new(|v| v["schema"] = "x/2".into()),
        ),
        (
            "a handover without gap_ms",
            Box::new(|v| {
                v["handovers"][0]
                    .as_object_mut()
                    .expect("object")
                    .remove("gap_ms");
            }),
        ),
        (
            "a figure as text",
            Box::new(|v| v["handovers"][0]["bu_to_ba_ms"] = "1.2".into()),
        ),
        ("an unknown field", Box::new(|v| v["extra"] = 1.into())),
        (
            "tcp_survived as a number",
            Box::new(|v| v["tcp_survived"] = 1.into()),
        ),
        (
            "a care-of address obtained some other way",
            Box::new(|v| v["handovers"][0]["coa_source"] = "static".into()),
        ),
        (
            "a negative loss",
            Box::new(|v| v["handovers"][0]["lost_probes"] = (-1).into()),
        ),
        (
            "a summary without p95",
            Box::new(|v| {
                v["summary"]["gap_ms"]
                    .as_object_mut()
                    .expect("object")
                    .remove("p95");
            }),
        ),
    ];
    for (what, spoil) in broken {
        let mut v = good.clone();
        spoil(&mut v);
        let text = v.to_string();
        let caught = std::panic::catch_unwind(|| schema_check::assert_valid(&text)).is_err();
        assert!(caught, "the schema let {what} through");
    }
}
