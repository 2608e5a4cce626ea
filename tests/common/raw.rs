//! A WebSocket peer at the byte level, for what a hostile or broken client sends:
//! frame headers that lie, floods of control frames, fragments, sockets never read.

use super::within;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use switchboard::client_frames::parse_server_frame;
// Each test binary uses part of these, as of the rest of this module.
#[allow(unused_imports)]
pub use switchboard::client_frames::{frame, header, CLOSE, CONTINUATION, PING, PONG, TEXT};

pub struct Raw {
    pub stream: TcpStream,
    /// Bytes read past the handshake and not yet returned as a frame.
    pending: Vec<u8>,
}

/// How a connection ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The server's FIN.
    Eof,
    /// The server's RST.
    Reset,
}

impl Raw {
    /// Connects to `/ws` of `addr` and completes the upgrade.
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw::connect_from(IpAddr::from([127, 0, 0, 1]), addr, None).await
    }

    /// Connects from the loopback address `from` (any 127.x.y.z), optionally with a small
    /// receive buffer so that a peer that does not read fills up quickly.
    pub async fn connect_from(from: IpAddr, addr: SocketAddr, recv_buffer: Option<u32>) -> Raw {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::new(from, 0))
            .expect("bind a loopback address");
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        let stream = within("a TCP connection", socket.connect(addr))
            .await
            .expect("connect");
        let mut raw = Raw {
            stream,
            pending: Vec::new(),
        };
        raw.handshake(addr).await;
        raw
    }

    async fn handshake(&mut self, addr: SocketAddr) {
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        self.write(request.as_bytes())
            .await
            .expect("the upgrade request");
        loop {
            if let Some(end) = find(&self.pending, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.pending[..end]).to_string();
                assert!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
                self.pending.drain(..end + 4);
                return;
            }
            let read = self.fill().await;
            assert!(read > 0, "the server closed during the handshake");
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    pub async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        self.write(&frame(fin, opcode, payload)).await
    }

    /// The next frame from the server other than its pings: its opcode and payload;
    /// `None` when the connection ended first.
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((opcode, payload, used)) = parse_server_frame(&self.pending) {
                let frame = (opcode, payload);
                self.pending.drain(..used);
                if frame.0 == PING {
                    continue;
                }
                return Some(frame);
            }
            if within("a frame from the server", self.try_fill()).await? == 0 {
                return None;
            }
        }
    }

    /// Frames until a close frame; returns its status code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let (opcode, payload) = self.read_frame().await?;
            if opcode == CLOSE {
                return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            }
        }
    }

    /// Reads and drops everything until the server ends the connection; returns how,
    /// and how long that took. Fails the test after `limit`.
    pub async fn ended_within(&mut self, limit: Duration) -> (Ended, Duration) {
        let start = Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        let how = super::within_for(limit, "the server to end the TCP connection", async {
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) => return Ended::Eof,
                    Ok(_) => continue,
                    Err(_) => return Ended::Reset,
                }
            }
        })
        .await;
        (how, start.elapsed())
    }

    async fn fill(&mut self) -> usize {
        self.try_fill().await.expect("reading from the server")
    }

    async fn try_fill(&mut self) -> Option<usize> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = self.stream.read(&mut buf).await.ok()?;
        self.pending.extend_from_slice(&buf[..n]);
        Some(n)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
