//! What the server counts as it works, for `/metrics` (docs/operations.md names each
//! series): connections by protocol and transport, relayed and dropped frames (COMPAT.md's
//! common rules: the protocols without an error frame count what they drop), requests,
//! alerts by code, rate-limit refusals by limit, policy closes, ICE provider calls and
//! store latency.
//!
//! The per-frame counts (relays, drops, connections) are plain atomics indexed by enums:
//! they sit on the relay path. What happens per request or rarer is a `prometheus-client`
//! family, registered as it is.

use crate::error::Error;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// The wire protocol of a connection, as metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    Native,
    SocketIo,
    SignalFire,
    Bootstrap,
    Peero,
}

/// What carries a connection's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    /// Engine.IO's HTTP long-polling.
    Polling,
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

/// Why the server closed a connection on its own account (close 1008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyClose {
    /// Its outbound queue overflowed or stopped shrinking: the client does not read.
    SlowConsumer,
    /// Its frame rate went far over `limits.requests_per_second`.
    Flood,
}

impl Protocol {
    pub(crate) const ALL: [Protocol; 5] = [
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

impl Transport {
    pub(crate) const ALL: [Transport; 2] = [Transport::WebSocket, Transport::Polling];

    /// The label value (`switchboard_connections{transport}`).
    pub fn label(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Polling => "polling",
        }
    }
}

impl DropReason {
    pub(crate) const ALL: [DropReason; 6] = [
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

impl PolicyClose {
    pub(crate) const ALL: [PolicyClose; 2] = [PolicyClose::SlowConsumer, PolicyClose::Flood];

    /// The label value (`switchboard_policy_closes_total{reason}`).
    pub fn label(self) -> &'static str {
        match self {
            PolicyClose::SlowConsumer => "slow_consumer",
            PolicyClose::Flood => "flood",
        }
    }
}

const DROP_CELLS: usize = Protocol::ALL.len() * DropReason::ALL.len();
const CONN_CELLS: usize = Protocol::ALL.len() * Transport::ALL.len();

/// One label, by name and value: the key of a family.
pub(crate) type Label = [(&'static str, &'static str); 1];
/// Two labels.
pub(crate) type Labels2 = [(&'static str, &'static str); 2];

/// Every count of one server. Shared by its connections through `Arc`.
pub struct Counters {
    dropped: [AtomicU64; DROP_CELLS],
    relayed: [AtomicU64; Protocol::ALL.len()],
    relayed_bytes: [AtomicU64; Protocol::ALL.len()],
    connections: [AtomicI64; CONN_CELLS],
    policy_closes: [AtomicU64; PolicyClose::ALL.len()],
    /// `switchboard_requests_total{protocol,event}`: events the protocol knows only,
    /// never a name a client made up.
    pub(crate) requests: Family<Labels2, Counter>,
    /// `switchboard_alerts_total{code}`: errors answered to clients, by wire code.
    pub(crate) alerts: Family<Label, Counter>,
    /// The sum of `alerts`, for the admin console.
    alerted: AtomicU64,
    /// `switchboard_rate_limited_total{limit}`, by the config key of the limit.
    pub(crate) rate_limited: Family<Label, Counter>,
    pub(crate) pin_failures: Counter,
    /// `switchboard_ice_requests_total{provider}` and its failures.
    pub(crate) ice_requests: Family<Label, Counter>,
    pub(crate) ice_failures: Family<Label, Counter>,
    /// Seconds a store write (`apply`) took.
    pub(crate) store_write: Histogram,
    /// Seconds until a write was on disk (`sync`).
    pub(crate) store_flush: Histogram,
}

impl Default for Counters {
    fn default() -> Counters {
        // 50 µs to ~1.6 s: an in-memory apply to a slow disk's fsync.
        let buckets = || exponential_buckets(0.000_05, 2.0, 16);
        let counters = Counters {
            dropped: Default::default(),
            relayed: Default::default(),
            relayed_bytes: Default::default(),
            connections: Default::default(),
            policy_closes: Default::default(),
            requests: Family::default(),
            alerts: Family::default(),
            alerted: AtomicU64::new(0),
            rate_limited: Family::default(),
            pin_failures: Counter::default(),
            ice_requests: Family::default(),
            ice_failures: Family::default(),
            store_write: Histogram::new(buckets()),
            store_flush: Histogram::new(buckets()),
        };
        // Every limit is a series from the start: an alert on a rate of refusals, or a
        // dashboard, sees 0 rather than no data.
        for limit in crate::error::Limit::ALL {
            drop(
                counters
                    .rate_limited
                    .get_or_create(&[("limit", limit.config_key())]),
            );
        }
        counters
    }
}

impl Counters {
    pub fn dropped(&self, protocol: Protocol, reason: DropReason) {
        self.dropped[drop_cell(protocol, reason)].fetch_add(1, Ordering::Relaxed);
        if reason == DropReason::RateLimited {
            self.rate_limited
                .get_or_create(&[("limit", "requests_per_second")])
                .inc();
        }
    }

    /// A message of `bytes` (as received) delivered for `protocol`.
    pub fn relayed(&self, protocol: Protocol, bytes: usize) {
        self.relayed[protocol as usize].fetch_add(1, Ordering::Relaxed);
        self.relayed_bytes[protocol as usize].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A request of a protocol's known `event` was received.
    pub fn request(&self, protocol: Protocol, event: &'static str) {
        self.requests
            .get_or_create(&[("protocol", protocol.label()), ("event", event)])
            .inc();
    }

    /// `error` was answered to a client: counted by code, and by limit or as a PIN
    /// failure where it is one.
    pub fn alerted(&self, error: &Error) {
        self.alerts.get_or_create(&[("code", error.code())]).inc();
        self.alerted.fetch_add(1, Ordering::Relaxed);
        match error {
            Error::RateLimited(limit) => {
                self.rate_limited
                    .get_or_create(&[("limit", limit.config_key())])
                    .inc();
            }
            Error::WrongPin => {
                self.pin_failures.inc();
            }
            _ => {}
        }
    }

    pub fn policy_closed(&self, why: PolicyClose) {
        self.policy_closes[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an open connection until the guard drops.
    pub fn connection(
        self: &Arc<Self>,
        protocol: Protocol,
        transport: Transport,
    ) -> ConnectionGauge {
        let gauge = ConnectionGauge {
            counters: self.clone(),
            protocol,
            transport,
        };
        gauge.cell().fetch_add(1, Ordering::Relaxed);
        gauge
    }

    /// Frames dropped so far for `protocol` and `reason`.
    pub fn dropped_count(&self, protocol: Protocol, reason: DropReason) -> u64 {
        self.dropped[drop_cell(protocol, reason)].load(Ordering::Relaxed)
    }

    /// Frames delivered so far for `protocol`.
    pub fn relayed_count(&self, protocol: Protocol) -> u64 {
        self.relayed[protocol as usize].load(Ordering::Relaxed)
    }

    /// Bytes of the frames delivered so far for `protocol`.
    pub fn relayed_bytes(&self, protocol: Protocol) -> u64 {
        self.relayed_bytes[protocol as usize].load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn connection_count(&self, protocol: Protocol, transport: Transport) -> i64 {
        self.connections[conn_cell(protocol, transport)].load(Ordering::Relaxed)
    }

    /// Errors answered to clients so far, of every code.
    pub fn alert_total(&self) -> u64 {
        self.alerted.load(Ordering::Relaxed)
    }

    pub fn policy_close_count(&self, why: PolicyClose) -> u64 {
        self.policy_closes[why as usize].load(Ordering::Relaxed)
    }
}

/// One open connection in `switchboard_connections`; an Engine.IO session moves from
/// polling to WebSocket when it upgrades.
pub struct ConnectionGauge {
    counters: Arc<Counters>,
    protocol: Protocol,
    transport: Transport,
}

impl ConnectionGauge {
    fn cell(&self) -> &AtomicI64 {
        &self.counters.connections[conn_cell(self.protocol, self.transport)]
    }

    pub fn set_transport(&mut self, transport: Transport) {
        self.cell().fetch_sub(1, Ordering::Relaxed);
        self.transport = transport;
        self.cell().fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.cell().fetch_sub(1, Ordering::Relaxed);
    }
}

fn drop_cell(protocol: Protocol, reason: DropReason) -> usize {
    protocol as usize * DropReason::ALL.len() + reason as usize
}

fn conn_cell(protocol: Protocol, transport: Transport) -> usize {
    protocol as usize * Transport::ALL.len() + transport as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Limit;

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

    #[test]
    fn a_connection_counts_under_its_transport_until_it_ends() {
        let counters = Arc::new(Counters::default());
        let mut session = counters.connection(Protocol::SocketIo, Transport::Polling);
        let ws = counters.connection(Protocol::Native, Transport::WebSocket);
        assert_eq!(
            counters.connection_count(Protocol::SocketIo, Transport::Polling),
            1
        );
        session.set_transport(Transport::WebSocket);
        assert_eq!(
            counters.connection_count(Protocol::SocketIo, Transport::Polling),
            0
        );
        assert_eq!(
            counters.connection_count(Protocol::SocketIo, Transport::WebSocket),
            1
        );
        drop(session);
        drop(ws);
        for p in Protocol::ALL {
            for t in Transport::ALL {
                assert_eq!(counters.connection_count(p, t), 0, "{p:?} {t:?}");
            }
        }
    }

    #[test]
    fn refusals_count_by_code_and_limit() {
        let counters = Counters::default();
        counters.alerted(&Error::RateLimited(Limit::Creates));
        counters.alerted(&Error::WrongPin);
        counters.dropped(Protocol::Peero, DropReason::RateLimited);
        let limit = |key| counters.rate_limited.get_or_create(&[("limit", key)]).get();
        assert_eq!(limit("creates_per_minute"), 1);
        assert_eq!(limit("requests_per_second"), 1);
        assert_eq!(counters.pin_failures.get(), 1);
        let code = |c| counters.alerts.get_or_create(&[("code", c)]).get();
        assert_eq!(code("rate_limited"), 1);
        assert_eq!(code("wrong_pin"), 1);
    }
}
