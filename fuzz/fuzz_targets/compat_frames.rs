//! The compatible protocols' frames (signal-fire, Peero, webrtc-bootstrap `/join`):
//! arbitrary text through each real frame handler. Never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        switchboard::fuzzing::compat_frames(text);
    }
});
