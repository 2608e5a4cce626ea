//! Who a request comes from, for per-address limits and bans.
//!
//! Without a proxy it is the TCP peer. Behind reverse proxies the operator trusts
//! (`[server] behind_proxy` and `trusted_proxies`), the peer is one of them and the
//! client is further down the chain the proxies recorded: RFC 7239 `Forwarded` (its
//! `for=` parameters) or, without it, `X-Forwarded-For`. Each proxy appends the address
//! it received the request from, so the chain is read from the right, past our own
//! proxies, up to the first address that is none of them: that one a trusted proxy
//! wrote; everything left of it the client wrote, and it proves nothing.

use crate::config::ServerConfig;
use actix_web::http::header::{HeaderMap, FORWARDED, X_FORWARDED_FOR};
use actix_web::HttpRequest;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One entry of a forwarding chain, as a proxy wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    /// An address, its port and brackets stripped.
    Addr(IpAddr),
    /// `unknown`, an obfuscated identifier (`_hidden`, RFC 7239 §6.3), an element without
    /// `for=`, or anything else that is not an address: whoever wrote it does not say
    /// who sent them the request.
    Hidden,
}

/// The client's address: the TCP peer, unless `server.behind_proxy` is set and the peer
/// is in `server.trusted_proxies`. Then it is the rightmost hop of the `Forwarded` `for=`
/// chain (every `Forwarded` line, in order) or, when no `Forwarded` line is present, of
/// the `X-Forwarded-For` chain (every line, in order), that is not itself a trusted
/// proxy (PROTOCOL.md 1.1, "Client addresses behind a proxy").
///
/// Hops may be `ip`, `ip:port`, `[v6]` or `[v6]:port`, quoted or not. When the walk meets
/// a hidden hop (see [`Hop::Hidden`]) before an untrusted address, the client is the last
/// trusted hop passed (the peer if none): the proxy that cannot name its client stands
/// for it, so hidden clients share that proxy's limits instead of escaping them. When
/// every hop is trusted, the client is the leftmost. IPv4-mapped IPv6 addresses
/// (`::ffff:192.0.2.1`) come back as IPv4. Never fails: a request without a peer
/// address (not TCP) is `0.0.0.0`.
pub(crate) fn client_addr(req: &HttpRequest, server: &ServerConfig) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
    let trusted = |ip: IpAddr| is_trusted(ip, server);
    if !server.behind_proxy || !trusted(peer) {
        return peer;
    }
    walk(peer, &chain(req.headers()), trusted)
}

fn is_trusted(ip: IpAddr, server: &ServerConfig) -> bool {
    // An entry written as IPv4-mapped IPv6 still matches the IPv4 form we compare.
    let mapped = match ip {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        IpAddr::V6(_) => ip,
    };
    server
        .trusted_nets
        .iter()
        .any(|net| net.contains(&ip) || net.contains(&mapped))
}

/// Reads `chain` from the right; see [`client_addr`] for the rule.
fn walk(peer: IpAddr, chain: &[Hop], trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
    let mut client = peer;
    for hop in chain.iter().rev() {
        match *hop {
            Hop::Addr(ip) if trusted(ip) => client = ip,
            Hop::Addr(ip) => return ip,
            Hop::Hidden => return client,
        }
    }
    client
}

/// The hops of every `Forwarded` line in order, or, when there is none, of every
/// `X-Forwarded-For` line. Empty list elements are skipped (RFC 9110 §5.6.1).
///
/// Lines are split at every `,` and `;`, quotes or not: no valid `for=` value holds
/// either, and a stray quote from a client then spoils only its own element instead of
/// swallowing the ones our proxies appended after it.
fn chain(headers: &HeaderMap) -> Vec<Hop> {
    let lines = |name| {
        headers
            .get_all(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect::<Vec<_>>()
    };
    let forwarded = lines(FORWARDED);
    if !forwarded.is_empty() {
        return elements(&forwarded).map(forwarded_hop).collect();
    }
    elements(&lines(X_FORWARDED_FOR)).map(node).collect()
}

fn elements(lines: &[String]) -> impl Iterator<Item = &str> {
    lines
        .iter()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|element| !element.is_empty())
}

/// One `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`): its `for`.
fn forwarded_hop(element: &str) -> Hop {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
        .map_or(Hop::Hidden, |(_, value)| node(value))
}

/// A node (RFC 7239 §6): `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`,
/// `"[2001:db8::1]:4711"`; a bare `2001:db8::1` (as X-Forwarded-For writes it) too.
fn node(text: &str) -> Hop {
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    address(text).map_or(Hop::Hidden, |ip| Hop::Addr(ip.to_canonical()))
}

fn address(text: &str) -> Option<IpAddr> {
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok.then(|| v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6))?;
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let (v4, port) = text.rsplit_once(':')?;
    is_port(port).then(|| v4.parse::<Ipv4Addr>().ok().map(IpAddr::V4))?
}

/// A port number, or an obfuscated port (`_abc`, RFC 7239 §6.3).
fn is_port(text: &str) -> bool {
    text.parse::<u16>().is_ok()
        || text.strip_prefix('_').is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use proptest::prelude::*;
    use std::net::SocketAddr;

    const PROXY: &str = "10.0.0.1:40000";

    fn server(behind_proxy: bool) -> ServerConfig {
        ServerConfig {
            behind_proxy,
            trusted_nets: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            ..ServerConfig::default()
        }
    }

    /// The client of a request from `peer` with `headers` (name, value), in order.
    fn client(peer: &str, headers: &[(&str, &str)]) -> String {
        let mut req = TestRequest::default().peer_addr(peer.parse::<SocketAddr>().unwrap());
        for header in headers {
            req = req.append_header(*header);
        }
        client_addr(&req.to_http_request(), &server(true)).to_string()
    }

    #[test]
    fn every_x_forwarded_for_line_counts_and_the_rightmost_untrusted_hop_wins() {
        let forged = ("x-forwarded-for", "6.6.6.6");
        let added = ("x-forwarded-for", "203.0.113.7, 10.0.0.2");
        assert_eq!(client(PROXY, &[forged, added]), "203.0.113.7");
        let one_line = ("x-forwarded-for", "6.6.6.6, 203.0.113.7");
        assert_eq!(client(PROXY, &[one_line]), "203.0.113.7");
    }

    #[test]
    fn ports_brackets_and_quotes_are_stripped() {
        for (entry, expected) in [
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("\"[2001:db8::1]:4711\"", "2001:db8::1"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
        ] {
            assert_eq!(
                client(PROXY, &[("x-forwarded-for", entry)]),
                expected,
                "{entry}"
            );
        }
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_reads_every_line() {
        let headers = [
            ("forwarded", "for=6.6.6.6"),
            (
                "forwarded",
                "For=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.9",
            ),
            ("x-forwarded-for", "198.51.100.1"),
        ];
        assert_eq!(client(PROXY, &headers), "2001:db8:cafe::17");
        let by_first = [("forwarded", "by=10.0.0.1;for=192.0.2.60;proto=http")];
        assert_eq!(client(PROXY, &by_first), "192.0.2.60");
    }

    #[test]
    fn a_hidden_hop_stops_the_walk_at_the_proxy_that_wrote_it() {
        for hidden in ["for=unknown", "for=_hidden", "proto=https", "for=\"_x:_y\""] {
            let headers = [("forwarded", format!("for=6.6.6.6, {hidden}, for=10.0.0.9"))];
            let headers: Vec<_> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(client(PROXY, &headers), "10.0.0.9", "{hidden}");
        }
        assert_eq!(client(PROXY, &[("x-forwarded-for", "unknown")]), "10.0.0.1");
        assert_eq!(
            client(PROXY, &[("x-forwarded-for", "1.2.3.4:99999")]),
            "10.0.0.1"
        );
    }

    #[test]
    fn a_chain_of_trusted_hops_gives_the_leftmost_and_no_chain_the_peer() {
        let all_trusted = [("x-forwarded-for", "10.0.0.3, ::1, 10.0.0.2")];
        assert_eq!(client(PROXY, &all_trusted), "10.0.0.3");
        assert_eq!(client(PROXY, &[]), "10.0.0.1");
        assert_eq!(client(PROXY, &[("forwarded", "")]), "10.0.0.1");
    }

    #[test]
    fn headers_count_only_from_a_trusted_peer_behind_a_proxy() {
        let headers = [("x-forwarded-for", "203.0.113.7")];
        assert_eq!(client("192.0.2.1:5000", &headers), "192.0.2.1");
        let req = TestRequest::default()
            .peer_addr(PROXY.parse().unwrap())
            .insert_header(headers[0])
            .to_http_request();
        assert_eq!(client_addr(&req, &server(false)).to_string(), "10.0.0.1");
    }

    /// An address outside the trusted 10.0.0.0/8 and ::1.
    fn untrusted() -> impl Strategy<Value = IpAddr> {
        any::<IpAddr>().prop_filter("untrusted", |ip| {
            !is_trusted(ip.to_canonical(), &server(true))
        })
    }

    /// `ip` as some proxy might write it: bare, with a port, bracketed.
    fn written(ip: IpAddr, port: u16, style: u8) -> String {
        match (ip, style % 3) {
            (IpAddr::V4(v4), 0) | (IpAddr::V4(v4), 2) => v4.to_string(),
            (IpAddr::V4(v4), _) => format!("{v4}:{port}"),
            (IpAddr::V6(v6), 0) => v6.to_string(),
            (IpAddr::V6(v6), 1) => format!("[{v6}]:{port}"),
            (IpAddr::V6(v6), _) => format!("[{v6}]"),
        }
    }

    proptest! {
        #[test]
        fn whatever_the_client_writes_first_the_proxy_appended_address_wins(
            forged in proptest::collection::vec("[ -~]{0,40}", 0..4),
            real in untrusted(),
            port: u16,
            style: u8,
            same_line: bool,
        ) {
            let real_text = written(real, port, style);
            let mut lines: Vec<String> = forged.clone();
            match lines.last_mut() {
                Some(last) if same_line => *last = format!("{last}, {real_text}"),
                _ => lines.push(real_text),
            }
            lines.push("10.0.0.2".to_string());
            let headers: Vec<_> = lines.iter().map(|l| ("x-forwarded-for", l.as_str())).collect();
            prop_assert_eq!(client(PROXY, &headers), real.to_canonical().to_string());

            let quoted = format!("for=\"{}\";proto=https", written(real, port, style));
            let forwarded: Vec<_> = forged.iter().map(|l| ("forwarded", l.as_str()))
                .chain([("forwarded", quoted.as_str())]).collect();
            prop_assert_eq!(client(PROXY, &forwarded), real.to_canonical().to_string());
        }

        #[test]
        fn an_untrusted_peer_is_the_client_whatever_it_sends(
            peer in untrusted(),
            lines in proptest::collection::vec("[ -~]{0,40}", 0..4),
        ) {
            let peer_text = SocketAddr::new(peer, 1234).to_string();
            let headers: Vec<_> = lines.iter()
                .flat_map(|l| [("x-forwarded-for", l.as_str()), ("forwarded", l.as_str())])
                .collect();
            prop_assert_eq!(client(&peer_text, &headers), peer.to_canonical().to_string());
        }
    }
}
