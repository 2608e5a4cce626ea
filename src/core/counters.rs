//! Counts of what the server dropped or refused, by protocol and reason, for the
//! protocols that have no error frame to say so (COMPAT.md's common rules). Plain
//! atomics; the operations endpoint reads them.

use std::sync::atomic::{AtomicU64, Ordering};

/// The wire protocol of a connection, as metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Native,
    SocketIo,
    SignalFire,
    Bootstrap,
    Peero,
}

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not JSON, not an object, or a field of the wrong type.
    Malformed,
    /// Names no receiver at all.
    NoReceiver,
    /// Names a receiver that is not connected.
    UnknownReceiver,
    /// The receiver's queue was too full to take it.
    ReceiverFull,
    /// Over the sender's rate.
    RateLimited,
    /// A binary frame, which these protocols do not use.
    Binary,
}

impl Protocol {
    const ALL: [Protocol; 5] = [
        Protocol::Native,
        Protocol::SocketIo,
        Protocol::SignalFire,
        Protocol::Bootstrap,
        Protocol::Peero,
    ];

    /// The label value (`switchboard_dropped_frames_total{protocol}`).
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Native => "native",
            Protocol::SocketIo => "socketio",
            Protocol::SignalFire => "signal_fire",
            Protocol::Bootstrap => "bootstrap",
            Protocol::Peero => "peero",
        }
    }
}

impl DropReason {
    const ALL: [DropReason; 6] = [
        DropReason::Malformed,
        DropReason::NoReceiver,
        DropReason::UnknownReceiver,
        DropReason::ReceiverFull,
        DropReason::RateLimited,
        DropReason::Binary,
    ];

    /// The label value (`switchboard_dropped_frames_total{reason}`).
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::NoReceiver => "no_receiver",
            DropReason::UnknownReceiver => "unknown_receiver",
            DropReason::ReceiverFull => "receiver_full",
            DropReason::RateLimited => "rate_limited",
            DropReason::Binary => "binary",
        }
    }
}

const CELLS: usize = Protocol::ALL.len() * DropReason::ALL.len();

#[derive(Default)]
pub struct Counters {
    dropped: [AtomicU64; CELLS],
    relayed: [AtomicU64; Protocol::ALL.len()],
}

impl Counters {
    pub fn dropped(&self, protocol: Protocol, reason: DropReason) {
        self.dropped[cell(protocol, reason)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn relayed(&self, protocol: Protocol) {
        self.relayed[protocol as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Frames dropped so far for `protocol` and `reason`.
    pub fn dropped_count(&self, protocol: Protocol, reason: DropReason) -> u64 {
        self.dropped[cell(protocol, reason)].load(Ordering::Relaxed)
    }

    /// Frames delivered so far for `protocol`.
    pub fn relayed_count(&self, protocol: Protocol) -> u64 {
        self.relayed[protocol as usize].load(Ordering::Relaxed)
    }
}

fn cell(protocol: Protocol, reason: DropReason) -> usize {
    protocol as usize * DropReason::ALL.len() + reason as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_and_reason_has_its_own_count() {
        let counters = Counters::default();
        counters.dropped(Protocol::Peero, DropReason::Binary);
        counters.dropped(Protocol::Peero, DropReason::Binary);
        counters.dropped(Protocol::SignalFire, DropReason::Binary);
        for p in Protocol::ALL {
            for r in DropReason::ALL {
                let expected = match (p, r) {
                    (Protocol::Peero, DropReason::Binary) => 2,
                    (Protocol::SignalFire, DropReason::Binary) => 1,
                    _ => 0,
                };
                assert_eq!(counters.dropped_count(p, r), expected, "{p:?} {r:?}");
            }
        }
    }
}
