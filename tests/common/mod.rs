//! The one harness every integration test uses (zero2prod's `tests/api/helpers.rs`):
//! it starts the real server in-process on 127.0.0.1:0 with a known secret, and hands
//! out typed WebSocket clients that speak the native protocol.
//!
//! Every wait is bounded by [`WAIT`]; a test that waits longer fails with a message
//! naming what it was waiting for. Nothing here sleeps in place of an awaited event.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod bin;
pub mod certs;
mod client;
pub mod raw;
pub mod redis;
mod setup;
pub mod store;
pub mod tolerant;

pub use client::Client;
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
pub use switchboard::clock::Clock;
use switchboard::config::Secret;
use switchboard::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The HS256 key every test server signs with; tests forge tokens with it.
pub const SECRET: &str = "integration-test-secret-0123456789-abcdefghij";
pub const SALT: &str = "integration-test-salt-0123456789";
/// The bound on every wait for the server.
pub const WAIT: Duration = Duration::from_secs(10);

/// Fails the test with `what` when `fut` does not finish within [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    within_for(WAIT, what, fut).await
}

pub async fn within_for<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub ws_url: String,
    pub http_url: String,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    pub handle: Option<JoinHandle<Result<(), switchboard::RunError>>>,
    /// The temporary store of [`spawn_app_with`]; `None` when the test owns the directory.
    data_dir: Option<tempfile::TempDir>,
}

/// Starts a server with the defaults of PROTOCOL.md.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `mutate` has adjusted the configuration.
pub async fn spawn_app_with(mutate: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let mut app = spawn_app_in(data_dir.path(), mutate).await;
    app.data_dir = Some(data_dir);
    app
}

/// Starts a server whose workspaces read their time from `clock`: the test moves it
/// ahead (`Clock::advance`) instead of waiting out a ttl.
pub async fn spawn_app_with_clock(clock: Clock, mutate: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let mut app = spawn_app_at(data_dir.path(), clock, mutate).await;
    app.data_dir = Some(data_dir);
    app
}

/// Starts a server whose `storage.path` is `dir`, which the test owns: a later server
/// on the same `dir` finds what this one stored.
pub async fn spawn_app_in(dir: &Path, mutate: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_at(dir, Clock::system(), mutate).await
}

async fn spawn_app_at(dir: &Path, clock: Clock, mutate: impl FnOnce(&mut Config)) -> TestApp {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("local address of the listener");
    let mut config = Config::default();
    config.server.host = Some("127.0.0.1".into());
    config.server.port = addr.port();
    config.server.development = true;
    config.server.workers = 2;
    config.storage.path = dir.to_path_buf();
    config.secrets.jwt = Some(Secret::new(SECRET));
    config.secrets.salt = Some(Secret::new(SALT));
    mutate(&mut config);

    let (trigger, stop) = oneshot::channel::<()>();
    // Dropping the TestApp drops `trigger`, which stops the server too.
    let shutdown = async move {
        let _ = stop.await;
    };
    // The server gets its own runtime on its own thread: a server that blocks its
    // threads cannot starve the test's clients (or their timeouts), and the test
    // runtime's flavour does not matter.
    let (done, result) = oneshot::channel();
    let server_config = config.clone();
    std::thread::Builder::new()
        .name("switchboard-under-test".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the server's runtime");
            let served =
                switchboard::server::run_with_clock(server_config, listener, shutdown, clock);
            let _ = done.send(runtime.block_on(served));
        })
        .expect("the server's thread");
    let handle = tokio::spawn(async move {
        result
            .await
            .expect("the server's thread ended without a result (it panicked)")
    });
    TestApp {
        addr,
        ws_url: format!("ws://{addr}/ws"),
        http_url: format!("http://{addr}"),
        config,
        shutdown: Some(trigger),
        handle: Some(handle),
        data_dir: None,
    }
}

impl TestApp {
    pub async fn client(&self) -> Client {
        Client::connect(&self.ws_url).await
    }

    /// A client from the loopback address 127.0.0.`n`, a client address of its own.
    pub async fn client_from(&self, n: u8) -> Client {
        Client::connect_from(&self.ws_url, std::net::IpAddr::from([127, 0, 0, n])).await
    }

    /// Resolves the `shutdown` future given to `run`.
    pub fn trigger_shutdown(&mut self) {
        if let Some(trigger) = self.shutdown.take() {
            let _ = trigger.send(());
        }
    }

    /// A new connection that creates a workspace (`pin` as given) and is its owner.
    pub async fn create_workspace(&self, pin: Option<&str>) -> Member {
        let mut client = self.client().await;
        let mut data = json!({"name": "Test room", "attendee_name": "Owner"});
        if let Some(pin) = pin {
            data["pin"] = json!(pin);
        }
        let reply = client.ok("create", data, "created").await;
        Member::new(client, reply)
    }

    /// A new connection that attends with `invite`; panics unless it is `attended`.
    pub async fn attend(&self, invite: &str, pin: Option<&str>, name: &str) -> Member {
        let mut client = self.client().await;
        let reply = client
            .ok("attend", attend_data(invite, pin, name), "attended")
            .await;
        Member::new(client, reply)
    }

    /// A new connection that tries to attend; returns it with the whole reply frame.
    pub async fn try_attend(&self, invite: &str, pin: Option<&str>, name: &str) -> (Client, Value) {
        let mut client = self.client().await;
        let frame = client
            .request("attend", attend_data(invite, pin, name))
            .await;
        (client, frame)
    }

    /// A new connection that re-attends with `token`; returns it with the reply frame.
    pub async fn try_re_attend(&self, token: &str) -> (Client, Value) {
        let mut client = self.client().await;
        let frame = client.request("re-attend", json!({ "token": token })).await;
        (client, frame)
    }
}

pub fn attend_data(invite: &str, pin: Option<&str>, name: &str) -> Value {
    let mut data = json!({"invite": invite, "name": name});
    if let Some(pin) = pin {
        data["pin"] = json!(pin);
    }
    data
}

/// A connection bound to a membership, with what `created`/`attended` told it.
pub struct Member {
    pub client: Client,
    /// The whole `data` of the `created`, `attended` or `re-attended` reply.
    pub reply: Value,
    pub workspace: Value,
    pub attendee: Value,
    pub token: String,
}

impl Member {
    pub fn new(client: Client, reply: Value) -> Member {
        let token = reply["token"]
            .as_str()
            .unwrap_or_else(|| panic!("reply without a token: {reply}"))
            .to_string();
        Member {
            client,
            workspace: reply["workspace"].clone(),
            attendee: reply["attendee"].clone(),
            token,
            reply,
        }
    }

    pub fn id(&self) -> String {
        str_of(&self.attendee["id"])
    }

    pub fn workspace_id(&self) -> String {
        str_of(&self.workspace["id"])
    }

    pub fn invite(&self) -> String {
        str_of(&self.workspace["invite"])
    }
}

pub fn str_of(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_string()
}

/// The `code` of an alert frame; panics when `frame` is not an alert.
pub fn alert_code(frame: &Value) -> String {
    assert_eq!(frame["event"], "alert", "expected an alert, got {frame}");
    assert!(
        frame["data"]["message"].is_string(),
        "an alert names a message: {frame}"
    );
    str_of(&frame["data"]["code"])
}

/// Decodes a token signed with [`SECRET`] without checking `exp`, for asserting claims.
pub fn claims(token: &str) -> Value {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    decode::<Value>(
        token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .unwrap_or_else(|e| panic!("token does not verify with the test secret: {e}"))
    .claims
}

/// Asserts that `id` has the documented shape: `_` plus 10 of `[A-Za-z0-9]`.
pub fn assert_id(id: &Value) {
    let id = str_of(id);
    assert_eq!(id.len(), 11, "id {id:?} is `_` plus 10 characters");
    assert!(id.starts_with('_'), "id {id:?} starts with _");
    assert!(
        id[1..].chars().all(|c| c.is_ascii_alphanumeric()),
        "id {id:?} is alphanumeric after _"
    );
}

/// The attendee ids of an `attendees` array, in order.
pub fn ids_of(attendees: &Value) -> Vec<String> {
    attendees
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of attendees, got {attendees}"))
        .iter()
        .map(|a| str_of(&a["id"]))
        .collect()
}

/// The attendee with `id` in an `attendees` array.
pub fn find<'a>(attendees: &'a Value, id: &str) -> &'a Value {
    attendees
        .as_array()
        .and_then(|list| list.iter().find(|a| a["id"] == id))
        .unwrap_or_else(|| panic!("no attendee {id} in {attendees}"))
}
