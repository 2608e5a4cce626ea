//! The typed WebSocket client of the native protocol: requests matched to replies by
//! `id`, pushes kept in arrival order, closes observed with their codes.

use super::{alert_code, within, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::VecDeque;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A native-protocol client. Pushes that arrive while it waits for a reply are kept,
/// in order, for [`Client::next_push`] and [`Client::expect_push`].
pub struct Client {
    ws: Socket,
    next_id: u64,
    pushes: VecDeque<Value>,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        Client::connect_with_headers(url, &[]).await
    }

    /// Connects with extra handshake headers, each `(name, value)` its own line, in order
    /// (as a reverse proxy in front of the server would add them).
    pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Client {
        let mut request = url
            .into_client_request()
            .unwrap_or_else(|e| panic!("a WebSocket request for {url}: {e}"));
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
            let value = HeaderValue::from_str(value).expect("a header value");
            request.headers_mut().append(name, value);
        }
        let (ws, _) = within(
            "the WebSocket handshake",
            tokio_tungstenite::connect_async(request),
        )
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        Client::over(ws)
    }

    fn over(ws: Socket) -> Client {
        Client {
            ws,
            next_id: 0,
            pushes: VecDeque::new(),
        }
    }

    /// Connects from the loopback address `from` (any 127.x.y.z): a distinct client
    /// address, for per-address limits.
    pub async fn connect_from(url: &str, from: std::net::IpAddr) -> Client {
        let host = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap_or_default();
        let addr: std::net::SocketAddr = host.parse().expect("a ws://ip:port/ url");
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind((from, 0).into())
            .expect("bind a loopback address");
        let stream = within("a TCP connection", socket.connect(addr))
            .await
            .expect("connect");
        let (ws, _) = within(
            "the WebSocket handshake",
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)),
        )
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        Client::over(ws)
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_message(Message::Text(frame.to_string())).await;
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.send_message(Message::Text(text.into())).await;
    }

    pub async fn send_message(&mut self, message: Message) {
        within("sending a frame", self.ws.send(message))
            .await
            .unwrap_or_else(|e| panic!("sending a frame failed: {e}"));
    }

    /// Sends a text frame; false when the connection is already gone.
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        let send = self.ws.send(Message::Text(text.to_string()));
        matches!(within("sending a frame", send).await, Ok(()))
    }

    /// A fresh request id for frames sent by hand.
    pub fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends `event` with a fresh `id` and returns the reply frame (success or alert).
    pub async fn request(&mut self, event: &str, data: Value) -> Value {
        let id = self.fresh_id();
        self.send(json!({"event": event, "id": id, "data": data}))
            .await;
        self.reply_to(&json!(id), event).await
    }

    /// Reads until the frame whose `re` is `id`, keeping pushes for later.
    pub async fn reply_to(&mut self, id: &Value, what: &str) -> Value {
        loop {
            let frame = self.recv_frame(&format!("the reply to {what}")).await;
            match frame.get("re") {
                None => self.pushes.push_back(frame),
                Some(re) if re == id => return frame,
                Some(_) => panic!("a reply to another request while waiting for {what}: {frame}"),
            }
        }
    }

    /// Sends a request that must succeed with `expected`; returns the reply's `data`.
    pub async fn ok(&mut self, event: &str, data: Value, expected: &str) -> Value {
        let frame = self.request(event, data).await;
        assert_eq!(frame["event"], expected, "reply to {event}: {frame}");
        frame["data"].clone()
    }

    /// Sends a request that must fail; returns the alert's code.
    pub async fn alert(&mut self, event: &str, data: Value) -> String {
        let frame = self.request(event, data).await;
        alert_code(&frame)
    }

    /// The next push, in arrival order (buffered ones first).
    pub async fn next_push(&mut self) -> Value {
        if let Some(frame) = self.pushes.pop_front() {
            return frame;
        }
        let frame = self.recv_frame("a push").await;
        assert!(
            frame.get("re").is_none(),
            "expected a push, got a reply: {frame}"
        );
        frame
    }

    /// The next push must be `event`; returns its `data`.
    pub async fn recv_event(&mut self, event: &str) -> Value {
        let frame = self.next_push().await;
        assert_eq!(
            frame["event"], event,
            "expected the push {event}, got {frame}"
        );
        frame["data"].clone()
    }

    /// The first push named `event`, skipping (and keeping) others; returns its `data`.
    pub async fn expect_push(&mut self, event: &str) -> Value {
        if let Some(at) = self.pushes.iter().position(|f| f["event"] == event) {
            let frame = self.pushes.remove(at).expect("position is in range");
            return frame["data"].clone();
        }
        loop {
            let frame = self.recv_frame(&format!("the push {event}")).await;
            assert!(
                frame.get("re").is_none(),
                "expected a push, got a reply: {frame}"
            );
            if frame["event"] == event {
                return frame["data"].clone();
            }
            self.pushes.push_back(frame);
        }
    }

    /// Pushes received so far and not yet taken.
    pub fn buffered(&self) -> &VecDeque<Value> {
        &self.pushes
    }

    /// The next text frame from the socket, parsed; panics on close or timeout.
    pub async fn recv_frame(&mut self, what: &str) -> Value {
        loop {
            let message = within(what, self.ws.next()).await;
            match message {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("server sent non-JSON ({e}): {text}"));
                }
                Some(Ok(Message::Close(frame))) => {
                    panic!("connection closed ({frame:?}) while waiting for {what}")
                }
                Some(Ok(Message::Binary(_))) => panic!("server sent a binary frame"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("connection failed while waiting for {what}: {e}"),
                None => panic!("connection ended while waiting for {what}"),
            }
        }
    }

    /// The next WebSocket message of any kind (pings included); panics on timeout or
    /// when the connection has ended.
    pub async fn next_message(&mut self, what: &str) -> Message {
        match within(what, self.ws.next()).await {
            Some(Ok(message)) => message,
            Some(Err(e)) => panic!("connection failed while waiting for {what}: {e}"),
            None => panic!("connection ended while waiting for {what}"),
        }
    }

    /// Reads until the server closes; asserts the close code. Frames before the close
    /// are kept as pushes.
    pub async fn expect_close(&mut self, code: u16) {
        let got = self.closed_with().await;
        assert_eq!(got, Some(code), "expected close code {code}");
    }

    /// Reads until the server closes; the close code, `None` when the connection ended
    /// without a close frame.
    pub async fn closed_with(&mut self) -> Option<u16> {
        loop {
            let message = within("the server to close the connection", self.ws.next()).await;
            match message {
                Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                    Ok(frame) => self.pushes.push_back(frame),
                    Err(e) => panic!("server sent non-JSON ({e}): {text}"),
                },
                Some(Ok(Message::Close(frame))) => {
                    return Some(frame.map_or(1005, |f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Closes this side normally (code 1000) and waits for the server's answer.
    pub async fn close(&mut self) {
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        let _ = within("closing", self.ws.close(Some(frame))).await;
        // Drain until the server acknowledges, so that the close is seen server side.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.ws.next()).await {}
    }

    /// Gives up the client, keeping its socket open but never read again.
    pub fn into_inner(self) -> Socket {
        self.ws
    }
}
