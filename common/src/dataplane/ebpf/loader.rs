//! A minimal eBPF object loader: the ELF file clang makes of
//! `common/bpf/tunnel.bpf.c`, its maps and programs, and the `bpf(2)`
//! calls to create, load, update and attach them.
//!
//! Why our own and not a crate: `aya` (pure Rust) knows no lightweight
//! tunnel program types (`lwt_xmit`), which the encapsulation needs, and
//! `libbpf-rs` builds or links the C libbpf (libbpf-sys vendors and
//! compiles it, with libelf and zlib development packages, or needs a
//! system libbpf at least as new as its bindings; Debian 12 has 1.1).
//! Our object needs little: no BTF, no global data, no bpf-to-bpf calls,
//! maps described in plain structs ("mip6_maps") and patched into
//! `ld_imm64` instructions. That is about as much code as the glue
//! around either crate would be.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const EM_BPF: u16 = 247;
const SHT_SYMTAB: u32 = 2;
const SHT_REL: u32 = 9;
const R_BPF_64_64: u32 = 1;
const BPF_PSEUDO_MAP_FD: u8 = 1;
const LD_IMM64: u8 = 0x18;

// bpf(2) commands and types (linux/bpf.h).
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_LINK_CREATE: libc::c_long = 28;
pub(crate) const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
pub(crate) const BPF_PROG_TYPE_LWT_XMIT: u32 = 12;
pub(crate) const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
pub(crate) const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
/// tcx (Linux 6.6): a link that goes away with its last descriptor, so a
/// killed daemon leaves no classifier behind.
const BPF_TCX_INGRESS: u32 = 46;

/// A map as the object describes it (`struct mip6_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapDef {
    pub(crate) map_type: u32,
    pub(crate) key_size: u32,
    pub(crate) value_size: u32,
    pub(crate) max_entries: u32,
}

/// One program section: its instructions and the maps they name.
#[derive(Debug, Clone)]
pub(crate) struct ProgSpec {
    pub(crate) section: String,
    insns: Vec<u8>,
    /// (instruction index, map name)
    relocs: Vec<(usize, String)>,
}

/// What the ELF object holds.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) maps: Vec<(String, MapDef)>,
    pub(crate) progs: Vec<ProgSpec>,
    pub(crate) license: CString,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn u16_at(b: &[u8], off: usize) -> io::Result<u16> {
    b.get(off..off + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| bad(format!("ELF: short read at {off}")))
}

fn u32_at(b: &[u8], off: usize) -> io::Result<u32> {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| bad(format!("ELF: short read at {off}")))
}

fn u64_at(b: &[u8], off: usize) -> io::Result<u64> {
    b.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| bad(format!("ELF: short read at {off}")))
}

fn usize_at(b: &[u8], off: usize) -> io::Result<usize> {
    usize::try_from(u64_at(b, off)?).map_err(|_| bad("ELF: offset overflows"))
}

fn cstr_at(b: &[u8], off: usize) -> io::Result<String> {
    let s = b.get(off..).ok_or_else(|| bad("ELF: name out of range"))?;
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    Ok(String::from_utf8_lossy(&s[..end]).into_owned())
}

#[derive(Debug, Clone)]
struct Section {
    name: String,
    kind: u32,
    offset: usize,
    size: usize,
    link: u32,
    info: u32,
}

impl Section {
    fn data<'a>(&self, elf: &'a [u8]) -> io::Result<&'a [u8]> {
        elf.get(self.offset..self.offset + self.size)
            .ok_or_else(|| bad(format!("ELF: section {} out of range", self.name)))
    }
}

impl Object {
    /// Parses a little-endian ELF64 eBPF object.
    pub(crate) fn parse(elf: &[u8]) -> io::Result<Self> {
        if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
            return Err(bad("not a little-endian ELF64 file"));
        }
        if u16_at(elf, 18)? != EM_BPF {
            return Err(bad("not an eBPF object"));
        }
        let shoff = usize_at(elf, 40)?;
        let shentsize = usize::from(u16_at(elf, 58)?);
        let shnum = usize::from(u16_at(elf, 60)?);
        let shstrndx = usize::from(u16_at(elf, 62)?);
        let mut raw = Vec::with_capacity(shnum);
        for i in 0..shnum {
            let h = shoff + i * shentsize;
            raw.push((
                u32_at(elf, h)?,
                Section {
                    name: String::new(),
                    kind: u32_at(elf, h + 4)?,
                    offset: usize_at(elf, h + 24)?,
                    size: usize_at(elf, h + 32)?,
                    link: u32_at(elf, h + 40)?,
                    info: u32_at(elf, h + 44)?,
                },
            ));
        }
        let names = raw
            .get(shstrndx)
            .ok_or_else(|| bad("ELF: no section names"))?
            .1
            .data(elf)?
            .to_vec();
        let sections: Vec<Section> = raw
            .into_iter()
            .map(|(n, mut s)| {
                s.name = cstr_at(&names, n as usize)?;
                Ok(s)
            })
            .collect::<io::Result<_>>()?;
        let find = |name: &str| sections.iter().position(|s| s.name == name);
        let maps_idx = find("mip6_maps").ok_or_else(|| bad("no mip6_maps section"))?;
        let maps_data = sections[maps_idx].data(elf)?;
        let license = {
            let i = find("license").ok_or_else(|| bad("no license section"))?;
            let s = cstr_at(sections[i].data(elf)?, 0)?;
            CString::new(s).map_err(|_| bad("bad license"))?
        };
        // Symbols: (name, section index, value).
        let symtab = sections
            .iter()
            .find(|s| s.kind == SHT_SYMTAB)
            .ok_or_else(|| bad("no symbol table"))?;
        let strtab = sections
            .get(symtab.link as usize)
            .ok_or_else(|| bad("no symbol names"))?
            .data(elf)?;
        let symdata = symtab.data(elf)?;
        let mut symbols = Vec::with_capacity(symdata.len() / 24);
        for s in symdata.chunks_exact(24) {
            symbols.push((
                cstr_at(strtab, u32_at(s, 0)? as usize)?,
                usize::from(u16_at(s, 6)?),
                usize_at(s, 8)?,
            ));
        }
        let mut maps = Vec::new();
        for (name, shndx, value) in &symbols {
            if *shndx == maps_idx && !name.is_empty() {
                let d = maps_data
                    .get(*value..*value + 16)
                    .ok_or_else(|| bad(format!("map {name} out of range")))?;
                maps.push((
                    name.clone(),
                    MapDef {
                        map_type: u32_at(d, 0)?,
                        key_size: u32_at(d, 4)?,
                        value_size: u32_at(d, 8)?,
                        max_entries: u32_at(d, 12)?,
                    },
                ));
            }
        }
        let mut progs = Vec::new();
        for (i, s) in sections.iter().enumerate() {
            let is_prog = matches!(s.name.as_str(), "lwt_xmit" | "tc");
            if !is_prog || s.size == 0 {
                continue;
            }
            let insns = s.data(elf)?.to_vec();
            let mut relocs = Vec::new();
            for r in sections
                .iter()
                .filter(|r| r.kind == SHT_REL && r.info as usize == i)
            {
                for e in r.data(elf)?.chunks_exact(16) {
                    let off = usize_at(e, 0)?;
                    let info = u64_at(e, 8)?;
                    let (sym, ty) = ((info >> 32) as usize, (info & 0xffff_ffff) as u32);
                    let (name, shndx, _) = symbols
                        .get(sym)
                        .ok_or_else(|| bad("relocation names no symbol"))?;
                    if ty != R_BPF_64_64 || *shndx != maps_idx {
                        return Err(bad(format!(
                            "{}: relocation against {name} (type {ty}) is not a map",
                            s.name
                        )));
                    }
                    relocs.push((off / 8, name.clone()));
                }
            }
            progs.push(ProgSpec {
                section: s.name.clone(),
                insns,
                relocs,
            });
        }
        Ok(Self {
            maps,
            progs,
            license,
        })
    }

    pub(crate) fn prog(&self, section: &str) -> io::Result<&ProgSpec> {
        self.progs
            .iter()
            .find(|p| p.section == section)
            .ok_or_else(|| bad(format!("no program in section {section}")))
    }
}

/// bpf(2) with an attribute block; the result (a descriptor or 0).
fn sys_bpf(cmd: libc::c_long, attr: &mut [u8]) -> io::Result<i64> {
    // SAFETY: `attr` is a live, writable buffer of the length we pass; the
    // kernel reads (and for some commands writes) at most that much.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn owned(fd: i64) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(fd).map_err(|_| bad("descriptor out of range"))?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn put_name(b: &mut [u8], off: usize, name: &str) {
    // BPF_OBJ_NAME_LEN is 16 with the NUL; the kernel takes [A-Za-z0-9_.].
    for (i, c) in name.bytes().take(15).enumerate() {
        b[off + i] = if c.is_ascii_alphanumeric() || c == b'.' {
            c
        } else {
            b'_'
        };
    }
}

/// Number of possible CPUs: per-CPU map values come as one slot each.
pub(crate) fn possible_cpus() -> io::Result<usize> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let mut max = 0usize;
    for part in s.trim().split(',') {
        let last = part.rsplit('-').next().unwrap_or(part);
        let n: usize = last
            .trim()
            .parse()
            .map_err(|_| bad(format!("cpu list {s:?}")))?;
        max = max.max(n);
    }
    Ok(max + 1)
}

/// A created map.
#[derive(Debug)]
pub(crate) struct Map {
    fd: OwnedFd,
    pub(crate) def: MapDef,
    cpus: usize,
}

impl Map {
    pub(crate) fn create(name: &str, def: MapDef) -> io::Result<Self> {
        let mut a = [0u8; 72];
        put32(&mut a, 0, def.map_type);
        put32(&mut a, 4, def.key_size);
        put32(&mut a, 8, def.value_size);
        put32(&mut a, 12, def.max_entries);
        // BPF_F_NO_PREALLOC for hashes: a million possible bindings must
        // not cost their memory up front.
        let hash = matches!(def.map_type, 1 | BPF_MAP_TYPE_PERCPU_HASH);
        put32(&mut a, 16, if hash { 1 } else { 0 });
        put_name(&mut a, 28, name);
        let fd = owned(
            sys_bpf(BPF_MAP_CREATE, &mut a).map_err(|e| ctx(e, &format!("create map {name}")))?,
        )?;
        Ok(Self {
            fd,
            def,
            cpus: possible_cpus()?,
        })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn elem(&self, cmd: libc::c_long, key: &[u8], value: *mut u8, flags: u64) -> io::Result<()> {
        if key.len() != self.def.key_size as usize {
            return Err(bad("map key of the wrong size"));
        }
        let mut a = [0u8; 32];
        put32(&mut a, 0, self.fd() as u32);
        put64(&mut a, 8, key.as_ptr() as u64);
        put64(&mut a, 16, value as u64);
        put64(&mut a, 24, flags);
        sys_bpf(cmd, &mut a).map(|_| ())
    }

    /// Sets `key` to `value` (BPF_ANY).
    pub(crate) fn update(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if value.len() != self.value_len() {
            return Err(bad("map value of the wrong size"));
        }
        self.elem(BPF_MAP_UPDATE_ELEM, key, value.as_ptr().cast_mut(), 0)
    }

    /// Adds `key` with `value` unless it exists (BPF_NOEXIST).
    pub(crate) fn insert_new(&self, key: &[u8], value: &[u8]) -> io::Result<bool> {
        if value.len() != self.value_len() {
            return Err(bad("map value of the wrong size"));
        }
        match self.elem(BPF_MAP_UPDATE_ELEM, key, value.as_ptr().cast_mut(), 1) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes `key`; a missing one is fine.
    pub(crate) fn delete(&self, key: &[u8]) -> io::Result<()> {
        match self.elem(BPF_MAP_DELETE_ELEM, key, std::ptr::null_mut(), 0) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
            _ => Ok(()),
        }
    }

    /// The value of `key` (per-CPU maps: every CPU's slot, 8-aligned, one
    /// after the other), or `None`.
    pub(crate) fn lookup(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_len()];
        match self.elem(BPF_MAP_LOOKUP_ELEM, key, v.as_mut_ptr(), 0) {
            Ok(()) => Ok(Some(v)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A per-CPU value summed over the CPUs, as u64 words.
    pub(crate) fn lookup_sum(&self, key: &[u8]) -> io::Result<Option<Vec<u64>>> {
        let Some(v) = self.lookup(key)? else {
            return Ok(None);
        };
        let words = self.def.value_size as usize / 8;
        let slot = self.slot();
        let mut sum = vec![0u64; words];
        for cpu in v.chunks_exact(slot) {
            for (w, s) in cpu.chunks_exact(8).zip(sum.iter_mut()) {
                *s += u64::from_ne_bytes(w.try_into().unwrap_or([0; 8]));
            }
        }
        Ok(Some(sum))
    }

    fn per_cpu(&self) -> bool {
        matches!(
            self.def.map_type,
            BPF_MAP_TYPE_PERCPU_HASH | BPF_MAP_TYPE_PERCPU_ARRAY
        )
    }

    fn slot(&self) -> usize {
        (self.def.value_size as usize).div_ceil(8) * 8
    }

    /// Octets of a value as the syscalls take it.
    pub(crate) fn value_len(&self) -> usize {
        if self.per_cpu() {
            self.slot() * self.cpus
        } else {
            self.def.value_size as usize
        }
    }
}

fn ctx(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A loaded program.
#[derive(Debug)]
pub(crate) struct Program {
    fd: OwnedFd,
    pub(crate) name: String,
}

impl Program {
    /// Patches the maps into `spec` and loads it as `prog_type`. The
    /// verifier's log is in the error.
    pub(crate) fn load(
        spec: &ProgSpec,
        prog_type: u32,
        name: &str,
        maps: &HashMap<String, Map>,
        license: &CString,
    ) -> io::Result<Self> {
        let mut insns = spec.insns.clone();
        for (idx, map) in &spec.relocs {
            let m = maps
                .get(map)
                .ok_or_else(|| bad(format!("{}: unknown map {map}", spec.section)))?;
            let at = idx * 8;
            if insns.get(at) != Some(&LD_IMM64) {
                return Err(bad(format!("{}: map {map} not in ld_imm64", spec.section)));
            }
            insns[at + 1] = (insns[at + 1] & 0x0f) | (BPF_PSEUDO_MAP_FD << 4);
            insns[at + 4..at + 8].copy_from_slice(&m.fd().to_ne_bytes());
        }
        let mut log = vec![0u8; 1 << 20];
        let mut a = [0u8; 128];
        let load = |a: &mut [u8; 128], log: &mut Vec<u8>, level: u32| {
            a.fill(0);
            put32(a, 0, prog_type);
            put32(a, 4, (insns.len() / 8) as u32);
            put64(a, 8, insns.as_ptr() as u64);
            put64(a, 16, license.as_ptr() as u64);
            if level > 0 {
                put32(a, 24, level);
                put32(a, 28, log.len() as u32);
                put64(a, 32, log.as_mut_ptr() as u64);
            }
            put_name(a, 48, name);
            sys_bpf(BPF_PROG_LOAD, a)
        };
        match load(&mut a, &mut log, 0) {
            Ok(fd) => Ok(Self {
                fd: owned(fd)?,
                name: name.to_owned(),
            }),
            Err(e) => {
                // Again with the verifier's log, for the message.
                let _ = load(&mut a, &mut log, 1);
                let end = log.iter().position(|&c| c == 0).unwrap_or(0);
                let text = String::from_utf8_lossy(&log[..end]);
                let tail: String = text
                    .lines()
                    .rev()
                    .take(12)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                Err(io::Error::new(
                    e.kind(),
                    format!("load {name}: {e}\n{tail}"),
                ))
            }
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Attaches this classifier to `ifindex`'s ingress through tcx; it
    /// stays attached while the returned link descriptor is open.
    pub(crate) fn attach_tcx_ingress(&self, ifindex: u32) -> io::Result<OwnedFd> {
        let mut a = [0u8; 64];
        put32(&mut a, 0, self.fd() as u32);
        put32(&mut a, 4, ifindex);
        put32(&mut a, 8, BPF_TCX_INGRESS);
        owned(sys_bpf(BPF_LINK_CREATE, &mut a)?)
    }
}

/// How many programs the calling thread's namespace runs at `ifindex`'s
/// tcx ingress (whoever attached them).
pub(crate) fn tcx_ingress_count(ifindex: u32) -> io::Result<u32> {
    let mut a = [0u8; 64];
    put32(&mut a, 0, ifindex);
    put32(&mut a, 4, BPF_TCX_INGRESS);
    sys_bpf(BPF_PROG_QUERY, &mut a)?;
    Ok(u32::from_ne_bytes([a[24], a[25], a[26], a[27]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_object_parses() {
        let o = Object::parse(super::super::OBJECT).expect("parse");
        let names: Vec<&str> = o.maps.iter().map(|(n, _)| n.as_str()).collect();
        for m in ["bindings", "settings", "binding_flows", "counters"] {
            assert!(names.contains(&m), "{names:?}");
        }
        for p in ["lwt_xmit", "tc"] {
            let p = o.prog(p).expect("program");
            assert!(!p.relocs.is_empty());
            assert_eq!(p.insns.len() % 8, 0);
        }
        assert!(o.license.to_bytes().ends_with(b"GPL"));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Object::parse(b"").is_err());
        assert!(Object::parse(b"\x7fELF\x02\x01").is_err());
        let mut o = super::super::OBJECT.to_vec();
        o.truncate(200);
        assert!(Object::parse(&o).is_err());
    }
}
