//! ICE servers from Twilio, through a loopback server that answers as Twilio documents
//! (`POST /2010-04-01/Accounts/{sid}/Tokens.json`, 201 with `ice_servers` and a string
//! `ttl`), and misbehaves on request: 401, 500, garbage, or no answer at all.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use switchboard::config::{Provider, Providers, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token-for-tests";

#[derive(Clone, Copy)]
enum Behaviour {
    Created { ttl: u64 },
    Status(u16),
    Garbage,
    Hang,
}

/// What the stand-in received, one entry per upstream call.
#[derive(Debug, Clone)]
struct Call {
    request_line: String,
    authorization: String,
    body: String,
}

struct Stub {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Stub {
    async fn start(behaviour: Behaviour) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(answer(conn, behaviour, seen.clone()));
            }
        });
        Stub { url, calls }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

async fn answer(mut conn: TcpStream, behaviour: Behaviour, calls: Arc<Mutex<Vec<Call>>>) {
    let Some(call) = read_request(&mut conn).await else {
        return;
    };
    calls.lock().unwrap().push(call);
    let (status, body) = match behaviour {
        Behaviour::Created { ttl } => (201, created_body(ttl)),
        Behaviour::Status(code) => (code, r#"{"code":20003,"message":"Authenticate"}"#.into()),
        Behaviour::Garbage => (201, "<html>surprise</html>".into()),
        Behaviour::Hang => return std::future::pending().await,
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes()).await;
}

async fn read_request(conn: &mut TcpStream) -> Option<Call> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Call {
        request_line: head.lines().next().unwrap_or_default().to_string(),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&buf[head_end..]).to_string(),
    })
}

/// The shape of Twilio's documented Token resource.
fn created_body(ttl: u64) -> String {
    json!({
        "account_sid": SID,
        "date_created": "Fri, 20 Nov 2026 10:00:00 +0000",
        "date_updated": "Fri, 20 Nov 2026 10:00:00 +0000",
        "ice_servers": [
            {"url": "stun:global.stun.twilio.com:3478", "urls": "stun:global.stun.twilio.com:3478"},
            {"url": "turn:global.turn.twilio.com:3478?transport=udp",
             "urls": "turn:global.turn.twilio.com:3478?transport=udp",
             "username": "twilio-user", "credential": "twilio-pass"},
        ],
        "password": "twilio-pass",
        "ttl": ttl.to_string(),
        "username": "twilio-user",
    })
    .to_string()
}

async fn app_with_twilio(stub: &Stub, providers: Vec<Provider>) -> TestApp {
    let url = stub.url.clone();
    spawn_app_with(move |c| {
        c.ice.provider = Providers::Many(providers);
        c.ice.twilio_base_url = url;
        c.ice.twilio_ttl_secs = 3600;
        c.workspace.max_capacity = 11;
        c.secrets.twilio_sid = Some(Secret::new(SID));
        c.secrets.twilio_token = Some(Secret::new(AUTH_TOKEN));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_is_the_one_twilio_documents() {
    let stub = Stub::start(Behaviour::Created { ttl: 3600 }).await;
    let app = app_with_twilio(&stub, vec![Provider::Twilio]).await;
    let mut owner = app.create_workspace(None).await;
    let reply = owner.client.ok("iceservers", json!({}), "iceservers").await;

    let calls = stub.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(
        call.request_line,
        format!("POST /2010-04-01/Accounts/{SID}/Tokens.json HTTP/1.1")
    );
    let basic = base64_encode(&format!("{SID}:{AUTH_TOKEN}"));
    assert_eq!(call.authorization, format!("Basic {basic}"));
    assert_eq!(call.body, "Ttl=3600");

    let turn = &reply["ice_servers"][1];
    assert_eq!(
        turn["urls"],
        json!(["turn:global.turn.twilio.com:3478?transport=udp"])
    );
    assert_eq!(turn["username"], "twilio-user");
    assert_eq!(turn["credential"], "twilio-pass");
    assert!(reply["ice_servers"][0].get("username").is_none(), "{reply}");
    let ttl = reply["ttl"].as_u64().unwrap();
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_members_at_once_cost_one_upstream_call() {
    let stub = Stub::start(Behaviour::Created { ttl: 3600 }).await;
    let app = app_with_twilio(&stub, vec![Provider::Twilio]).await;
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let (owner, attendees) = app.workspace_with(names).await;
    let mut members: Vec<Member> = std::iter::once(owner).chain(attendees).collect();
    let replies = futures_util::future::join_all(
        members
            .iter_mut()
            .map(|m| m.client.ok("iceservers", json!({}), "iceservers")),
    )
    .await;
    assert_eq!(replies.len(), 10);
    assert_eq!(stub.calls().len(), 1, "one upstream call for ten members");
    for reply in &replies {
        assert_eq!(reply["ice_servers"], replies[0]["ice_servers"]);
    }
    // Still cached for the next asker, over HTTP too.
    let http = http_ice(&app, &members[3].token).await;
    assert_eq!(http["ice_servers"], replies[0]["ice_servers"]);
    assert_eq!(stub.calls().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_past_half_its_ttl_is_refreshed() {
    let stub = Stub::start(Behaviour::Created { ttl: 2 }).await;
    let app = app_with_twilio(&stub, vec![Provider::Twilio]).await;
    let mut owner = app.create_workspace(None).await;
    owner.client.ok("iceservers", json!({}), "iceservers").await;
    owner.client.ok("iceservers", json!({}), "iceservers").await;
    assert_eq!(stub.calls().len(), 1);
    // Time itself is awaited: half of Twilio's 2 s ttl.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    owner.client.ok("iceservers", json!({}), "iceservers").await;
    assert_eq!(stub.calls().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_twilio_gives_unavailable_and_hurts_nothing_else() {
    for behaviour in [
        Behaviour::Status(401),
        Behaviour::Status(500),
        Behaviour::Garbage,
    ] {
        let stub = Stub::start(behaviour).await;
        let app = app_with_twilio(&stub, vec![Provider::Twilio]).await;
        let mut owner = app.create_workspace(None).await;
        assert_eq!(
            owner.client.alert("iceservers", json!({})).await,
            "unavailable"
        );
        // The connection and the workspace carry on.
        owner.client.ok("attendees", json!({}), "attendees").await;
        let status = reqwest::Client::new()
            .get(format!("{}/iceservers", app.http_url))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 503);
        assert_eq!(
            stub.calls().len(),
            2,
            "each ask tries again: no failure is cached"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_twilio_times_out_as_unavailable() {
    let stub = Stub::start(Behaviour::Hang).await;
    let app = app_with_twilio(&stub, vec![Provider::Twilio]).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let (code, relayed) = tokio::join!(owner.client.alert("iceservers", json!({})), async {
        // Meanwhile the room works: signals still flow.
        let candidate = json!({"to": owner_id(&ada), "candidate": {"c": 1}});
        ada.client.ok("icecandidate", candidate, "sent").await
    });
    assert_eq!(code, "unavailable");
    assert_eq!(relayed, json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_stun_configured_a_failure_falls_back_to_stun() {
    let stub = Stub::start(Behaviour::Status(500)).await;
    let app = app_with_twilio(&stub, vec![Provider::Twilio, Provider::Stun]).await;
    let mut owner = app.create_workspace(None).await;
    let reply = owner.client.ok("iceservers", json!({}), "iceservers").await;
    let stun = &app.config.ice.stun_urls;
    assert_eq!(reply["ice_servers"], json!([{"urls": stun}]));
}

fn owner_id(member: &Member) -> String {
    str_of(&member.workspace["owner"])
}

async fn http_ice(app: &TestApp, token: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}/iceservers", app.http_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
