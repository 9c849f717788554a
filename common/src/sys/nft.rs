//! An nftables table a daemon owns: created on start, removed on exit
//! (and on drop), through the `nft` command.
//!
//! [`param_problem_ruleset`] is the table that keeps a stock kernel from
//! answering Mobile IPv6 signalling with ICMPv6 Parameter Problems
//! (docs/ARCHITECTURE.md, kernel fact 3), narrowed to the packets that carried the headers it
//! does not know. The 8-octet ICMPv6 header is followed by the invoking
//! packet, whose Next Header octet is at offset 8 + 6 = 14 (bit 112):
//!
//! | code | invoking packet's first Next Header | cause |
//! | --- | --- | --- |
//! | 2 (unrecognized option) | 60, destination options | Home Address option (BU, MPS from a care-of address) |
//! | 0 (erroneous field) | 43, routing | type 2 routing header (BA, MPA to a care-of address) |
//! | 1 (unrecognized next header) | 41 or 135 | IPv6-in-IPv6 or a Mobility Header with no socket for it |
//!
//! Installing is atomic and idempotent: one `nft -f` transaction adds the
//! table (in case it is absent), deletes it (a leftover of a killed run)
//! and creates it afresh.
//!
//! Without the `nft` program ([`NftTable::install_if_available`]) a daemon
//! runs on and warns with [`MISSING_NFT`]: the filter only keeps the
//! kernel quiet, the Mobile IPv6 signalling itself gets through.
//!
//! The mobile node's table ([`super::mn_signal::ParamProblemFilter`]) is
//! an [`NftTable`] too, with a ruleset of its own.

use std::io::{self, Write};
use std::process::{Command, Stdio};

use super::rawsock::ctx;

/// What a daemon says when `nft` is not installed: what is lost without the
/// filter, and what to do.
pub const MISSING_NFT: &str = "nft (nftables) is not installed: the kernel's ICMPv6 \
     Parameter Problems answering Mobile IPv6 packets go out, and a peer that \
     sees them may conclude this node does not speak Mobile IPv6 (RFC 6275 \
     11.3.6); install nftables to suppress them";

/// Whether `e` says the `nft` program itself could not be found (as opposed
/// to nft running and failing).
pub fn is_missing_nft(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// The ruleset text of the Parameter Problem filter in table `name`.
pub fn param_problem_ruleset(name: &str) -> String {
    format!(
        "table ip6 {name} {{\n\
         \tchain out {{\n\
         \t\ttype filter hook output priority 0; policy accept;\n\
         \t\ticmpv6 type parameter-problem icmpv6 code 2 @th,112,8 60 counter drop comment \"home address option\"\n\
         \t\ticmpv6 type parameter-problem icmpv6 code 0 @th,112,8 43 counter drop comment \"type 2 routing header\"\n\
         \t\ticmpv6 type parameter-problem icmpv6 code 1 @th,112,8 {{ 41, 135 }} counter drop comment \"ip6ip6 or mobility header\"\n\
         \t}}\n\
         }}\n"
    )
}

/// The name goes into an nft script unquoted: only what nft reads as one
/// identifier (it refuses a leading digit or '-') may pass.
fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad nftables table name {name:?}"),
        ))
    }
}

/// The program every function here runs (tests name a missing one).
const NFT: &str = "nft";

/// Runs `nft -f -` with `script` on stdin.
pub(crate) fn run_script(script: &str) -> io::Result<()> {
    nft_script(script)
}

/// Runs `nft -f -` with `script` on stdin.
fn nft_script(script: &str) -> io::Result<()> {
    nft_script_with(NFT, script)
}

fn nft_script_with(program: &str, script: &str) -> io::Result<()> {
    let mut child = Command::new(program)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ctx("run nft".into()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "nft -f failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Whether table `ip6 name` exists.
pub fn table_exists(name: &str) -> io::Result<bool> {
    check_name(name)?;
    let out = Command::new(NFT)
        .args(["list", "table", "ip6", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(ctx("run nft".into()))?;
    Ok(out.success())
}

/// An `ip6` table this process created; removed by [`NftTable::remove`] or
/// on drop.
#[derive(Debug)]
pub struct NftTable {
    name: String,
    installed: bool,
}

impl NftTable {
    /// Creates table `ip6 name` with `ruleset` (which must define exactly
    /// that table), replacing any table of that name.
    pub fn install(name: &str, ruleset: &str) -> io::Result<Self> {
        Self::install_with(NFT, name, ruleset)
    }

    fn install_with(program: &str, name: &str, ruleset: &str) -> io::Result<Self> {
        check_name(name)?;
        let script = format!("add table ip6 {name}\ndelete table ip6 {name}\n{ruleset}");
        nft_script_with(program, &script)
            .map_err(ctx(format!("install nftables table ip6 {name}")))?;
        Ok(Self {
            name: name.to_owned(),
            installed: true,
        })
    }

    /// [`NftTable::install`], or `None` if the `nft` program is missing
    /// (see [`MISSING_NFT`]); every other failure is an error.
    pub fn install_if_available(name: &str, ruleset: &str) -> io::Result<Option<Self>> {
        Self::install_if_available_with(NFT, name, ruleset)
    }

    fn install_if_available_with(
        program: &str,
        name: &str,
        ruleset: &str,
    ) -> io::Result<Option<Self>> {
        match Self::install_with(program, name, ruleset) {
            Ok(t) => Ok(Some(t)),
            Err(e) if is_missing_nft(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The Parameter Problem filter (see the module docs) in table `name`.
    pub fn param_problem_filter(name: &str) -> io::Result<Self> {
        Self::install(name, &param_problem_ruleset(name))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the table. Deleting one that is already gone is not an error.
    pub fn remove(&mut self) -> io::Result<()> {
        if !self.installed {
            return Ok(());
        }
        self.installed = false;
        let name = &self.name;
        nft_script(&format!("add table ip6 {name}\ndelete table ip6 {name}\n"))
            .map_err(ctx(format!("delete nftables table ip6 {name}")))
    }
}

impl Drop for NftTable {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_names_its_table() {
        let r = param_problem_ruleset("mip6ha");
        assert!(r.starts_with("table ip6 mip6ha {"));
        assert!(r.contains("@th,112,8 60"));
        assert!(r.contains("{ 41, 135 }"));
    }

    #[test]
    fn a_missing_nft_is_no_error_but_a_failing_one_is() {
        let r = param_problem_ruleset("mip6_t");
        let missing = NftTable::install_if_available_with("/nonexistent/nft", "mip6_t", &r);
        assert!(matches!(missing, Ok(None)), "{missing:?}");
        // nft ran and failed (`false` stands in for it): that stays an error.
        let failing = NftTable::install_if_available_with("false", "mip6_t", &r);
        assert!(failing.is_err(), "{failing:?}");
        let err = NftTable::install_with("/nonexistent/nft", "mip6_t", &r).unwrap_err();
        assert!(is_missing_nft(&err), "{err}");
    }

    #[test]
    fn names_are_checked() {
        for good in ["mip6_ha-1", "mip6_mn", "_mip6"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "-a", "a b", "bad name", "x;flush ruleset", "a}"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
