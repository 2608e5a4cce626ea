//! Socket options, set deliberately on every listener and every accepted connection,
//! and the last resort of a close: ending a TCP connection whose peer does not read.
//!
//! - `TCP_NODELAY`: signaling is many small frames written back to back (a `sent`
//!   reply, then a relayed candidate); with Nagle's algorithm the second waits for the
//!   peer's delayed ACK, about 40 ms.
//! - Keep-alive: a peer that vanished without a FIN (a laptop lid closed, a NAT that
//!   forgot the mapping) is noticed by the kernel even when no ping is due.
//! - A listen backlog sized for a reconnect storm after a restart.

use super::upgrade::Stream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use socket2::{SockRef, TcpKeepalive};
use std::any::Any;
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// Pending connections the kernel queues before `accept` (the kernel caps it at
/// `net.core.somaxconn`).
const BACKLOG: i32 = 4096;
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 3;

/// Applies the listener's options; called on every listener Switchboard serves.
pub fn configure_listener(listener: &TcpListener) -> std::io::Result<()> {
    let socket = SockRef::from(listener);
    // Accepted sockets inherit this on Linux; each is set again in `on_connect` anyway.
    socket.set_tcp_nodelay(true)?;
    socket.listen(BACKLOG)
}

/// The hook of every accepted connection, plain or TLS: sets its options. (The
/// redirect listener, a plain actix-web `HttpServer`, calls it through
/// [`on_connect_any`].)
pub(crate) fn on_connect<T: Stream>(conn: &T, _: &mut Extensions) {
    configure(conn.fd());
}

/// [`on_connect`] for actix-web's `HttpServer`, which passes the connection untyped.
pub fn on_connect_any(conn: &dyn Any, _: &mut Extensions) {
    if let Some(tcp) = conn.downcast_ref::<TcpStream>() {
        configure(tcp.as_raw_fd());
    }
}

fn configure(fd: RawFd) {
    // SAFETY: called while actix holds the connection open.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let socket = SockRef::from(&fd);
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    if let Err(e) = socket
        .set_tcp_nodelay(true)
        .and_then(|()| socket.set_tcp_keepalive(&keepalive))
    {
        tracing::debug!("socket options not set: {e}");
    }
}

/// Ends the connection of `fd` at once, dropping whatever the peer did not read: RST
/// rather than FIN (`SO_LINGER` 0), both directions shut. The caller owns the socket,
/// and drops it next.
pub(crate) fn abort(fd: RawFd) {
    // SAFETY: the caller holds the socket open (see above).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let socket = SockRef::from(&fd);
    let _ = socket.set_linger(Some(Duration::ZERO));
    let _ = socket.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_get_nodelay_and_keepalive() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        configure_listener(&listener).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(false).unwrap();
        on_connect(&stream, &mut Extensions::new());
        assert!(stream.nodelay().unwrap());
        assert!(SockRef::from(&stream).keepalive().unwrap());
    }

    #[tokio::test]
    async fn an_aborted_connection_ends() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        abort(stream.as_raw_fd());
        drop(stream);
        let mut buf = [0u8; 16];
        // Nothing was queued, so the FIN of the shutdown arrives before the RST of the
        // close; with unread data queued, only the RST would.
        let read = client.read(&mut buf).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the connection ended: {read:?}"
        );
    }
}
