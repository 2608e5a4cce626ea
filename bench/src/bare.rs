//! The baseline: the least a WebSocket relay can do on tokio. Connections to
//! `/pair/<key>` are paired by key and every frame of one goes to the other, as it is;
//! `/echo` gets its own frames back. No JSON, no auth, no state beyond the pairing.
//! Both sides of a pair get a text frame `paired` when the pair is complete.
//! `/pair/<key>?ack` also answers every frame it forwards with the reply Switchboard
//! gives a relayed signal, `{"event":"sent","data":{}}`, for clients paced by replies.

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

type Outbox = mpsc::UnboundedSender<Message>;

/// Switchboard's reply to a relayed signal sent without an id.
const SENT: &str = r#"{"event":"sent","data":{}}"#;

/// Where a connection's frames go, and whether the sender hears back.
struct Route {
    partner: Option<Outbox>,
    /// The connection's own outbox, when it asked for replies.
    acks: Option<Outbox>,
}

impl Route {
    fn forward(&self, message: Message) {
        if let (Some(partner), Message::Text(_) | Message::Binary(_)) = (&self.partner, &message) {
            let _ = partner.send(message);
            if let Some(acks) = &self.acks {
                let _ = acks.send(Message::text(SENT));
            }
        }
    }
}

#[derive(Default)]
struct Pairing {
    waiting: HashMap<String, (Outbox, oneshot::Sender<Outbox>)>,
}

#[derive(clap::Args)]
pub struct Options {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let listener = TcpListener::bind(options.listen).await?;
    println!("bare relay listening on http://{}", listener.local_addr()?);
    let pairing = Arc::new(Mutex::new(Pairing::default()));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of descriptors, most likely: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let pairing = pairing.clone();
        tokio::spawn(async move {
            let _ = serve(stream, pairing).await;
        });
    }
}

#[allow(clippy::result_large_err)] // tungstenite's handshake callback type
async fn serve(stream: TcpStream, pairing: Arc<Mutex<Pairing>>) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let (mut path, mut acks) = (String::new(), false);
    let ws =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
            path = request.uri().path().to_string();
            acks = request.uri().query() == Some("ack");
            Ok(response)
        })
        .await?;
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        // Whatever is queued goes out in one write.
        while let Some(message) = rx.recv().await {
            let mut batch = sink.feed(message).await;
            while let (Ok(()), Ok(message)) = (&batch, rx.try_recv()) {
                batch = sink.feed(message).await;
            }
            if batch.is_err() || sink.flush().await.is_err() {
                break;
            }
        }
    });
    let acks = acks.then(|| tx.clone());
    let partner = if path == "/echo" {
        Some(tx.clone())
    } else {
        let key = path.strip_prefix("/pair/").unwrap_or(&path).to_string();
        let waiting = {
            let mut table = pairing.lock().expect("pairing lock");
            match table.waiting.remove(&key) {
                Some(first) => Ok(first),
                None => {
                    let (tell, told) = oneshot::channel();
                    table.waiting.insert(key, (tx.clone(), tell));
                    Err(told)
                }
            }
        };
        match waiting {
            Ok((first, tell)) => {
                let _ = tell.send(tx.clone());
                let _ = first.send(Message::text("paired"));
                let _ = tx.send(Message::text("paired"));
                Some(first)
            }
            Err(told) => return forward(source, told, acks, writer).await,
        }
    };
    let route = Route { partner, acks };
    while let Some(Ok(message)) = source.next().await {
        route.forward(message);
    }
    writer.abort();
    Ok(())
}

/// The first of a pair: frames before the second arrives are dropped.
async fn forward(
    mut source: futures_util::stream::SplitStream<tokio_tungstenite::WebSocketStream<TcpStream>>,
    mut told: oneshot::Receiver<Outbox>,
    acks: Option<Outbox>,
    writer: tokio::task::JoinHandle<()>,
) -> anyhow::Result<()> {
    let mut route = Route {
        partner: None,
        acks,
    };
    while let Some(Ok(message)) = source.next().await {
        if route.partner.is_none() {
            route.partner = told.try_recv().ok();
        }
        route.forward(message);
    }
    writer.abort();
    Ok(())
}
