//! HTTPS and WSS: the native protocol over TLS, certificates renewed on disk without a
//! restart, broken renewals ignored, and plain HTTP redirected. Certificates are made at
//! test time by a throwaway CA; `tls_errors.rs` has the files that cannot be used.

mod common;

use common::certs::{Ca, Files};
use common::*;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

async fn tls_app(files: &Files) -> TestApp {
    let (cert, key) = (files.cert.clone(), files.key.clone());
    spawn_app_with(move |c| {
        c.tls.enabled = true;
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
        c.tls.reload_secs = 1;
    })
    .await
}

type TlsSocket = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// A native-protocol client over WSS: just enough to send requests and read replies.
struct WssClient {
    socket: TlsSocket,
    next_id: u64,
}

impl WssClient {
    /// The `data` of the reply to `event`, which must be `expected`.
    async fn ok(&mut self, event: &str, data: Value, expected: &str) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let frame = json!({"event": event, "id": id, "data": data}).to_string();
        self.socket.send(Message::text(frame)).await.unwrap();
        within("the reply", async {
            loop {
                let message = self.socket.next().await.expect("open socket").unwrap();
                let Message::Text(text) = message else {
                    continue;
                };
                let reply: Value = serde_json::from_str(&text).unwrap();
                if reply["re"] == json!(id) {
                    assert_eq!(reply["event"], expected, "{reply}");
                    return reply["data"].clone();
                }
            }
        })
        .await
    }
}

/// A WSS connection; returns the client and the certificate the server presented.
async fn wss(app: &TestApp, ca: &Ca) -> (WssClient, CertificateDer<'static>) {
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = within("the TLS handshake", ca.connector().connect(name, tcp))
        .await
        .expect("TLS handshake");
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let url = format!("wss://localhost:{}/ws", app.addr.port());
    let (socket, _) = within(
        "the WebSocket upgrade",
        tokio_tungstenite::client_async(url, tls),
    )
    .await
    .expect("WebSocket upgrade over TLS");
    (WssClient { socket, next_id: 0 }, presented)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_protocol_runs_over_wss() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let leaf = ca.leaf();
    let app = tls_app(&Files::write(dir.path(), &leaf)).await;
    let (mut client, presented) = wss(&app, &ca).await;
    assert_eq!(presented, leaf.der);
    let created = client
        .ok("create", json!({"name": "Secure"}), "created")
        .await;
    assert_eq!(created["workspace"]["name"], "Secure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_serves_new_handshakes_and_old_sockets_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let (first, second) = (ca.leaf(), ca.leaf());
    let files = Files::write(dir.path(), &first);
    let app = tls_app(&files).await;
    let (mut old, presented) = wss(&app, &ca).await;
    assert_eq!(presented, first.der);
    old.ok("create", json!({}), "created").await;

    files.replace(&second);
    // The watcher looks every second: new handshakes until one shows the new certificate.
    within("a handshake with the renewed certificate", async {
        loop {
            let (_client, presented) = wss(&app, &ca).await;
            if presented == second.der {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await;
    // The connection made before the renewal still works.
    old.ok("attendees", json!({}), "attendees").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_renewal_keeps_the_old_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let leaf = ca.leaf();
    let files = Files::write(dir.path(), &leaf);
    let app = tls_app(&files).await;
    // Serving (so the files have been read) before the renewal breaks them.
    wss(&app, &ca)
        .await
        .0
        .ok("create", json!({}), "created")
        .await;
    std::fs::write(&files.cert, "-----BEGIN CERTIFICATE-----\ngarbage\n").unwrap();
    // Time itself is awaited: three reload checks pass over the broken file.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let (mut client, presented) = wss(&app, &ca).await;
    assert_eq!(presented, leaf.der, "the old certificate is still served");
    client.ok("create", json!({}), "created").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_redirects_to_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let files = Files::write(dir.path(), &ca.leaf());
    let redirect_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (cert, key) = (files.cert.clone(), files.key.clone());
    let app = spawn_app_with(move |c| {
        c.tls.enabled = true;
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
        c.tls.redirect_port = redirect_port;
    })
    .await;
    // Serving over TLS means both listeners are up.
    wss(&app, &ca)
        .await
        .0
        .ok("create", json!({}), "created")
        .await;
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("http://localhost:{redirect_port}/join?invite=abc");
    let response = within("the redirect", no_follow.get(url).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    let location = response.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!("https://localhost:{}/join?invite=abc", app.addr.port())
    );
}
