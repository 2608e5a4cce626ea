//! The plain HTTP routes: health, the page at `/` and `public_dir` (found beside its
//! config file), the SDK compiled into the binary, `GET /iceservers`, `GET /invite-info`,
//! and CORS for the pages of `allowed_origins`.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.http_url));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    within(&format!("GET {path}"), request.send())
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

async fn assert_unauthorized(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["code"].is_string(), "{what}: {body}");
    assert!(body["message"].is_string(), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_ok() {
    let app = spawn_app().await;
    let response = get(&app, "/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_serves_a_page() {
    let app = spawn_app().await;
    let response = get(&app, "/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("a body");
    assert!(!body.trim().is_empty(), "the page has content");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_serves_the_public_dir_when_configured() {
    let dir = tempfile::tempdir().expect("temporary public dir");
    let page = "<!doctype html><title>demo</title><p>switchboard demo page</p>";
    std::fs::write(dir.path().join("index.html"), page).expect("write index.html");
    let public = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| c.server.public_dir = Some(public)).await;
    let response = get(&app, "/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .text()
        .await
        .expect("a body")
        .contains("switchboard demo page"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceservers_over_http_matches_the_websocket_reply() {
    let urls = vec!["stun:stun.example.net:3478".to_string()];
    let configured = urls.clone();
    let app = spawn_app_with(move |c| c.ice.stun_urls = configured).await;
    let mut owner = app.create_workspace(None).await;
    let response = get(&app, "/iceservers", Some(&owner.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["ice_servers"], json!([{ "urls": urls }]), "{body}");
    assert!(body["ttl"].is_u64(), "{body}");

    let over_ws = owner.client.ok("iceservers", json!({}), "iceservers").await;
    assert_eq!(body, over_ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceservers_over_http_needs_a_live_session_token() {
    let app = spawn_app().await;
    let owner = app.create_workspace(None).await;
    let mut ada = app.attend(&owner.invite(), None, "Ada").await;

    assert_unauthorized(get(&app, "/iceservers", None).await, "no token").await;
    let garbage = get(&app, "/iceservers", Some("garbage")).await;
    assert_unauthorized(garbage, "garbage").await;
    let invite = get(&app, "/iceservers", Some(&owner.invite())).await;
    assert_unauthorized(invite, "an invite").await;
    let basic = reqwest::Client::new()
        .get(format!("{}/iceservers", app.http_url))
        .basic_auth("user", Some(owner.token.as_str()))
        .send();
    let basic = within("GET /iceservers", basic).await.expect("response");
    assert_unauthorized(basic, "basic auth").await;

    // Ada's token works until she leaves.
    let response = get(&app, "/iceservers", Some(&ada.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    ada.client.ok("leave", json!({}), "left").await;
    let gone = get(&app, "/iceservers", Some(&ada.token)).await;
    assert_unauthorized(gone, "a token whose membership is gone").await;
}

/// `HEAD path` answers what `GET path` does, status and headers, without a body.
async fn assert_head_matches_get(app: &TestApp, path: &str, bearer: Option<&str>) -> StatusCode {
    let got = get(app, path, bearer).await;
    let mut head = reqwest::Client::new().head(format!("{}{path}", app.http_url));
    if let Some(token) = bearer {
        head = head.bearer_auth(token);
    }
    let head = within(&format!("HEAD {path}"), head.send())
        .await
        .unwrap_or_else(|e| panic!("HEAD {path}: {e}"));
    assert_eq!(head.status(), got.status(), "HEAD {path}");
    let headers = |r: &reqwest::Response| {
        let mut all: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_string()))
            .collect();
        all.sort();
        all
    };
    assert_eq!(headers(&head), headers(&got), "HEAD {path}");
    let status = got.status();
    let body = head.bytes().await.expect("HEAD's (empty) body");
    assert!(body.is_empty(), "HEAD {path} sent a body: {body:?}");
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_get_route_answers_head_alike_without_a_body() {
    let dir = tempfile::tempdir().expect("temporary public dir");
    std::fs::write(dir.path().join("index.html"), "<!doctype html><p>demo").unwrap();
    std::fs::write(dir.path().join("app.js"), "export const x = 1;\n").unwrap();
    let public = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| c.server.public_dir = Some(public)).await;
    let owner = app.create_workspace(None).await;
    for (path, bearer, status) in [
        ("/", None, StatusCode::OK),
        ("/index.html", None, StatusCode::OK),
        ("/app.js", None, StatusCode::OK),
        ("/missing.js", None, StatusCode::NOT_FOUND),
        ("/switchboard.js", None, StatusCode::OK),
        ("/sdk/outbox.js", None, StatusCode::OK),
        ("/healthz", None, StatusCode::OK),
        ("/iceservers", Some(owner.token.as_str()), StatusCode::OK),
        ("/iceservers", None, StatusCode::UNAUTHORIZED),
        (
            "/invite-info?invite=garbage",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ("/ws", None, StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(
            assert_head_matches_get(&app, path, bearer).await,
            status,
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_answers_head_too() {
    let app = spawn_app().await;
    let status = assert_head_matches_get(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_never_upgrades_to_a_websocket() {
    let app = spawn_app().await;
    let head = reqwest::Client::new()
        .head(format!("{}/ws", app.http_url))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send();
    let head = within("HEAD /ws", head).await.expect("a response");
    // What a GET /ws that asks for no upgrade gets.
    assert_eq!(head.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/healthz", None).await.status(), StatusCode::OK);
}

/// `GET /invite-info?invite=…` from the loopback address 127.0.0.`from`: the status and
/// the JSON body.
async fn invite_info(app: &TestApp, invite: &str, from: u8) -> (StatusCode, Value) {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, from]))
        .build()
        .expect("an HTTP client");
    let url = format!("{}/invite-info?invite={invite}", app.http_url);
    let response = within("GET /invite-info", client.get(url).send())
        .await
        .expect("GET /invite-info");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// The answer to a dead invite: `status`, and the error body every HTTP route answers
/// with the code `attend` gives for the same invite.
async fn assert_dead(app: &TestApp, invite: &str, status: StatusCode, code: &str) {
    let (got, body) = invite_info(app, invite, 1).await;
    assert_eq!(got, status, "{code}: {body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    let (_, attend) = app.try_attend(invite, None, "Eve").await;
    assert_eq!(alert_code(&attend), code, "attend refuses it alike");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_info_names_the_workspace_and_whether_it_asks_for_a_pin() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(Some("4711")).await;
    let (status, body) = invite_info(&app, &owner.invite(), 1).await;
    assert_eq!(status, StatusCode::OK);
    let expected =
        json!({"workspace_id": owner.workspace_id(), "name": "Test room", "pin_required": true});
    assert_eq!(body, expected, "nothing but these three");

    let data = json!({ "pin": null });
    owner.client.ok("set-pin", data, "pin-set").await;
    let (_, body) = invite_info(&app, &owner.invite(), 1).await;
    assert_eq!(body["pin_required"], false, "{body}");
    // The look-up joined nobody.
    let listed = owner.client.ok("attendees", json!({}), "attendees").await;
    assert_eq!(ids_of(&listed["attendees"]), vec![owner.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_info_says_why_an_invite_leads_nowhere() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let old = owner.invite();
    let rotated = owner
        .client
        .ok("rotate-invite", json!({}), "invite-rotated")
        .await;
    assert_dead(&app, &old, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let new = str_of(&rotated["invite"]);
    assert_eq!(invite_info(&app, &new, 1).await.0, StatusCode::OK);

    assert_dead(&app, "garbage", StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_dead(
        &app,
        &owner.token,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let (iat, exp) = (unix_secs() - 7200, unix_secs() - 3600);
    let claims =
        json!({"typ": "invite", "wid": owner.workspace_id(), "ver": 1, "iat": iat, "exp": exp});
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("an expired invite");
    assert_dead(&app, &expired, StatusCode::UNAUTHORIZED, "expired_token").await;

    owner.client.ok("destroy", json!({}), "destroyed").await;
    assert_dead(&app, &new, StatusCode::NOT_FOUND, "workspace_not_found").await;

    let response = get(&app, "/invite-info", None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["code"], "bad_request", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_info_is_limited_per_client_address() {
    let clock = Clock::system();
    let app = spawn_app_with_clock(clock.clone(), |c| {
        c.limits.requests_per_second = 1;
        c.limits.request_burst = 3;
    })
    .await;
    let owner = app.create_workspace(None).await;
    // Look-ups of bad invites count too (each costs a signature check), and a limited
    // one is refused before its invite is looked at. The bucket refills at one a
    // second, so a slow machine may get more than the burst served; never fewer.
    let mut answered = 0;
    let (status, body) = loop {
        let (status, body) = invite_info(&app, "garbage", 1).await;
        if status != StatusCode::UNAUTHORIZED {
            break (status, body);
        }
        answered += 1;
        assert!(answered < 50, "never limited");
    };
    assert!(answered >= 3, "the burst was answered first ({answered})");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert!(body["message"].is_string(), "{body}");

    let invite = owner.invite();
    assert_eq!(
        invite_info(&app, &invite, 2).await.0,
        StatusCode::OK,
        "another address"
    );
    clock.advance(std::time::Duration::from_secs(10));
    assert_eq!(
        invite_info(&app, &invite, 1).await.0,
        StatusCode::OK,
        "refilled"
    );
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// `GET path` with extra request headers; `method` for the preflights.
async fn request(
    base: &str,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    within(&format!("{path} with {headers:?}"), request.send())
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_is_served_without_a_public_dir() {
    let app = spawn_app().await;
    assert!(app.config.server.public_dir.is_none());
    for (path, wanted) in [
        ("/switchboard.js", "export * from './sdk/index.js'"),
        ("/sdk/index.js", "export { Switchboard }"),
        ("/sdk/switchboard.js", "export class Switchboard"),
        ("/sdk/session.js", "export class SwitchboardError"),
        ("/sdk/call.js", "export class Call"),
    ] {
        let response = get(&app, path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = header(&response, "content-type");
        assert_eq!(
            content_type,
            Some("text/javascript; charset=utf-8"),
            "{path}"
        );
        assert_eq!(
            header(&response, "cache-control"),
            Some("no-cache"),
            "{path}"
        );
        let etag = header(&response, "etag").expect("an ETag").to_string();
        assert!(response.text().await.unwrap().contains(wanted), "{path}");
        // Revalidating an unchanged file costs no body.
        let again = [("If-None-Match", etag.as_str())];
        let cached = request(&app.http_url, reqwest::Method::GET, path, &again).await;
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let missing = get(&app, "/sdk/nothing.js", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

const ALLOWED: &str = "https://app.example.com";
const FOREIGN: &str = "https://elsewhere.example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_iceservers_and_invite_info_allow_the_allowed_origins_only() {
    let app = spawn_app_with(|c| c.server.allowed_origins = vec![ALLOWED.into()]).await;
    let owner = app.create_workspace(None).await;
    let bearer = format!("Bearer {}", owner.token);
    let get_from = |origin: &'static str, path: &str| {
        let headers = [("Origin", origin), ("Authorization", bearer.as_str())];
        let (url, path) = (app.http_url.clone(), path.to_owned());
        async move { request(&url, reqwest::Method::GET, &path, &headers).await }
    };
    let invite = owner.workspace["invite"].as_str().unwrap();
    let invite_info = format!("/invite-info?invite={invite}");
    for path in [
        "/switchboard.js",
        "/sdk/membership.js",
        "/iceservers",
        &invite_info,
    ] {
        let allowed = get_from(ALLOWED, path).await;
        assert_eq!(allowed.status(), StatusCode::OK, "{path}");
        let reflected = header(&allowed, "access-control-allow-origin");
        assert_eq!(reflected, Some(ALLOWED), "{path} from {ALLOWED}");
        assert_eq!(header(&allowed, "vary"), Some("Origin"), "{path}");
        let foreign = get_from(FOREIGN, path).await;
        let reflected = header(&foreign, "access-control-allow-origin");
        assert_eq!(reflected, None, "{path} from {FOREIGN}");
    }
    // The token goes in a header: the browser asks first.
    let preflight = |origin: &'static str| {
        let headers = [
            ("Origin", origin),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ];
        let url = app.http_url.clone();
        async move { request(&url, reqwest::Method::OPTIONS, "/iceservers", &headers).await }
    };
    let allowed = preflight(ALLOWED).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let headers = header(&allowed, "access-control-allow-headers").unwrap_or_default();
    assert!(
        headers.to_ascii_lowercase().contains("authorization"),
        "{headers}"
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("GET"), "{methods}");
    let foreign = preflight(FOREIGN).await;
    assert_eq!(header(&foreign, "access-control-allow-origin"), None);
    assert_eq!(header(&foreign, "access-control-allow-headers"), None);
}

/// A config file in `dir` with `public_dir = "{public_dir}"`.
fn config_with_public_dir(dir: &std::path::Path, public_dir: &str) -> std::path::PathBuf {
    let extra = format!("[server]\npublic_dir = \"{public_dir}\"\n");
    common::bin::write_config(dir, &dir.join("store"), &extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_public_dir_is_found_beside_its_config_file_from_any_cwd() {
    let deployed = tempfile::tempdir().unwrap();
    std::fs::create_dir(deployed.path().join("public")).unwrap();
    let page = "<!doctype html><p>the demo app beside the config</p>";
    std::fs::write(deployed.path().join("public/index.html"), page).unwrap();
    let config = config_with_public_dir(deployed.path(), "public");
    let elsewhere = tempfile::tempdir().unwrap();

    let server = common::bin::Running::start(elsewhere.path(), &config).await;
    let base = format!("http://{}", server.addr);
    let root = request(&base, reqwest::Method::GET, "/", &[]).await;
    assert_eq!(root.status(), StatusCode::OK);
    assert!(root.text().await.unwrap().contains("beside the config"));
    let sdk = request(&base, reqwest::Method::GET, "/switchboard.js", &[]).await;
    assert_eq!(sdk.status(), StatusCode::OK);
    let warned = server.log().into_iter().any(|l| l.contains("public_dir"));
    assert!(!warned, "{:#?}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_public_dir_is_warned_of_at_start() {
    let deployed = tempfile::tempdir().unwrap();
    let config = config_with_public_dir(deployed.path(), "public");
    let server = common::bin::Running::start(deployed.path(), &config).await;
    let missing = deployed.path().join("public").display().to_string();
    let warning = server
        .log_line("the public_dir warning", |l| l.contains("public_dir"))
        .await;
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(warning.contains(&missing), "names {missing}: {warning}");
}
