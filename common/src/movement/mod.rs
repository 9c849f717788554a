//! Movement: where the mobile node is, and what each move asks of it
//! (RFC 6275 11.5), as a sans-IO engine.
//!
//! The daemon describes its interfaces each turn ([`LinkView`]: priority,
//! whether it is on the home link, its usable care-of address) and reports
//! the kernel's address notifications; the engine decides the location
//! ([`choose`]) and returns what a change of location asks for, in the
//! order it must happen ([`Action`]): where the home address lives, the
//! tunnel's local end, discovery of the home agent, and when the BU or the
//! deregistration may leave. It holds no socket and reads no clock, so
//! every race between a move and the kernel's address work is tested with
//! a simulated clock (`tests.rs`).
//!
//! # Why the BU waits for the kernel
//!
//! The daemon adds the care-of address and, at home, the home address
//! `nodad` (our own DAD ran, or runs optimistically; the home agent
//! defended the home address until now). The kernel takes such an address
//! in two steps: the netlink request puts it on the interface at once,
//! usable as a source, and only its address-configuration work a moment
//! later installs the local route that makes packets *to* it ours, and
//! then reports the address (RTM_NEWADDR). A BU sent in between gets its
//! BA back within a millisecond to an address the kernel does not yet
//! take (Ip6InAddrErrors), and is retransmitted a second later; at home
//! the home agent's Neighbour Advertisement to the home address is lost
//! the same way. So the engine lets the BU (or the deregistration) leave
//! when the kernel has reported the address, or after
//! [`Movement::new`]'s `ready_wait` at the latest.
//!
//! # Returning home (RFC 6275 11.5.4)
//!
//! Until the deregistration is accepted the home agent still defends the
//! home address, so the mobile node must not use it in a Neighbor
//! Solicitation: the home agent's link-layer address is solicited from
//! the unspecified address first ([`Action::SolicitHomeAgent`]), and the
//! deregistration waits for that answer too (or the same deadline).

#[cfg(test)]
mod tests;

use std::collections::{HashSet, VecDeque};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// What the engine needs to know of one interface, each turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkView {
    /// Higher wins; on a tie the interface listed first.
    pub priority: i32,
    /// Carrier, and a router advertising a home prefix.
    pub at_home: bool,
    /// Carrier, and a care-of address usable on it (DAD done, or
    /// optimistic).
    pub care_of_address: Option<Ipv6Addr>,
}

impl LinkView {
    fn eligible(&self) -> bool {
        self.at_home || self.care_of_address.is_some()
    }
}

/// Where the mobile node is; `link` is the interface's position in the
/// list the daemon passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// No interface can carry the registration.
    Detached,
    Away {
        link: usize,
        coa: Ipv6Addr,
    },
    Home {
        link: usize,
    },
}

/// The interface that carries the registration: the eligible one (home,
/// or with a care-of address) of highest priority, the first listed on a
/// tie.
pub fn choose(links: &[LinkView]) -> Location {
    let best = carrying_link(links.iter().map(|l| l.eligible().then_some(l.priority)));
    match best {
        None => Location::Detached,
        Some(i) if links[i].at_home => Location::Home { link: i },
        Some(i) => match links[i].care_of_address {
            Some(coa) => Location::Away { link: i, coa },
            None => Location::Detached,
        },
    }
}

/// The rule under [`choose`], for callers that know only which interfaces
/// are eligible (`Some(priority)`) and which are not (`None`): the
/// testbed predicts handovers with it.
pub fn carrying_link(links: impl IntoIterator<Item = Option<i32>>) -> Option<usize> {
    let mut best: Option<(i32, usize)> = None;
    for (i, p) in links.into_iter().enumerate() {
        if let Some(p) = p
            && best.is_none_or(|(b, _)| p > b)
        {
            best = Some((p, i));
        }
    }
    best.map(|(_, i)| i)
}

/// How a waiting BU or deregistration was let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// The kernel reported the address usable.
    Reported,
    /// The kernel had not reported it by the deadline; the message leaves
    /// anyway (it may need a retransmission).
    TimedOut,
    /// Nothing to wait for (the home agent was just discovered, or the
    /// home address could not be placed).
    NotAwaited,
}

/// What the daemon carries out, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Take the home address off the home link and put it, with the
    /// default route, on the tunnel device.
    HomeAddressToTunnel,
    /// Put the home address on this interface and route by the home
    /// router; answer with [`Movement::home_address_placed`].
    HomeAddressToLink {
        link: usize,
    },
    /// Solicit the home agent's link-layer address from `::` on this
    /// interface; report the answer with
    /// [`Movement::home_agent_answered`] (also when nothing can be sent).
    SolicitHomeAgent {
        link: usize,
    },
    /// Still at home: the home router may have changed.
    RefreshHomeRoute {
        link: usize,
    },
    /// The tunnel's local end (`None`: no tunnel traffic leaves).
    TunnelLocal(Option<Ipv6Addr>),
    /// The location changed (for logs, history and status).
    Moved {
        to: Location,
        previous_coa: Option<Ipv6Addr>,
    },
    /// Find the home agent from this care-of address (RFC 6275 11.4.1).
    StartDiscovery {
        coa: Ipv6Addr,
    },
    StopDiscovery,
    /// Register this care-of address.
    Register {
        coa: Ipv6Addr,
        ready: Readiness,
    },
    /// Deregister from home (RFC 6275 11.5.4); `home_agent_answered` is
    /// false when the solicitation from `::` went unanswered.
    Deregister {
        ready: Readiness,
        home_agent_answered: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Wait {
    link: usize,
    addr: Ipv6Addr,
    deadline: Instant,
    /// The home agent's link-layer address is known (always, for a
    /// care-of address).
    answered: bool,
}

/// The movement engine; see the module documentation.
#[derive(Debug)]
pub struct Movement {
    home_address: Ipv6Addr,
    ready_wait: Duration,
    location: Location,
    /// We asked for the home address on a link and it is not known to
    /// have failed.
    home_address_on_link: bool,
    home_agent_known: bool,
    /// The care-of address of the last move away from home.
    last_coa: Option<Ipv6Addr>,
    /// A deregistration from home waiting for the home address.
    home_wait: Option<Wait>,
    /// A BU for a new care-of address waiting for it.
    coa_wait: Option<Wait>,
    /// Addresses the kernel reported usable and has not removed since.
    reported: HashSet<(usize, Ipv6Addr)>,
    actions: VecDeque<Action>,
}

impl Movement {
    /// Starts detached, the home address on the tunnel device.
    pub fn new(home_address: Ipv6Addr, ready_wait: Duration, home_agent_known: bool) -> Self {
        Movement {
            home_address,
            ready_wait,
            location: Location::Detached,
            home_address_on_link: false,
            home_agent_known,
            last_coa: None,
            home_wait: None,
            coa_wait: None,
            reported: HashSet::new(),
            actions: VecDeque::new(),
        }
    }

    pub fn location(&self) -> Location {
        self.location
    }

    /// The kernel reported `addr` on `link` usable (`true`: RTM_NEWADDR,
    /// not tentative) or gone or tentative (`false`).
    pub fn address_changed(&mut self, now: Instant, link: usize, addr: Ipv6Addr, usable: bool) {
        if usable {
            self.reported.insert((link, addr));
        } else {
            self.reported.remove(&(link, addr));
        }
        self.check_waits(now);
    }

    /// Decides where we are from this turn's view of the interfaces.
    pub fn update(&mut self, now: Instant, links: &[LinkView]) {
        let target = choose(links);
        if target == self.location {
            if let Location::Home { link } = target {
                self.actions.push_back(Action::RefreshHomeRoute { link });
            }
            self.check_waits(now);
            return;
        }
        self.location = target;
        self.home_wait = None;
        self.coa_wait = None;
        let previous_coa = self.last_coa;
        match target {
            Location::Away { link, coa } => {
                self.home_address_off_link();
                self.actions.push_back(Action::TunnelLocal(Some(coa)));
                self.last_coa = Some(coa);
                self.actions.push_back(Action::Moved {
                    to: target,
                    previous_coa,
                });
                if !self.home_agent_known {
                    // RFC 6275 11.4.1: find the home agent first; the BU
                    // follows its discovery.
                    self.actions.push_back(Action::StartDiscovery { coa });
                } else {
                    self.coa_wait = Some(Wait {
                        link,
                        addr: coa,
                        deadline: now + self.ready_wait,
                        answered: true,
                    });
                }
            }
            Location::Home { link } => {
                self.actions.push_back(Action::TunnelLocal(None));
                // A report from an earlier stay is no report of this
                // placement.
                self.reported.remove(&(link, self.home_address));
                self.home_address_on_link = true;
                self.actions.push_back(Action::HomeAddressToLink { link });
                self.actions.push_back(Action::Moved {
                    to: target,
                    previous_coa,
                });
                self.actions.push_back(Action::StopDiscovery);
                if self.home_agent_known {
                    self.home_wait = Some(Wait {
                        link,
                        addr: self.home_address,
                        deadline: now + self.ready_wait,
                        answered: false,
                    });
                }
            }
            Location::Detached => {
                self.actions.push_back(Action::TunnelLocal(None));
                self.home_address_off_link();
                self.actions.push_back(Action::StopDiscovery);
                self.actions.push_back(Action::Moved {
                    to: target,
                    previous_coa,
                });
            }
        }
        self.check_waits(now);
    }

    /// The daemon's answer to [`Action::HomeAddressToLink`]. When the home
    /// address could not be placed the deregistration leaves at once: the
    /// binding must go whatever the kernel did.
    pub fn home_address_placed(&mut self, ok: bool) {
        if ok {
            if let Some(w) = self.home_wait {
                self.actions
                    .push_back(Action::SolicitHomeAgent { link: w.link });
            }
            return;
        }
        self.home_address_on_link = false;
        if self.home_wait.take().is_some() {
            self.actions.push_back(Action::Deregister {
                ready: Readiness::NotAwaited,
                home_agent_answered: false,
            });
        }
    }

    /// The interface on which an answer from the home agent to our
    /// solicitation from `::` is awaited.
    pub fn awaiting_home_agent(&self) -> Option<usize> {
        self.home_wait.filter(|w| !w.answered).map(|w| w.link)
    }

    /// The home agent's link-layer address is known (or no solicitation
    /// could be sent, and waiting longer would help nothing).
    pub fn home_agent_answered(&mut self, now: Instant) {
        if let Some(w) = &mut self.home_wait {
            w.answered = true;
        }
        self.check_waits(now);
    }

    /// The home agent was discovered: away, register at once.
    pub fn home_agent_found(&mut self) {
        self.home_agent_known = true;
        if let Location::Away { coa, .. } = self.location {
            self.actions.push_back(Action::Register {
                coa,
                ready: Readiness::NotAwaited,
            });
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_waits(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.home_wait, self.coa_wait]
            .into_iter()
            .flatten()
            .map(|w| w.deadline)
            .min()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn home_address_off_link(&mut self) {
        if self.home_address_on_link {
            self.home_address_on_link = false;
            self.actions.push_back(Action::HomeAddressToTunnel);
        }
    }

    fn readiness(&self, w: &Wait, now: Instant) -> Option<Readiness> {
        if w.answered && self.reported.contains(&(w.link, w.addr)) {
            Some(Readiness::Reported)
        } else if now >= w.deadline {
            Some(Readiness::TimedOut)
        } else {
            None
        }
    }

    fn check_waits(&mut self, now: Instant) {
        if let Some(w) = self.home_wait
            && let Some(ready) = self.readiness(&w, now)
        {
            self.home_wait = None;
            self.actions.push_back(Action::Deregister {
                ready,
                home_agent_answered: w.answered,
            });
        }
        if let Some(w) = self.coa_wait
            && let Some(ready) = self.readiness(&w, now)
        {
            self.coa_wait = None;
            self.actions
                .push_back(Action::Register { coa: w.addr, ready });
        }
    }
}
