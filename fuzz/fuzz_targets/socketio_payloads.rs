//! Engine.IO polling payloads (text and binary framing) through the Engine.IO and
//! Socket.IO decoders into a foglet entrance socket. Never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchboard::fuzzing::socketio_payloads(data);
});
