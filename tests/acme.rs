//! Built-in ACME end to end: Switchboard obtains its certificate from Pebble (Let's
//! Encrypt's test CA, Debian's `pebble`, which README's test command installs) with the
//! TLS-ALPN-01 challenge on its own port, and a client verifies what it then serves
//! against Pebble's root.

mod common;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Pebble on loopback, its own HTTPS served with a certificate from a throwaway CA.
struct Pebble {
    management: String,
    child: Child,
}

impl Pebble {
    /// Where Pebble will listen; known before it starts, so Switchboard can be told.
    fn ports() -> (u16, u16) {
        (free_port(), free_port())
    }

    fn directory(listen: u16) -> String {
        format!("https://127.0.0.1:{listen}/dir")
    }

    fn start(dir: &Path, (listen, manage): (u16, u16), tls_port: u16) -> Pebble {
        assert!(
            Path::new("/usr/bin/pebble").exists(),
            "pebble is not installed: run the test command from README.md, which installs it"
        );
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{manage}"),
            "certificate": dir.join("pebble-cert.pem"),
            "privateKey": dir.join("pebble-key.pem"),
            "httpPort": free_port(),
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let mut child = Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble");
        // Ready once it announces its directory, the last step of its start.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("ACME directory available"));
        assert!(ready, "pebble exited before it was ready");
        std::thread::spawn(move || lines.for_each(drop));
        Pebble {
            management: format!("https://127.0.0.1:{manage}"),
            child,
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Pebble's own HTTPS certificate, and the root that vouches for it.
fn pebble_certificate(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("pebble-ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("pebble-cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("pebble-key.pem"), key.serialize_pem()).unwrap();
}

fn client_trusting(roots: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    Arc::new(config)
}

/// Pebble makes a new root each run; its management API hands it out.
async fn pebble_root(pebble: &Pebble, dir: &Path) -> CertificateDer<'static> {
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(dir.join("pebble-ca.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let url = format!("{}/roots/0", pebble.management);
    // Pebble logs its listeners before their goroutines bind them, and binding sends
    // no signal to another process: retry a refused connection until it is accepted.
    let pem = within("Pebble's root", async {
        loop {
            match http.get(&url).send().await {
                Ok(response) => return response.text().await,
                Err(e) if e.is_connect() => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("Pebble's root certificate");
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("a PEM root")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_pebble_is_obtained_cached_and_served() {
    let dir = tempfile::tempdir().unwrap();
    pebble_certificate(dir.path());
    let acme_dir = dir.path().join("acme");
    let ports = Pebble::ports();
    let (directory, cache) = (Pebble::directory(ports.0), acme_dir.clone());
    let ca = dir.path().join("pebble-ca.pem");
    // Switchboard first (Pebble must know its port); its ACME client retries until
    // Pebble answers.
    let app = spawn_app_with(move |c| {
        c.tls.enabled = true;
        c.tls.acme.domains = vec!["localhost".into()];
        c.tls.acme.email = "ops@example.com".into();
        c.tls.acme.directory_url = directory;
        c.tls.acme.directory_ca = Some(ca);
        c.tls.acme.cache_dir = cache;
    })
    .await;
    let pebble = Pebble::start(dir.path(), ports, app.addr.port());
    let root = pebble_root(&pebble, dir.path()).await;
    let connector = tokio_rustls::TlsConnector::from(client_trusting(&[root]));

    // Issuance takes a few round trips: handshakes until one verifies against the root.
    let served = within_for(
        Duration::from_secs(60),
        "a certificate issued by Pebble",
        async {
            loop {
                let tcp = TcpStream::connect(app.addr).await.unwrap();
                let name = ServerName::try_from("localhost").unwrap();
                if let Ok(tls) = connector.connect(name, tcp).await {
                    break tls.get_ref().1.peer_certificates().unwrap()[0].clone();
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        },
    )
    .await;
    let (_, parsed) = x509_parser::parse_x509_certificate(&served).unwrap();
    let issuer = parsed.issuer().to_string();
    assert!(issuer.contains("Pebble"), "issued by {issuer}");
    let cached = std::fs::read_dir(&acme_dir).unwrap().count();
    assert!(
        cached >= 2,
        "account and certificate cached in {acme_dir:?}"
    );
}
