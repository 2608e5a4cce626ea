//! Socket options, set deliberately on every listener and every accepted connection,
//! and the last resort of a close: ending a TCP connection whose peer does not read.
//!
//! - `TCP_NODELAY`: signaling is many small frames written back to back (a `sent`
//!   reply, then a relayed candidate); with Nagle's algorithm the second waits for the
//!   peer's delayed ACK, about 40 ms.
//! - Keep-alive: a peer that vanished without a FIN (a laptop lid closed, a NAT that
//!   forgot the mapping) is noticed by the kernel even when no ping is due.
//! - A listen backlog sized for a reconnect storm after a restart.

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use socket2::{SockRef, TcpKeepalive};
use std::any::Any;
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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

/// actix-web's `on_connect` hook, for plain and TLS connections alike: sets the
/// connection's options, and leaves a [`SocketHandle`] in its extensions.
pub fn on_connect(conn: &dyn Any, extensions: &mut Extensions) {
    let Some(tcp) = tcp_stream(conn) else {
        return;
    };
    let socket = SockRef::from(tcp);
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
    extensions.insert(Arc::new(SocketHandle {
        fd: tcp.as_raw_fd(),
        gone: CancellationToken::new(),
    }));
}

fn tcp_stream(conn: &dyn Any) -> Option<&TcpStream> {
    conn.downcast_ref::<TcpStream>().or_else(|| {
        conn.downcast_ref::<TlsStream<TcpStream>>()
            .map(|tls| tls.get_ref().0)
    })
}

/// The connection's socket, for aborting it.
///
/// It lives in the connection's extensions, which actix-http drops together with the
/// socket, on the worker thread that owns both. Holders keep only a `Weak` to it, on
/// that same thread: while the `Weak` upgrades, the descriptor is still the
/// connection's own and cannot have been reused for another.
pub struct SocketHandle {
    fd: RawFd,
    /// Cancelled when the connection is dropped: its TCP connection has ended.
    gone: CancellationToken,
}

impl SocketHandle {
    /// Cancelled once actix-http has let go of the connection.
    pub fn gone(&self) -> CancellationToken {
        self.gone.clone()
    }

    /// Ends the connection at once, dropping whatever the peer did not read: RST rather
    /// than FIN (`SO_LINGER` 0), and both directions shut so that the HTTP dispatcher,
    /// blocked writing to a peer that does not read, wakes up and lets go.
    pub fn abort(&self) {
        // SAFETY: see the type's docs: the descriptor is open and owned by the live
        // connection for as long as this handle can be reached.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let socket = SockRef::from(&fd);
        let _ = socket.set_linger(Some(Duration::ZERO));
        let _ = socket.shutdown(Shutdown::Both);
    }
}

impl Drop for SocketHandle {
    fn drop(&mut self) {
        self.gone.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_get_nodelay_keepalive_and_a_handle() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        configure_listener(&listener).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(false).unwrap();
        let mut extensions = Extensions::new();
        on_connect(&stream, &mut extensions);
        assert!(stream.nodelay().unwrap());
        assert!(SockRef::from(&stream).keepalive().unwrap());
        assert!(extensions.get::<Arc<SocketHandle>>().is_some());
    }

    #[tokio::test]
    async fn an_aborted_connection_ends() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut extensions = Extensions::new();
        on_connect(&stream, &mut extensions);
        let handle = extensions.get::<Arc<SocketHandle>>().unwrap().clone();
        let gone = handle.gone();
        handle.abort();
        drop(stream);
        let mut buf = [0u8; 16];
        // Nothing was queued, so the FIN of the shutdown arrives before the RST of the
        // close; with unread data queued, only the RST would.
        let read = client.read(&mut buf).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the connection ended: {read:?}"
        );
        drop(extensions);
        drop(handle);
        assert!(gone.is_cancelled());
    }
}
