//! `Node`: one network namespace of a lab, and the ways to run things in it.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use nix::sched::{CloneFlags, setns};

use super::child::Child;
use super::cmd::{self, CmdOutput};
use super::error::{HarnessError, Result};
use super::iface::{Far, Iface};
use super::lab::LabShared;
use super::{netns, registry, wait};

/// Sysctls applied when a node is created, before it has interfaces.
/// Defaults leave the kernel's values alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeOptions {
    /// `net.ipv6.conf.{all,default}.accept_ra` (0, 1, or 2 to accept RAs
    /// while forwarding).
    pub accept_ra: Option<u8>,
    /// `net.ipv6.conf.all.forwarding` (a router or home agent).
    pub forwarding: bool,
    /// Remove the kernel's random delay (up to
    /// `router_solicitation_delay`, 1 s) before DAD's first NS and the
    /// first RS: sets `router_solicitation_delay=0`.
    pub no_dad_delay: bool,
    /// `net.ipv6.conf.{all,default}.dad_transmits`.
    pub dad_transmits: Option<u32>,
    /// `net.ipv6.neigh.<iface>.retrans_time_ms` (the DAD probe interval)
    /// of every interface the harness makes in the node, set before the
    /// interface comes up (a namespace has no `neigh.default`).
    pub retrans_time_ms: Option<u32>,
    /// Further sysctls (`net.` keys only), applied last.
    pub extra: Vec<(String, String)>,
}

impl NodeOptions {
    /// Sets `accept_ra`.
    #[must_use]
    pub fn accept_ra(mut self, v: u8) -> Self {
        self.accept_ra = Some(v);
        self
    }

    /// Turns IPv6 forwarding on.
    #[must_use]
    pub fn forwarding(mut self) -> Self {
        self.forwarding = true;
        self
    }

    /// Removes the random delay before DAD and router solicitation.
    #[must_use]
    pub fn no_dad_delay(mut self) -> Self {
        self.no_dad_delay = true;
        self
    }

    /// Sets `dad_transmits`.
    #[must_use]
    pub fn dad_transmits(mut self, n: u32) -> Self {
        self.dad_transmits = Some(n);
        self
    }

    /// Sets the neighbour retransmit time (the DAD probe interval).
    #[must_use]
    pub fn retrans_time_ms(mut self, ms: u32) -> Self {
        self.retrans_time_ms = Some(ms);
        self
    }

    /// Adds one sysctl.
    #[must_use]
    pub fn sysctl(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The `(key, value)` pairs these options set, in order.
    #[must_use]
    pub fn sysctls(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let both = |v: &mut Vec<(String, String)>, key: &str, val: String| {
            for scope in ["all", "default"] {
                v.push((format!("net.ipv6.conf.{scope}.{key}"), val.clone()));
            }
        };
        if self.forwarding {
            both(&mut v, "forwarding", "1".to_owned());
        }
        if let Some(ra) = self.accept_ra {
            both(&mut v, "accept_ra", ra.to_string());
        }
        if self.no_dad_delay {
            both(&mut v, "router_solicitation_delay", "0".to_owned());
        }
        if let Some(n) = self.dad_transmits {
            both(&mut v, "dad_transmits", n.to_string());
        }
        v.extend(self.extra.iter().cloned());
        v
    }

    /// The `(key, value)` pairs these options set on interface `ifname`
    /// when the harness creates it, before it comes up.
    #[must_use]
    pub fn iface_sysctls(&self, ifname: &str) -> Vec<(String, String)> {
        let mut v = Vec::new();
        if let Some(ms) = self.retrans_time_ms {
            // Slashes: interface names may contain dots.
            v.push((
                format!("net/ipv6/neigh/{ifname}/retrans_time_ms"),
                ms.to_string(),
            ));
        }
        v
    }
}

/// A node: one network namespace of a lab. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Node {
    lab: Arc<LabShared>,
    name: String,
    netns: String,
    opts: Arc<NodeOptions>,
}

impl Node {
    pub(crate) fn new(lab: Arc<LabShared>, name: &str, netns: String, opts: NodeOptions) -> Self {
        Self {
            lab,
            name: name.to_owned(),
            netns,
            opts: Arc::new(opts),
        }
    }

    /// The options the node was made with.
    #[must_use]
    pub fn options(&self) -> &NodeOptions {
        &self.opts
    }

    /// Applies the node's per-interface sysctls to a new interface.
    pub(crate) fn apply_iface_sysctls(&self, ifname: &str) -> Result<()> {
        let s = self.opts.iface_sysctls(ifname);
        if s.is_empty() {
            return Ok(());
        }
        let pairs: Vec<(&str, &str)> = s.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.sysctls(&pairs)
    }

    /// The node's name within the lab ("ha").
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's namespace name (`<prefix>-ha`), for `ip netns exec`.
    #[must_use]
    pub fn netns(&self) -> &str {
        &self.netns
    }

    fn ns_argv<'a>(&'a self, argv: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["ip", "netns", "exec", self.netns.as_str()];
        v.extend_from_slice(argv);
        v
    }

    /// Runs `argv` in the node and returns its stdout; fails with the
    /// command, its status and its stderr if it exits non-zero.
    pub fn exec(&self, argv: &[&str]) -> Result<String> {
        self.exec_timeout(argv, self.lab.timeouts.command)
    }

    /// [`Node::exec`] with an explicit time limit.
    pub fn exec_timeout(&self, argv: &[&str], timeout: Duration) -> Result<String> {
        self.output_timeout(argv, timeout)?.into_stdout()
    }

    /// Runs `argv` in the node; a non-zero exit is returned, not an error.
    pub fn output(&self, argv: &[&str]) -> Result<CmdOutput> {
        self.output_timeout(argv, self.lab.timeouts.command)
    }

    /// [`Node::output`] with an explicit time limit.
    pub fn output_timeout(&self, argv: &[&str], timeout: Duration) -> Result<CmdOutput> {
        if argv.is_empty() {
            return Err(HarnessError::InvalidName {
                name: String::new(),
                why: "empty command".to_owned(),
            });
        }
        let mut out = cmd::run(&self.ns_argv(argv), None, timeout)?;
        out.cmd = format!("[{}] {}", self.name, cmd::render(argv));
        // `ip netns exec` reports a missing program as exit 1 with this
        // message: make it an error, not a "no answer".
        if !out.success() && out.stderr.starts_with("exec of \"") {
            return Err(HarnessError::Spawn {
                cmd: out.cmd,
                source: std::io::Error::other(out.stderr.trim().to_owned()),
            });
        }
        Ok(out)
    }

    /// Runs a command line split on whitespace (no shell, no quoting):
    /// `node.cmd("ip -6 addr show dev eth0")`.
    pub fn cmd(&self, line: &str) -> Result<String> {
        let argv: Vec<&str> = line.split_whitespace().collect();
        self.exec(&argv)
    }

    /// Runs a shell script with `sh -c` in the node.
    pub fn sh(&self, script: &str) -> Result<String> {
        self.exec(&["sh", "-c", script])
    }

    /// Starts a long-running process in the node. Its stdout and stderr go
    /// to a log file in the lab's work directory ([`Child::log`]). The
    /// guard stops it (SIGTERM, SIGKILL after the grace period) on drop.
    pub fn spawn(&self, argv: &[&str]) -> Result<Child> {
        let Some(first) = argv.first() else {
            return Err(HarnessError::InvalidName {
                name: String::new(),
                why: "empty command".to_owned(),
            });
        };
        let line = format!("[{}] {}", self.name, cmd::render(argv));
        let log = self.lab.next_log_path(&self.name, first);
        let file = File::create(&log)
            .map_err(|e| HarnessError::io(format!("creating {}", log.display()), e))?;
        let file2 = file
            .try_clone()
            .map_err(|e| HarnessError::io("duplicating a log descriptor", e))?;
        let target = netns_id(&netns::path(&self.netns))
            .map_err(|e| HarnessError::io(format!("no namespace {}", self.netns), e))?;
        let guard = registry::creation_lock()?;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(file2)
            // Its own process group: the guard signals the whole group, so
            // helpers it forks die with it.
            .process_group(0)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                cmd: line.clone(),
                source,
            })?;
        // Return only once it is inside the namespace (or gone), so that a
        // lab's cleanup, which finds processes by namespace, sees it.
        let proc_ns = PathBuf::from(format!("/proc/{}/ns/net", child.id()));
        let entered = wait::poll(
            &format!("`{line}` to enter {}", self.netns),
            self.lab.timeouts.command,
            Duration::from_millis(1),
            || {
                if netns_id(&proc_ns).ok() == Some(target) {
                    return Ok(Ok(()));
                }
                match child.try_wait() {
                    Ok(Some(_)) => Ok(Ok(())),
                    Ok(None) => Ok(Err("not yet".to_owned())),
                    Err(e) => Err(HarnessError::io("waiting for a spawned process", e)),
                }
            },
        );
        drop(guard);
        let child = Child::new(child, line, log, self.lab.timeouts.kill_grace);
        entered?;
        tracing::debug!(cmd = child.cmd(), pid = child.pid(), "spawned");
        Ok(child)
    }

    /// Sets one sysctl inside the node. Only `net.` keys are accepted:
    /// the others are not per-namespace and would change the host. Use
    /// `/` separators for interface names that contain dots
    /// (`net/ipv6/conf/eth0.10/forwarding`).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.sysctls(&[(key, value)])
    }

    /// Sets several sysctls in the node with one `sysctl -w`.
    pub fn sysctls(&self, pairs: &[(&str, &str)]) -> Result<()> {
        let mut args: Vec<String> = vec!["sysctl".into(), "-q".into(), "-w".into()];
        for (k, v) in pairs {
            check_sysctl_key(k)?;
            args.push(format!("{k}={v}"));
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        self.exec(&argv).map(drop)
    }

    /// Reads one sysctl inside the node (`net.` keys only).
    pub fn read_sysctl(&self, key: &str) -> Result<String> {
        check_sysctl_key(key)?;
        Ok(self.exec(&["sysctl", "-n", key])?.trim().to_owned())
    }

    /// Runs `f` on a fresh thread that entered this node's namespace with
    /// `setns(CLONE_NEWNET)`, and returns its result; a panic in `f` is
    /// passed on to the caller. Sockets opened in `f` belong to the node.
    /// (Only the network namespace changes: `/sys` still shows the root
    /// namespace's devices; read those through [`Node::exec`].)
    pub fn run_in<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let ns = self.open_netns()?;
        let name = self.netns.clone();
        thread::scope(|s| {
            let handle = s.spawn(move || {
                setns(&ns, CloneFlags::CLONE_NEWNET)
                    .map_err(|e| HarnessError::sys(format!("entering namespace {name}"), e))?;
                drop(ns);
                Ok(f())
            });
            match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Like [`Node::run_in`] but does not wait: `f` runs on a named thread
    /// in the node's namespace (a responder, a capture loop). Join the
    /// handle to get its result.
    pub fn thread_in<F, R>(&self, f: F) -> Result<thread::JoinHandle<Result<R>>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let ns = self.open_netns()?;
        let name = self.netns.clone();
        thread::Builder::new()
            .name(format!("in-{}", self.name))
            .spawn(move || {
                setns(&ns, CloneFlags::CLONE_NEWNET)
                    .map_err(|e| HarnessError::sys(format!("entering namespace {name}"), e))?;
                drop(ns);
                Ok(f())
            })
            .map_err(|e| HarnessError::io("spawning a namespace thread", e))
    }

    fn open_netns(&self) -> Result<File> {
        let path = netns::path(&self.netns);
        File::open(&path).map_err(|e| HarnessError::io(format!("opening {}", path.display()), e))
    }

    /// An interface of this node that the harness did not create (a TUN a
    /// daemon made, `lo`), for its state and address helpers.
    #[must_use]
    pub fn iface(&self, name: &str) -> Iface {
        Iface::new(Arc::clone(&self.lab), self, name, Far::None)
    }

    /// Sends one ICMPv6 echo request to `target` (`fe80::1%eth0` for a
    /// link-local) and says whether an answer came within `wait` (whole
    /// seconds, at least 1).
    pub fn ping6(&self, target: &str, wait: Duration) -> Result<bool> {
        let secs = wait.as_secs().max(1).to_string();
        let out = self.output_timeout(
            &["ping", "-6", "-n", "-c", "1", "-W", &secs, target],
            wait + self.lab.timeouts.command,
        )?;
        match out.status.code() {
            Some(0) => Ok(true),
            // 1: no reply; 2: an error such as "Network is unreachable".
            Some(1 | 2) => {
                tracing::debug!(
                    node = self.name,
                    target,
                    stderr = out.stderr.trim(),
                    "no echo reply"
                );
                Ok(false)
            }
            _ => out.into_stdout().map(|_| false),
        }
    }

    /// Pings `target` until it answers or `timeout` passes (an address may
    /// still be in DAD right after a move).
    pub fn wait_ping6(&self, target: &str, timeout: Duration) -> Result<()> {
        wait::poll(
            &format!("{target} to answer a ping from {}", self.name),
            timeout,
            self.lab.timeouts.poll,
            || {
                Ok(if self.ping6(target, Duration::from_secs(1))? {
                    Ok(())
                } else {
                    Err("no echo reply".to_owned())
                })
            },
        )
    }
}

fn netns_id(p: &std::path::Path) -> std::io::Result<(u64, u64)> {
    std::fs::metadata(p).map(|m| (m.dev(), m.ino()))
}

fn check_sysctl_key(key: &str) -> Result<()> {
    let ok = (key.starts_with("net.") || key.starts_with("net/"))
        && !key.contains("..")
        && !key.contains(char::is_whitespace)
        && !key.contains('=');
    if ok {
        Ok(())
    } else {
        Err(HarnessError::InvalidName {
            name: key.to_owned(),
            why: "only net.* sysctls are per-namespace; others would change the host".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_to_sysctls() {
        let o = NodeOptions::default()
            .forwarding()
            .accept_ra(2)
            .no_dad_delay()
            .retrans_time_ms(100)
            .sysctl("net.ipv6.conf.all.proxy_ndp", "1");
        let s = o.sysctls();
        assert!(s.contains(&("net.ipv6.conf.all.forwarding".into(), "1".into())));
        assert!(s.contains(&("net.ipv6.conf.default.accept_ra".into(), "2".into())));
        assert!(s.contains(&(
            "net.ipv6.conf.default.router_solicitation_delay".into(),
            "0".into()
        )));
        assert!(!s.iter().any(|(k, _)| k.contains("retrans_time_ms")));
        assert_eq!(
            o.iface_sysctls("eth0.10"),
            vec![(
                "net/ipv6/neigh/eth0.10/retrans_time_ms".into(),
                "100".into()
            )]
        );
        assert_eq!(
            s.last(),
            Some(&("net.ipv6.conf.all.proxy_ndp".into(), "1".into()))
        );
        assert!(NodeOptions::default().sysctls().is_empty());
    }

    #[test]
    fn only_net_sysctls() {
        assert!(check_sysctl_key("net.ipv6.conf.all.forwarding").is_ok());
        assert!(check_sysctl_key("net/ipv6/conf/eth0.10/forwarding").is_ok());
        assert!(check_sysctl_key("kernel.pid_max").is_err());
        assert!(check_sysctl_key("vm.swappiness").is_err());
        assert!(check_sysctl_key("net.ipv4.ip_forward=1").is_err());
        assert!(check_sysctl_key("net/../kernel/x").is_err());
    }
}
