//! Client addresses behind a reverse proxy (PROTOCOL.md 1.1): with `behind_proxy`, a
//! request from a trusted proxy is counted under the address the proxies vouch for, the
//! rightmost untrusted hop of `Forwarded` or of every `X-Forwarded-For` line; whatever
//! the client wrote itself is not believed. The per-IP `create` limit makes the address
//! visible. The test client connects from 127.0.0.1, a trusted proxy by default.

mod common;

use common::*;
use serde_json::json;

/// A new connection through the "proxy" with `headers`; the code of its `create`'s
/// alert, or `None` when it created a workspace.
async fn create_through(app: &TestApp, headers: &[(&str, &str)]) -> Option<String> {
    let mut client = Client::connect_with_headers(&app.ws_url, headers).await;
    let frame = client.request("create", json!({})).await;
    (frame["event"] != "created").then(|| alert_code(&frame))
}

async fn proxied_app(creates_per_minute: u32) -> TestApp {
    spawn_app_with(move |c| {
        c.server.behind_proxy = true;
        c.limits.creates_per_minute = creates_per_minute;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_first_x_forwarded_for_line_does_not_escape_the_create_limit() {
    let app = proxied_app(2).await;
    for forged in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        // The client sends its own line; the proxy adds the address it saw as a second.
        let headers = [
            ("X-Forwarded-For", forged),
            ("X-Forwarded-For", "203.0.113.7"),
        ];
        let refused = create_through(&app, &headers).await;
        if forged.ends_with('3') {
            assert_eq!(refused.as_deref(), Some("rate_limited"), "the third create");
        } else {
            assert_eq!(refused, None, "create {forged}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_written_with_ports_or_brackets_get_their_own_buckets() {
    let app = proxied_app(1).await;
    let ada = [("X-Forwarded-For", "203.0.113.7:5000")];
    let bob = [("Forwarded", "for=\"[2001:db8::b0b]:4711\";proto=https")];
    assert_eq!(create_through(&app, &ada).await, None, "Ada's first create");
    assert_eq!(create_through(&app, &bob).await, None, "Bob's first create");
    let ada_again = [("X-Forwarded-For", "203.0.113.7:6000")];
    let bob_again = [("Forwarded", "for=\"[2001:db8::b0b]\"")];
    assert_eq!(
        create_through(&app, &ada_again).await.as_deref(),
        Some("rate_limited")
    );
    assert_eq!(
        create_through(&app, &bob_again).await.as_deref(),
        Some("rate_limited")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_app_with(|c| {
        c.server.behind_proxy = true;
        c.server.trusted_proxies = vec!["192.0.2.0/24".into()];
        c.limits.creates_per_minute = 1;
    })
    .await;
    let first = [("X-Forwarded-For", "203.0.113.7")];
    let second = [("X-Forwarded-For", "203.0.113.8")];
    assert_eq!(create_through(&app, &first).await, None);
    // Both come from 127.0.0.1, which is not a trusted proxy here: one address.
    assert_eq!(
        create_through(&app, &second).await.as_deref(),
        Some("rate_limited")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_trusted_proxies_entry_stops_the_server_naming_it() {
    let mut app = spawn_app_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.0/8".into(), "10.0.0.0/33".into()];
    })
    .await;
    let handle = app.handle.take().expect("run's join handle");
    let result = within("run to give up", handle).await.expect("run task");
    let error = result
        .expect_err("the server must refuse to start")
        .to_string();
    assert!(error.contains("server.trusted_proxies"), "{error}");
    assert!(error.contains("10.0.0.0/33"), "{error}");
}
