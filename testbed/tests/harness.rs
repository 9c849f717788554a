//! End-to-end tests of the namespace harness. They run for real: root,
//! network namespaces, veth pairs, bridges. Run with `--test-threads=2` at
//! most (the machines have two shared cores).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mip6_testbed::harness::{
    AttachOptions, Lab, LabOptions, MoveOptions, NETNS_DIR, Node, NodeOptions, Timeouts,
    check_kernel, list_netns, naming, pid_alive, require_root, sweep_stale,
};

/// Generous bound for anything involving DAD or a carrier change.
const T: Duration = Duration::from_secs(30);

fn lab(tag: &str) -> Lab {
    require_root().expect("these tests need root");
    Lab::new(tag).expect("lab")
}

fn fast() -> NodeOptions {
    NodeOptions::default().no_dad_delay()
}

fn ours(prefix: &str) -> Vec<String> {
    list_netns()
        .expect("list namespaces")
        .into_iter()
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect()
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        // pid_alive counts a zombie as dead.
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn carrier_file(node: &Node, ifname: &str) -> String {
    node.exec(&["cat", &format!("/sys/class/net/{ifname}/carrier")])
        .expect("read carrier")
        .trim()
        .to_owned()
}

#[test]
fn preflight_passes_here() {
    mip6_common::require_root!();
    require_root().expect("root");
    check_kernel().expect("kernel has netns, veth, bridge, tun");
}

#[test]
fn two_nodes_ping_link_local() {
    mip6_common::require_root!();
    let lab = lab("ping-ll");
    let a = lab.node_with("a", &fast()).expect("node a");
    let b = lab.node_with("b", &fast()).expect("node b");
    let home = lab.link("home").expect("link");
    let ia = lab.attach(&a, &home, "eth0").expect("attach a");
    let opts = AttachOptions {
        mac: Some("02:00:5e:10:00:0b".to_owned()),
        mtu: Some(1400),
        ..AttachOptions::default()
    };
    let ib = lab.attach_with(&b, &home, "eth0", &opts).expect("attach b");
    assert_eq!(ib.mac().expect("mac"), "02:00:5e:10:00:0b");
    assert_eq!(ib.state().expect("state").mtu, 1400);
    let lla = ia
        .wait_link_local(lab.timeouts().addr)
        .expect("a's link-local");
    let llb = ib.wait_link_local(T).expect("b's link-local");
    assert_ne!(lla, llb);
    assert!(
        a.ping6(&format!("{llb}%eth0"), Duration::from_secs(2))
            .expect("ping runs"),
        "a cannot ping b's link-local {llb}"
    );
    let out = b
        .exec(&["ping", "-6", "-c1", "-W2", &format!("{lla}%eth0")])
        .expect("b pings a's link-local");
    assert!(out.contains("1 received"), "{out}");
    // Every name of the lab begins with its prefix.
    assert!(lab.prefix().starts_with("m6") && lab.prefix().len() == 10);
    assert!(home.bridge().starts_with(lab.prefix()) && home.bridge().len() <= 15);
    let (sw, peer) = ia.peer().expect("attached");
    assert!(sw.starts_with(lab.prefix()) && peer.starts_with(lab.prefix()));
    assert_eq!(ia.link().expect("attached").name(), "home");
}

#[test]
fn carrier_follows_the_switch_side() {
    mip6_common::require_root!();
    let lab = lab("carrier");
    // A 2 s DAD probe interval keeps the restarted DAD observable.
    let a = lab
        .node_with("a", &fast().retrans_time_ms(2000))
        .expect("node");
    let link = lab.link("l").expect("link");
    let ia = lab.attach(&a, &link, "eth0").expect("attach");
    ia.wait_carrier(true, T).expect("carrier at first");
    assert_eq!(carrier_file(&a, "eth0"), "1");
    let ll = ia.wait_link_local(T).expect("link-local");

    ia.set_down().expect("pull the cable");
    let st = ia.state().expect("state");
    assert!(
        st.admin_up(),
        "the node's end stays administratively up: {st:?}"
    );
    assert!(!st.carrier(), "{st:?}");
    assert_eq!(st.operstate, "DOWN", "{st:?}");
    assert!(st.flags.iter().any(|f| f == "NO-CARRIER"), "{st:?}");
    assert_eq!(carrier_file(&a, "eth0"), "0");
    // Linux keeps the addresses over a carrier loss; its routes go linkdown.
    let kept = ia.addrs6().expect("addresses");
    assert!(kept.iter().any(|x| x.local == IpAddr::V6(ll)), "{kept:?}");
    let routes = a.cmd("ip -6 route show dev eth0").expect("routes");
    assert!(routes.contains("linkdown"), "{routes}");

    ia.set_up().expect("plug it back");
    assert_eq!(carrier_file(&a, "eth0"), "1");
    // ...and does not redo DAD for a carrier flap (this kernel keeps
    // IF_READY over it): the address is usable at once.
    let now = ia.addrs6().expect("addresses");
    assert!(
        now.iter()
            .any(|x| x.local == IpAddr::V6(ll) && x.is_ready()),
        "{now:?}"
    );
    // An admin down/up does: addresses flushed, DAD again.
    ia.bounce().expect("bounce");
    ia.wait_addr("the link-local address tentative again", T, |x| {
        x.local == IpAddr::V6(ll) && x.tentative
    })
    .expect("DAD restarts after an admin bounce");
    assert_eq!(ia.wait_link_local(T).expect("link-local again"), ll);
}

#[test]
fn moving_between_links() {
    mip6_common::require_root!();
    let lab = lab("move");
    let mn = lab.node_with("mn", &fast()).expect("mn");
    let a = lab.node_with("a", &fast()).expect("a");
    let b = lab.node_with("b", &fast()).expect("b");
    let one = lab.link("one").expect("link one");
    let two = lab.link("two").expect("link two");
    let imn = lab.attach(&mn, &one, "eth0").expect("attach mn");
    let ia = lab.attach(&a, &one, "eth0").expect("attach a");
    let ib = lab.attach(&b, &two, "eth0").expect("attach b");
    let lla = format!("{}%eth0", ia.wait_link_local(T).expect("a ll"));
    let llb = format!("{}%eth0", ib.wait_link_local(T).expect("b ll"));
    imn.wait_link_local(T).expect("mn ll");
    let mac = imn.mac().expect("mac");

    let p = Duration::from_secs(2);
    assert!(
        mn.ping6(&lla, p).expect("ping"),
        "a not reachable before the move"
    );
    assert!(
        !mn.ping6(&llb, p).expect("ping"),
        "b reachable before the move"
    );

    // Watch link events from inside the node while it moves.
    let monitor = mn.spawn(&["ip", "monitor", "link"]).expect("ip monitor");
    // It is listening once it reports a change we make (an MTU on lo).
    let start = Instant::now();
    for mtu in (60000..).map(|m| m.to_string()) {
        mn.exec(&["ip", "link", "set", "dev", "lo", "mtu", &mtu])
            .expect("lo mtu");
        std::thread::sleep(Duration::from_millis(50));
        if monitor.log().contains(&format!("mtu {mtu}")) {
            break;
        }
        assert!(start.elapsed() < T, "ip monitor never reported anything");
    }
    let slow = MoveOptions {
        carrier_off_for: Duration::from_millis(200),
        ..MoveOptions::default()
    };
    lab.move_iface_with(&imn, &two, &slow).expect("move");
    assert_eq!(imn.link().expect("attached").name(), "two");
    imn.wait_carrier(true, T).expect("carrier after the move");
    imn.wait_link_local(T).expect("mn ll after the move");
    let events = monitor.log();
    assert!(
        events.contains("NO-CARRIER") && events.contains("state DOWN"),
        "the node saw no carrier loss; ip monitor said:\n{events}"
    );
    drop(monitor);
    assert_eq!(imn.mac().expect("mac"), mac, "same card, same MAC");

    mn.wait_ping6(&llb, T).expect("b reachable after the move");
    assert!(
        !mn.ping6(&lla, p).expect("ping"),
        "a still reachable after the move"
    );

    // Back home, with the kernel starting over (addresses flushed, DAD).
    let bounce = MoveOptions {
        bounce: true,
        ..MoveOptions::default()
    };
    lab.move_iface_with(&imn, &one, &bounce).expect("move back");
    assert_eq!(imn.link().expect("attached").name(), "one");
    imn.wait_link_local(T).expect("mn ll after DAD");
    mn.wait_ping6(&lla, T).expect("a reachable again");
    assert!(!mn.ping6(&llb, p).expect("ping"), "b reachable from home");
}

#[test]
fn point_to_point_veth() {
    mip6_common::require_root!();
    let lab = lab("p2p");
    let opts = fast().forwarding();
    let r1 = lab.node_with("r1", &opts).expect("r1");
    let r2 = lab.node_with("r2", &opts).expect("r2");
    let (x, y) = lab.veth(&r1, "up0", &r2, "down0").expect("veth");
    assert_eq!(x.peer_node(), Some("r2"));
    assert_eq!(y.peer(), Some((r1.netns(), "up0")));
    let lly = y.wait_link_local(T).expect("ll");
    x.wait_link_local(T).expect("ll");
    assert!(
        r1.ping6(&format!("{lly}%up0"), Duration::from_secs(2))
            .expect("ping")
    );
    assert!(
        x.set_down().is_err(),
        "a point-to-point end has no switch side"
    );
    assert!(lab.move_iface(&x, &lab.link("l").expect("link")).is_err());
}

#[test]
fn sysctls_stay_inside_the_node() {
    mip6_common::require_root!();
    let root_fwd = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding").expect("read");
    let lab = lab("sysctl");
    let opts = fast().forwarding().accept_ra(2).retrans_time_ms(500);
    let r = lab.node_with("r", &opts).expect("node");
    assert_eq!(
        r.read_sysctl("net.ipv6.conf.all.forwarding").expect("read"),
        "1"
    );
    assert_eq!(
        r.read_sysctl("net.ipv6.conf.default.accept_ra")
            .expect("read"),
        "2"
    );
    assert_eq!(
        r.read_sysctl("net.ipv6.conf.default.router_solicitation_delay")
            .expect("read"),
        "0"
    );
    let link = lab.link("l").expect("link");
    lab.attach(&r, &link, "eth0").expect("attach");
    // Per-interface: a namespace has no neigh.default. (500 ms is a whole
    // number of jiffies at HZ 100, 250, 300 and 1000; 250 reads back 252.)
    assert_eq!(
        r.read_sysctl("net.ipv6.neigh.eth0.retrans_time_ms")
            .expect("read"),
        "500"
    );
    // conf.default reached the interface attached later.
    assert_eq!(
        r.read_sysctl("net.ipv6.conf.eth0.accept_ra").expect("read"),
        "2"
    );
    r.sysctl("net.ipv6.conf.eth0.accept_ra", "0")
        .expect("write");
    assert_eq!(
        r.read_sysctl("net.ipv6.conf.eth0.accept_ra").expect("read"),
        "0"
    );
    assert!(
        r.sysctl("kernel.pid_max", "1000").is_err(),
        "host sysctls refused"
    );
    let err = r.exec(&["false"]).expect_err("false fails");
    assert!(err.to_string().contains("[r] false"), "{err}");
    drop(lab);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding").expect("read"),
        root_fwd,
        "the root namespace's sysctl changed"
    );
}

#[test]
fn run_in_enters_the_namespace() {
    mip6_common::require_root!();
    let lab = lab("run-in");
    let n = lab.node("n").expect("node");
    let want = std::fs::metadata(format!("{NETNS_DIR}/{}", n.netns()))
        .expect("netns file")
        .ino();
    let got = n
        .run_in(|| {
            std::fs::metadata("/proc/thread-self/ns/net")
                .expect("own netns")
                .ino()
        })
        .expect("run_in");
    assert_eq!(got, want);
    let mine = std::fs::metadata("/proc/thread-self/ns/net")
        .expect("netns")
        .ino();
    assert_ne!(mine, want, "the calling thread must not move");

    // A socket opened inside belongs to the node: binding to the node's
    // loopback works; the panic of a closure reaches the caller.
    let bound = n
        .run_in(|| std::net::UdpSocket::bind("[::1]:0").is_ok())
        .expect("run_in");
    assert!(bound);
    let r = catch_unwind(AssertUnwindSafe(|| n.run_in(|| panic!("inside"))));
    assert!(r.is_err(), "the panic was swallowed");

    let h = n
        .thread_in(|| {
            std::fs::metadata("/proc/thread-self/ns/net")
                .map(|m| m.ino())
                .ok()
        })
        .expect("thread_in");
    assert_eq!(h.join().expect("join").expect("setns"), Some(want));
}

#[test]
fn child_guard_stops_processes() {
    mip6_common::require_root!();
    let opts = LabOptions {
        timeouts: Timeouts {
            kill_grace: Duration::from_millis(500),
            ..Timeouts::default()
        },
        ..LabOptions::default()
    };
    require_root().expect("root");
    let lab = Lab::with_options("child", opts).expect("lab");
    let n = lab.node("n").expect("node");
    let mut c = n
        .spawn(&["sh", "-c", "echo ready; exec sleep 1000"])
        .expect("spawn");
    c.wait_log("ready", T).expect("log");
    assert!(c.is_running().expect("running"));
    let pid = c.pid();
    drop(c);
    assert!(!pid_alive(pid), "spawned process survived its guard");

    // One that ignores SIGTERM is killed after the grace period, with the
    // helper it forked.
    let c = n
        .spawn(&["sh", "-c", "trap '' TERM; sleep 1000 & echo $!; wait"])
        .expect("spawn");
    let start = Instant::now();
    let helper = loop {
        if let Ok(pid) = c.log().trim().parse::<u32>() {
            break pid;
        }
        assert!(start.elapsed() < T, "no helper pid: {:?}", c.log());
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = c.stop().expect("stop");
    assert!(!status.success());
    assert!(wait_gone(helper, Duration::from_secs(5)), "helper survived");
}

#[test]
fn drop_removes_namespaces_and_processes() {
    mip6_common::require_root!();
    let lab = lab("drop");
    let prefix = lab.prefix().to_owned();
    let a = lab.node("a").expect("node");
    let link = lab.link("l").expect("link");
    lab.attach(&a, &link, "eth0").expect("attach");
    let mut guarded = a.spawn(&["sleep", "1000"]).expect("spawn");
    // A process that escaped every guard (a daemon that forked away).
    let orphan: u32 = a
        .sh("sleep 1000 >/dev/null 2>&1 & echo $!")
        .expect("background sleep")
        .trim()
        .parse()
        .expect("pid");
    assert!(pid_alive(orphan));
    let names: HashSet<String> = ours(&prefix).into_iter().collect();
    assert!(names.contains(&format!("{prefix}-a")) && names.contains(&format!("{prefix}-sw")));
    let workdir = lab.workdir().to_owned();
    assert!(workdir.exists());

    drop(lab);
    assert!(ours(&prefix).is_empty(), "left: {:?}", ours(&prefix));
    assert!(!workdir.exists());
    assert!(wait_gone(orphan, Duration::from_secs(5)), "orphan survived");
    // The guarded child was killed by the lab; its guard only reaps it.
    let start = Instant::now();
    while guarded.try_wait().expect("try_wait").is_none() {
        assert!(start.elapsed() < T, "guarded child survived the lab");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn panic_unwinding_removes_the_lab() {
    mip6_common::require_root!();
    let mut prefix = String::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let lab = lab("panic");
        prefix = lab.prefix().to_owned();
        let a = lab.node("a").expect("node");
        let l = lab.link("l").expect("link");
        lab.attach(&a, &l, "eth0").expect("attach");
        let _c = a.spawn(&["sleep", "1000"]).expect("spawn");
        assert!(!ours(&prefix).is_empty());
        panic!("test body failed");
    }));
    assert!(r.is_err());
    assert!(!prefix.is_empty());
    assert!(
        ours(&prefix).is_empty(),
        "left after panic: {:?}",
        ours(&prefix)
    );
}

#[test]
fn duplicate_and_bad_names_are_refused() {
    mip6_common::require_root!();
    let lab = lab("names");
    lab.node("a").expect("node");
    assert!(lab.node("a").is_err());
    assert!(lab.node("sw").is_err());
    assert!(lab.node("a b").is_err());
    lab.link("l").expect("link");
    assert!(lab.link("l").is_err());
    let n = lab.node("n").expect("node");
    let l2 = lab.link("l2").expect("link");
    assert!(lab.attach(&n, &l2, "an-interface-name-too-long").is_err());
}

/// Removes namespaces made by hand in a test, whatever happens.
struct NsGuard(Vec<String>);

impl Drop for NsGuard {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip")
                .args(["netns", "del", n])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ns_exists(name: &str) -> bool {
    list_netns().expect("list").iter().any(|n| n == name)
}

#[test]
fn sweep_removes_only_labs_of_dead_processes() {
    mip6_common::require_root!();
    require_root().expect("root");
    // A pid that existed and is now dead.
    let mut gone = Command::new("true").spawn().expect("true");
    let dead_pid = gone.id();
    gone.wait().expect("reap");
    assert!(!pid_alive(dead_pid));
    // A creator that was killed but not reaped yet (a zombie) is dead too.
    let zombie = Reap(Command::new("true").spawn().expect("true"));
    let zombie_pid = zombie.0.id();
    let start = Instant::now();
    while pid_alive(zombie_pid) {
        assert!(start.elapsed() < T, "true never exited");
        std::thread::sleep(Duration::from_millis(5));
    }
    // A pid that is alive and not ours.
    let live = Reap(Command::new("sleep").arg("120").spawn().expect("sleep"));
    let live_pid = live.0.id();

    let dead = naming::netns(&naming::prefix(dead_pid, 0xfe), "x");
    let dead_sw = naming::netns(&naming::prefix(dead_pid, 0xfe), "sw");
    let alive = naming::netns(&naming::prefix(live_pid, 0xfe), "x");
    let staging = naming::netns(&naming::prefix(live_pid, 0xfd), "x");
    let undead = naming::netns(&naming::prefix(zombie_pid, 0xfe), "x");
    let foreign = format!("m6-foreign-{}", std::process::id());
    let guard = NsGuard(vec![
        undead.clone(),
        dead.clone(),
        dead_sw.clone(),
        alive.clone(),
        staging.clone(),
        foreign.clone(),
    ]);
    for n in [&staging, &dead_sw, &alive, &foreign, &undead] {
        let ok = Command::new("ip")
            .args(["netns", "add", n])
            .status()
            .expect("ip");
        assert!(ok.success(), "ip netns add {n}");
    }
    // A process left running inside the dead run's namespace. It enters
    // the namespace under a live pid's name (a concurrent test's sweep must
    // not delete it before the process is inside), which is then renamed.
    let mut inside = Reap(
        Command::new("ip")
            .args(["netns", "exec", &staging, "sleep", "120"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sleep inside"),
    );
    let want = std::fs::metadata(format!("{NETNS_DIR}/{staging}"))
        .expect("staging")
        .ino();
    let start = Instant::now();
    while std::fs::metadata(format!("/proc/{}/ns/net", inside.0.id()))
        .map(|m| m.ino())
        .ok()
        != Some(want)
    {
        assert!(start.elapsed() < T, "sleep never entered {staging}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = inside.0.id().to_string();
    let ok = Command::new("ip")
        .args(["netns", "attach", &dead, &pid])
        .status()
        .expect("ip");
    assert!(ok.success(), "ip netns attach {dead} {pid}");
    let ok = Command::new("ip")
        .args(["netns", "del", &staging])
        .status()
        .expect("ip");
    assert!(ok.success(), "ip netns del {staging}");

    let report = sweep_stale().expect("sweep");
    // (Another test's Lab::new may have swept it first; either way it is gone.)
    assert!(!ns_exists(&dead), "stale namespace survived: {report:?}");
    assert!(
        !ns_exists(&dead_sw),
        "stale switch namespace survived: {report:?}"
    );
    assert!(!ns_exists(&undead), "a zombie creator's namespace survived");
    drop(zombie);
    assert!(ns_exists(&alive), "a live process's namespace was removed");
    assert!(ns_exists(&foreign), "a foreign namespace was removed");
    let start = Instant::now();
    while inside.0.try_wait().expect("try_wait").is_none() {
        assert!(
            start.elapsed() < T,
            "the process inside the stale lab survived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(live);
    drop(guard);
    assert!(!ns_exists(&alive) && !ns_exists(&foreign));
}

// ---- the signal path: the test binary runs itself as a child ----

const CHILD_ENV: &str = "MIP6_HARNESS_SIGNAL_CHILD";

/// Not a test of its own: the body of the child process of
/// `sigint_removes_labs_and_exits_130`. Builds a lab, says READY, sleeps.
#[test]
#[ignore = "run by the signal tests as a child process"]
fn signal_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let lab = lab("signal-child");
    let a = lab.node("a").expect("node");
    let b = lab.node("b").expect("node");
    let l = lab.link("l").expect("link");
    lab.attach(&a, &l, "eth0").expect("attach");
    lab.attach(&b, &l, "eth0").expect("attach");
    let c = a.spawn(&["sleep", "1000"]).expect("spawn");
    println!("READY {} {}", lab.prefix(), c.pid());
    std::thread::sleep(Duration::from_secs(120));
    println!("NOT INTERRUPTED");
}

/// Kills and reaps a child process of the test if it is still running
/// (never signals a pid that was already reaped).
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn signal_run(sig: nix::sys::signal::Signal, want_code: i32) {
    require_root().expect("root");
    let exe = std::env::current_exe().expect("own path");
    let mut child = Reap(
        Command::new(exe)
            .args([
                "--exact",
                "signal_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the test binary"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let (prefix, sleeper) = loop {
        let left = T
            .checked_sub(start.elapsed())
            .expect("child never said READY");
        let line = rx.recv_timeout(left).expect("child never said READY");
        // libtest prints "test signal_child ... " without a newline first.
        if let Some((_, rest)) = line.split_once("READY ") {
            let mut it = rest.split_whitespace();
            let p = it.next().expect("prefix").to_owned();
            let pid: u32 = it.next().expect("pid").parse().expect("pid");
            break (p, pid);
        }
    };
    let names = ours(&prefix);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(pid_alive(sleeper));

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.0.id()).expect("pid"));
    nix::sys::signal::kill(pid, sig).expect("signal the child");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < T, "child did not exit on {sig}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert_eq!(
        status.code(),
        Some(want_code),
        "status {status}; stderr:\n{err}"
    );
    assert!(
        ours(&prefix).is_empty(),
        "left after {sig}: {:?}",
        ours(&prefix)
    );
    assert!(
        wait_gone(sleeper, Duration::from_secs(5)),
        "process in the lab survived {sig}"
    );
}

#[test]
fn sigint_removes_labs_and_exits_130() {
    mip6_common::require_root!();
    signal_run(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_removes_labs_and_exits_143() {
    mip6_common::require_root!();
    signal_run(nix::sys::signal::Signal::SIGTERM, 143);
}
