//! Duplicate Address Detection on the home link on behalf of a mobile node
//! (RFC 6275 10.3.1, RFC 4862 5.4), sans-IO.
//!
//! One job per home address, probing it (and its link-local address with
//! the L flag) together: `transmits` Neighbor Solicitations from `::` to
//! the solicited-node group, `retrans` apart, each with a nonce (RFC 7527)
//! so our own probe looped back by the link is not taken for a rival. A
//! Neighbor Advertisement for a target, or a probe for it from `::` with
//! another nonce (someone else's DAD), ends the job as a conflict at once;
//! `retrans` after the last probe with neither, the address is free.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use mip6_common::wire::nd::solicited_node_multicast;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DadAction {
    /// Receive this solicited-node group on the home link.
    Join(Ipv6Addr),
    Leave(Ipv6Addr),
    /// Send a DAD probe (NS from `::` to the target's solicited-node group).
    Probe {
        target: Ipv6Addr,
        nonce: [u8; 6],
    },
    /// The job for `hoa` is over: `free` unless someone holds an address.
    Done {
        hoa: Ipv6Addr,
        free: bool,
    },
}

#[derive(Debug)]
struct Job {
    targets: Vec<(Ipv6Addr, [u8; 6])>,
    sent: u8,
    next: Instant,
}

/// Every DAD the home agent runs at once.
#[derive(Debug)]
pub struct DadRunner {
    transmits: u8,
    retrans: Duration,
    jobs: BTreeMap<Ipv6Addr, Job>,
    actions: VecDeque<DadAction>,
}

impl DadRunner {
    pub fn new(transmits: u8, retrans: Duration) -> Self {
        Self {
            transmits,
            retrans,
            jobs: BTreeMap::new(),
            actions: VecDeque::new(),
        }
    }

    pub fn poll_action(&mut self) -> Option<DadAction> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.jobs.values().map(|j| j.next).min()
    }

    pub fn is_running(&self, hoa: &Ipv6Addr) -> bool {
        self.jobs.contains_key(hoa)
    }

    /// Starts probing `hoa` (and `link_local`); `nonce` gives each target's
    /// nonce. A job already running for `hoa` goes on unchanged.
    pub fn start(
        &mut self,
        now: Instant,
        hoa: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
        mut nonce: impl FnMut() -> [u8; 6],
    ) {
        if self.jobs.contains_key(&hoa) {
            return;
        }
        if self.transmits == 0 {
            self.actions.push_back(DadAction::Done { hoa, free: true });
            return;
        }
        let targets: Vec<(Ipv6Addr, [u8; 6])> = std::iter::once(hoa)
            .chain(link_local)
            .map(|t| (t, nonce()))
            .collect();
        for (t, _) in &targets {
            self.actions
                .push_back(DadAction::Join(solicited_node_multicast(*t)));
        }
        self.jobs.insert(
            hoa,
            Job {
                targets,
                sent: 0,
                next: now,
            },
        );
        self.handle_timeout(now);
    }

    /// Sends due probes and ends jobs whose last wait is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<Ipv6Addr> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.next <= now)
            .map(|(h, _)| *h)
            .collect();
        for hoa in due {
            let Some(job) = self.jobs.get_mut(&hoa) else {
                continue;
            };
            if job.sent >= self.transmits {
                self.finish(hoa, true);
                continue;
            }
            job.sent += 1;
            job.next = now + self.retrans;
            for (target, nonce) in &job.targets {
                self.actions.push_back(DadAction::Probe {
                    target: *target,
                    nonce: *nonce,
                });
            }
        }
    }

    fn finish(&mut self, hoa: Ipv6Addr, free: bool) {
        if let Some(job) = self.jobs.remove(&hoa) {
            for (t, _) in &job.targets {
                self.actions
                    .push_back(DadAction::Leave(solicited_node_multicast(*t)));
            }
            self.actions.push_back(DadAction::Done { hoa, free });
        }
    }

    fn job_of(&self, target: &Ipv6Addr) -> Option<(Ipv6Addr, [u8; 6])> {
        self.jobs.iter().find_map(|(hoa, j)| {
            j.targets
                .iter()
                .find(|(t, _)| t == target)
                .map(|(_, n)| (*hoa, *n))
        })
    }

    /// A Neighbor Advertisement for `target` was seen on the home link.
    pub fn handle_na(&mut self, target: Ipv6Addr) {
        if let Some((hoa, _)) = self.job_of(&target) {
            self.finish(hoa, false);
        }
    }

    /// A DAD probe (NS from `::`) for `target` was seen, with `nonce`.
    pub fn handle_probe(&mut self, target: Ipv6Addr, nonce: Option<&[u8]>) {
        if let Some((hoa, ours)) = self.job_of(&target) {
            if nonce == Some(&ours[..]) {
                return; // our own, looped back
            }
            self.finish(hoa, false);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
    const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100);

    fn drain(d: &mut DadRunner) -> Vec<DadAction> {
        std::iter::from_fn(|| d.poll_action()).collect()
    }

    #[test]
    fn free_after_the_probes_and_a_last_wait() {
        let t0 = Instant::now();
        let mut d = DadRunner::new(2, Duration::from_secs(1));
        d.start(t0, HOA, Some(LL), || [1, 2, 3, 4, 5, 6]);
        let a = drain(&mut d);
        assert_eq!(a.len(), 4, "{a:?}"); // two joins, two probes
        assert!(matches!(a[2], DadAction::Probe { target, .. } if target == HOA));
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        d.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(drain(&mut d).len(), 2);
        d.handle_timeout(t0 + Duration::from_millis(1999));
        assert!(drain(&mut d).is_empty());
        d.handle_timeout(t0 + Duration::from_secs(2));
        let a = drain(&mut d);
        assert_eq!(
            a.last(),
            Some(&DadAction::Done {
                hoa: HOA,
                free: true
            })
        );
        assert!(a.contains(&DadAction::Leave(solicited_node_multicast(LL))));
        assert!(d.poll_timeout().is_none());
    }

    #[test]
    fn an_advertisement_or_a_rival_probe_is_a_conflict() {
        let t0 = Instant::now();
        let mut d = DadRunner::new(1, Duration::from_secs(1));
        d.start(t0, HOA, Some(LL), || [9; 6]);
        drain(&mut d);
        d.handle_probe(LL, Some(&[9; 6]));
        assert!(drain(&mut d).is_empty(), "our own probe looped back");
        d.handle_na(LL);
        assert_eq!(
            drain(&mut d).last(),
            Some(&DadAction::Done {
                hoa: HOA,
                free: false
            })
        );
        d.start(t0, HOA, None, || [9; 6]);
        drain(&mut d);
        d.handle_probe(HOA, None);
        assert!(!d.is_running(&HOA));
    }

    #[test]
    fn zero_transmits_is_free_at_once() {
        let mut d = DadRunner::new(0, Duration::from_secs(1));
        d.start(Instant::now(), HOA, None, || [0; 6]);
        assert_eq!(
            drain(&mut d),
            vec![DadAction::Done {
                hoa: HOA,
                free: true
            }]
        );
    }
}
