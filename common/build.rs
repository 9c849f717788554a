//! Compiles the eBPF tunnel fast path (`bpf/tunnel.bpf.c`) with clang into
//! OUT_DIR; `dataplane::ebpf` embeds the object with `include_bytes!`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: &str = "clang llvm libbpf-dev";

fn main() {
    let src = "bpf/tunnel.bpf.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("tunnel.bpf.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let mut cmd = Command::new(&clang);
    cmd.args(["-target", "bpf", "-O2", "-g", "-Wall", "-c", src, "-o"])
        .arg(&out);
    // <linux/types.h> wants <asm/types.h>, which Debian keeps under the
    // host's multiarch directory.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        other => other,
    };
    let inc = format!("/usr/include/{multiarch}");
    if Path::new(&inc).is_dir() {
        cmd.arg(format!("-I{inc}"));
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "\n\n{clang} failed ({s}) compiling {src}, the eBPF tunnel fast path.\n\
             It needs the Debian packages {PACKAGES} (bpf/bpf_helpers.h comes from \
             libbpf-dev):\n    apt-get install {PACKAGES}\n\n"
        ),
        Err(e) => panic!(
            "\n\ncannot run {clang} ({e}): building mip6-common compiles the eBPF \
             tunnel fast path ({src}) with clang.\nInstall the Debian packages \
             {PACKAGES}:\n    apt-get install {PACKAGES}\n(or set CLANG to a clang \
             that targets bpf)\n\n"
        ),
    }
}
