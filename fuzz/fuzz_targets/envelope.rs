//! The native envelope and its requests: arbitrary text through `decode` and
//! `Request::parse`. Never a panic; every refusal carries a wire code of PROTOCOL.md.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::protocol::{decode, Request};

const CODES: &[&str] = &["bad_request", "too_large", "unknown_event"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let error = match decode(text) {
        Err(rejected) => rejected.error,
        Ok(envelope) => match Request::parse(envelope) {
            Ok(_) => return,
            Err(error) => error,
        },
    };
    assert!(CODES.contains(&error.code()), "{error:?}");
    // Messages quote at most 64 characters of the input.
    assert!(error.to_string().chars().count() < 400, "{error}");
});
