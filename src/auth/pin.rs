//! PIN hashing with argon2id, off the async threads.
//!
//! Each hash costs ~19 MiB and tens of milliseconds by design, so hashing runs on the
//! blocking pool behind a semaphore sized to the CPU count: a flood of `attend`s with
//! PINs queues up instead of exhausting memory or starving the event loops.

use crate::config::Secret;
use crate::error::Error;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct PinHasher {
    /// `SALT_STRING`, used as argon2's secret (a pepper): a stolen hash alone is useless.
    pepper: Option<Arc<Secret>>,
    permits: Arc<Semaphore>,
}

impl PinHasher {
    pub fn new(pepper: Option<Secret>) -> PinHasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PinHasher {
            pepper: pepper.map(Arc::new),
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    pub async fn hash(&self, pin: String) -> Result<String, Error> {
        let pepper = self.pepper.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon(pepper.as_deref())?
                .hash_password(pin.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(Error::internal)
        })
        .await
    }

    pub async fn verify(&self, pin: String, hash: String) -> Result<bool, Error> {
        let pepper = self.pepper.clone();
        self.run(move || {
            let parsed = PasswordHash::new(&hash).map_err(Error::internal)?;
            Ok(argon(pepper.as_deref())?
                .verify_password(pin.as_bytes(), &parsed)
                .is_ok())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(Error::internal)?
    }
}

fn argon(pepper: Option<&Secret>) -> Result<Argon2<'_>, Error> {
    let params = Params::default();
    match pepper {
        Some(secret) => Argon2::new_with_secret(
            secret.expose().as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            params,
        )
        .map_err(Error::internal),
        None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_only_the_right_pin_and_pepper() {
        let hasher = PinHasher::new(Some(Secret::new("pepper")));
        let hash = hasher.hash("12345".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("12345"));
        assert!(hasher.verify("12345".into(), hash.clone()).await.unwrap());
        assert!(!hasher.verify("54321".into(), hash.clone()).await.unwrap());
        let other = PinHasher::new(Some(Secret::new("other")));
        assert!(!other.verify("12345".into(), hash).await.unwrap());
    }
}
