//! Invite and session tokens: HS256 JWTs with the algorithm pinned.
//!
//! A token proves only what it says (which workspace, which membership); whether that
//! membership still exists is the hub's question, asked on every use.

use crate::config::Secret;
use crate::error::{Error, TokenRefusal};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Attendee,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InviteClaims {
    pub typ: String,
    pub wid: String,
    /// The workspace's invite version when this invite was minted; invites minted
    /// before versions existed carry none, which is version 0.
    #[serde(default)]
    pub ver: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
    pub typ: String,
    pub wid: String,
    pub sub: String,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
}

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// `validation` without the `exp` check, for `re-attend` alone: the hub decides
    /// whether a lapsed session is still within its grace.
    lapsed: Validation,
    session_ttl_secs: u64,
    invite_ttl_secs: u64,
}

const INVITE: &str = "invite";
const SESSION: &str = "session";

impl Tokens {
    pub fn new(secret: &Secret, session_ttl_secs: u64, invite_ttl_secs: u64) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        // We issue and check every token ourselves: there is no clock skew to forgive.
        validation.leeway = 0;
        // Invites may carry no `exp`; when present it is always checked.
        validation.required_spec_claims.clear();
        let mut lapsed = validation.clone();
        lapsed.validate_exp = false;
        Tokens {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            lapsed,
            session_ttl_secs,
            invite_ttl_secs,
        }
    }

    /// An invite to `wid` at its invite version `ver`.
    pub fn invite(&self, wid: &str, ver: u64) -> String {
        let iat = now_secs();
        let exp = (self.invite_ttl_secs > 0).then(|| iat + self.invite_ttl_secs);
        self.sign(&InviteClaims {
            typ: INVITE.into(),
            wid: wid.into(),
            ver,
            iat,
            exp,
        })
    }

    pub fn session(&self, wid: &str, sub: &str, role: Role) -> (String, SessionClaims) {
        let iat = now_secs();
        let claims = SessionClaims {
            typ: SESSION.into(),
            wid: wid.into(),
            sub: sub.into(),
            role,
            iat,
            exp: iat + self.session_ttl_secs,
        };
        (self.sign(&claims), claims)
    }

    pub fn verify_invite(&self, token: &str) -> Result<InviteClaims, Error> {
        let claims: InviteClaims = self.verify(token, &self.validation)?;
        if claims.typ != INVITE {
            return Err(Error::InvalidToken(TokenRefusal::NotInvite));
        }
        Ok(claims)
    }

    pub fn verify_session(&self, token: &str) -> Result<SessionClaims, Error> {
        session_typed(self.verify(token, &self.validation)?)
    }

    /// A session token checked in full (signature, algorithm, type) except for its
    /// `exp`, which the caller must judge: only `re-attend` forgives a lapsed session,
    /// and only within `auth.reattend_grace_secs`.
    pub(crate) fn verify_session_lapsed(&self, token: &str) -> Result<SessionClaims, Error> {
        session_typed(self.verify(token, &self.lapsed)?)
    }

    fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, Error> {
        match decode::<T>(token, &self.decoding, validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => Error::ExpiredToken,
                ErrorKind::InvalidAlgorithm => Error::InvalidToken(TokenRefusal::Algorithm),
                ErrorKind::InvalidSignature => Error::InvalidToken(TokenRefusal::Signature),
                _ => Error::InvalidToken(TokenRefusal::Malformed),
            }),
        }
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        // HMAC signing of a serialisable struct cannot fail; an empty token would simply
        // not verify later, which is the safe outcome should it ever happen.
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).unwrap_or_default()
    }
}

fn session_typed(claims: SessionClaims) -> Result<SessionClaims, Error> {
    if claims.typ != SESSION {
        return Err(Error::InvalidToken(TokenRefusal::NotSession));
    }
    Ok(claims)
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&Secret::new("0123456789abcdef0123456789abcdef"), 60, 0)
    }

    #[test]
    fn a_session_token_is_not_an_invite() {
        let t = tokens();
        let (session, _) = t.session("_w", "_a", Role::Owner);
        assert_eq!(
            t.verify_invite(&session).unwrap_err().code(),
            "invalid_token"
        );
        let invite = t.invite("_w", 0);
        assert_eq!(
            t.verify_session(&invite).unwrap_err().code(),
            "invalid_token"
        );
        assert_eq!(t.verify_invite(&invite).unwrap().wid, "_w");
    }

    #[test]
    fn another_secret_does_not_verify() {
        let other = Tokens::new(&Secret::new("another-secret-another-secret-xx"), 60, 0);
        let invite = other.invite("_w", 0);
        assert_eq!(
            tokens().verify_invite(&invite).unwrap_err().code(),
            "invalid_token"
        );
    }

    /// A session of `_a` in `_w` that expired an hour ago, signed by `t`.
    fn lapsed_session(t: &Tokens) -> String {
        let now = now_secs();
        t.sign(&SessionClaims {
            typ: SESSION.into(),
            wid: "_w".into(),
            sub: "_a".into(),
            role: Role::Owner,
            iat: now - 7200,
            exp: now - 3600,
        })
    }

    #[test]
    fn a_lapsed_session_is_expired_except_to_the_lapsed_check() {
        let t = tokens();
        let token = lapsed_session(&t);
        assert_eq!(t.verify_session(&token).unwrap_err(), Error::ExpiredToken);
        let claims = t.verify_session_lapsed(&token).unwrap();
        assert_eq!(claims.sub, "_a");
        assert!(claims.exp < now_secs());
    }

    #[test]
    fn the_lapsed_check_still_checks_signature_and_type() {
        let other = Tokens::new(&Secret::new("another-secret-another-secret-xx"), 60, 0);
        let t = tokens();
        let forged = lapsed_session(&other);
        assert_eq!(
            t.verify_session_lapsed(&forged).unwrap_err().code(),
            "invalid_token"
        );
        let invite = t.invite("_w", 0);
        assert_eq!(
            t.verify_session_lapsed(&invite).unwrap_err().code(),
            "invalid_token"
        );
    }

    #[test]
    fn invites_carry_their_version_and_old_ones_read_as_version_0() {
        let t = tokens();
        assert_eq!(t.verify_invite(&t.invite("_w", 3)).unwrap().ver, 3);
        let before_versions = t.sign(&serde_json::json!({
            "typ": "invite", "wid": "_w", "iat": now_secs()
        }));
        assert_eq!(t.verify_invite(&before_versions).unwrap().ver, 0);
    }
}
