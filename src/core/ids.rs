//! Server-generated identifiers: `_` plus `[A-Za-z0-9]` characters from a CSPRNG.
//! Clients never choose ids, so nobody can squat or predict one.
//!
//! Ids come from rand's thread-local CSPRNG (ChaCha, seeded and periodically reseeded
//! from the OS): drawn from the OS directly, each character cost a `getrandom` system
//! call, a dozen of them for every connection.

use md5::{Digest, Md5};
use rand::distributions::{Alphanumeric, DistString, Slice};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};

pub fn new_id(len: usize) -> String {
    let mut id = String::with_capacity(len + 1);
    id.push('_');
    Alphanumeric.append_string(&mut rand::thread_rng(), &mut id, len);
    id
}

/// A signal-fire peer id (COMPAT.md 2): 16 characters of `[A-Za-z0-9_-]`.
pub fn url_safe_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let chars = Slice::new(ALPHABET).expect("the alphabet is not empty");
    rand::thread_rng()
        .sample_iter(chars)
        .take(16)
        .map(|&b| b as char)
        .collect()
}

/// A webrtc-bootstrap `/join` id (COMPAT.md 3): 32 lowercase hex characters.
pub fn hex_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// A Peero peer id (COMPAT.md 4): a random (version 4) UUID.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The ids webrtc-bootstrap 4.4.1 hands out when started with a seed: draw k is the MD5
/// (hex) of the decimal form of the k-th value of Robert Jenkins' 32-bit integer hash,
/// iterated from the seed, as JavaScript computes it (signed 32-bit results).
pub struct SeededIds {
    state: i64,
}

impl SeededIds {
    pub fn new(seed: i64) -> SeededIds {
        SeededIds { state: seed }
    }

    pub fn next_id(&mut self) -> String {
        let value = jenkins(self.state);
        self.state = i64::from(value);
        hex(&Md5::digest(value.to_string().as_bytes()))
    }
}

/// One step of the hash, with JavaScript's number semantics: sums in doubles (exact
/// here), `& 0xffffffff`, `^` and `<<` on signed 32 bits, `>>>` on unsigned 32 bits.
fn jenkins(seed: i64) -> i32 {
    let int32 = |x: i64| x as i32;
    let shl = |x: i32, n: u32| x.wrapping_shl(n);
    let shr = |x: i32, n: u32| ((x as u32) >> n) as i32;
    let s = int32(seed);
    let s = int32(seed + 0x7ed5_5d16 + i64::from(shl(s, 12)));
    let s = (s ^ 0xc761_c23c_u32 as i32) ^ shr(s, 19);
    let s = int32(i64::from(s) + 0x1656_67b1 + i64::from(shl(s, 5)));
    let s = int32(i64::from(s) + 0xd3a2_646c) ^ shl(s, 9);
    let s = int32(i64::from(s) + 0xfd70_46c5 + i64::from(shl(s, 3)));
    (s ^ 0xb55a_4f09_u32 as i32) ^ shr(s, 16)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A throwaway signing key for development runs without `MAGICK_TOKEN`, from the OS.
pub fn random_secret() -> String {
    Alphanumeric.sample_string(&mut OsRng, 48)
}

/// A short id that lets an operator find the log line behind an `internal` alert.
pub fn correlation_id() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 12)
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

    #[test]
    fn compat_ids_have_their_protocols_shapes() {
        let sf = url_safe_id();
        assert_eq!(sf.len(), 16);
        assert!(sf
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        let hex = hex_id();
        assert_eq!(hex.len(), 32);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(
            uuid::Uuid::parse_str(&uuid_v4()).unwrap().get_version_num(),
            4
        );
    }

    /// COMPAT.md 3's vectors, which webrtc-bootstrap 4.4.1 itself prints.
    #[test]
    fn seeded_ids_follow_the_originals_sequence() {
        let draws = |seed| {
            let mut ids = SeededIds::new(seed);
            [ids.next_id(), ids.next_id(), ids.next_id()]
        };
        assert_eq!(
            draws(1),
            [
                "143c5677bb8026ada7ad6dbd4a44e705",
                "8d468468b9b6f61c1a9621ebff91acc5",
                "09eda066a55712c10fdf2c7248f7c882"
            ]
        );
        assert_eq!(
            draws(42),
            [
                "334d3ecc3fcf32317545eaff0e1be0c8",
                "ccffd39004a11d7b7d1a1ef62e09e23c",
                "4190fe01a4cab1da209b44504757f903"
            ]
        );
    }
}
