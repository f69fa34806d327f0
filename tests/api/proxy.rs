//! A TCP proxy a test can make fail: in front of PostgreSQL (connections cut and
//! refused) or of the S3 server (every request a 500, or accepted and never answered).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass both ways.
    None,
    /// Closed at once, as by a server that is down.
    Refuse,
    /// Each connection's first request is answered `500 Internal Server Error` (HTTP).
    Http500,
    /// Accepted and read, never answered.
    Hang,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub port: u16,
    fault: Arc<watch::Sender<Fault>>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`host:port`), passing bytes until told otherwise.
    pub async fn start(upstream: String) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = FaultProxy {
            port: listener.local_addr().unwrap().port(),
            fault: Arc::new(watch::channel(Fault::None).0),
        };
        let fault = proxy.fault.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), fault.subscribe()));
            }
        });
        proxy
    }

    /// From now on every connection meets `fault`: those open are dropped (pooled
    /// connections included), new ones get it.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// The upstream is "down": connections dropped, new ones closed at once.
    pub fn cut(&self) {
        self.set(Fault::Refuse);
    }

    pub fn restore(&self) {
        self.set(Fault::None);
    }
}

/// One connection under the fault current when it was accepted, until the fault changes.
async fn serve(mut client: TcpStream, upstream: String, mut fault: watch::Receiver<Fault>) {
    let current = *fault.borrow_and_update();
    let work = async {
        match current {
            Fault::None => {
                if let Ok(mut upstream) = TcpStream::connect(&upstream).await {
                    tokio::io::copy_bidirectional(&mut client, &mut upstream)
                        .await
                        .ok();
                }
            }
            Fault::Refuse => {}
            Fault::Http500 => answer_500(&mut client).await,
            Fault::Hang => {
                // Held open (and drained, so a body never blocks) while the client waits.
                tokio::io::copy(&mut client, &mut tokio::io::sink())
                    .await
                    .ok();
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = fault.changed() => {}
    }
}

/// Reads a request's head and answers it with a 500, closing the connection.
async fn answer_500(client: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = "<Error><Code>InternalError</Code><Message>injected</Message></Error>";
    let response = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes()).await.ok();
    client.shutdown().await.ok();
}
