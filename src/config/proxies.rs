//! `[server] trusted_proxies`: the reverse proxies whose forwarding headers are believed.
//! The file holds strings, so that a bad entry is refused by [`parse`] with the key and
//! the entry named, instead of by the TOML decoder with a position.

use super::ConfigError;
use ipnet::IpNet;
use std::net::IpAddr;

/// Loopback, IPv4 and IPv6: a proxy on the same machine, as in the README's nginx setup.
pub(super) const DEFAULT: [&str; 2] = ["127.0.0.0/8", "::1/128"];

pub(super) fn default_nets() -> Vec<IpNet> {
    parse(&DEFAULT.map(String::from)).unwrap_or_default()
}

/// Each entry is a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (`10.0.0.7`,
/// meaning /32 or /128); host bits after the prefix are ignored (`10.0.0.7/8` is
/// `10.0.0.0/8`). Errors: [`ConfigError::Invalid`] for `server.trusted_proxies`,
/// quoting the first entry that is neither.
pub(super) fn parse(entries: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    entries.iter().map(|entry| net(entry)).collect()
}

fn net(entry: &str) -> Result<IpNet, ConfigError> {
    let text = entry.trim();
    let parsed = match text.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => text.parse::<IpAddr>().ok().map(IpNet::from),
    };
    parsed.ok_or_else(|| ConfigError::Invalid {
        key: "server.trusted_proxies",
        message: format!(
            "{:?} is not an address or a CIDR such as \"10.0.0.0/8\" or \"fd00::/8\"",
            entry.chars().take(64).collect::<String>()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(entries: &[&str]) -> Result<Vec<String>, String> {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        parse(&entries)
            .map(|nets| nets.iter().map(IpNet::to_string).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cidrs_and_single_addresses_are_accepted() {
        let nets = parsed(&[
            "10.0.0.0/8",
            " 192.0.2.7 ",
            "2001:db8::/32",
            "::1",
            "10.1.2.3/16",
        ]);
        assert_eq!(
            nets.unwrap(),
            [
                "10.0.0.0/8",
                "192.0.2.7/32",
                "2001:db8::/32",
                "::1/128",
                "10.1.0.0/16"
            ]
        );
    }

    #[test]
    fn a_bad_entry_is_refused_naming_the_key_and_the_entry() {
        for bad in ["10.0.0.0/33", "localhost", "10.0.0/8", "", "fd00::/129"] {
            let error = parsed(&["127.0.0.0/8", bad]).unwrap_err();
            assert!(error.contains("server.trusted_proxies"), "{error}");
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn the_default_is_loopback() {
        let nets = default_nets();
        assert_eq!(nets.len(), 2);
        assert!(nets
            .iter()
            .any(|n| n.contains(&"127.0.0.1".parse::<IpAddr>().unwrap())));
        assert!(nets
            .iter()
            .any(|n| n.contains(&"::1".parse::<IpAddr>().unwrap())));
    }
}
