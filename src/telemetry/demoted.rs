//! Events some libraries log above what they are worth, written at DEBUG instead:
//!
//! - Errors a client causes. actix-http logs at ERROR the end of every HTTP/1 connection
//!   that failed, the client's malformed request included, and every fragmented
//!   WebSocket control frame.
//! - The framework's start-up and shutdown chatter. actix-server logs at INFO, once per
//!   listener, that it starts N workers, found a Tokio runtime, starts a service, shuts
//!   down each worker; Switchboard logs its own one line per listener instead.
//!
//! [`Shown`] lets such an event through only where `RUST_LOG` enables DEBUG for its
//! target, and [`Relabel`] writes it with that level.
//!
//! Matching a library's message text is brittle by nature; `tests/logs.rs` sends each
//! of the client mistakes to the real binary and fails on any ERROR line, and reads the
//! start-up lines, so an upgrade that rewords one is caught.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// The level these events are logged at.
const LEVEL: Level = Level::DEBUG;

/// (level, target prefix, message prefix) of the events logged at [`LEVEL`] instead.
const DEMOTED: [(Level, &str, &str); 8] = [
    // The HTTP/1 dispatcher ends a failed connection with its error: a malformed request
    // (answered 400), a head over 128 KiB or 96 fields (431), a peer that reset or
    // stopped reading, one too slow to send its head (408) or to close, a body sent
    // to a route that reads none.
    (
        Level::ERROR,
        DISPATCHER,
        "stream error: request parse error",
    ),
    (Level::ERROR, DISPATCHER, "stream error: I/O error"),
    (
        Level::ERROR,
        DISPATCHER,
        "stream error: request did not complete",
    ),
    (
        Level::ERROR,
        DISPATCHER,
        "stream error: connection shutdown timeout",
    ),
    (
        Level::ERROR,
        DISPATCHER,
        "stream error: handler dropped payload",
    ),
    (Level::ERROR, DISPATCHER, "write zero"),
    // A WebSocket control frame without FIN, or a bad opcode: closed with 1002.
    (Level::ERROR, "actix_http::ws::codec", "Unfinished fragment"),
    // Every INFO line of the framework's servers, workers and accept loops.
    (Level::INFO, "actix_server", ""),
];

const DISPATCHER: &str = "actix_http::h1::dispatcher";

/// Whether `event` is one of [`DEMOTED`].
fn is_demoted(event: &Event<'_>) -> bool {
    let meta = event.metadata();
    let rules = || {
        DEMOTED
            .iter()
            .filter(|(level, target, _)| level == meta.level() && meta.target().starts_with(target))
    };
    if rules().next().is_none() {
        return false;
    }
    let mut message = Message(String::new());
    event.record(&mut message);
    rules().any(|(_, _, prefix)| message.0.starts_with(prefix))
}

/// The `message` field of an event, formatted.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

/// A filter that keeps a demoted event only where `RUST_LOG` enables [`LEVEL`] for its
/// target; every other event is left to the `RUST_LOG` filter it is combined with.
pub(super) struct Shown(Targets);

impl Shown {
    /// `directives` as `RUST_LOG` writes them. Directives `Targets` cannot read (span
    /// and field filters) hide demoted events, as the default `info` does.
    pub(super) fn new(directives: &str) -> Shown {
        Shown(directives.parse().unwrap_or_default())
    }
}

impl<S> Filter<S> for Shown {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        !is_demoted(event) || self.0.would_enable(event.metadata().target(), &LEVEL)
    }
}

/// Formats with `F`, writing a demoted event with [`LEVEL`] in place of its own.
pub(super) struct Relabel<F>(pub(super) F);

impl<S, N, F> FormatEvent<S, N> for Relabel<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if !is_demoted(event) {
            return self.0.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        writer.write_str(&relabel(&line, *event.metadata().level()))
    }
}

/// The level is the first label of a text line (after the timestamp, padded to five
/// columns) and the first `"level"` of a JSON line; [`LEVEL`]'s label is five letters
/// too, so columns stay aligned.
fn relabel(line: &str, level: Level) -> String {
    if line.starts_with('{') {
        let from = format!(r#""level":"{level}""#);
        line.replacen(&from, &format!(r#""level":"{LEVEL}""#), 1)
    } else {
        line.replacen(&format!("{level:>5}"), &LEVEL.to_string(), 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_lines_are_relabelled_once() {
        let text = "2026-01-01T00:00:00Z ERROR actix_http::h1::dispatcher: stream error: ERROR";
        assert_eq!(
            relabel(text, Level::ERROR),
            "2026-01-01T00:00:00Z DEBUG actix_http::h1::dispatcher: stream error: ERROR"
        );
        let json =
            r#"{"timestamp":"t","level":"ERROR","fields":{"message":"\"level\":\"ERROR\""}}"#;
        assert_eq!(
            relabel(json, Level::ERROR),
            r#"{"timestamp":"t","level":"DEBUG","fields":{"message":"\"level\":\"ERROR\""}}"#
        );
    }

    #[test]
    fn info_lines_are_relabelled_in_their_column() {
        let text = "2026-01-01T00:00:00Z  INFO actix_server::builder: starting 2 workers";
        assert_eq!(
            relabel(text, Level::INFO),
            "2026-01-01T00:00:00Z DEBUG actix_server::builder: starting 2 workers"
        );
        let json = r#"{"timestamp":"t","level":"INFO","fields":{}}"#;
        assert_eq!(
            relabel(json, Level::INFO),
            r#"{"timestamp":"t","level":"DEBUG","fields":{}}"#
        );
    }

    #[test]
    fn demoted_events_show_only_where_debug_is_enabled() {
        let target = DISPATCHER;
        assert!(!Shown::new("info").0.would_enable(target, &LEVEL));
        assert!(Shown::new("info,actix_http=debug")
            .0
            .would_enable(target, &LEVEL));
        assert!(!Shown::new("info,[conn]=debug")
            .0
            .would_enable(target, &LEVEL));
    }
}
