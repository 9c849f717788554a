//! The handover history `mip6-mn status` shows: for each handover the
//! link event, the first RA, the care-of address becoming usable, the first
//! BU and the BA, as UNIX milliseconds. The last [`MAX_ENTRIES`] are kept.

use crate::status::Handover;
use std::collections::VecDeque;
use std::net::Ipv6Addr;

pub const MAX_ENTRIES: usize = 64;

#[derive(Debug, Default)]
pub struct History {
    entries: VecDeque<Handover>,
    next: u32,
    /// The last entry still waits for its BA.
    open: bool,
}

/// The start of a handover, as the daemon knows it when it decides.
#[derive(Debug, Clone)]
pub struct Start {
    pub kind: &'static str,
    pub link: String,
    pub coa: Option<Ipv6Addr>,
    /// "slaac" or "dhcpv6".
    pub coa_source: Option<&'static str>,
    pub previous_coa: Option<Ipv6Addr>,
    pub link_event_unix_ms: Option<f64>,
    pub ra_unix_ms: Option<f64>,
    pub coa_usable_unix_ms: Option<f64>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new handover; one still open is superseded.
    pub fn begin(&mut self, s: Start) {
        self.close("superseded");
        self.next += 1;
        self.entries.push_back(Handover {
            number: self.next,
            kind: s.kind.into(),
            link: s.link,
            coa: s.coa,
            coa_source: s.coa_source.map(String::from),
            previous_coa: s.previous_coa,
            link_event_unix_ms: s.link_event_unix_ms,
            ra_unix_ms: s.ra_unix_ms,
            coa_usable_unix_ms: s.coa_usable_unix_ms,
            bu_sent_unix_ms: None,
            ba_received_unix_ms: None,
            bu_count: 0,
            outcome: String::new(),
        });
        while self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.open = true;
    }

    fn current(&mut self) -> Option<&mut Handover> {
        if self.open {
            self.entries.back_mut()
        } else {
            None
        }
    }

    /// A BU for `coa` left (the first one dates the handover).
    pub fn bu_sent(&mut self, coa: Ipv6Addr, at_unix_ms: f64) {
        if let Some(h) = self.current() {
            let matches = match h.kind.as_str() {
                "home" => true,
                _ => h.coa == Some(coa),
            };
            if matches {
                h.bu_count += 1;
                h.bu_sent_unix_ms.get_or_insert(at_unix_ms);
            }
        }
    }

    /// The BA completed the handover.
    pub fn completed(&mut self, outcome: &str, at_unix_ms: f64) {
        if let Some(h) = self.current() {
            h.ba_received_unix_ms = Some(at_unix_ms);
            h.outcome = outcome.into();
            self.open = false;
        }
    }

    /// The handover ended without a BA.
    pub fn close(&mut self, outcome: &str) {
        if let Some(h) = self.current() {
            h.outcome = outcome.into();
            self.open = false;
        }
    }

    pub fn entries(&self) -> Vec<Handover> {
        self.entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(coa: &str) -> Start {
        Start {
            kind: "away",
            link: "eth0".into(),
            coa: Some(coa.parse().expect("a")),
            coa_source: Some("slaac"),
            previous_coa: None,
            link_event_unix_ms: Some(1.0),
            ra_unix_ms: Some(2.0),
            coa_usable_unix_ms: Some(3.0),
        }
    }

    #[test]
    fn lifecycle() {
        let mut h = History::new();
        h.begin(start("2001:db8:a::1"));
        h.bu_sent("2001:db8:a::1".parse().expect("a"), 4.0);
        h.bu_sent("2001:db8:a::1".parse().expect("a"), 5.0);
        h.completed("registered", 6.0);
        // A refresh later does not touch a closed entry.
        h.bu_sent("2001:db8:a::1".parse().expect("a"), 100.0);
        h.begin(start("2001:db8:b::1"));
        h.begin(start("2001:db8:c::1"));
        let e = h.entries();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].bu_count, 2);
        assert_eq!(e[0].bu_sent_unix_ms, Some(4.0));
        assert_eq!(e[0].ba_received_unix_ms, Some(6.0));
        assert_eq!(e[1].outcome, "superseded");
        assert_eq!(e[2].number, 3);
        for _ in 0..MAX_ENTRIES {
            h.begin(start("2001:db8:d::1"));
        }
        assert_eq!(h.entries().len(), MAX_ENTRIES);
    }
}
