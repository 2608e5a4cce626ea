//! Logs: human-readable lines in development, JSON lines in production, on stdout,
//! filtered by `RUST_LOG` (default `info`).
//!
//! Lines are written by a thread of their own (tracing-appender), which writes whatever
//! has queued up in one go: a worker thread that logs (a connection opened, a member
//! attended) hands the line over instead of making a write system call per line, which
//! cost a connection's churn an eighth of its CPU time.
//!
//! A level says who has to act. ERROR is a fault of the server: a store that fails, a
//! certificate that expired, a bug. What a client causes (a malformed request, a broken
//! WebSocket frame) is never an ERROR, or every scanner on the internet would page the
//! operator; some libraries log those as errors, and [`demoted`] moves them to DEBUG,
//! with the framework's start-up chatter (one INFO line per listener is Switchboard's).

mod demoted;

use std::io::{BufWriter, IsTerminal};
use std::os::fd::AsFd;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::{EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer, Registry};

/// Log lines queued for the writer's thread at most: a burst the writer has not caught
/// up with (one write of a few hundred KiB) drops lines past it rather than wait.
const LINES_QUEUED: usize = 16_384;

/// Keeps the log writer's thread; dropping it (at exit) writes what is still queued.
#[must_use = "lines still queued are lost when this is dropped"]
pub struct Logs(#[allow(dead_code)] WorkerGuard);

/// Installs the process-wide subscriber (and the bridge from the `log` crate, which
/// actix-web and rustls log through). `development` picks text over JSON. Call once,
/// and keep what it returns until the process ends; a second call installs nothing.
pub fn init(development: bool) -> Logs {
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|d| EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| "info".to_string());
    let (writer, guard) = NonBlockingBuilder::default()
        .thread_name("switchboard-logs")
        // Lines waiting for the writer, at most (past it, dropped): its queue is allocated
        // whole, 4 MiB at the default of 128 000.
        .buffered_lines_limit(LINES_QUEUED)
        .finish(Lossy(BufWriter::new(stdout())));
    let layer = fmt::layer()
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    let layer: Box<dyn Layer<Registry> + Send + Sync> = if development {
        Box::new(layer.event_format(demoted::Relabel(fmt::format())))
    } else {
        Box::new(
            layer
                .json()
                .event_format(demoted::Relabel(fmt::format().json())),
        )
    };
    let filter = EnvFilter::new(&directives).and(demoted::Shown::new(&directives));
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
    Logs(guard)
}

/// Standard output without the line buffering of `std::io::stdout()`, which would make
/// a system call of every line: the buffer is flushed once the queue is empty.
fn stdout() -> Box<dyn std::io::Write + Send> {
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(std::io::stdout()),
    }
}

/// Logs must never take the server down: with stdout's reader gone, a line is dropped
/// rather than failing, since tracing would report the failure on stderr (gone too) and
/// panic in whatever task was logging, shutdown included.
struct Lossy<W>(W);

impl<W: std::io::Write> std::io::Write for Lossy<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.write_all(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}
