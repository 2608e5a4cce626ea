//! coturn's TURN REST API (`use-auth-secret`): credentials minted per member, checked
//! by coturn itself against the same shared secret. Nothing goes over the network.
//!
//! username = `<expiry unix time>:<attendee id>`,
//! credential = base64(HMAC-SHA1(secret, username)).

use super::IceServer;
use crate::config::Secret;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub struct Coturn {
    secret: Secret,
    urls: Vec<String>,
    ttl_secs: u64,
}

impl Coturn {
    pub fn new(secret: Secret, urls: Vec<String>, ttl_secs: u64) -> Coturn {
        Coturn {
            secret,
            urls,
            ttl_secs,
        }
    }

    /// Credentials for `attendee`, valid `ttl_secs` from `now` (unix seconds).
    pub fn server(&self, attendee: &str, now: u64) -> (IceServer, u64) {
        let username = format!("{}:{attendee}", now + self.ttl_secs);
        let server = IceServer {
            urls: self.urls.clone(),
            credential: Some(credential(&self.secret, &username)),
            username: Some(username),
        };
        (server, self.ttl_secs)
    }
}

fn credential(secret: &Secret, username: &str) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha1>>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_turn_rest_api_example() {
        // RFC-draft "A REST API for Access to TURN Services": HMAC-SHA1, base64.
        // Known value computed with `printf %s '1700000000:_a' | openssl dgst -sha1
        // -hmac north -binary | base64`.
        assert_eq!(
            credential(&Secret::new("north"), "1700000000:_a"),
            "f+GoPbZ7bwqAlXOE8VukOqsCTqg="
        );
    }

    #[test]
    fn usernames_carry_expiry_and_attendee() {
        let coturn = Coturn::new(Secret::new("s"), vec!["turn:127.0.0.1:3478".into()], 600);
        let (server, ttl) = coturn.server("_abc", 1_000);
        assert_eq!(server.username.as_deref(), Some("1600:_abc"));
        assert_eq!(ttl, 600);
    }
}
