//! TURN credentials from Switchboard, checked by a real coturn (`use-auth-secret`): a
//! real allocation with coturn's own `turnutils_uclient` succeeds with them and fails
//! with a tampered one. Needs Debian's `coturn`, which README's test command installs.

mod common;

use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use switchboard::config::{Provider, Providers, Secret};

const TURN_SECRET: &str = "coturn-shared-secret-for-tests";
const REALM: &str = "switchboard.test";

/// A coturn on loopback, stopped when dropped.
struct Coturn {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Coturn {
    fn start() -> Coturn {
        assert!(
            Path::new("/usr/bin/turnserver").exists(),
            "coturn is not installed: run the test command from README.md, which installs it"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let relay_from = 40_000 + (port % 20_000);
        let mut child = Command::new("/usr/bin/turnserver")
            .args([
                "-n",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--log-file=stdout",
            ])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--min-port={relay_from}"))
            .arg(format!("--max-port={}", relay_from + 50))
            .args([
                "--use-auth-secret",
                &format!("--static-auth-secret={TURN_SECRET}"),
            ])
            .arg(format!("--realm={REALM}"))
            .arg("--allow-loopback-peers")
            .arg(format!("--userdb={}", dir.path().join("turndb").display()))
            .arg(format!(
                "--pidfile={}",
                dir.path().join("turn.pid").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start turnserver");
        // Ready once its auth database is open, the last step of its start.
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("DB connection success"));
        assert!(ready, "turnserver exited before it was ready");
        std::thread::spawn(move || lines.for_each(drop));
        Coturn {
            port,
            child,
            _dir: dir,
        }
    }

    /// A real allocation, with data relayed between two clients through coturn.
    async fn allocate(&self, username: &str, credential: &str) -> bool {
        let output = tokio::process::Command::new("/usr/bin/turnutils_uclient")
            .args(["-y", "-c", "-n", "2", "-u", username, "-w", credential])
            .args(["-p", &self.port.to_string(), "127.0.0.1"])
            .kill_on_drop(true)
            .output();
        let output = within("turnutils_uclient to finish", output).await.unwrap();
        output.status.success()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coturn_accepts_switchboards_credentials_and_refuses_tampered_ones() {
    let coturn = Coturn::start();
    let turn_url = format!("turn:127.0.0.1:{}?transport=udp", coturn.port);
    let url = turn_url.clone();
    let app = spawn_app_with(move |c| {
        c.ice.provider = Providers::One(Provider::Coturn);
        c.ice.turn_urls = vec![url];
        c.ice.turn_ttl_secs = 600;
        c.secrets.turn = Some(Secret::new(TURN_SECRET));
    })
    .await;
    let (mut owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    let reply = ada.client.ok("iceservers", json!({}), "iceservers").await;

    let server = &reply["ice_servers"][0];
    assert_eq!(server["urls"], json!([turn_url]));
    let username = str_of(&server["username"]);
    let credential = str_of(&server["credential"]);
    let (expiry, attendee) = username.split_once(':').expect("expiry:attendee");
    assert_eq!(attendee, ada.id());
    let now = switchboard::auth::tokens::now_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 590..=now + 600).contains(&expiry),
        "expiry {expiry}, now {now}"
    );
    assert!((590..=600).contains(&reply["ttl"].as_u64().unwrap()));

    assert!(
        coturn.allocate(&username, &credential).await,
        "allocation refused"
    );
    let mut tampered = credential.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(
        !coturn.allocate(&username, &tampered).await,
        "tampered credential accepted"
    );
    let someone_else = format!("{expiry}:{}", owner.id());
    assert!(
        !coturn.allocate(&someone_else, &credential).await,
        "credential moved to another user"
    );

    // Each member gets their own credentials.
    let owners = owner.client.ok("iceservers", json!({}), "iceservers").await;
    assert_ne!(owners["ice_servers"][0]["username"], server["username"]);
}
