//! Socket options, set deliberately on every listener (and so on every connection it
//! accepts), and the last resort of a close: ending a TCP connection whose peer does not read.
//!
//! - `TCP_NODELAY`: signaling is many small frames written back to back (a `sent`
//!   reply, then a relayed candidate); with Nagle's algorithm the second waits for the
//!   peer's delayed ACK, about 40 ms.
//! - Keep-alive: a peer that vanished without a FIN (a laptop lid closed, a NAT that
//!   forgot the mapping) is noticed by the kernel even when no ping is due.
//! - A listen backlog sized for a reconnect storm after a restart.

use socket2::{SockRef, TcpKeepalive};
use std::net::{Shutdown, TcpListener};
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

/// Pending connections the kernel queues before `accept` (the kernel caps it at
/// `net.core.somaxconn`).
const BACKLOG: i32 = 4096;
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 3;

/// Applies the options above to `listener`; called on every listener Switchboard serves.
/// Linux copies a listener's socket options to each connection it accepts (the
/// accepted socket is cloned from it), so no accepted connection pays the system calls
/// again.
pub fn configure_listener(listener: &TcpListener) -> std::io::Result<()> {
    let socket = SockRef::from(listener);
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    socket.set_tcp_nodelay(true)?;
    socket.set_tcp_keepalive(&keepalive)?;
    socket.listen(BACKLOG)
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
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        assert!(stream.nodelay().unwrap());
        let socket = SockRef::from(&stream);
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
    }

    #[tokio::test]
    async fn an_aborted_connection_ends() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        abort(std::os::fd::AsRawFd::as_raw_fd(&stream));
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
