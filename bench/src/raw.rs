//! A WebSocket client at the byte level, for what a hostile client sends: frame headers
//! that lie, floods of control frames, fragments, sockets it never reads. tungstenite
//! would refuse to write most of these, so frames are built here (RFC 6455 §5.2, masked
//! as a client's must be, §5.3).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use switchboard::client_frames::parse_server_frame;
pub use switchboard::client_frames::{frame, header, CONTINUATION, PING, PONG, TEXT};

/// `tcpi_state` of an established connection (linux/tcp_states.h; libc does not name it).
const TCP_ESTABLISHED: u8 = 1;

/// A connection upgraded to WebSocket, and what was read past the handshake.
pub struct Raw {
    pub stream: TcpStream,
    pending: Vec<u8>,
    /// The server's response head to the upgrade, without the blank line.
    pub head: String,
}

impl Raw {
    /// Connects to `/ws` of `addr` and completes the upgrade; with `recv_buffer`, the
    /// socket's SO_RCVBUF is set first, so that a client that does not read fills up
    /// after a few KiB instead of the several MiB loopback allows.
    pub async fn connect(addr: SocketAddr, recv_buffer: Option<u32>) -> anyhow::Result<Raw> {
        Raw::upgrade(addr, "/ws", "", recv_buffer).await
    }

    /// Connects to `path` of `addr` and completes the upgrade, with `headers` (each
    /// ending in CRLF) added to the request.
    pub async fn upgrade(
        addr: SocketAddr,
        path: &str,
        headers: &str,
        recv_buffer: Option<u32>,
    ) -> anyhow::Result<Raw> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut raw = Raw {
            stream,
            pending: Vec::new(),
            head: String::new(),
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        );
        raw.handshake(&request).await?;
        Ok(raw)
    }

    async fn handshake(&mut self, request: &str) -> anyhow::Result<()> {
        self.stream.write_all(request.as_bytes()).await?;
        loop {
            if let Some(end) = find(&self.pending, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.pending[..end]).to_string();
                anyhow::ensure!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
                self.pending.drain(..end + 4);
                self.head = head;
                return Ok(());
            }
            anyhow::ensure!(self.fill().await? > 0, "closed during the handshake");
        }
    }

    /// The next text message from the server (control frames skipped).
    pub async fn read_text(&mut self) -> anyhow::Result<String> {
        loop {
            if let Some((opcode, payload, used)) = parse_server_frame(&self.pending) {
                self.pending.drain(..used);
                if opcode == TEXT {
                    return Ok(String::from_utf8(payload)?);
                }
                continue;
            }
            anyhow::ensure!(self.fill().await? > 0, "the server closed the connection");
        }
    }

    async fn fill(&mut self) -> anyhow::Result<usize> {
        let mut buf = vec![0u8; 16 * 1024];
        let n = self.stream.read(&mut buf).await?;
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Writes all of `bytes` through a shared socket.
pub async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether the connection is still established as the kernel sees it, without reading
/// from it: a FIN or an RST from the server moves it out of ESTABLISHED even while
/// unread data sits in the receive buffer.
pub fn established(stream: &TcpStream) -> anyhow::Result<bool> {
    // SAFETY: tcp_info is plain old data; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    anyhow::ensure!(rc == 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    Ok(info.tcpi_state == TCP_ESTABLISHED)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
