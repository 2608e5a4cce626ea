//! The embedding contract of `switchboard::run`: its future is `Send`, so that an
//! application (or a test) can `tokio::spawn` it on its own runtime.
//!
//! Checked without breaking the build when it is not: method resolution picks
//! `IsSend::send_ness` only for a `Send` type, and falls back to `NotSend` otherwise
//! (dtolnay's autoref specialisation), so the failure is this test's, not the crate's.

// The explicit `&` is what makes the probe work; clippy's "needless" borrow is not.
#![allow(clippy::needless_borrow)]

mod common;

use common::*;
use std::marker::PhantomData;
use switchboard::config::Secret;
use switchboard::Config;

struct Probe<T>(PhantomData<T>);

trait IsSend {
    fn send_ness(&self) -> bool {
        true
    }
}
impl<T: Send> IsSend for Probe<T> {}

trait NotSend {
    fn send_ness(&self) -> bool {
        false
    }
}
impl<T> NotSend for &Probe<T> {}

fn probe<T>(_: &T) -> Probe<T> {
    Probe(PhantomData)
}

#[test]
fn the_probe_tells_send_from_not_send() {
    let send = 5_u8;
    let not_send = std::rc::Rc::new(5_u8);
    assert!((&probe(&send)).send_ness());
    assert!(!(&probe(&not_send)).send_ness());
}

#[test]
fn the_future_of_run_is_send() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = Config::default();
    config.secrets.jwt = Some(Secret::new(SECRET));
    // Never polled: only its type matters.
    let future = switchboard::run(config, listener, std::future::pending());
    assert!(
        (&probe(&future)).send_ness(),
        "switchboard::run(..) is not Send, so tokio::spawn(run(..)) does not compile"
    );
}
