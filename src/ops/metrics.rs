//! `GET /metrics`: every series in the Prometheus text format (version 0.0.4), from the
//! `prometheus-client` registry. docs/operations.md lists the series and their labels;
//! dashboards and alerts rely on the names, so they change only with a note there.
//!
//! Counts kept as plain atomics (per-frame ones, see `core/counters.rs`) and figures read
//! from the hub (workspaces, members) are encoded at scrape time by [`Live`]; the rest are
//! `prometheus-client` metrics registered as they are.

use crate::core::counters::{Counters, DropReason, PolicyClose, Protocol, Transport};
use crate::core::workspaces::Hub;
use crate::http::AppState;
use crate::tls::CertExpiry;
use actix_web::{web, HttpResponse};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;

/// The registry of one server, with everything registered.
pub fn registry(hub: Arc<Hub>, counters: Arc<Counters>, tls: CertExpiry) -> Registry {
    let mut registry = Registry::with_prefix("switchboard");
    registry.register(
        "requests",
        "Requests received, by protocol and event (known events only)",
        counters.requests.clone(),
    );
    let by_one_label = [
        (
            "alerts",
            "Errors answered to clients, by wire code",
            &counters.alerts,
        ),
        (
            "rate_limited",
            "Refusals by a rate limit, by the setting of the limit",
            &counters.rate_limited,
        ),
        (
            "ice_requests",
            "ICE server lists asked of each provider",
            &counters.ice_requests,
        ),
        (
            "ice_failures",
            "ICE server lists a provider failed to give",
            &counters.ice_failures,
        ),
    ];
    for (name, help, family) in by_one_label {
        registry.register(name, help, family.clone());
    }
    registry.register(
        "pin_failures",
        "Wrong or missing PINs at attend",
        counters.pin_failures.clone(),
    );
    registry.register_with_unit(
        "store_write",
        "Time a store write (apply) took",
        Unit::Seconds,
        counters.store_write.clone(),
    );
    registry.register_with_unit(
        "store_flush",
        "Time until written changes were durable (sync)",
        Unit::Seconds,
        counters.store_flush.clone(),
    );
    registry.register_collector(Box::new(Live { hub, counters, tls }));
    registry
}

/// `GET /metrics`.
pub async fn scrape(app: web::Data<AppState>) -> HttpResponse {
    let mut text = String::new();
    match prometheus_client::encoding::prometheus_text::encode(&mut text, &app.metrics) {
        Ok(()) => HttpResponse::Ok()
            .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
            .body(text),
        Err(e) => {
            tracing::error!("encoding metrics failed: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// What is read at scrape time rather than kept as a metric.
struct Live {
    hub: Arc<Hub>,
    counters: Arc<Counters>,
    tls: CertExpiry,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.encode_gauges(&mut encoder)?;
        self.encode_frames(&mut encoder)?;
        if let Some(not_after) = self.tls.not_after() {
            let left = not_after - crate::auth::tokens::now_secs() as i64;
            let metric = ConstGauge::new(left);
            metric.encode(encoder.encode_descriptor(
                "tls_certificate_expiry_seconds",
                "Seconds until the served TLS certificate expires (negative: expired)",
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}

impl Live {
    fn encode_gauges(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "connections",
            "Open connections, by protocol and transport",
            None,
            MetricType::Gauge,
        )?;
        for protocol in Protocol::ALL {
            for transport in Transport::ALL {
                // Only Engine.IO polls; the other pairs would be zeros forever.
                if transport == Transport::Polling && protocol != Protocol::SocketIo {
                    continue;
                }
                let labels = [
                    ("protocol", protocol.label()),
                    ("transport", transport.label()),
                ];
                let open = self.counters.connection_count(protocol, transport);
                ConstGauge::new(open).encode(family.encode_family(&labels)?)?;
            }
        }
        let workspaces = ConstGauge::new(self.hub.workspace_count() as i64);
        workspaces.encode(encoder.encode_descriptor(
            "workspaces",
            "Workspaces on this node",
            None,
            MetricType::Gauge,
        )?)?;
        let presence = self.hub.presence();
        let mut family = encoder.encode_descriptor(
            "members",
            "Members of the workspaces on this node, online or offline",
            None,
            MetricType::Gauge,
        )?;
        for (state, count) in [("online", presence.online), ("offline", presence.offline)] {
            let metric = ConstGauge::new(count as i64);
            metric.encode(family.encode_family(&[("state", state)])?)?;
        }
        Ok(())
    }

    fn encode_frames(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let c = &self.counters;
        let per_protocol = |count: &dyn Fn(Protocol) -> u64| {
            Protocol::ALL.map(|p| ([("protocol", p.label())], count(p)))
        };
        counters(
            encoder,
            ("relayed_messages", None),
            "Messages relayed to their receiver, by the sender's protocol",
            per_protocol(&|p| c.relayed_count(p)),
        )?;
        counters(
            encoder,
            ("relayed", Some(&Unit::Bytes)),
            "Bytes of the messages relayed, as received, by the sender's protocol",
            per_protocol(&|p| c.relayed_bytes(p)),
        )?;
        let dropped = Protocol::ALL.into_iter().flat_map(|p| {
            DropReason::ALL.map(|r| {
                let labels = [("protocol", p.label()), ("reason", r.label())];
                (labels, c.dropped_count(p, r))
            })
        });
        counters(
            encoder,
            ("dropped_frames", None),
            "Frames dropped without an answer, by protocol and reason",
            dropped,
        )?;
        counters(
            encoder,
            ("policy_closes", None),
            "Connections the server closed with 1008, by reason",
            PolicyClose::ALL.map(|w| ([("reason", w.label())], c.policy_close_count(w))),
        )
    }
}

/// One counter family: `name` (with its unit) and a value per label set.
fn counters<const N: usize>(
    encoder: &mut DescriptorEncoder,
    (name, unit): (&str, Option<&Unit>),
    help: &str,
    values: impl IntoIterator<Item = ([(&'static str, &'static str); N], u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, value) in values {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
