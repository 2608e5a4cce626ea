//! Errors a client causes, logged as errors by the libraries that meet them. actix-http
//! logs at ERROR the end of every HTTP/1 connection that failed, the client's malformed
//! request included, and every fragmented WebSocket control frame. Here those events
//! become DEBUG events: [`Shown`] lets one through only where `RUST_LOG` enables DEBUG
//! for its target, and [`Relabel`] writes it with that level.
//!
//! Matching a library's message text is brittle by nature; `tests/logs.rs` sends each
//! of these mistakes to the real binary and fails on any ERROR line, so an upgrade that
//! rewords one is caught.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// The level a client's mistake is logged at.
const LEVEL: Level = Level::DEBUG;

/// (target, message prefix) of the ERROR events a client causes.
const CLIENT_MISTAKES: [(&str, &str); 7] = [
    // The HTTP/1 dispatcher ends a failed connection with its error: a malformed request
    // (answered 400), a head over 128 KiB or 96 fields (431), a peer that reset or
    // stopped reading, one too slow to send its head (408) or to close, a body sent
    // to a route that reads none.
    (DISPATCHER, "stream error: request parse error"),
    (DISPATCHER, "stream error: I/O error"),
    (DISPATCHER, "stream error: request did not complete"),
    (DISPATCHER, "stream error: connection shutdown timeout"),
    (DISPATCHER, "stream error: handler dropped payload"),
    (DISPATCHER, "write zero"),
    // A WebSocket control frame without FIN, or a bad opcode: closed with 1002.
    ("actix_http::ws::codec", "Unfinished fragment"),
];

const DISPATCHER: &str = "actix_http::h1::dispatcher";

/// Whether `event` is one of [`CLIENT_MISTAKES`].
fn is_client_mistake(event: &Event<'_>) -> bool {
    let meta = event.metadata();
    if *meta.level() != Level::ERROR || !CLIENT_MISTAKES.iter().any(|(t, _)| *t == meta.target()) {
        return false;
    }
    let mut message = Message(String::new());
    event.record(&mut message);
    CLIENT_MISTAKES
        .iter()
        .any(|(target, prefix)| *target == meta.target() && message.0.starts_with(prefix))
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

/// A filter that keeps a client's mistake only where `RUST_LOG` enables [`LEVEL`] for
/// its target; every other event is left to the `RUST_LOG` filter it is combined with.
pub(super) struct Shown(Targets);

impl Shown {
    /// `directives` as `RUST_LOG` writes them. Directives `Targets` cannot read (span
    /// and field filters) hide client mistakes, as the default `info` does.
    pub(super) fn new(directives: &str) -> Shown {
        Shown(directives.parse().unwrap_or_default())
    }
}

impl<S> Filter<S> for Shown {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        !is_client_mistake(event) || self.0.would_enable(event.metadata().target(), &LEVEL)
    }
}

/// Formats with `F`, writing a client's mistake with [`LEVEL`] in place of ERROR.
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
        if !is_client_mistake(event) {
            return self.0.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        writer.write_str(&relabel(&line))
    }
}

/// The level is the first `ERROR` of a text line (after the timestamp) and the first
/// `"level"` of a JSON line; both labels are five letters, so columns stay aligned.
fn relabel(line: &str) -> String {
    let (from, to) = if line.starts_with('{') {
        (r#""level":"ERROR""#, format!(r#""level":"{LEVEL}""#))
    } else {
        ("ERROR", LEVEL.to_string())
    };
    line.replacen(from, &to, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_lines_are_relabelled_once() {
        let text = "2026-01-01T00:00:00Z ERROR actix_http::h1::dispatcher: stream error: ERROR";
        assert_eq!(
            relabel(text),
            "2026-01-01T00:00:00Z DEBUG actix_http::h1::dispatcher: stream error: ERROR"
        );
        let json =
            r#"{"timestamp":"t","level":"ERROR","fields":{"message":"\"level\":\"ERROR\""}}"#;
        assert_eq!(
            relabel(json),
            r#"{"timestamp":"t","level":"DEBUG","fields":{"message":"\"level\":\"ERROR\""}}"#
        );
    }

    #[test]
    fn client_mistakes_show_only_where_debug_is_enabled() {
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
