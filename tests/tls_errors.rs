//! TLS files that cannot be used: the server refuses to start, or keeps its certificate
//! on a reload, with an error that names the file at fault (certificate, key, extra
//! chain, ACME cache or directory CA), and no other.

mod common;

use common::bin::{switchboard, write_config, Running, SECRETS};
use common::certs::{damaged, pem, Ca, Files};
use common::*;
use std::path::{Path, PathBuf};

/// Starts with `mutate` on top of TLS from `files`; returns the error `run` gives up with.
async fn start_error(files: &Files, mutate: impl FnOnce(&mut switchboard::Config)) -> String {
    let (cert, key) = (files.cert.clone(), files.key.clone());
    let mut app = spawn_app_with(move |c| {
        c.tls.enabled = true;
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
        mutate(c);
    })
    .await;
    let handle = app.handle.take().unwrap();
    let result = within("run to give up", handle).await.unwrap();
    result
        .expect_err("the server must refuse to start")
        .to_string()
}

fn assert_names(error: &str, file: &str, not: &[&str]) {
    assert!(error.contains(file), "{file} is not named: {error}");
    for other in not {
        assert!(!error.contains(other), "{other} is blamed too: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_mismatched_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let files = Files::write(dir.path(), &ca.leaf());

    std::fs::remove_file(&files.key).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "privkey.pem", &["fullchain.pem"]);
    assert!(error.contains("does not exist"), "{error}");

    std::fs::write(&files.key, ca.leaf().key_pem).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert!(error.contains("does not belong"), "{error}");
    assert_names(&error, "fullchain.pem", &[]);
    assert_names(&error, "privkey.pem", &[]);

    std::fs::write(&files.cert, "not a certificate").unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "fullchain.pem", &["privkey.pem"]);
    assert!(error.contains("no PEM certificate"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_certificate_is_blamed_and_not_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = Ca::new().leaf();
    let files = Files::write(dir.path(), &leaf);

    std::fs::write(&files.cert, damaged("CERTIFICATE", &leaf.der)).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "fullchain.pem", &["privkey.pem"]);

    // The leaf is sound, the intermediate after it is not: clients would fail on it.
    let chain = format!("{}{}", leaf.cert_pem, damaged("CERTIFICATE", &leaf.der));
    std::fs::write(&files.cert, chain).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "fullchain.pem", &["privkey.pem"]);
    assert!(error.contains("certificate 2"), "{error}");

    let bad_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    std::fs::write(&files.cert, bad_base64).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "fullchain.pem", &["privkey.pem"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_key_is_blamed_and_not_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = Ca::new().leaf();
    let files = Files::write(dir.path(), &leaf);

    std::fs::write(&files.key, damaged("PRIVATE KEY", &leaf.key_der)).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "privkey.pem", &["fullchain.pem"]);

    let bad_base64 = "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n";
    std::fs::write(&files.key, bad_base64).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "privkey.pem", &["fullchain.pem"]);

    std::fs::write(&files.key, &leaf.cert_pem).unwrap();
    let error = start_error(&files, |_| {}).await;
    assert_names(&error, "privkey.pem", &["fullchain.pem"]);
    assert!(error.contains("no PEM private key"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_damaged_extra_chain_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let files = Files::write(dir.path(), &ca.leaf());
    let chain = dir.path().join("chain.pem");
    let with_chain = |c: &mut switchboard::Config| c.tls.ca = Some(chain.clone());

    let error = start_error(&files, with_chain).await;
    assert_names(&error, "chain.pem", &["privkey.pem", "fullchain.pem"]);

    std::fs::write(&chain, damaged("CERTIFICATE", ca.cert.der())).unwrap();
    let error = start_error(&files, with_chain).await;
    assert_names(&error, "chain.pem", &["privkey.pem", "fullchain.pem"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_start_errors_name_the_directory_ca_and_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let files = Files::write(dir.path(), &ca.leaf());
    let acme = |directory_ca: PathBuf, cache: PathBuf| {
        move |c: &mut switchboard::Config| {
            c.tls.acme.domains = vec!["localhost".into()];
            c.tls.acme.directory_url = "https://127.0.0.1:1/dir".into();
            c.tls.acme.directory_ca = Some(directory_ca);
            c.tls.acme.cache_dir = cache;
        }
    };
    let root = dir.path().join("pebble-root.pem");
    let cache = dir.path().join("acme-cache");

    std::fs::write(&root, damaged("CERTIFICATE", ca.cert.der())).unwrap();
    let error = start_error(&files, acme(root.clone(), cache.clone())).await;
    assert_names(&error, "pebble-root.pem", &["acme-cache", "privkey.pem"]);

    assert!(
        !cache.exists(),
        "nothing is created before the configuration holds"
    );

    std::fs::write(&root, pem("CERTIFICATE", ca.cert.der())).unwrap();
    std::fs::write(&cache, "a file where the cache directory should be").unwrap();
    let error = start_error(&files, acme(root.clone(), cache.clone())).await;
    assert_names(&error, "acme-cache", &["pebble-root.pem", "privkey.pem"]);
}

/// The binary serving TLS from `files`, checking them every second.
async fn tls_binary(dir: &Path, files: &Files) -> Running {
    let tls = format!(
        "[tls]\nenabled = true\ncert = '{}'\nkey = '{}'\nreload_secs = 1\n",
        files.cert.display(),
        files.key.display()
    );
    let config = write_config(dir, &dir.join("store"), &tls);
    let args = ["--config", config.to_str().unwrap(), "--port", "0"];
    Running::spawn(switchboard(dir, &args, &SECRETS)).await
}

/// Waits for a reload failure not among `seen`; asserts it is an ERROR and names `file`
/// and none of `not`; adds it to `seen`.
async fn next_failure(server: &Running, seen: &mut Vec<String>, file: &str, not: &[&str]) {
    let line = server
        .log_line("a reload to fail", |l| {
            l.contains("not reloaded") && !seen.iter().any(|s| s == l)
        })
        .await;
    assert!(
        line.contains(" ERROR "),
        "a reload failure is the server's: {line}"
    );
    assert_names(&line, file, not);
    seen.push(line);
}

/// Replaces `path` at once, as certbot does (its `live/` files are links it swaps): the
/// watcher never reads a half-written file, which would fail for a reason of its own.
fn put(path: &Path, contents: impl AsRef<[u8]>) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, contents).unwrap();
    std::fs::rename(&fresh, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_errors_name_the_file_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let leaf = ca.leaf();
    let files = Files::write(dir.path(), &leaf);
    let server = tls_binary(dir.path(), &files).await;
    let mut seen = Vec::new();

    put(&files.cert, damaged("CERTIFICATE", &leaf.der));
    next_failure(&server, &mut seen, "fullchain.pem", &["privkey.pem"]).await;

    put(&files.cert, &leaf.cert_pem);
    server
        .log_line("the sound files to reload", |l| {
            l.contains("TLS certificate reloaded")
        })
        .await;
    put(&files.key, damaged("PRIVATE KEY", &leaf.key_der));
    next_failure(&server, &mut seen, "privkey.pem", &["fullchain.pem"]).await;

    put(&files.key, ca.leaf().key_pem);
    next_failure(&server, &mut seen, "does not belong", &[]).await;
    assert_names(&seen[2], "privkey.pem", &[]);
    assert_names(&seen[2], "fullchain.pem", &[]);
}
