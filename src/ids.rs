//! Server-generated identifiers: `_` plus `[A-Za-z0-9]` characters from a CSPRNG.
//! Clients never choose ids, so nobody can squat or predict one.

use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;

pub fn new_id(len: usize) -> String {
    let mut id = String::with_capacity(len + 1);
    id.push('_');
    Alphanumeric.append_string(&mut OsRng, &mut id, len);
    id
}

/// A throwaway signing key for development runs without `MAGICK_TOKEN`.
pub fn random_secret() -> String {
    Alphanumeric.sample_string(&mut OsRng, 48)
}

/// A short id that lets an operator find the log line behind an `internal` alert.
pub fn correlation_id() -> String {
    Alphanumeric.sample_string(&mut OsRng, 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shape() {
        let id = new_id(10);
        assert_eq!(id.len(), 11);
        assert!(id.starts_with('_'));
        assert!(id[1..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(new_id(10), new_id(10));
    }
}
