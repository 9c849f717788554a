//! The naming scheme: every namespace, bridge and switch-side veth of a lab
//! begins with the lab's prefix `m6PPPPPPCC`: `m6`, the creating process's
//! pid in six hex digits (pid_max is at most 2^22), and a two-hex-digit
//! per-process counter. Ten characters leave five for interface suffixes
//! within IFNAMSIZ-1 = 15. Namespaces are `<prefix>-<node>`; the switch
//! namespace holding the bridges is `<prefix>-sw`.

use super::error::{HarnessError, Result};

/// Every name the harness creates starts with this.
pub const SCHEME: &str = "m6";
/// Length of a lab prefix.
pub const PREFIX_LEN: usize = 10;
/// The longest interface name Linux accepts.
pub const IFNAME_MAX: usize = 15;
/// The node name reserved for the switch namespace.
pub const SWITCH: &str = "sw";
/// Longest node name we accept (namespace names are file names; keep them
/// readable in `ip netns list`).
pub const NODE_NAME_MAX: usize = 32;

/// The prefix of the lab number `counter` created by process `pid`.
#[must_use]
pub fn prefix(pid: u32, counter: u8) -> String {
    format!("{SCHEME}{:06x}{counter:02x}", pid & 0x00ff_ffff)
}

/// If `netns` is named by the scheme, its lab prefix and creator pid.
#[must_use]
pub fn parse_netns(netns: &str) -> Option<(&str, u32)> {
    let prefix = netns.get(..PREFIX_LEN)?;
    let rest = &netns[PREFIX_LEN..];
    if !prefix.starts_with(SCHEME) || !rest.starts_with('-') || rest.len() < 2 {
        return None;
    }
    let hex = &prefix[SCHEME.len()..];
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let pid = u32::from_str_radix(&hex[..6], 16).ok()?;
    (pid != 0).then_some((prefix, pid))
}

/// The namespace of node `node` in the lab with `prefix`.
#[must_use]
pub fn netns(prefix: &str, node: &str) -> String {
    format!("{prefix}-{node}")
}

/// Checks a node or link name: letters, digits, `_` and `-`, 1 to 32
/// characters.
pub fn check_node_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(HarnessError::InvalidName {
            name: name.to_owned(),
            why: why.to_owned(),
        })
    };
    if name.is_empty() || name.len() > NODE_NAME_MAX {
        return bad("a name has 1 to 32 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return bad("a name has only ASCII letters, digits, '_' and '-'");
    }
    Ok(())
}

/// Checks an interface name as the kernel would (1 to 15 bytes, no '/',
/// ':' or whitespace, not "." or "..").
pub fn check_ifname(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(HarnessError::InvalidName {
            name: name.to_owned(),
            why: why.to_owned(),
        })
    };
    if name.is_empty() || name.len() > IFNAME_MAX {
        return bad("an interface name has 1 to 15 bytes");
    }
    if name == "." || name == ".." {
        return bad("an interface name cannot be '.' or '..'");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return bad("an interface name has no '/', ':' or whitespace");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_fits_ifnamsiz_with_room() {
        let p = prefix(4_194_303, 0xff);
        assert_eq!(p, "m63fffffff");
        assert_eq!(p.len(), PREFIX_LEN);
        assert!(format!("{p}bffff").len() <= IFNAME_MAX);
    }

    #[test]
    fn parse_roundtrip() {
        let p = prefix(4371, 7);
        assert_eq!(p, "m600111307");
        let ns = netns(&p, "ha");
        assert_eq!(parse_netns(&ns), Some(("m600111307", 4371)));
        assert_eq!(parse_netns(&netns(&p, SWITCH)), Some(("m600111307", 4371)));
    }

    #[test]
    fn parse_rejects_foreign_names() {
        for name in [
            "m600111307",
            "m600111307-",
            "m600111307x-ha",
            "m6001113g7-ha",
            "m6001113-ha",
            "x600111307-ha",
            "m6ABCDEF07-ha",
            "m600000007-ha",
            "foo",
            "",
            "m6",
        ] {
            assert_eq!(parse_netns(name), None, "{name}");
        }
    }

    #[test]
    fn names() {
        assert!(check_node_name("ha").is_ok());
        assert!(check_node_name("mn-1_x").is_ok());
        assert!(check_node_name("").is_err());
        assert!(check_node_name("a b").is_err());
        assert!(check_node_name("a/b").is_err());
        assert!(check_node_name(&"x".repeat(33)).is_err());
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("eth0.10").is_ok());
        assert!(check_ifname("abcdefghijklmnop").is_err());
        assert!(check_ifname("a:b").is_err());
        assert!(check_ifname("..").is_err());
    }
}
