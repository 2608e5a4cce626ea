//! PIN guessing as an attacker does it: in parallel, from many addresses, and with a
//! flood of wrong PINs meant to delay everyone else's hashing. Every limit is reserved
//! before the hash is computed (PROTOCOL.md 1.1, "PIN checks").

mod common;

use common::*;
use futures_util::future::join_all;
use serde_json::{json, Value};

const PIN: &str = "24680";

/// Sends an attend with `pin` from each client at once; returns the alert codes (or
/// `attended`) in the clients' order.
async fn attend_all(clients: &mut [Client], invite: &str, pin: &str) -> Vec<String> {
    for client in clients.iter_mut() {
        let data = attend_data(invite, Some(pin), "Guess");
        client
            .send(json!({"event": "attend", "id": 1, "data": data}))
            .await;
    }
    let mut codes = Vec::new();
    for client in clients.iter_mut() {
        let frame = client.recv_frame("the answer to attend").await;
        codes.push(outcome(&frame));
    }
    codes
}

fn outcome(frame: &Value) -> String {
    match frame["event"].as_str() {
        Some("attended") => "attended".into(),
        _ => alert_code(frame),
    }
}

fn count(codes: &[String], code: &str) -> usize {
    codes.iter().filter(|c| *c == code).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_from_one_address_never_exceed_the_lockout() {
    let app = spawn_app_with(|c| c.limits.pin_checks_per_ip = 100).await;
    let owner = app.create_workspace(Some(PIN)).await;
    let invite = owner.invite();
    let mut guessers = join_all((0..30).map(|_| app.client_from(40))).await;
    let codes = attend_all(&mut guessers, &invite, "00000").await;
    // 30 guesses at once, and only the 5 of `pin_failures` were checked.
    assert_eq!(count(&codes, "wrong_pin"), 5, "{codes:?}");
    assert_eq!(count(&codes, "rate_limited"), 25, "{codes:?}");
    // The right PIN is locked out too, for this address only.
    let right = attend_data(&invite, Some(PIN), "Ada");
    assert_eq!(
        app.client_from(40).await.alert("attend", right).await,
        "rate_limited"
    );
    app.client_from(41)
        .await
        .ok("attend", attend_data(&invite, Some(PIN), "Bea"), "attended")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_address_has_few_pin_checks_in_flight_and_others_are_not_delayed() {
    let app = spawn_app().await;
    let target = app.create_workspace(Some(PIN)).await;
    let attackers_own = app.create_workspace(Some("13579")).await;
    // A flood of wrong PINs at the attacker's own workspace, all at once.
    let mut flood = join_all((0..20).map(|_| app.client_from(50))).await;
    let flood_invite = attackers_own.invite();
    for client in flood.iter_mut() {
        let data = attend_data(&flood_invite, Some("00000"), "Flood");
        client
            .send(json!({"event": "attend", "id": 1, "data": data}))
            .await;
    }
    // Someone else's attend is served while the flood is being answered.
    let mut victim = app.client_from(51).await;
    victim
        .ok(
            "attend",
            attend_data(&target.invite(), Some(PIN), "Ada"),
            "attended",
        )
        .await;
    let mut codes = Vec::new();
    for client in flood.iter_mut() {
        codes.push(outcome(&client.recv_frame("the flood's answers").await));
    }
    // Only `pin_checks_per_ip` (2) of them were hashed; the rest refused at once.
    assert_eq!(count(&codes, "rate_limited"), 18, "{codes:?}");
    assert_eq!(count(&codes, "wrong_pin"), 2, "{codes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workspace_under_guessing_from_many_addresses_slows_every_guess() {
    let app = spawn_app_with(|c| c.limits.pin_workspace_failures = 3).await;
    let owner = app.create_workspace(Some(PIN)).await;
    let invite = owner.invite();
    let ada = app
        .client_from(59)
        .await
        .ok("attend", attend_data(&invite, Some(PIN), "Ada"), "attended")
        .await;
    let ada_token = str_of(&ada["token"]);
    for n in 0..3 {
        let mut guesser = app.client_from(60 + n).await;
        let data = attend_data(&invite, Some("00000"), "Guess");
        assert_eq!(guesser.alert("attend", data).await, "wrong_pin");
    }
    // Past the threshold, one attempt at a time, after a delay: of two attempts from
    // two more addresses, sent together, whichever the server takes second is refused
    // at once, and the first, with the right PIN, gets in after its wait. (Which one
    // comes first is the scheduler's choice on a loaded machine.)
    let mut first = app.client_from(70).await;
    let mut second = app.client_from(71).await;
    for client in [&mut first, &mut second] {
        let data = attend_data(&invite, Some(PIN), "Patient");
        client
            .send(json!({"event": "attend", "id": 1, "data": data}))
            .await;
    }
    let (a, b) = tokio::join!(
        first.recv_frame("the first attempt"),
        second.recv_frame("the second attempt")
    );
    let mut outcomes = [outcome(&a), outcome(&b)];
    outcomes.sort();
    assert_eq!(outcomes, ["attended", "rate_limited"], "{a} {b}");
    // A member with a session token never meets these limits.
    let (_client, frame) = app.try_re_attend(&ada_token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
}
