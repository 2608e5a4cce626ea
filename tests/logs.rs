//! What the server logs when clients misbehave: malformed requests, oversized heads and
//! WebSocket protocol violations are the client's doing and never an ERROR line (ERROR
//! is for faults of the server, which an operator must act on). A page that goes away is
//! a plain close naming its member, and start-up says once where each listener listens.
//! Refusals at the connection cap are one line a second, with their count. Runs the
//! binary, as an operator does, and reads its log.

mod common;

use common::bin::{switchboard, write_config, Running, SECRETS};
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Requests no HTTP/1.1 server may accept, with the status each gets.
fn malformed() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let long = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n",
        "a".repeat(140_000)
    );
    let many: String = (0..100).map(|i| format!("X-{i}: 1\r\n")).collect();
    vec![
        ("a garbage request line", b"GARBAGE\r\n\r\n".to_vec(), "400"),
        (
            "a header without a colon",
            b"GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n".to_vec(),
            "400",
        ),
        (
            "TLS spoken to plain HTTP",
            b"\x16\x03\x01\x00\x05hello\r\n\r\n".to_vec(),
            "400",
        ),
        ("a head over 128 KiB", long.into_bytes(), "431"),
        (
            "over 96 header lines",
            format!("GET / HTTP/1.1\r\n{many}Host: x\r\n\r\n").into_bytes(),
            "431",
        ),
    ]
}

/// Sends `bytes` on a new connection and reads until the server closes it; returns what
/// came before the end (or before a reset: a server that closes with part of a request
/// unread resets the connection, and the answer may be lost with it).
async fn exchange(addr: &str, bytes: &[u8]) -> String {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    socket.write_all(bytes).await.expect("send");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match within("the server to answer and close", socket.read(&mut chunk)).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A WebSocket handshake, then a ping frame without FIN (control frames cannot be
/// fragmented, RFC 6455 §5.5); waits for the server to close.
async fn fragmented_ping(addr: &str) {
    let handshake = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let mut bytes = handshake.as_bytes().to_vec();
    bytes.extend([0x09, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
    let answer = exchange(addr, &bytes).await;
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer:.40}");
}

/// Starts the binary with `RUST_LOG` = `filter` and `vars`, makes every mistake above,
/// and returns its log up to a line logged after them all.
async fn log_after_mistakes(filter: &str, vars: &[(&str, &str)], extra: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &dir.path().join("store"), extra);
    let config = config.to_str().unwrap();
    let vars: Vec<_> = SECRETS
        .iter()
        .copied()
        .chain([("RUST_LOG", filter)])
        .chain(vars.iter().copied())
        .collect();
    let server = Running::spawn(switchboard(
        dir.path(),
        &["--config", config, "--port", "0"],
        &vars,
    ))
    .await;
    for (what, bytes, status) in malformed() {
        let answer = exchange(&server.addr, &bytes).await;
        // The head over 128 KiB is not read to its end: its 431 may be lost in a reset.
        let reset = answer.is_empty() && status == "431";
        let answered = answer.starts_with(&format!("HTTP/1.1 {status}"));
        assert!(answered || reset, "{what}: {answer:.60}");
    }
    fragmented_ping(&server.addr).await;
    // Its close is logged when the connection's task ends, which may be after the client
    // saw the socket close: awaited, as a line of its own.
    server
        .log_line("the close of the fragmented ping", |l| {
            l.contains("protocol error")
        })
        .await;
    // Each other mistake was logged before its connection closed; this line comes after all.
    let marker = Client::connect(&server.ws_url()).await;
    server
        .log_line("the marker connection", |l| l.contains("connection opened"))
        .await;
    drop(marker);
    server.log()
}

fn assert_no_error_line(log: &[String]) {
    let errors: Vec<_> = log
        .iter()
        .filter(|l| l.contains(" ERROR ") || l.contains("\"level\":\"ERROR\""))
        .collect();
    assert!(
        errors.is_empty(),
        "client mistakes logged as errors: {errors:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_logged_below_error() {
    let log = log_after_mistakes("info,actix_http=debug", &[], "").await;
    assert_no_error_line(&log);
    // They are logged, at DEBUG, for whoever asks for it.
    let debug = |needle: &str| {
        log.iter()
            .any(|l| l.contains(" DEBUG ") && l.contains(needle))
    };
    assert!(debug("request parse error"), "{log:#?}");
    // The fragmented ping is refused from its header, and said so at INFO.
    let closed = |l: &&String| l.contains(" INFO ") && l.contains("reason=\"protocol error\"");
    assert!(log.iter().any(|l| closed(&l)), "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_logs_carry_no_client_mistake_at_the_default_level() {
    let production = [("DEVELOPMENT", "false")];
    let log = log_after_mistakes("info", &production, "[server]\nbehind_proxy = true\n").await;
    assert!(
        log.iter().all(|l| l.starts_with('{')),
        "JSON lines: {log:#?}"
    );
    assert_no_error_line(&log);
    let mentions = log
        .iter()
        .filter(|l| l.contains("parse error") || l.contains("fragment"));
    assert_eq!(mentions.count(), 0, "{log:#?}");
}

/// Starts the binary on a fresh store with `RUST_LOG=info` and `extra` config.
async fn start_at_info(extra: &str) -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &dir.path().join("store"), extra);
    let config = config.to_str().unwrap().to_string();
    let args = ["--config", config.as_str(), "--port", "0"];
    let server = Running::spawn(switchboard(dir.path(), &args, &SECRETS)).await;
    (dir, server)
}

/// A member on a raw socket: attends with `invite`; returns it with its attendee id.
async fn raw_member(server: &Running, invite: &str, name: &str) -> (common::raw::Raw, String) {
    use common::raw::{Raw, TEXT};
    let addr = server.addr.parse().expect("a socket address");
    let mut raw = Raw::connect(addr).await;
    let attend = json!({"event": "attend", "id": 1, "data": attend_data(invite, None, name)});
    raw.send(true, TEXT, attend.to_string().as_bytes())
        .await
        .expect("send attend");
    let (_, reply) = raw.read_frame().await.expect("the reply to attend");
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("a JSON reply");
    assert_eq!(reply["event"], "attended", "{reply}");
    (raw, str_of(&reply["data"]["attendee"]["id"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_whose_page_went_away_are_plain_closes_that_name_them() {
    let (_dir, server) = start_at_info("").await;
    let mut owner = Client::connect(&server.ws_url()).await;
    let data = json!({"name": "Room", "attendee_name": "Owner"});
    let created = owner.ok("create", data, "created").await;
    let (wid, invite) = (
        str_of(&created["workspace"]["id"]),
        str_of(&created["workspace"]["invite"]),
    );
    // As browsers leave on a reload or a closed tab: the TCP connection just closes; a
    // close 1001 and no wait for the answer; a reset.
    let (raw, closed) = raw_member(&server, &invite, "Closed").await;
    drop(raw);
    let (mut raw, away) = raw_member(&server, &invite, "Away").await;
    let going_away = 1001u16.to_be_bytes();
    raw.send(true, common::raw::CLOSE, &going_away)
        .await
        .unwrap();
    drop(raw);
    let (raw, reset) = raw_member(&server, &invite, "Reset").await;
    // A zero linger makes the close a reset (and never blocks).
    let socket = socket2::SockRef::from(&raw.stream);
    socket.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(raw);

    for (id, reason) in [
        (closed, "client went away"),
        (away, "client going away"),
        (reset, "client went away"),
    ] {
        let attendee = format!("attendee={id}");
        let line = server
            .log_line("the close of a member", |l| {
                l.contains("connection closed") && l.contains(&attendee)
            })
            .await;
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains(&format!("reason=\"{reason}\"")), "{line}");
        assert!(line.contains(&format!("workspace={wid}")), "{line}");
    }
    let loud: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("protocol error"))
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_says_once_where_each_listener_listens() {
    let signal_fire = "[compat.signal_fire]\nenabled = true\nport = 0\n";
    let (_dir, server) = start_at_info(signal_fire).await;
    let compat = server
        .log_line("the signal-fire listener", |l| {
            l.contains("compatible endpoint listening")
        })
        .await;
    let compat_addr = compat
        .split("addr=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the listener's address");
    // Once each listener has taken a connection, each has logged what it logs at start.
    let _main = Client::connect(&server.ws_url()).await;
    let _compat = Client::connect(&format!("ws://{compat_addr}/")).await;
    for protocol in ["native", "signal_fire"] {
        let opened = format!("protocol=\"{protocol}\"");
        let what = format!("the {protocol} connection");
        server
            .log_line(&what, |l| {
                l.contains("connection opened") && l.contains(&opened)
            })
            .await;
    }

    let log = server.log();
    let framework: Vec<_> = log.iter().filter(|l| l.contains("actix_server")).collect();
    assert!(framework.is_empty(), "{framework:#?}");
    let listening: Vec<_> = log.iter().filter(|l| l.contains("listening")).collect();
    assert_eq!(listening.len(), 2, "one line per listener: {listening:#?}");
}

/// The number after `name=` in a text log line.
fn count_field(line: &str, name: &str) -> u64 {
    let at = line.find(&format!("{name}=")).expect("the field") + name.len() + 1;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_at_the_connection_cap_are_one_line_a_second_with_their_count() {
    let (_dir, server) = start_at_info("[server]\nmax_connections = 1\n").await;
    let _holds_the_cap = Client::connect(&server.ws_url()).await;
    let upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let lines = |log: Vec<String>| -> Vec<u64> {
        log.iter()
            .filter(|l| l.contains("refusing connections"))
            .map(|l| count_field(l, "refused"))
            .collect()
    };
    // A stranger retrying in a loop, until a second line has counted the refusals after
    // the first: the rule's second passes while the loop runs, not in a sleep.
    let refused = within("a second line about refusals", async {
        let mut refused = 0u64;
        while lines(server.log()).len() < 2 {
            let answer = exchange(&server.addr, upgrade.as_bytes()).await;
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer:.60}");
            refused += 1;
        }
        refused
    })
    .await;
    let counts = lines(server.log());
    assert_eq!(
        counts[0], 1,
        "the first refusal is logged at once: {counts:?}"
    );
    assert!(
        refused > 2 * counts.len() as u64,
        "{refused} refusals took {} lines",
        counts.len()
    );
    assert!(
        counts[1] > 1,
        "the second line counts those between: {counts:?}"
    );
    assert!(
        counts.iter().sum::<u64>() <= refused,
        "{counts:?} of {refused}"
    );
}
