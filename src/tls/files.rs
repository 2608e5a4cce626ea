//! Reading a certificate and its key from PEM files, as certbot writes them
//! (`/etc/letsencrypt/live/DOMAIN/fullchain.pem` and `privkey.pem`), with errors that
//! name the file and say what is wrong with it.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use thiserror::Error;

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
    #[error("{path} holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error("the key in {key} cannot be used: {reason}")]
    BadKey { key: PathBuf, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("[tls] is enabled but {0} is not set")]
    NotConfigured(&'static str),
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

    pub fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
        let mut chain = certificates(&self.cert)?;
        if let Some(ca) = &self.ca {
            chain.extend(certificates(ca)?);
        }
        let key = read(&self.key)?;
        let key = PrivateKeyDer::from_pem_slice(&key).map_err(|_| TlsError::NoKey {
            path: self.key.clone(),
        })?;
        let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: self.cert.clone(),
                key: self.key.clone(),
            },
            other => TlsError::BadKey {
                key: self.key.clone(),
                reason: other.to_string(),
            },
        })?;
        warn_if_expiring(&self.cert, &certified);
        Ok(certified)
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate {
            path: path.to_path_buf(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
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

/// Browsers refuse an expired certificate, so every client would fail: say so loudly.
fn warn_if_expiring(path: &Path, key: &CertifiedKey) {
    let Some(not_after) = key
        .cert
        .first()
        .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
        .map(|(_, cert)| cert.validity().not_after.timestamp())
    else {
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
