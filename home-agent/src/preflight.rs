//! Checks of the host against the configuration before the home agent
//! touches anything, so a mistake is named in the operator's words (the
//! interface, the address) rather than as the first system call that trips
//! over it (`bind tunnel socket to ...: Cannot assign requested address`).

use std::net::Ipv6Addr;

use anyhow::bail;
use mip6_common::sys::netlink::Netlink;

use crate::config::Config;

/// The home interface exists and carries `ha_address`.
pub fn check_home_link(cfg: &Config) -> anyhow::Result<()> {
    let mut nl = Netlink::new()?;
    let links = nl.links()?;
    let holders: Vec<String> = nl
        .list_addresses(0)?
        .iter()
        .filter(|a| a.addr == cfg.ha_address)
        .map(|a| {
            links
                .iter()
                .find(|l| l.index == a.ifindex)
                .map_or_else(|| format!("if#{}", a.ifindex), |l| l.name.clone())
        })
        .collect();
    let home_exists = links.iter().any(|l| l.name == cfg.home_interface);
    if let Err(e) = judge(&cfg.home_interface, home_exists, cfg.ha_address, &holders) {
        bail!("{e}");
    }
    Ok(())
}

/// The verdict on what the host shows: whether the home interface exists,
/// and which interfaces hold the home agent address.
fn judge(home: &str, home_exists: bool, ha: Ipv6Addr, holders: &[String]) -> Result<(), String> {
    if !home_exists {
        return Err(format!(
            "home interface {home} does not exist (home_interface in the configuration; \
             `ip link` lists the interfaces)"
        ));
    }
    if holders.iter().any(|h| h == home) {
        return Ok(());
    }
    match holders.first() {
        // Proxy ND, DAD and the RAs would run on the home interface while
        // the BUs arrive elsewhere: it would half work, silently.
        Some(other) => Err(format!(
            "ha_address {ha} is on {other}, not on the home interface {home}: \
             move the address to {home} or set home_interface: {other}"
        )),
        None => Err(format!(
            "ha_address {ha} is not configured on the home interface {home}: \
             add it (ip -6 addr add {ha}/64 dev {home}) before starting the home agent"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);

    #[test]
    fn names_the_interface_and_the_address() {
        assert_eq!(judge("eth0", true, HA, &["eth0".into()]), Ok(()));
        let e = judge("eth9", false, HA, &["eth0".into()]).unwrap_err();
        assert!(e.starts_with("home interface eth9 does not exist"), "{e}");
        let e = judge("eth0", true, HA, &["eth1".into()]).unwrap_err();
        assert!(
            e.contains("2001:db8:1::1 is on eth1, not on the home interface eth0"),
            "{e}"
        );
        let e = judge("eth0", true, HA, &[]).unwrap_err();
        assert!(
            e.contains("not configured on the home interface eth0"),
            "{e}"
        );
    }
}
