//! Capacity: members (the owner included, online or not) never exceed
//! `workspace.max_capacity`, however many attend at once.

mod common;

use common::*;
use futures_util::future::join_all;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_attends_on_capacity_five_admit_exactly_four() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let invite = owner.invite();
    // Connect everyone first, so that the attends really race.
    let clients = join_all((0..20).map(|_| app.client())).await;
    let attempts = clients.into_iter().enumerate().map(|(i, mut client)| {
        let data = attend_data(&invite, None, &format!("Guest {i}"));
        tokio::spawn(async move {
            let frame = client.request("attend", data).await;
            (client, frame)
        })
    });
    let results = join_all(attempts).await;

    let mut admitted = Vec::new();
    let mut full = 0;
    let mut _keep = Vec::new();
    for result in results {
        let (client, frame) = result.expect("attend task");
        match frame["event"].as_str() {
            Some("attended") => admitted.push(str_of(&frame["data"]["attendee"]["id"])),
            _ => {
                assert_eq!(alert_code(&frame), "workspace_full");
                full += 1;
            }
        }
        _keep.push(client);
    }
    assert_eq!(admitted.len(), 4, "the owner plus four fill five places");
    assert_eq!(full, 16);

    let mut members = ids_of(&owner.list_attendees().await);
    assert_eq!(members.len(), 5);
    assert_eq!(members.remove(0), owner.id(), "the owner is listed first");
    members.sort();
    admitted.sort();
    assert_eq!(members, admitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_counts_towards_capacity() {
    let app = spawn_app_with(|c| c.workspace.max_capacity = 2).await;
    let owner = app.create_workspace(None).await;
    app.attend(&owner.invite(), None, "Ada").await;
    let (_client, frame) = app.try_attend(&owner.invite(), None, "Bob").await;
    assert_eq!(alert_code(&frame), "workspace_full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_members_keep_their_place() {
    let app = spawn_app_with(|c| c.workspace.max_capacity = 2).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    ada.go_offline_seen_by(&mut owner).await;

    let (_client, frame) = app.try_attend(&owner.invite(), None, "Bob").await;
    assert_eq!(alert_code(&frame), "workspace_full");
    // Ada can still come back to her place.
    let (_ada, frame) = app.try_re_attend(&ada.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_freed_by_leave_can_be_taken() {
    let app = spawn_app_with(|c| c.workspace.max_capacity = 2).await;
    let (owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    ada.client.ok("leave", json!({}), "left").await;
    app.attend(&owner.invite(), None, "Bob").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_workspace_checks_the_pin_first() {
    let app = spawn_app_with(|c| c.workspace.max_capacity = 1).await;
    let owner = app.create_workspace(Some("2468")).await;
    let (_client, frame) = app.try_attend(&owner.invite(), Some("1357"), "Eve").await;
    assert_eq!(alert_code(&frame), "wrong_pin");
    let (_client, frame) = app.try_attend(&owner.invite(), Some("2468"), "Ada").await;
    assert_eq!(alert_code(&frame), "workspace_full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attends_with_the_pin_never_exceed_capacity() {
    let app = spawn_app_with(|c| c.workspace.max_capacity = 3).await;
    let owner = app.create_workspace(Some("race-pin")).await;
    let invite = owner.invite();
    // From 8 addresses: one address has only `pin_checks_per_ip` PIN checks at once.
    let clients = join_all((0..8).map(|n| app.client_from(10 + n))).await;
    let attempts = clients.into_iter().map(|mut client| {
        let data = attend_data(&invite, Some("race-pin"), "Racer");
        tokio::spawn(async move {
            let frame = client.request("attend", data).await;
            (client, frame)
        })
    });
    let mut codes = Vec::new();
    let mut _keep = Vec::new();
    for result in join_all(attempts).await {
        let (client, frame) = result.expect("attend task");
        codes.push(match frame["event"].as_str() {
            Some("attended") => "attended".to_string(),
            _ => alert_code(&frame),
        });
        _keep.push(client);
    }
    codes.sort();
    let mut expected = vec!["attended"; 2];
    expected.extend(["workspace_full"; 6]);
    assert_eq!(codes, expected);
}
