//! The home agent's control plane against the targets of docs/ARCHITECTURE.md: "tens of
//! thousands of authenticated BUs per second on one core; a million bindings
//! in under 1 GiB".
//!
//! Every BU takes the whole path of `home-agent/src/daemon.rs` short of the
//! sockets: the IPv6 packet with the Home Address destination option, the
//! chain parse, the Mobility Header length and checksum checks and parse,
//! the binding cache (RFC 4285 HMAC-SHA1-96 check, Mesg-ID replay check,
//! RFC 6275 checks, the BA built and signed), the actions and events drained,
//! and the BA wrapped in its IPv6 packet with the type 2 routing header. The
//! clock is simulated; every BU must be accepted or the benchmark fails.
//! The daemon's own work per binding change (the JSON state file, the data
//! plane's table rebuilt from the snapshot) is not in these figures.
//!
//! - `bu/refresh`: refreshes for N = 10,000 existing bindings, round robin,
//!   each mobile node with its own SPI and key; a reader holds the cache's
//!   snapshot throughout (a refresh keeps the care-of address: no copy).
//! - `bu/new registration`: first registrations of fresh home addresses
//!   (DAD off) into a cache holding N bindings at the start of each sample
//!   (built untimed; each sample adds its own BUs), the snapshot held by
//!   nobody. Then, plain timed: the same with a reader that holds the
//!   snapshot and takes a new one after every change, as the data
//!   plane does (docs/ARCHITECTURE.md, the data paths): every new binding then copies the map (N/10 of them).
//! - memory: a million bindings registered one by one, the resident set
//!   from /proc/self/statm before, with the policies configured, and with
//!   the bindings and one snapshot held (glibc's free memory trimmed before
//!   each reading); then ten new bindings while a reader holds that
//!   snapshot, and one `export()`. Plain timings, no criterion.
//!
//! Each BU carries MN-ID, Mesg-ID (the cache refuses an authenticated BU
//! without it, status 145) and MN-HA options, as our mobile node sends it.
//!
//! Run: cargo bench -p mip6-common --bench binding_cache
//! (under a minute once built, most of it criterion's fixed warm-up and
//! measurement times; MIP6_BENCH_MEMORY=0 skips the million, which runs
//! first, in a fresh process).
//! `cargo test -p mip6-common --benches` runs each part once, scaled down.

use criterion::{BenchmarkId, Criterion, Throughput};
use mip6_common::addr::Prefix;
use mip6_common::binding::BindingCache;
use mip6_common::binding::cache::{
    Action, AuthAlgorithm, BuContext, CacheConfig, HomePrefix, MnPolicy,
};
use mip6_common::binding::ntp::ntp_units;
use mip6_common::wire::checksum::proto;
use mip6_common::wire::exthdr::{Ipv6Repr, parse_ipv6};
use mip6_common::wire::mh::{
    BindingUpdate, BuFlags, MhOption, MhPacket, MhRepr, auth_subtype, fill_checksum, mn_ha_sign,
    mn_id_subtype,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::net::Ipv6Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// NTP time at the start of the simulated clock: some day in 2023.
const NTP0: u64 = 3_900_000_000 << 32;
/// Simulated time between two BUs (100,000 BUs per second on the wire).
const STEP: Duration = Duration::from_micros(10);
/// 600 s in 4-second units, what our mobile node asks for by default.
const LIFETIME_UNITS: u16 = 150;
/// Mobile nodes with a binding in the throughput benchmarks.
const N: u32 = 10_000;
/// Bindings of the memory measurement.
const MILLION: u32 = 1_000_000;

const TARGET_BU_PER_S: f64 = 10_000.0;
const TARGET_MIB_PER_MILLION: f64 = 1024.0;

/// Mobile node `i`: its home address on the home prefix, its care-of
/// address on a foreign one, its SPI, key and NAI (all NAIs one length).
fn hoa(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 1, 0, 0)) + u128::from(i))
}

fn coa(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 1, 0, 0)) + u128::from(i))
}

fn spi(i: u32) -> u32 {
    0x1000 + i
}

fn key(i: u32) -> [u8; 20] {
    let mut k = *b"mip6 bench key \0\0\0\0\0";
    k[16..].copy_from_slice(&i.to_be_bytes());
    k
}

fn nai(i: u32) -> String {
    format!("mn{i:07}@example.org")
}

fn policy(i: u32) -> MnPolicy {
    MnPolicy {
        nai: Some(nai(i)),
        home_address: hoa(i),
        spi: spi(i),
        key: key(i).to_vec(),
        algorithm: AuthAlgorithm::HmacSha1_96,
    }
}

/// The home agent's configuration as `mip6-ha` builds it by default, with
/// mobile nodes `0..mns` and DAD off.
fn config(mns: u32) -> CacheConfig {
    CacheConfig {
        ha_addresses: vec![HA],
        home_prefixes: vec![HomePrefix {
            prefix: "2001:db8:1::/64".parse::<Prefix>().expect("prefix"),
            valid_lifetime: None,
        }],
        mobile_nodes: (0..mns).map(policy).collect(),
        dad_before_accept: false,
        ..CacheConfig::default()
    }
}

/// Appends to `out` the packet mobile node `i` sends from its care-of
/// address at simulated time `at` (since the clock's start): a signed BU with
/// MN-ID, Mesg-ID and MN-HA options, checksummed, behind an IPv6 header and a
/// Home Address option. Returns the packet's length.
fn push_bu(out: &mut Vec<u8>, i: u32, sequence: u16, at: Duration) -> usize {
    let (hoa, coa) = (hoa(i), coa(i));
    let repr = MhRepr::BindingUpdate(BindingUpdate {
        sequence,
        flags: BuFlags::A | BuFlags::H,
        lifetime: LIFETIME_UNITS,
        options: vec![
            MhOption::MobileNodeId {
                subtype: mn_id_subtype::NAI,
                identifier: nai(i).into_bytes(),
            },
            MhOption::ReplayProtection {
                timestamp: NTP0 + ntp_units(at),
            },
            MhOption::MobilityAuth {
                subtype: auth_subtype::MN_HA,
                spi: spi(i),
                auth_data: vec![0; 12],
            },
        ],
    });
    let mut mh = repr.to_bytes().expect("emit BU");
    mn_ha_sign(&key(i), &coa, &hoa, &mut mh).expect("sign BU");
    fill_checksum(&mut mh, &hoa, &HA).expect("checksum BU");
    let mut ip = Ipv6Repr::new(coa, HA, proto::MOBILITY);
    ip.home_address_option = Some(hoa);
    let start = out.len();
    let len = ip.buffer_len(mh.len());
    out.resize(start + len, 0);
    ip.emit(&mh, &mut out[start..]).expect("emit packet")
}

/// BUs built ahead, one flat buffer, each with the simulated time it
/// arrives at.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// (offset, length, arrival since the clock's start)
    packets: Vec<(usize, usize, Duration)>,
}

impl Batch {
    fn push(&mut self, i: u32, sequence: u16, at: Duration) {
        let off = self.bytes.len();
        let len = push_bu(&mut self.bytes, i, sequence, at);
        self.packets.push((off, len, at));
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.packets.clear();
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], Duration)> {
        self.packets
            .iter()
            .map(|&(off, len, at)| (&self.bytes[off..off + len], at))
    }
}

/// The home agent without its sockets: the cache, the simulated clock's
/// start, the snapshot a reader holds, and the buffer BAs are built in.
struct Ha {
    cache: BindingCache,
    t0: Instant,
    /// The snapshot a reader (the data plane) holds; `None`: none.
    plane: Option<Arc<HashMap<Ipv6Addr, Ipv6Addr>>>,
    hold_snapshot: bool,
    ba_packet: Vec<u8>,
    accepted: u64,
}

impl Ha {
    fn new(config: CacheConfig, t0: Instant, hold_snapshot: bool) -> Self {
        Self {
            cache: BindingCache::new(config, t0, NTP0),
            t0,
            plane: None,
            hold_snapshot,
            ba_packet: vec![0; 1280],
            accepted: 0,
        }
    }

    /// One received packet, as `daemon.rs` `handle_packet` then `drain`
    /// treat it.
    fn receive(&mut self, packet: &[u8], at: Duration) {
        let now = self.t0 + at;
        self.cache.handle_timeout(now);
        let parsed = parse_ipv6(packet).expect("IPv6 chain");
        assert!(!parsed.is_fragment());
        assert_eq!(parsed.upper_protocol(), proto::MOBILITY);
        let hao = parsed.home_address();
        let (csum_src, csum_dst) = parsed.checksum_addresses();
        let pkt = MhPacket::new_unchecked(parsed.upper());
        pkt.check_len().expect("MH length");
        assert!(pkt.verify_checksum(&csum_src, &csum_dst), "MH checksum");
        let Ok(MhRepr::BindingUpdate(bu)) = MhRepr::parse(&pkt) else {
            panic!("not a BU");
        };
        let header = parsed.header();
        self.cache.handle_bu(
            now,
            &BuContext {
                src: header.src,
                dst: header.dst,
                home_address: hao,
                mh_bytes: pkt.mh_bytes(),
                bu: &bu,
            },
        );
        if !self.hold_snapshot {
            self.plane = None;
        }
        let mut changed = false;
        while let Some(a) = self.cache.poll_action() {
            match a {
                Action::SendBa(send) => {
                    let len = send
                        .ipv6_header()
                        .emit(&send.mh_bytes, &mut self.ba_packet)
                        .expect("BA packet");
                    black_box(&self.ba_packet[..len]);
                    if send.ba.status.is_accepted() {
                        self.accepted += 1;
                    }
                }
                Action::InstallBinding { .. } | Action::UpdateBinding { .. } => changed = true,
                other => panic!("unexpected action {other:?}"),
            }
        }
        while let Some(ev) = self.cache.poll_event() {
            black_box(ev);
        }
        if changed && self.hold_snapshot {
            self.plane = Some(self.cache.snapshot());
        }
    }

    /// Every BU of `batch`, with the time they took.
    fn receive_all(&mut self, batch: &Batch) -> Duration {
        self.receive_first(batch, batch.packets.len())
    }

    /// The first `count` BUs of `batch`, with the time they took.
    fn receive_first(&mut self, batch: &Batch, count: usize) -> Duration {
        let before = self.accepted;
        let start = Instant::now();
        for (packet, at) in batch.iter().take(count) {
            self.receive(packet, at);
        }
        let elapsed = start.elapsed();
        assert_eq!(
            self.accepted - before,
            count as u64,
            "every BU must be accepted"
        );
        elapsed
    }
}

/// Timed calls of one benchmark: (iterations, time).
type Samples = Rc<RefCell<Vec<(u64, Duration)>>>;

fn mean_ns(samples: &Samples) -> f64 {
    let s = samples.borrow();
    let iters: u64 = s.iter().map(|x| x.0).sum();
    let time: Duration = s.iter().map(|x| x.1).sum();
    time.as_nanos() as f64 / iters.max(1) as f64
}

/// Registers mobile nodes `0..n` at simulated times `STEP, 2 STEP, ...`, the
/// packets built in batches of at most 4096; returns the time after the last.
fn register(ha: &mut Ha, n: u32) -> Duration {
    let mut batch = Batch::default();
    let mut at = Duration::ZERO;
    for chunk in (0..n).collect::<Vec<_>>().chunks(4096) {
        batch.clear();
        for &i in chunk {
            at += STEP;
            batch.push(i, 1, at);
        }
        ha.receive_all(&batch);
    }
    at
}

/// Refreshes of `n` existing bindings, round robin.
fn refresh(c: &mut Criterion, n: u32, samples: &Samples) {
    let t0 = Instant::now();
    let mut ha = Ha::new(config(n), t0, false);
    let mut at = register(&mut ha, n);
    assert_eq!(ha.cache.len(), n as usize);
    // Held from here on (holding it while registering would copy the map
    // for every new binding of the setup).
    ha.hold_snapshot = true;
    ha.plane = Some(ha.cache.snapshot());
    let mut sequence = vec![1u16; n as usize];
    let mut next = 0u32;
    let mut batch = Batch::default();
    let mut g = c.benchmark_group("bu");
    g.throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function(BenchmarkId::new("refresh", format!("{n} bindings")), |b| {
        b.iter_custom(|iters| {
            batch.clear();
            for _ in 0..iters {
                let s = &mut sequence[next as usize];
                *s = s.wrapping_add(1);
                at += STEP;
                batch.push(next, *s, at);
                next = (next + 1) % n;
            }
            let t = ha.receive_all(&batch);
            samples.borrow_mut().push((iters, t));
            t
        })
    });
    g.finish();
    assert_eq!(ha.cache.len(), n as usize);
}

/// First registrations of fresh home addresses into a cache holding `n`
/// bindings; each timed call starts from a new cache (built untimed).
fn new_registration(c: &mut Criterion, n: u32, samples: &Samples) {
    let t0 = Instant::now();
    let mut base = Batch::default();
    let mut at = Duration::ZERO;
    for i in 0..n {
        at += STEP;
        base.push(i, 1, at);
    }
    let base_end = at;
    // Fresh mobile nodes n, n + 1, ...: built once, grown on demand, the
    // same packets for every new cache.
    let mut fresh = Batch::default();
    let mut configured = n;
    let mut cfg = config(n);
    let mut g = c.benchmark_group("bu");
    g.throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);
    g.bench_function(
        BenchmarkId::new("new registration", format!("{n} bindings")),
        |b| {
            b.iter_custom(|iters| {
                let want = n + u32::try_from(iters).expect("iterations");
                if want > configured {
                    cfg.mobile_nodes.extend((configured..want).map(policy));
                    for i in configured..want {
                        fresh.push(i, 1, base_end + STEP * (i - n + 1));
                    }
                    configured = want;
                }
                let mut ha = Ha::new(cfg.clone(), t0, false);
                ha.receive_all(&base);
                let t = ha.receive_first(&fresh, iters as usize);
                assert_eq!(ha.cache.len(), want as usize);
                samples.borrow_mut().push((iters, t));
                drop(ha);
                t
            })
        },
    );
    g.finish();
}

/// Microseconds per new registration into a cache of `n` bindings whose
/// snapshot a reader holds and renews after every change (as the data
/// plane does, docs/ARCHITECTURE.md): each one copies the map. `extra` registrations.
fn snapshot_held_us(n: u32, extra: u32) -> f64 {
    let t0 = Instant::now();
    let mut ha = Ha::new(config(n + extra), t0, false);
    let at = register(&mut ha, n);
    ha.hold_snapshot = true;
    ha.plane = Some(ha.cache.snapshot());
    let mut batch = Batch::default();
    for i in n..n + extra {
        batch.push(i, 1, at + STEP * (i - n + 1));
    }
    let t = ha.receive_all(&batch);
    t.as_secs_f64() * 1e6 / f64::from(extra)
}

/// Resident set size in bytes, from /proc/self/statm.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm resident");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// Hands freed heap memory back to the kernel, so the resident set counts
/// what is held rather than what the allocator keeps for later.
fn trim() {
    // SAFETY: malloc_trim only walks glibc's own heap.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

#[derive(Debug, Default)]
struct Memory {
    bindings: u32,
    policies_bytes: f64,
    bindings_bytes: f64,
    register_s: f64,
    snapshot_copy_ms: f64,
    snapshot_copy_bytes: f64,
    export_ms: f64,
}

/// A million bindings (or `count`): the resident set before, with the
/// policies configured, and with the bindings (and one snapshot held).
fn memory(count: u32) -> Memory {
    let mut m = Memory {
        bindings: count,
        ..Memory::default()
    };
    trim();
    let before = rss();
    let t0 = Instant::now();
    // Policies for `count` mobile nodes plus 10 that register later.
    let mut ha = Ha::new(config(count + 10), t0, false);
    trim();
    let configured = rss();
    m.policies_bytes = configured.saturating_sub(before) as f64;
    let start = Instant::now();
    let mut batch = Batch::default();
    let mut at = Duration::ZERO;
    for i in 0..count {
        batch.clear();
        at += STEP;
        batch.push(i, 1, at);
        ha.receive_all(&batch);
    }
    m.register_s = start.elapsed().as_secs_f64();
    assert_eq!(ha.cache.len(), count as usize);
    let snapshot = ha.cache.snapshot();
    assert_eq!(snapshot.len(), count as usize);
    drop(batch);
    trim();
    let registered = rss();
    m.bindings_bytes = registered.saturating_sub(configured) as f64;
    println!(
        "memory/{count} bindings: resident set {:.1} MiB before, +{:.1} MiB with {} policies \
         configured, +{:.1} MiB with the bindings and one snapshot held: {:.1} MiB in all, \
         {:.0} bytes per binding ({:.0} of them the binding itself); {count} registrations \
         took {:.2} s ({:.0} BU/s, the cache growing from 0)",
        mib(before as f64),
        mib(m.policies_bytes),
        count + 10,
        mib(m.bindings_bytes),
        mib(m.policies_bytes + m.bindings_bytes),
        (m.policies_bytes + m.bindings_bytes) / f64::from(count),
        m.bindings_bytes / f64::from(count),
        m.register_s,
        f64::from(count) / m.register_s,
    );

    // A reader holds the snapshot (the data plane, as docs/ARCHITECTURE.md has it, or
    // the daemon's `DeviceOnly` stand-in): the next new binding copies the
    // whole map, and the reader's old copy lives until it lets go.
    ha.hold_snapshot = true;
    ha.plane = Some(Arc::clone(&snapshot));
    let mut copies = Duration::ZERO;
    for i in count..count + 10 {
        let mut one = Batch::default();
        at += STEP;
        one.push(i, 1, at);
        copies += ha.receive_all(&one);
    }
    m.snapshot_copy_ms = copies.as_secs_f64() * 1e3 / 10.0;
    trim();
    m.snapshot_copy_bytes = rss().saturating_sub(registered) as f64;
    drop(snapshot);
    println!(
        "memory/{count} bindings: a new registration while a reader holds the snapshot takes \
         {:.2} ms (the map copied); the first snapshot still held: +{:.1} MiB resident",
        m.snapshot_copy_ms,
        mib(m.snapshot_copy_bytes),
    );

    // What the daemon does after every binding change: export the cache (to
    // write it to disk as JSON).
    let start = Instant::now();
    let records = ha.cache.export(SystemTime::now(), t0 + at);
    m.export_ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(records.len(), count as usize + 10);
    println!(
        "memory/{count} bindings: export() of the cache, which the daemon calls (then writes \
         the records as JSON) after every binding change, refreshes included: {:.1} ms",
        m.export_ms,
    );
    m
}

/// The daemon's persistence of `n` bindings once: export and pretty JSON
/// (no file, no fsync).
fn persistence_ms(n: u32) -> f64 {
    let t0 = Instant::now();
    let mut ha = Ha::new(config(n), t0, false);
    let at = register(&mut ha, n);
    let reps = 5;
    let start = Instant::now();
    for _ in 0..reps {
        let records = ha.cache.export(SystemTime::now(), t0 + at);
        black_box(serde_json::to_vec_pretty(&records).expect("json"));
    }
    start.elapsed().as_secs_f64() * 1e3 / f64::from(reps)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let list = args.iter().any(|a| a == "--list");
    // `cargo test --benches` runs every part once, small.
    let (n, million) = if bench { (N, MILLION) } else { (100, 1_000) };
    let memory_on = !list && std::env::var("MIP6_BENCH_MEMORY").map_or(true, |v| v != "0");

    // First, in a fresh process, so the allocator has nothing cached.
    let mem = memory_on.then(|| memory(million));
    let persist = memory_on.then(|| persistence_ms(n));
    let held_us = memory_on.then(|| snapshot_held_us(n, n / 10));

    let mut c = Criterion::default().configure_from_args();
    let refresh_s = Samples::default();
    let new_s = Samples::default();
    refresh(&mut c, n, &refresh_s);
    new_registration(&mut c, n, &new_s);
    c.final_summary();
    if !bench {
        return;
    }

    let row = |what: &str, samples: &Samples| {
        if samples.borrow().is_empty() {
            return;
        }
        let ns = mean_ns(samples);
        let rate = 1e9 / ns;
        let verdict = if rate >= TARGET_BU_PER_S {
            "meets"
        } else {
            "MISSES"
        };
        println!(
            "  {what:<58} {ns:>9.0} ns/BU {rate:>10.0} BU/s  (target >= {TARGET_BU_PER_S:.0}: {verdict})"
        );
    };
    println!();
    println!("Summary (one core; means over every timed iteration; {n} bindings):");
    row("authenticated refresh, full path", &refresh_s);
    row("new registration (DAD off), full path", &new_s);
    if let Some(us) = held_us {
        println!(
            "  {:<58} {:>9.0} ns/BU {:>10.0} BU/s",
            format!("new registration, a reader holding the snapshot, {n}"),
            us * 1e3,
            1e6 / us
        );
    }
    if let Some(m) = mem {
        let total = m.policies_bytes + m.bindings_bytes;
        let per_million = mib(total) * f64::from(MILLION) / f64::from(m.bindings);
        let verdict = if per_million < TARGET_MIB_PER_MILLION {
            "meets"
        } else {
            "MISSES"
        };
        println!(
            "  {:<58} {:>9.1} MiB {:>10.0} B/binding (target < {TARGET_MIB_PER_MILLION:.0} MiB per million: {verdict})",
            format!("{} bindings + their policies, resident", m.bindings),
            mib(total),
            total / f64::from(m.bindings),
        );
        println!(
            "  {:<58} {:>9.1} MiB {:>10.0} B/binding",
            "  of which the bindings (cache, maps, timers, snapshot)",
            mib(m.bindings_bytes),
            m.bindings_bytes / f64::from(m.bindings),
        );
        println!(
            "  {:<58} {:>9.2} ms",
            format!(
                "new binding while a reader holds the snapshot, {}",
                m.bindings
            ),
            m.snapshot_copy_ms
        );
        println!(
            "  {:<58} {:>9.1} ms",
            format!("export() of {} bindings", m.bindings),
            m.export_ms
        );
    }
    if let Some(p) = persist {
        println!(
            "  {:<58} {:>9.1} ms",
            format!("export() + pretty JSON of {n} bindings (daemon, per change)"),
            p
        );
    }
}
