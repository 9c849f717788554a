//! `Lab`: owns every namespace, bridge and veth of one test run and
//! removes them all when dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use super::error::{HarnessError, Result};
use super::iface::{Far, Iface, Link};
use super::node::{Node, NodeOptions};
use super::{cmd, naming, netns, preflight, registry, sweep, wait};

/// Time limits of a lab; every wait in the harness takes its bound from
/// here unless given one explicitly. Generous by default: the test
/// machines share two cores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Bound on one short command (`ip`, `sysctl`, `ping`).
    pub command: Duration,
    /// Bound on address waits (DAD, SLAAC).
    pub addr: Duration,
    /// Bound on carrier changes becoming visible.
    pub carrier: Duration,
    /// Time a process gets between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Interval between polls.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(30),
            addr: Duration::from_secs(20),
            carrier: Duration::from_secs(10),
            kill_grace: Duration::from_secs(2),
            poll: Duration::from_millis(20),
        }
    }
}

/// How a lab is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabOptions {
    /// Time limits.
    pub timeouts: Timeouts,
    /// Remove labs of dead processes first ([`sweep_stale`](super::sweep_stale)).
    pub sweep_stale: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            sweep_stale: true,
        }
    }
}

/// Options of one [`Lab::attach_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachOptions {
    /// MAC address of the node's end (e.g. "02:00:00:00:00:01"); the
    /// kernel picks a random one otherwise.
    pub mac: Option<String>,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    /// Leave the node's end administratively down (to set per-interface
    /// sysctls before the kernel starts DAD on it).
    pub down: bool,
}

/// Options of one [`Lab::move_iface_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveOptions {
    /// How long the carrier stays off after the node noticed the loss.
    pub carrier_off_for: Duration,
    /// Also set the node's end administratively down while unplugged and
    /// up again after: the kernel then flushes the interface's addresses
    /// (manual ones too) and redoes link-local DAD, RS and SLAAC.
    pub bounce: bool,
    /// Plug it in without carrier: moving a cable that was already pulled.
    pub carrier_stays_off: bool,
}

/// State shared by a lab and the nodes and interfaces it hands out.
#[derive(Debug)]
pub(crate) struct LabShared {
    pub(crate) prefix: String,
    pub(crate) tag: String,
    pub(crate) timeouts: Timeouts,
    pub(crate) workdir: PathBuf,
    state: Mutex<LabState>,
}

#[derive(Debug, Default)]
struct LabState {
    nodes: BTreeSet<String>,
    links: BTreeMap<String, String>,
    switch_ready: bool,
    next_if: u32,
    next_log: u32,
}

impl LabShared {
    fn state(&self) -> MutexGuard<'_, LabState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn switch_ns(&self) -> String {
        naming::netns(&self.prefix, naming::SWITCH)
    }

    /// Runs `ip <args>` with the command timeout.
    pub(crate) fn ip(&self, args: &[&str]) -> Result<String> {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push("ip");
        argv.extend_from_slice(args);
        cmd::run_ok(&argv, self.timeouts.command)
    }

    pub(crate) fn next_log_path(&self, node: &str, prog: &str) -> PathBuf {
        let n = {
            let mut st = self.state();
            st.next_log += 1;
            st.next_log
        };
        let prog: String = Path::new(prog)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        self.workdir.join(format!("{node}-{n}-{prog}.log"))
    }

    fn next_if_name(&self, kind: char) -> Result<String> {
        let n = {
            let mut st = self.state();
            st.next_if += 1;
            st.next_if
        };
        let name = format!("{}{kind}{n:x}", self.prefix);
        naming::check_ifname(&name)?;
        Ok(name)
    }
}

/// One test run's network: namespaces for nodes, a switch namespace with
/// one bridge per link, veth pairs between them. Dropping it kills every
/// process in its namespaces and deletes them (see the module docs for
/// the signal and stale-run paths).
#[derive(Debug)]
pub struct Lab {
    shared: Arc<LabShared>,
    removed: bool,
}

impl Lab {
    /// A new, empty lab with default options. `tag` names the run in logs.
    pub fn new(tag: &str) -> Result<Lab> {
        Self::with_options(tag, LabOptions::default())
    }

    /// A new, empty lab.
    pub fn with_options(tag: &str, opts: LabOptions) -> Result<Lab> {
        preflight::require_root()?;
        if opts.sweep_stale
            && let Err(e) = sweep::sweep_stale_with(opts.timeouts.kill_grace, opts.timeouts.command)
        {
            tracing::warn!(error = %e, "sweeping stale labs failed; going on");
        }
        let prefix = registry::register_new_prefix()?;
        let workdir = netns::workdir(&prefix);
        if let Err(e) = fs::create_dir_all(&workdir) {
            registry::deregister(&prefix);
            return Err(HarnessError::io(
                format!("creating {}", workdir.display()),
                e,
            ));
        }
        tracing::info!(tag, prefix, "lab created");
        Ok(Lab {
            shared: Arc::new(LabShared {
                prefix,
                tag: tag.to_owned(),
                timeouts: opts.timeouts,
                workdir,
                state: Mutex::new(LabState::default()),
            }),
            removed: false,
        })
    }

    /// The run prefix every name of this lab begins with.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The tag given at creation.
    #[must_use]
    pub fn tag(&self) -> &str {
        &self.shared.tag
    }

    /// The lab's time limits.
    #[must_use]
    pub fn timeouts(&self) -> &Timeouts {
        &self.shared.timeouts
    }

    /// The directory holding the logs of spawned processes.
    #[must_use]
    pub fn workdir(&self) -> &Path {
        &self.shared.workdir
    }

    /// The namespace holding the bridges (exists once a link was made).
    #[must_use]
    pub fn switch_netns(&self) -> String {
        self.shared.switch_ns()
    }

    /// The namespaces of this lab that exist now.
    pub fn namespaces(&self) -> Result<Vec<String>> {
        netns::list_prefix(&self.shared.prefix)
    }

    /// A node with kernel default settings: namespace `<prefix>-<name>`
    /// with `lo` up.
    pub fn node(&self, name: &str) -> Result<Node> {
        self.node_with(name, &NodeOptions::default())
    }

    /// A node with the given sysctls applied before any interface exists
    /// (so `conf.default` values reach every interface attached later).
    pub fn node_with(&self, name: &str, opts: &NodeOptions) -> Result<Node> {
        naming::check_node_name(name)?;
        if name == naming::SWITCH {
            return Err(HarnessError::InvalidName {
                name: name.to_owned(),
                why: "\"sw\" is the switch namespace".to_owned(),
            });
        }
        if !self.shared.state().nodes.insert(name.to_owned()) {
            return Err(HarnessError::Duplicate {
                kind: "node",
                name: name.to_owned(),
            });
        }
        let ns = naming::netns(&self.shared.prefix, name);
        registry::create_netns(&ns, self.shared.timeouts.command)?;
        let node = Node::new(Arc::clone(&self.shared), name, ns, opts.clone());
        self.shared
            .ip(&["-n", node.netns(), "link", "set", "lo", "up"])?;
        let sysctls = opts.sysctls();
        if !sysctls.is_empty() {
            let pairs: Vec<(&str, &str)> = sysctls
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            node.sysctls(&pairs)?;
        }
        tracing::debug!(node = name, netns = node.netns(), "node created");
        Ok(node)
    }

    fn ensure_switch(&self) -> Result<String> {
        let sw = self.shared.switch_ns();
        let mut st = self.shared.state();
        if !st.switch_ready {
            registry::create_netns(&sw, self.shared.timeouts.command)?;
            // The switch is pure layer 2: no IPv6 on bridges or ports, so it
            // never sends RS, DAD or MLD of its own.
            cmd::run_ok(
                &[
                    "ip",
                    "netns",
                    "exec",
                    &sw,
                    "sysctl",
                    "-q",
                    "-w",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
                self.shared.timeouts.command,
            )?;
            st.switch_ready = true;
        }
        Ok(sw)
    }

    /// A link: a bridge in the switch namespace with multicast snooping
    /// off (ND multicast is flooded) and forward delay 0.
    pub fn link(&self, name: &str) -> Result<Link> {
        naming::check_node_name(name)?;
        if self.shared.state().links.contains_key(name) {
            return Err(HarnessError::Duplicate {
                kind: "link",
                name: name.to_owned(),
            });
        }
        let sw = self.ensure_switch()?;
        let bridge = self.shared.next_if_name('b')?;
        self.shared.ip(&[
            "-n",
            &sw,
            "link",
            "add",
            "name",
            &bridge,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "forward_delay",
            "0",
            "stp_state",
            "0",
        ])?;
        self.shared
            .ip(&["-n", &sw, "link", "set", "dev", &bridge, "up"])?;
        self.shared
            .state()
            .links
            .insert(name.to_owned(), bridge.clone());
        tracing::debug!(link = name, bridge, "link created");
        Ok(Link::new(name, &bridge, &sw))
    }

    /// Plugs `node` into `link` with a veth pair: `ifname` in the node, the
    /// peer enslaved to the link's bridge. Both ends are up.
    pub fn attach(&self, node: &Node, link: &Link, ifname: &str) -> Result<Iface> {
        self.attach_with(node, link, ifname, &AttachOptions::default())
    }

    /// [`Lab::attach`] with options.
    pub fn attach_with(
        &self,
        node: &Node,
        link: &Link,
        ifname: &str,
        opts: &AttachOptions,
    ) -> Result<Iface> {
        naming::check_ifname(ifname)?;
        let sw = link.switch_netns();
        let peer = self.shared.next_if_name('p')?;
        let mtu = opts.mtu.map(|m| m.to_string());
        let mut args: Vec<&str> = vec!["-n", sw, "link", "add", &peer];
        if let Some(m) = &mtu {
            args.extend(["mtu", m]);
        }
        args.extend(["type", "veth", "peer", "name", ifname]);
        if let Some(mac) = &opts.mac {
            args.extend(["address", mac]);
        }
        if let Some(m) = &mtu {
            args.extend(["mtu", m]);
        }
        args.extend(["netns", node.netns()]);
        self.shared.ip(&args)?;
        self.shared.ip(&[
            "-n",
            sw,
            "link",
            "set",
            "dev",
            &peer,
            "master",
            link.bridge(),
            "up",
        ])?;
        node.apply_iface_sysctls(ifname)?;
        if !opts.down {
            self.shared
                .ip(&["-n", node.netns(), "link", "set", "dev", ifname, "up"])?;
        }
        tracing::debug!(
            node = node.name(),
            ifname,
            link = link.name(),
            peer,
            "attached"
        );
        Ok(Iface::new(
            Arc::clone(&self.shared),
            node,
            ifname,
            Far::Switch {
                netns: sw.to_owned(),
                peer,
                link: Mutex::new(link.clone()),
            },
        ))
    }

    /// A point-to-point veth pair between two nodes, no bridge (router
    /// uplinks). Both ends are up. Returns `(a's end, b's end)`.
    pub fn veth(&self, a: &Node, a_if: &str, b: &Node, b_if: &str) -> Result<(Iface, Iface)> {
        naming::check_ifname(a_if)?;
        naming::check_ifname(b_if)?;
        self.shared.ip(&[
            "-n",
            a.netns(),
            "link",
            "add",
            a_if,
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            b.netns(),
        ])?;
        a.apply_iface_sysctls(a_if)?;
        b.apply_iface_sysctls(b_if)?;
        self.shared
            .ip(&["-n", a.netns(), "link", "set", "dev", a_if, "up"])?;
        self.shared
            .ip(&["-n", b.netns(), "link", "set", "dev", b_if, "up"])?;
        let ia = Iface::new(
            Arc::clone(&self.shared),
            a,
            a_if,
            Far::Node {
                node: b.name().to_owned(),
                netns: b.netns().to_owned(),
                name: b_if.to_owned(),
            },
        );
        let ib = Iface::new(
            Arc::clone(&self.shared),
            b,
            b_if,
            Far::Node {
                node: a.name().to_owned(),
                netns: a.netns().to_owned(),
                name: a_if.to_owned(),
            },
        );
        Ok((ia, ib))
    }

    /// Moves an attached interface to another link the way a laptop moves
    /// between networks: carrier off (returns only once the node saw it),
    /// re-plugged into `to`'s bridge, carrier on. Linux keeps the
    /// interface's addresses over the carrier loss and neither redoes DAD
    /// nor sends an RS when the carrier returns; use
    /// [`MoveOptions::bounce`] for a node whose kernel should start over.
    pub fn move_iface(&self, iface: &Iface, to: &Link) -> Result<()> {
        self.move_iface_with(iface, to, &MoveOptions::default())
    }

    /// [`Lab::move_iface`] with options.
    pub fn move_iface_with(&self, iface: &Iface, to: &Link, opts: &MoveOptions) -> Result<()> {
        let Far::Switch {
            netns: sw,
            peer,
            link,
        } = iface.far()
        else {
            return Err(HarnessError::Unsupported(format!(
                "{} on node {} is not attached to a link; only attached interfaces can move",
                iface.name(),
                iface.node()
            )));
        };
        if to.switch_netns() != sw {
            return Err(HarnessError::Unsupported(format!(
                "link {} belongs to another lab",
                to.name()
            )));
        }
        self.shared
            .ip(&["-n", sw, "link", "set", "dev", peer, "down"])?;
        iface.wait_carrier(false, self.shared.timeouts.carrier)?;
        if opts.bounce {
            iface.admin_down()?;
        }
        self.shared
            .ip(&["-n", sw, "link", "set", "dev", peer, "master", to.bridge()])?;
        *link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = to.clone();
        if !opts.carrier_off_for.is_zero() {
            thread::sleep(opts.carrier_off_for);
        }
        if opts.bounce {
            iface.admin_up()?;
        }
        if !opts.carrier_stays_off {
            self.shared
                .ip(&["-n", sw, "link", "set", "dev", peer, "up"])?;
            iface.wait_carrier(true, self.shared.timeouts.carrier)?;
        }
        tracing::debug!(
            iface = iface.name(),
            node = iface.node(),
            to = to.name(),
            "moved"
        );
        Ok(())
    }

    /// Removes the lab now and reports the first problem (a drop does the
    /// same but can only log).
    pub fn cleanup(mut self) -> Result<()> {
        self.removed = true;
        self.remove()
    }

    fn remove(&self) -> Result<()> {
        let t = &self.shared.timeouts;
        let r = netns::remove_lab(&self.shared.prefix, t.kill_grace, t.command);
        registry::deregister(&self.shared.prefix);
        tracing::info!(
            tag = self.shared.tag,
            prefix = self.shared.prefix,
            ok = r.is_ok(),
            "lab removed"
        );
        r
    }

    /// Waits until a condition on this lab holds (a thin wrapper over the
    /// harness's poller using the lab's poll interval).
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        probe: impl FnMut() -> Result<Result<T, String>>,
    ) -> Result<T> {
        wait::poll(what, timeout, self.shared.timeouts.poll, probe)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        if let Err(e) = self.remove() {
            // Never panic in drop (it may run during a panic's unwinding).
            tracing::error!(prefix = self.shared.prefix, error = %e, "lab cleanup incomplete");
            eprintln!(
                "mip6-testbed: cleanup of lab {} incomplete: {e}",
                self.shared.prefix
            );
        }
    }
}
