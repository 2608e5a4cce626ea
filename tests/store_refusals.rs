//! A store the server cannot use stops it with an error naming the path and what to do,
//! and leaves the store exactly as it was: corrupt data, a newer layout, a directory
//! that is not a Switchboard store, a store another running server holds.

mod common;

use common::bin::{failure, output_of, switchboard, write_config, Running, SECRETS};
use common::store::{assert_files_unchanged, durable, files_of, marker_of};
use common::*;
use std::path::Path;

/// A sled store at `dir` holding one workspace, written by a server that has stopped.
async fn stored(dir: &Path) {
    let mut app = spawn_app_in(dir, durable).await;
    let owner = app.create_workspace(Some("2468")).await;
    drop(owner);
    app.stop().await;
}

/// Starts a server in-process on `dir`, which must refuse; returns `run`'s error text.
async fn refused_in_process(dir: &Path) -> String {
    let mut app = spawn_app_in(dir, durable).await;
    let message = app.expect_run_err().await.to_string();
    let path = dir.display().to_string();
    assert!(message.contains(&path), "the error names {path}: {message}");
    message
}

/// Starts the binary on the store `store`, which must refuse; returns its stderr.
async fn refused_by_binary(store: &Path) -> String {
    let run_dir = tempfile::tempdir().unwrap();
    let config = write_config(run_dir.path(), store, "");
    let config = config.to_str().unwrap();
    let cmd = switchboard(
        run_dir.path(),
        &["--config", config, "--port", "0"],
        &SECRETS,
    );
    let output = output_of(cmd).await;
    let stderr = failure(&output);
    assert!(stderr.contains("switchboard: "), "{stderr}");
    let path = store.display().to_string();
    assert!(stderr.contains(&path), "stderr names {path}: {stderr}");
    stderr
}

/// Refused in-process and by the binary, the directory left byte for byte as it was;
/// returns the in-process error text.
async fn refused_untouched(dir: &Path) -> String {
    let before = files_of(dir);
    let message = refused_in_process(dir).await;
    assert_files_unchanged(dir, &before);
    refused_by_binary(dir).await;
    assert_files_unchanged(dir, &before);
    message
}

/// Overwrites `file` with as many pseudo-random bytes as it holds (4 KiB at least).
fn scramble(file: &Path) {
    let len = std::fs::metadata(file).map_or(0, |m| m.len()).max(4096);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(file, bytes).unwrap_or_else(|e| panic!("write {file:?}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path()).await;
    let db = dir.path().join("db");
    assert!(db.is_file(), "sled keeps its data in {db:?}");
    scramble(&db);
    refused_untouched(dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path()).await;
    let marker = marker_of(dir.path());
    let text = std::fs::read_to_string(&marker).expect("a fresh store has its marker");
    let today = text
        .lines()
        .find(|line| line.starts_with("layout = "))
        .unwrap_or_else(|| panic!("the marker names its layout: {text}"));
    std::fs::write(&marker, text.replace(today, "layout = 99")).unwrap();
    let message = refused_untouched(dir.path()).await;
    assert!(
        message.contains("99"),
        "the error names the layout found: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_is_not_a_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "my holiday photos\n").unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    std::fs::write(dir.path().join("photos/beach.jpg"), [0xFF, 0xD8, 0xFF]).unwrap();
    refused_untouched(dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_its_marker_is_not_taken_for_ours() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path()).await;
    std::fs::remove_file(marker_of(dir.path())).unwrap();
    let before = files_of(dir.path());

    refused_in_process(dir.path()).await;
    assert_files_unchanged(dir.path(), &before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_a_held_store_is_refused_while_the_first_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = spawn_app_in(dir.path(), durable).await;
    let (mut owner, [ada]) = first.workspace_with(["Ada"]).await;

    refused_in_process(dir.path()).await;
    refused_by_binary(dir.path()).await;

    // The first server still answers, old connections and new ones alike.
    let listed = owner.list_attendees().await;
    assert_eq!(ids_of(&listed), vec![owner.id(), ada.id()]);
    let newcomer = first.attend(&owner.invite(), None, "Bob").await;
    let (token, bob) = (owner.token.clone(), newcomer.id());
    drop((owner, ada, newcomer));
    first.stop().await;

    // And what it stored is intact.
    let app = spawn_app_in(dir.path(), durable).await;
    let (_client, frame) = app.try_re_attend(&token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    assert_eq!(ids_of(&frame["data"]["attendees"])[2], bob);
}

/// Damage `damage` does to a fresh store makes it refused, untouched.
async fn refused_after(damage: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path()).await;
    damage(dir.path());
    let before = files_of(dir.path());
    refused_in_process(dir.path()).await;
    assert_files_unchanged(dir.path(), &before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_marker_is_refused() {
    refused_after(|dir| std::fs::write(marker_of(dir), "layout = banana\n").unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_data_file_is_refused() {
    refused_after(|dir| std::fs::write(dir.join("db"), b"").unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrambled_sled_config_is_refused() {
    refused_after(|dir| scramble(&dir.join("conf"))).await;
}

/// The checks at start must not take a healthy store for a damaged one: with TMPDIR
/// unusable (here a plain file), the store is still this server's to open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_store_opens_even_when_the_temp_dir_is_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    stored(&store).await;
    let not_a_dir = dir.path().join("tmp-is-a-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let config = write_config(dir.path(), &store, "");
    let args = ["--config", config.to_str().unwrap(), "--port", "0"];
    let mut cmd = switchboard(dir.path(), &args, &SECRETS);
    cmd.env("TMPDIR", &not_a_dir);

    let server = Running::spawn(cmd).await;
    let mut client = Client::connect(&server.ws_url()).await;
    client.ok("create", serde_json::json!({}), "created").await;
}
