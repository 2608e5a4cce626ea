//! Reading a certificate and its key from PEM files, as certbot writes them
//! (`/etc/letsencrypt/live/DOMAIN/fullchain.pem` and `privkey.pem`), with errors that
//! name the file and say what is wrong with it.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::InconsistentKeys;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// Why TLS cannot start, or a reload is refused. Each names the file (or setting) at
/// fault, and only that one.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("TLS file {path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read TLS file {path}: {cause}")]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    /// Certificate `index` (from 1, in file order) is not PEM, not X.509 DER, or not one
    /// rustls accepts.
    #[error("certificate {index} in {path} is damaged: {reason}")]
    BadCertificate {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    #[error("{path} holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error("the private key in {key} cannot be used: {reason}")]
    BadKey { key: PathBuf, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("[tls] is enabled but {0} is not set")]
    NotConfigured(&'static str),
    #[error("the ACME cache directory {path} cannot be used: {cause}")]
    AcmeCache {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// rustls refused a setting of ours, not a file: a bug.
    #[error("TLS cannot be set up: {0}")]
    Setup(String),
}

/// The files a certificate comes from; `ca` is an optional extra chain appended to it.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
}

impl CertFiles {
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        [&self.cert, &self.key]
            .into_iter()
            .chain(&self.ca)
            .map(PathBuf::as_path)
    }

    /// Reads, parses and pairs the files. Errors: [`TlsError`], naming the file at
    /// fault: `cert` or `ca` for a certificate, `key` for the key, both when they do not
    /// belong together.
    pub fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
        let mut chain = certificates(&self.cert)?;
        if let Some(ca) = &self.ca {
            chain.extend(certificates(ca)?);
        }
        let key = private_key(&self.key, provider)?;
        let certified = CertifiedKey::new(chain, key);
        match certified.keys_match() {
            // A key type that cannot tell its public half: rustls serves it all the same.
            Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(_)) => {
                return Err(TlsError::KeyMismatch {
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                })
            }
            // Only the certificate is parsed here (webpki, stricter than x509-parser).
            Err(other) => return Err(bad_certificate(&self.cert, 0, &other)),
        }
        warn_if_expiring(&self.cert, &certified);
        Ok(certified)
    }
}

/// Every certificate of a PEM file, each checked to be X.509 DER, so that a damaged one
/// is blamed on its file here rather than on whatever meets it later (the key check, a
/// client). Errors: `Missing`, `Unreadable`, `NoCertificate`, `BadCertificate`.
pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let mut certs = Vec::new();
    for (at, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|e| bad_certificate(path, at, &e))?;
        match x509_parser::parse_x509_certificate(&cert) {
            Ok(([], _)) => certs.push(cert),
            Ok(_) => return Err(bad_certificate(path, at, &"bytes after its end")),
            Err(e) => return Err(bad_certificate(path, at, &e)),
        }
    }
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// `at` counts from 0; the error counts from 1, as a reader of the file does.
pub(super) fn bad_certificate(path: &Path, at: usize, reason: &dyn std::fmt::Display) -> TlsError {
    TlsError::BadCertificate {
        path: path.to_path_buf(),
        index: at + 1,
        reason: reason.to_string(),
    }
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1), loaded by `provider`.
fn private_key(path: &Path, provider: &CryptoProvider) -> Result<Arc<dyn SigningKey>, TlsError> {
    let bad = |reason: String| TlsError::BadKey {
        key: path.to_path_buf(),
        reason,
    };
    let key = match PrivateKeyDer::from_pem_slice(&read(path)?) {
        Ok(key) => key,
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad(e.to_string()))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => TlsError::Missing {
            path: path.to_path_buf(),
        },
        _ => TlsError::Unreadable {
            path: path.to_path_buf(),
            cause: source,
        },
    })
}

/// When the leaf certificate of `key` expires, in unix seconds.
pub(super) fn not_after(key: &CertifiedKey) -> Option<i64> {
    key.cert
        .first()
        .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
        .map(|(_, cert)| cert.validity().not_after.timestamp())
}

/// Browsers refuse an expired certificate, so every client would fail: say so loudly.
fn warn_if_expiring(path: &Path, key: &CertifiedKey) {
    let Some(not_after) = not_after(key) else {
        return;
    };
    let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(not_after.max(0) as u64);
    match expires.duration_since(SystemTime::now()) {
        Err(_) => tracing::error!(
            path = %path.display(),
            "the TLS certificate has EXPIRED: browsers will refuse every connection; renew it"
        ),
        Ok(left) if left < Duration::from_secs(7 * 86_400) => tracing::warn!(
            path = %path.display(),
            days = left.as_secs() / 86_400,
            "the TLS certificate expires soon; renew it"
        ),
        Ok(_) => {}
    }
}
