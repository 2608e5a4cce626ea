//! What the server logs when clients misbehave: malformed requests, oversized heads and
//! WebSocket protocol violations are the client's doing and never an ERROR line (ERROR
//! is for faults of the server, which an operator must act on). Runs the binary, as an
//! operator does, and reads its log.

mod common;

use common::bin::{switchboard, write_config, Running, SECRETS};
use common::*;
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
    // Each mistake was logged before its connection closed; this line comes after all.
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
