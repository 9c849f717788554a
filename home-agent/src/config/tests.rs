#![allow(clippy::unwrap_used)]

use super::*;

const MIN: &str = "\
home_interface: eth0
ha_address: 2001:db8:1::1
home_prefixes:
  - prefix: \"2001:db8:1::/64\"
mobile_nodes:
  - id: mn1@example.org
    home_address: 2001:db8:1::100
    spi: 256
    key: a secret of 16 or more
  - home_address: 2001:db8:1::101
    spi: 257
    key_hex: \"00112233445566778899aabbccddeeff\"
";

#[test]
fn example_file_parses_with_every_option() {
    let text = include_str!("../../examples/ha.yaml");
    let c = Config::parse(text).unwrap();
    assert_eq!(c.home_interface, "eth0");
    assert_eq!(c.mobile_nodes.len(), 1);
    assert_eq!(c.metrics.listen.as_deref(), Some("[::1]:9106"));
    // Every field of the struct appears in the example.
    let v = serde_yaml::to_value(&c).unwrap();
    let serde_yaml::Value::Mapping(m) = v else {
        panic!("not a mapping")
    };
    for (k, _) in m {
        let k = k.as_str().unwrap().to_owned();
        assert!(text.contains(&format!("\n{k}:")), "{k} not in the example");
    }
}

#[test]
fn defaults_fill_in() {
    let c = Config::parse(MIN).unwrap();
    assert_eq!(c.max_binding_lifetime, 3600);
    assert_eq!(c.tunnel_device, "mip6ha0");
    assert_eq!(c.control_socket, default_control_socket());
    assert!(!c.allow_unauthenticated);
    assert!(c.dad.enabled);
    assert_eq!(c.mobile_nodes[1].key_bytes()[..4], [0, 0x11, 0x22, 0x33]);
    let cc = c.cache_config();
    assert_eq!(cc.mobile_nodes[0].key, b"a secret of 16 or more");
    assert_eq!(cc.mobile_nodes[0].nai.as_deref(), Some("mn1@example.org"));
    assert_eq!(
        c.anycast_addresses(),
        vec![
            "2001:db8:1::fdff:ffff:ffff:fffe"
                .parse::<Ipv6Addr>()
                .unwrap()
        ]
    );
    let ra = c.ra_content();
    assert!(ra.home_agent.is_some());
    assert_eq!(ra.prefixes[0].router_address, Some(c.ha_address));
}

fn err(text: &str) -> ConfigError {
    Config::parse(text).unwrap_err()
}

#[test]
fn semantic_errors_name_field_and_line() {
    let e = err(&MIN.replace("2001:db8:1::101", "2001:db8:9::101"));
    assert_eq!(e.field, "mobile_nodes[1].home_address");
    assert_eq!(e.line, Some(10), "{e}");
    assert!(e.to_string().contains("not on any home prefix"), "{e}");

    let e = err(&MIN.replace("spi: 257", "spi: 256"));
    assert_eq!(
        (e.field.as_str(), e.line),
        ("mobile_nodes[1].spi", Some(11))
    );

    let e = err(&MIN.replace("spi: 256", "spi: 7"));
    assert_eq!((e.field.as_str(), e.line), ("mobile_nodes[0].spi", Some(8)));

    let e = err(&MIN.replace("ha_address: 2001:db8:1::1", "ha_address: 2001:db8:2::1"));
    assert_eq!((e.field.as_str(), e.line), ("ha_address", Some(2)));

    let e = err(&MIN.replace("    key: a secret of 16 or more\n", ""));
    assert_eq!(e.field, "mobile_nodes[0].key_hex");
    // No line of its own: the line of the item.
    assert_eq!(e.line, Some(6), "{e}");

    let e = err(&format!("{MIN}metrics:\n  listen: nowhere\n"));
    assert_eq!((e.field.as_str(), e.line), ("metrics.listen", Some(14)));
}

#[test]
fn sequences_at_key_indentation_are_found() {
    let text = MIN
        .replace("  - prefix", "- prefix")
        .replace("  - id:", "- id:")
        .replace(
            "  - home_address: 2001:db8:1::101",
            "- home_address: 2001:db8:9::101",
        )
        .replace("    ", "  ");
    let e = err(&text);
    assert_eq!(
        (e.field.as_str(), e.line),
        ("mobile_nodes[1].home_address", Some(10)),
        "{text}"
    );
}

#[test]
fn parser_errors_keep_their_line() {
    let e = err(&MIN.replace("spi: 257", "spi: lots"));
    assert_eq!(e.line, Some(11), "{e}");
    assert!(e.to_string().contains("line 11"), "{e}");
    let e = err(&format!("{MIN}bogus_option: 1\n"));
    assert!(e.to_string().contains("bogus_option"), "{e}");
    assert_eq!(e.line, Some(13), "{e}");
    let e = err("home_interface: eth0\n");
    assert!(e.to_string().contains("ha_address"), "{e}");
}

#[test]
fn hex_keys() {
    assert_eq!(decode_hex("0a:0B 1c"), Some(vec![10, 11, 28]));
    assert_eq!(decode_hex("abc"), None);
    assert_eq!(decode_hex("zz"), None);
    let e = err(&MIN.replace("00112233", "0011223"));
    assert_eq!(e.field, "mobile_nodes[1].key_hex");
}

#[test]
fn a_text_key_is_deprecated_and_a_hex_looking_one_refused() {
    let (c, warnings) = Config::parse_with_warnings(MIN).unwrap();
    assert_eq!(c.mobile_nodes[0].key_bytes(), b"a secret of 16 or more");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = warnings[0].to_string();
    assert!(
        w.contains("mobile_nodes[0].key") && w.contains("deprecated"),
        "{w}"
    );
    assert!(w.contains("key_hex: \""), "{w}");
    assert_eq!(warnings[0].line, Some(9));
    // The mistake issue 12 saw: the mobile node's hex key pasted into the
    // text field passed `check`, then every BU failed authentication.
    let e = err(&MIN.replace(
        "key: a secret of 16 or more",
        "key: 00112233445566778899aabbccddeeff",
    ));
    assert_eq!(e.field, "mobile_nodes[0].key");
    assert!(e.message.contains("looks like hexadecimal"), "{e}");
    let e = err(&MIN.replace(
        "key: a secret of 16 or more",
        "key: \"0x00112233445566778899aabbccddeeff\"",
    ));
    assert_eq!(e.field, "mobile_nodes[0].key");
    // key_hex takes no warning.
    let (_, w) = Config::parse_with_warnings(&MIN.replace(
        "key: a secret of 16 or more",
        "key_hex: \"00112233445566778899aabbccddeeff\"",
    ))
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
}

/// The two example files describe one mobile node the same way: a reader
/// who copies both gets a registration (the namespace test
/// `examples_register_with_each_other` in mobile-node runs them).
#[test]
fn example_files_agree_with_the_mobile_nodes() {
    let (ha, warnings) =
        Config::parse_with_warnings(include_str!("../../examples/ha.yaml")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let mn: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../../mobile-node/examples/mn.yaml")).unwrap();
    let text = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => panic!("{other:?}"),
    };
    let m = &ha.mobile_nodes[0];
    assert_eq!(text(&mn["home_address"]), m.home_address.to_string());
    assert_eq!(text(&mn["home_agent"]), ha.ha_address.to_string());
    assert_eq!(Some(text(&mn["mn_id"])), m.id);
    assert_eq!(text(&mn["security"]["spi"]), m.spi.to_string());
    assert_eq!(Some(text(&mn["security"]["key_hex"])), m.key_hex);
    assert!(mn["security"].get("key").is_none());
}

/// Issue 11 item 15: `check` refuses a home address that is an anycast
/// address of its prefix, and keys an attacker could search offline.
#[test]
fn anycast_home_addresses_and_short_keys_are_refused() {
    for (hoa, why) in [
        ("2001:db8:1::0", "Subnet-Router"),
        ("2001:db8:1::fdff:ffff:ffff:fffe", "RFC 2526"),
        ("2001:db8:1::fdff:ffff:ffff:ff80", "RFC 2526"),
    ] {
        let e = err(&MIN.replace("2001:db8:1::101", hoa));
        assert_eq!(e.field, "mobile_nodes[1].home_address", "{hoa}: {e}");
        assert!(e.message.contains(why), "{hoa}: {e}");
    }
    // The address just below the reserved range is an ordinary one.
    Config::parse(&MIN.replace("2001:db8:1::101", "2001:db8:1::fdff:ffff:ffff:ff7f")).unwrap();
    // On a /120 the last 128 addresses are reserved.
    let p120 = MIN
        .replace("2001:db8:1::/64", "2001:db8:1::/120")
        .replace("2001:db8:1::101", "2001:db8:1::ff")
        .replace("2001:db8:1::100", "2001:db8:1::10");
    assert!(err(&p120).message.contains("RFC 2526"));
    Config::parse(&p120.replace("2001:db8:1::ff", "2001:db8:1::7f")).unwrap();

    let e = err(&MIN.replace("a secret of 16 or more", "x"));
    assert_eq!(e.field, "mobile_nodes[0].key");
    assert!(e.message.contains("1 octets is too short"), "{e}");
    assert!(e.message.contains("offline"), "{e}");
    let e = err(&MIN.replace(
        "00112233445566778899aabbccddeeff",
        "00112233445566778899aabbccddee",
    ));
    assert_eq!(e.field, "mobile_nodes[1].key_hex");
    assert!(e.message.contains("15 octets"), "{e}");
}
