//! Links (bridges in the switch namespace) and the interfaces plugged into
//! them.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::error::{HarnessError, Result};
use super::ipjson::{self, AddrInfo, LinkState};
use super::lab::LabShared;
use super::node::Node;
use super::wait;

/// A link: one bridge in the lab's switch namespace. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    name: String,
    bridge: String,
    switch_netns: String,
}

impl Link {
    pub(crate) fn new(name: &str, bridge: &str, switch_netns: &str) -> Self {
        Self {
            name: name.to_owned(),
            bridge: bridge.to_owned(),
            switch_netns: switch_netns.to_owned(),
        }
    }

    /// The link's name within the lab ("home").
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bridge's interface name in the switch namespace.
    #[must_use]
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The switch namespace holding the bridge.
    #[must_use]
    pub fn switch_netns(&self) -> &str {
        &self.switch_netns
    }
}

/// What is at the other end of an interface's veth.
#[derive(Debug)]
pub(crate) enum Far {
    /// A port of a bridge in the switch namespace.
    Switch {
        netns: String,
        peer: String,
        link: Mutex<Link>,
    },
    /// Another node (a point-to-point veth).
    Node {
        node: String,
        netns: String,
        name: String,
    },
    /// Not made by the harness (a TUN, `lo`).
    None,
}

#[derive(Debug)]
struct Inner {
    lab: Arc<LabShared>,
    node: String,
    netns: String,
    name: String,
    far: Far,
}

/// One interface of a node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Iface {
    inner: Arc<Inner>,
}

impl Iface {
    pub(crate) fn new(lab: Arc<LabShared>, node: &Node, name: &str, far: Far) -> Self {
        Self {
            inner: Arc::new(Inner {
                lab,
                node: node.name().to_owned(),
                netns: node.netns().to_owned(),
                name: name.to_owned(),
                far,
            }),
        }
    }

    pub(crate) fn far(&self) -> &Far {
        &self.inner.far
    }

    /// The interface's name in its node ("eth0").
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The name of the node it belongs to.
    #[must_use]
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// The namespace of the node it belongs to.
    #[must_use]
    pub fn netns(&self) -> &str {
        &self.inner.netns
    }

    /// The link it is plugged into now, if it is attached to one.
    #[must_use]
    pub fn link(&self) -> Option<Link> {
        match &self.inner.far {
            Far::Switch { link, .. } => Some(
                link.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone(),
            ),
            _ => None,
        }
    }

    /// The far end of the veth: `(namespace, interface)` (the bridge port
    /// in the switch namespace, or the other node's end).
    #[must_use]
    pub fn peer(&self) -> Option<(&str, &str)> {
        match &self.inner.far {
            Far::Switch { netns, peer, .. } => Some((netns, peer)),
            Far::Node { netns, name, .. } => Some((netns, name)),
            Far::None => None,
        }
    }

    /// The name of the node at the far end of a point-to-point veth.
    #[must_use]
    pub fn peer_node(&self) -> Option<&str> {
        match &self.inner.far {
            Far::Node { node, .. } => Some(node),
            _ => None,
        }
    }

    fn ip(&self, args: &[&str]) -> Result<String> {
        let mut v = vec!["-n", self.netns()];
        v.extend_from_slice(args);
        self.inner.lab.ip(&v)
    }

    /// The link state as the node sees it (`ip -j link show`).
    pub fn state(&self) -> Result<LinkState> {
        let out = self.ip(&["-j", "link", "show", "dev", self.name()])?;
        ipjson::parse_link(
            &format!("ip -n {} -j link show dev {}", self.netns(), self.name()),
            &out,
        )
    }

    /// Whether the node's end has carrier (IFF_LOWER_UP).
    pub fn carrier(&self) -> Result<bool> {
        Ok(self.state()?.carrier())
    }

    /// The node's end's MAC address.
    pub fn mac(&self) -> Result<String> {
        self.state()?.address.ok_or_else(|| HarnessError::Parse {
            cmd: format!("ip -n {} -j link show dev {}", self.netns(), self.name()),
            why: "no link-layer address".to_owned(),
        })
    }

    /// Cable pulled: sets the bridge-side peer down, so the node's end
    /// loses carrier (IFF_LOWER_UP clears, NO-CARRIER, operstate DOWN,
    /// `/sys/class/net/<if>/carrier` 0; routes marked linkdown) while it
    /// stays administratively up. Linux keeps the IPv6 addresses. Returns
    /// once the node sees it. (veth refuses `ip link set carrier off`.)
    pub fn set_down(&self) -> Result<()> {
        self.set_carrier(false)
    }

    /// Cable plugged back in: the bridge-side peer up; returns once the
    /// node has carrier again. Linux does not redo DAD or send an RS for
    /// a carrier flap (only an admin down/up does: [`Iface::bounce`]).
    pub fn set_up(&self) -> Result<()> {
        self.set_carrier(true)
    }

    fn set_carrier(&self, on: bool) -> Result<()> {
        let Far::Switch { netns, peer, .. } = &self.inner.far else {
            return Err(HarnessError::Unsupported(format!(
                "{} on node {} has no switch side; use admin_down/admin_up on its ends",
                self.name(),
                self.node()
            )));
        };
        let state = if on { "up" } else { "down" };
        self.inner
            .lab
            .ip(&["-n", netns, "link", "set", "dev", peer, state])?;
        self.wait_carrier(on, self.inner.lab.timeouts.carrier)
    }

    /// Sets the node's own end administratively up.
    pub fn admin_up(&self) -> Result<()> {
        self.ip(&["link", "set", "dev", self.name(), "up"])
            .map(drop)
    }

    /// Admin down and up on the node's end: the kernel flushes the
    /// interface's addresses (manual ones too) and starts over with
    /// link-local DAD, RS and SLAAC.
    pub fn bounce(&self) -> Result<()> {
        self.admin_down()?;
        self.admin_up()
    }

    /// Sets the node's own end administratively down.
    pub fn admin_down(&self) -> Result<()> {
        self.ip(&["link", "set", "dev", self.name(), "down"])
            .map(drop)
    }

    /// Waits until the node's end has (or has lost) carrier.
    pub fn wait_carrier(&self, on: bool, timeout: Duration) -> Result<()> {
        let what = format!(
            "{} on {} to {} carrier",
            self.name(),
            self.node(),
            if on { "gain" } else { "lose" }
        );
        wait::poll(&what, timeout, self.inner.lab.timeouts.poll, || {
            let s = self.state()?;
            Ok(if s.carrier() == on {
                Ok(())
            } else {
                Err(format!("flags {:?}, operstate {}", s.flags, s.operstate))
            })
        })
    }

    /// The interface's IPv6 addresses now.
    pub fn addrs6(&self) -> Result<Vec<AddrInfo>> {
        let out = self.ip(&["-j", "-6", "addr", "show", "dev", self.name()])?;
        ipjson::parse_addrs(
            &format!("ip -n {} -j -6 addr show dev {}", self.netns(), self.name()),
            &out,
        )
    }

    /// Polls the IPv6 addresses until one satisfies `pred`; `what`
    /// describes it for the timeout error.
    pub fn wait_addr(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&AddrInfo) -> bool,
    ) -> Result<AddrInfo> {
        let what = format!("{what} on {} of {}", self.name(), self.node());
        wait::poll(&what, timeout, self.inner.lab.timeouts.poll, || {
            let addrs = self.addrs6()?;
            Ok(addrs
                .iter()
                .find(|a| pred(a))
                .cloned()
                .ok_or_else(|| describe(&addrs)))
        })
    }

    /// Waits for the kernel's link-local address to finish DAD and
    /// returns it.
    pub fn wait_link_local(&self, timeout: Duration) -> Result<Ipv6Addr> {
        let a = self.wait_addr("a link-local address past DAD", timeout, |a| {
            a.is_link_local() && a.is_ready()
        })?;
        match a.local {
            IpAddr::V6(v6) => Ok(v6),
            IpAddr::V4(_) => Err(HarnessError::Unsupported(
                "ip -6 listed an IPv4 address".to_owned(),
            )),
        }
    }

    /// Waits until `addr` is present and no longer tentative; fails at once
    /// if DAD marks it failed.
    pub fn wait_addr_ready(&self, addr: Ipv6Addr, timeout: Duration) -> Result<AddrInfo> {
        let what = format!("{addr} past DAD on {} of {}", self.name(), self.node());
        wait::poll(&what, timeout, self.inner.lab.timeouts.poll, || {
            let addrs = self.addrs6()?;
            match addrs.iter().find(|a| a.local == IpAddr::V6(addr)) {
                Some(a) if a.dadfailed => Err(HarnessError::Unsupported(format!(
                    "DAD failed for {addr} on {} of {}",
                    self.name(),
                    self.node()
                ))),
                Some(a) if a.is_ready() => Ok(Ok(a.clone())),
                _ => Ok(Err(describe(&addrs))),
            }
        })
    }

    /// Waits until `addr` is gone from the interface.
    pub fn wait_addr_gone(&self, addr: Ipv6Addr, timeout: Duration) -> Result<()> {
        let what = format!("{addr} to leave {} of {}", self.name(), self.node());
        wait::poll(&what, timeout, self.inner.lab.timeouts.poll, || {
            let addrs = self.addrs6()?;
            Ok(if addrs.iter().any(|a| a.local == IpAddr::V6(addr)) {
                Err(describe(&addrs))
            } else {
                Ok(())
            })
        })
    }
}

fn describe(addrs: &[AddrInfo]) -> String {
    if addrs.is_empty() {
        return "no IPv6 address".to_owned();
    }
    addrs
        .iter()
        .map(|a| {
            let mut s = format!("{}/{}", a.local, a.prefixlen);
            for (on, flag) in [
                (a.tentative, "tentative"),
                (a.dadfailed, "dadfailed"),
                (a.optimistic, "optimistic"),
                (a.deprecated, "deprecated"),
            ] {
                if on {
                    s.push(' ');
                    s.push_str(flag);
                }
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}
