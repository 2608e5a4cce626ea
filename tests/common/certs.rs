//! Certificates made at test time by a throwaway CA, written as certbot writes them, and
//! damaged the ways files get damaged (a truncated copy, a half-written renewal).

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsConnector;

pub struct Ca {
    pub cert: rcgen::Certificate,
    key: KeyPair,
}

pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    /// The key, PKCS#8.
    pub key_der: Vec<u8>,
}

impl Ca {
    pub fn new() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca {
            cert: params.self_signed(&key).unwrap(),
            key,
        }
    }

    /// A certificate for `localhost`, signed by this CA.
    pub fn leaf(&self) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A client that trusts this CA only.
    pub fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

/// `der` in PEM armour under `label` (`CERTIFICATE`, `PRIVATE KEY`).
pub fn pem(label: &str, der: &[u8]) -> String {
    let base64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The first half of `der` in intact PEM armour: the PEM reads, the DER inside does not.
pub fn damaged(label: &str, der: &[u8]) -> String {
    pem(label, &der[..der.len() / 2])
}

/// A certificate and its key as certbot lays them out.
pub struct Files {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Files {
    pub fn write(dir: &Path, leaf: &Leaf) -> Files {
        let files = Files {
            cert: dir.join("fullchain.pem"),
            key: dir.join("privkey.pem"),
        };
        files.replace(leaf);
        files
    }

    /// As certbot renews: new files in place of the old ones.
    pub fn replace(&self, leaf: &Leaf) {
        std::fs::write(&self.key, &leaf.key_pem).unwrap();
        std::fs::write(&self.cert, &leaf.cert_pem).unwrap();
    }
}
