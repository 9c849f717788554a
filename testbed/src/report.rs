//! Run reports: a terminal table, a JSON document (schema in README.md) and
//! an SVG timeline a person can read a handover from.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The JSON report's schema name; bump it when a field changes meaning.
pub const SCHEMA: &str = "mip6-testbed-report/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub topology: String,
    /// Wall-clock start of the run, milliseconds since the Unix epoch.
    pub started_unix_ms: f64,
    pub duration_ms: f64,
    pub handovers: Vec<Handover>,
    /// Every TCP connection of the run carried data to the end without a
    /// reset.
    pub tcp_survived: bool,
    pub tcp: Vec<TcpResult>,
    pub summary: Summary,
    /// Which link each mobile node was on, when: the SVG's rows.
    pub timeline: Vec<Segment>,
    /// Silences of the probe stream longer than 5 ms: the SVG's red marks.
    pub probe_gaps: Vec<Gap>,
    /// The home agents' own counters at the end of the run (Prometheus
    /// sample name with labels -> value): BUs by result, tunnel packets and
    /// bytes each way, drops by reason.
    #[serde(default)]
    pub home_agent_metrics: BTreeMap<String, f64>,
    /// The same per home agent, by name, when a run has several.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub home_agent_metrics_by_name: BTreeMap<String, BTreeMap<String, f64>>,
    /// iperf3 streams (`scenario.traffic.iperf3`); they count in
    /// `tcp_survived` too.
    #[serde(default)]
    pub iperf3: Vec<Iperf3Result>,
    /// What the run could not do as asked (iperf3 missing ...).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One iperf3 TCP stream over the run, from iperf3's own JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Iperf3Result {
    /// "cn -> mn (HoA 2001:db8:1::100)", sender first.
    pub name: String,
    pub bytes_received: u64,
    /// Received bits per second over the stream.
    pub bits_per_second: f64,
    /// TCP retransmissions the sender counted.
    pub retransmits: Option<u64>,
    /// The one-second intervals in which nothing got through.
    pub stalled_intervals: u32,
    /// Ran to its end without an error.
    pub survived: bool,
    pub error: Option<String>,
}

/// One move of one mobile node. Times in milliseconds; the `link_to_*`
/// figures count from the link event that started the handover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handover {
    pub mn: String,
    pub index: usize,
    pub from_link: String,
    pub to_link: String,
    /// The interface carrying the registration after it, for mobile nodes
    /// with several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// What the scenario did: "move eth0", "carrier down wlan0" ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// When the move began, since the run started.
    pub at_ms: f64,
    pub care_of_address: Option<String>,
    /// How the mobile node obtained the care-of address: "slaac" or
    /// "dhcpv6" (none for a return home).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coa_source: Option<String>,
    pub link_to_ra_ms: Option<f64>,
    /// Router Advertisement to a usable care-of address (DAD, or none with
    /// optimistic DAD).
    pub dad_ms: Option<f64>,
    pub link_to_bu_ms: Option<f64>,
    /// First BU sent to the BA that completed the handover.
    pub bu_to_ba_ms: Option<f64>,
    /// BUs the mobile node sent for this handover (more than one: a BU or
    /// BA was lost and retransmitted).
    #[serde(default)]
    pub bu_count: Option<u32>,
    /// How the mobile node says the handover ended (registered,
    /// deregistered, failed ...).
    #[serde(default)]
    pub outcome: Option<String>,
    /// Link event to the first probe delivered at the new location.
    pub link_to_first_probe_ms: Option<f64>,
    /// The longest silence of the correspondent -> mobile node probe stream.
    pub gap_ms: f64,
    pub lost_probes: u32,
    /// The same for mobile node -> correspondent, when measured.
    pub gap_ms_up: Option<f64>,
    pub lost_probes_up: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpResult {
    pub name: String,
    pub bytes: u64,
    pub survived: bool,
    pub error: Option<String>,
    /// What the receiver got over time, in bins of [`THROUGHPUT_BIN_MS`].
    #[serde(default)]
    pub throughput: Vec<Throughput>,
}

/// The width of the throughput bins.
pub const THROUGHPUT_BIN_MS: u64 = 200;

/// The rate over the bin that ends `at_ms` after the start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub at_ms: f64,
    pub bits_per_second: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub mn: String,
    pub link: String,
    /// The mobile node's interface on `link`, when it has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub care_of_address: Option<String>,
    pub from_ms: f64,
    pub to_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub mn: String,
    pub from_ms: f64,
    pub to_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Stats {
    pub count: usize,
    pub median: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
}

impl Stats {
    /// Nearest-rank percentiles over the values present.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Stats {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| -> Option<f64> {
            if v.is_empty() {
                return None;
            }
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v.get(i).copied()
        };
        Stats {
            count: v.len(),
            median: rank(0.5),
            p95: rank(0.95),
            max: v.last().copied(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    pub gap_ms: Stats,
    pub lost_probes: Stats,
    pub dad_ms: Stats,
    pub bu_to_ba_ms: Stats,
    pub link_to_first_probe_ms: Stats,
}

impl Summary {
    pub fn of(h: &[Handover]) -> Summary {
        Summary {
            gap_ms: Stats::of(h.iter().map(|x| x.gap_ms)),
            lost_probes: Stats::of(h.iter().map(|x| f64::from(x.lost_probes))),
            dad_ms: Stats::of(h.iter().filter_map(|x| x.dad_ms)),
            bu_to_ba_ms: Stats::of(h.iter().filter_map(|x| x.bu_to_ba_ms)),
            link_to_first_probe_ms: Stats::of(h.iter().filter_map(|x| x.link_to_first_probe_ms)),
        }
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.1}"))
}

impl Report {
    /// Each connection that did not survive, with its error.
    pub fn broken_connections(&self) -> Vec<String> {
        let tcp = self
            .tcp
            .iter()
            .filter(|c| !c.survived)
            .map(|c| (&c.name, &c.error));
        let iperf3 = self
            .iperf3
            .iter()
            .filter(|c| !c.survived)
            .map(|c| (&c.name, &c.error));
        tcp.chain(iperf3)
            .map(|(name, e)| format!("{name}: {}", e.as_deref().unwrap_or("broken")))
            .collect()
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<6} {:>2} {:<14} {:<6} {:>9} {:>8} {:>8} {:>9} {:>10} {:>8} {:>6} {:>8} {:>6}",
            "mn",
            "#",
            "move",
            "CoA by",
            "at ms",
            "RA ms",
            "DAD ms",
            "BU->BA",
            "1st probe",
            "gap ms",
            "lost",
            "gap up",
            "lost"
        );
        for h in &self.handovers {
            let _ = writeln!(
                s,
                "{:<6} {:>2} {:<14} {:<6} {:>9.0} {:>8} {:>8} {:>9} {:>10} {:>8.1} {:>6} {:>8} {:>6}",
                h.mn,
                h.index,
                format!("{}->{}", h.from_link, h.to_link),
                h.coa_source.as_deref().unwrap_or("-"),
                h.at_ms,
                opt(h.link_to_ra_ms),
                opt(h.dad_ms),
                opt(h.bu_to_ba_ms),
                opt(h.link_to_first_probe_ms),
                h.gap_ms,
                h.lost_probes,
                opt(h.gap_ms_up),
                h.lost_probes_up
                    .map_or_else(|| "-".to_string(), |n| n.to_string())
            );
        }
        let st = |name: &str, x: &Stats| {
            format!(
                "{name}: median {} p95 {} max {} (n={})",
                opt(x.median),
                opt(x.p95),
                opt(x.max),
                x.count
            )
        };
        let _ = writeln!(s, "{}", st("gap ms", &self.summary.gap_ms));
        let _ = writeln!(s, "{}", st("lost probes", &self.summary.lost_probes));
        let _ = writeln!(s, "{}", st("DAD ms", &self.summary.dad_ms));
        let _ = writeln!(s, "{}", st("BU->BA ms", &self.summary.bu_to_ba_ms));
        let m = |k: &str| self.home_agent_metrics.get(k).copied().unwrap_or(0.0);
        if !self.home_agent_metrics.is_empty() {
            let _ = writeln!(
                s,
                "home agent: tunnelled {} packets to the mobile node, {} back; {} BUs received",
                m("mip6_ha_tunnel_packets_total{direction=\"to_mn\"}"),
                m("mip6_ha_tunnel_packets_total{direction=\"from_mn\"}"),
                self.home_agent_metrics
                    .iter()
                    .filter(|(k, _)| k.starts_with("mip6_ha_binding_updates_received_total"))
                    .map(|(_, v)| v)
                    .sum::<f64>()
            );
        }
        for (ha, m) in &self.home_agent_metrics_by_name {
            let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
            let _ = writeln!(
                s,
                "  {ha}: {} BUs received, {} BAs sent, tunnelled {} packets to mobile nodes, {} back",
                get("mip6_ha_binding_updates_received_total"),
                get("mip6_ha_binding_acks_sent_total"),
                get("mip6_ha_tunnel_packets_total{direction=\"to_mn\"}"),
                get("mip6_ha_tunnel_packets_total{direction=\"from_mn\"}"),
            );
        }
        for i in &self.iperf3 {
            let _ = writeln!(
                s,
                "iperf3 {}: {:.1} Mbit/s, {} bytes, {} retransmits, {} stalled seconds{}",
                i.name,
                i.bits_per_second / 1e6,
                i.bytes_received,
                i.retransmits.map_or("-".into(), |n| n.to_string()),
                i.stalled_intervals,
                i.error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" ERROR: {e}"))
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let survived = self.tcp.iter().filter(|t| t.survived).count()
            + self.iperf3.iter().filter(|t| t.survived).count();
        let _ = writeln!(
            s,
            "TCP connections survived: {survived}/{} ({})",
            self.tcp.len() + self.iperf3.len(),
            if self.tcp_survived { "all" } else { "NOT ALL" }
        );
        s
    }

    /// An SVG timeline: a row per mobile node with its links as coloured
    /// bars labelled with the care-of address, red marks where the probe
    /// stream fell silent, and a time axis in seconds.
    pub fn svg(&self) -> String {
        let mut mns: Vec<&str> = self.timeline.iter().map(|s| s.mn.as_str()).collect();
        mns.dedup();
        let mut links: Vec<&str> = self.timeline.iter().map(|s| s.link.as_str()).collect();
        links.sort_unstable();
        links.dedup();
        const PALETTE: [&str; 6] = [
            "#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948",
        ];
        let colour = |link: &str| {
            let i = links.iter().position(|l| *l == link).unwrap_or(0);
            PALETTE[i % PALETTE.len()]
        };
        let (left, width, row_h) = (90.0, 900.0, 46.0);
        let span = self.duration_ms.max(1.0);
        let x = |ms: f64| left + ms.clamp(0.0, span) / span * width;
        let streams: Vec<&TcpResult> = self
            .tcp
            .iter()
            .filter(|t| !t.throughput.is_empty())
            .collect();
        let chart_h = if streams.is_empty() { 0.0 } else { 90.0 };
        let chart_top = 40.0 + row_h * mns.len() as f64 + 10.0;
        let height = 60.0 + row_h * mns.len() as f64 + chart_h + 30.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="11">"#,
            left + width + 20.0
        );
        let _ = writeln!(
            s,
            r#"<text x="10" y="18" font-size="14">mip6 testbed: {} ({} handovers, TCP {})</text>"#,
            xml(&self.topology),
            self.handovers.len(),
            if self.tcp_survived {
                "survived"
            } else {
                "broken"
            }
        );
        for (row, mn) in mns.iter().enumerate() {
            let y = 40.0 + row_h * row as f64;
            let _ = writeln!(s, r#"<text x="10" y="{}">{}</text>"#, y + 18.0, xml(mn));
            for seg in self.timeline.iter().filter(|t| t.mn == *mn) {
                let (x0, x1) = (x(seg.from_ms), x(seg.to_ms));
                let _ = writeln!(
                    s,
                    r#"<rect x="{x0:.1}" y="{y}" width="{:.1}" height="24" fill="{}"><title>{} {}</title></rect>"#,
                    (x1 - x0).max(0.5),
                    colour(&seg.link),
                    xml(&seg.link),
                    xml(seg.care_of_address.as_deref().unwrap_or("home"))
                );
                let label = match &seg.interface {
                    Some(i) => format!("{} ({i})", seg.link),
                    None => seg.link.clone(),
                };
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{}" fill="white">{}</text>"#,
                    x0 + 3.0,
                    y + 16.0,
                    xml(&label)
                );
                if let Some(coa) = &seg.care_of_address {
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{}" font-size="9">{}</text>"#,
                        x0 + 3.0,
                        y + 36.0,
                        xml(coa)
                    );
                }
            }
            // Each handover's cost at a glance: its gap, above the row.
            for h in self.handovers.iter().filter(|h| h.mn == *mn) {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{}" font-size="10" fill="#b03030">{:.0} ms</text>"##,
                    x(h.at_ms) + 2.0,
                    y - 9.0,
                    h.gap_ms
                );
            }
            for g in self.probe_gaps.iter().filter(|g| g.mn == *mn) {
                let (x0, x1) = (x(g.from_ms), x(g.to_ms));
                let _ = writeln!(
                    s,
                    r##"<rect x="{x0:.1}" y="{}" width="{:.1}" height="6" fill="#e15759"><title>probe gap {:.1} ms</title></rect>"##,
                    y - 7.0,
                    (x1 - x0).max(1.5),
                    g.to_ms - g.from_ms
                );
            }
        }
        if !streams.is_empty() {
            let peak = streams
                .iter()
                .flat_map(|t| t.throughput.iter().map(|p| p.bits_per_second))
                .fold(0.0_f64, f64::max)
                .max(1.0);
            let (top, h) = (chart_top + 14.0, chart_h - 24.0);
            let _ = writeln!(
                s,
                r##"<text x="10" y="{}">TCP</text><text x="10" y="{}" font-size="9">peak {:.1} Mbit/s</text>"##,
                top + 10.0,
                top + 22.0,
                peak / 1e6
            );
            // A frame as a path: the rects are the links and the gaps.
            let _ = writeln!(
                s,
                r##"<path d="M{left},{top} h{width} v{h} h-{width} Z" fill="none" stroke="#ccc"/>"##
            );
            for (i, t) in streams.iter().enumerate() {
                let points: Vec<String> = t
                    .throughput
                    .iter()
                    .map(|p| {
                        format!(
                            "{:.1},{:.1}",
                            x(p.at_ms),
                            top + h - p.bits_per_second / peak * h
                        )
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.2"><title>{} (throughput)</title></polyline>"##,
                    points.join(" "),
                    PALETTE[i % PALETTE.len()],
                    xml(&t.name)
                );
            }
        }
        let axis_y = height - 20.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#333"/>"##,
            left + width
        );
        let secs = (span / 1000.0).ceil() as u64;
        let step = (secs / 10).max(1);
        for t in (0..=secs).step_by(step as usize) {
            if t as f64 * 1000.0 > span {
                break;
            }
            let xt = x(t as f64 * 1000.0);
            let _ = writeln!(
                s,
                r##"<line x1="{xt:.1}" y1="{axis_y}" x2="{xt:.1}" y2="{}" stroke="#333"/><text x="{:.1}" y="{}">{t} s</text>"##,
                axis_y + 4.0,
                xt - 6.0,
                axis_y + 15.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handover(i: usize, gap: f64, dad: Option<f64>) -> Handover {
        Handover {
            mn: "mn1".into(),
            index: i,
            from_link: "home".into(),
            to_link: "a".into(),
            interface: None,
            cause: None,
            at_ms: 1000.0 * i as f64,
            care_of_address: Some("2001:db8:a::1".into()),
            coa_source: Some("slaac".into()),
            link_to_ra_ms: Some(5.0),
            dad_ms: dad,
            link_to_bu_ms: Some(6.0),
            bu_to_ba_ms: Some(1.5),
            bu_count: Some(1),
            outcome: Some("registered".into()),
            link_to_first_probe_ms: Some(9.0),
            gap_ms: gap,
            lost_probes: gap as u32,
            gap_ms_up: None,
            lost_probes_up: None,
        }
    }

    fn report() -> Report {
        let handovers = vec![
            handover(1, 40.0, Some(1.0)),
            handover(2, 60.0, None),
            handover(3, 50.0, Some(3.0)),
        ];
        Report {
            schema: SCHEMA.into(),
            topology: "default <demo>".into(),
            started_unix_ms: 0.0,
            duration_ms: 4000.0,
            summary: Summary::of(&handovers),
            handovers,
            tcp_survived: true,
            tcp: vec![TcpResult {
                name: "cn->mn1".into(),
                bytes: 1 << 20,
                survived: true,
                error: None,
                throughput: vec![
                    Throughput {
                        at_ms: 900.0,
                        bits_per_second: 8e6,
                    },
                    Throughput {
                        at_ms: 1100.0,
                        bits_per_second: 0.0,
                    },
                    Throughput {
                        at_ms: 1300.0,
                        bits_per_second: 16e6,
                    },
                ],
            }],
            timeline: vec![
                Segment {
                    mn: "mn1".into(),
                    link: "home".into(),
                    interface: None,
                    care_of_address: None,
                    from_ms: 0.0,
                    to_ms: 1000.0,
                },
                Segment {
                    mn: "mn1".into(),
                    link: "a".into(),
                    interface: Some("wlan0".into()),
                    care_of_address: Some("2001:db8:a::1".into()),
                    from_ms: 1000.0,
                    to_ms: 4000.0,
                },
            ],
            probe_gaps: vec![Gap {
                mn: "mn1".into(),
                from_ms: 1000.0,
                to_ms: 1040.0,
            }],
            home_agent_metrics: Default::default(),
            home_agent_metrics_by_name: Default::default(),
            iperf3: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn stats_use_nearest_rank() {
        let s = Stats::of([40.0, 60.0, 50.0]);
        assert_eq!(
            (s.count, s.median, s.p95, s.max),
            (3, Some(50.0), Some(60.0), Some(60.0))
        );
        assert_eq!(Stats::of([]).median, None);
        let s = Stats::of((1..=100).map(f64::from));
        assert_eq!((s.median, s.p95), (Some(50.0), Some(95.0)));
    }

    #[test]
    fn json_round_trips_with_the_documented_fields() {
        let r = report();
        let text = serde_json::to_string(&r).expect("json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("parse");
        for f in ["gap_ms", "lost_probes", "dad_ms", "bu_to_ba_ms"] {
            assert!(v["handovers"][0].get(f).is_some(), "{f}");
        }
        assert_eq!(v["tcp_survived"], true);
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(serde_json::from_str::<Report>(&text).expect("back"), r);
        // The missing DAD figure is left out of the statistics, not zero.
        assert_eq!(r.summary.dad_ms.count, 2);
    }

    #[test]
    fn table_and_svg_show_every_move() {
        let r = report();
        let t = r.table();
        assert_eq!(t.matches("home->a").count(), 3);
        assert_eq!(t.matches(" slaac ").count(), 3, "{t}");
        assert!(t.contains("TCP connections survived: 1/1 (all)"));
        let svg = r.svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("default &lt;demo&gt;"));
        assert!(svg.contains("probe gap 40.0 ms"));
        // Each handover's gap as a label, and the TCP stream over time.
        for label in [">40 ms<", ">60 ms<", ">50 ms<"] {
            assert!(svg.contains(label), "{label}: {svg}");
        }
        assert!(svg.contains("peak 16.0 Mbit/s"), "{svg}");
        // 16 Mbit/s at the top of the chart, 0 at its bottom.
        let line = svg
            .lines()
            .find(|l| l.starts_with("<polyline"))
            .expect("a throughput line");
        assert!(line.contains("cn-&gt;mn1 (throughput)"), "{line}");
        assert_eq!(line.matches(',').count(), 3, "{line}");
    }
}
