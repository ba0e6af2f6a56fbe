//! The collection endpoint: a listener that comes and goes with
//! [`Mode::Refuse`], and one task per connection applying the current mode
//! to each request it reads.

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::hit::ReceivedHit;
use crate::http::{ReadError, Request, Response, read_request};
use crate::journal::{Journal, Pending};
use crate::mode::Mode;

/// What `ResetMidResponse` sends before the reset: enough for a client to
/// start parsing, too little to complete a response.
const PARTIAL_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Le";

/// Where `Redirect` sends clients (answered `200` in that mode).
const REDIRECT_TARGET: &str = "/redirected";

pub(crate) struct HitServer {
    port: u16,
    shared: Arc<Shared>,
    /// `None` while refusing. An async mutex so mode changes are serialised
    /// even while one of them waits for the old listener to wind down.
    listener: Mutex<Option<Listening>>,
}

/// What every connection task needs.
struct Shared {
    journal: Arc<Journal>,
    /// Current mode; connections subscribe so a hung one wakes on change.
    mode: watch::Sender<Mode>,
    next_connection_id: AtomicU64,
}

/// A running accept loop and the means to stop it.
struct Listening {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl HitServer {
    /// Takes over an already bound listener. Must be called within the
    /// collector's runtime, whose reactor will drive the socket.
    pub fn start(listener: std::net::TcpListener, journal: Arc<Journal>) -> io::Result<Self> {
        let port = listener.local_addr()?.port();
        let listener = TcpListener::from_std(listener)?;
        let shared = Arc::new(Shared {
            journal,
            mode: watch::Sender::new(Mode::Ok),
            next_connection_id: AtomicU64::new(1),
        });
        let listening = Listening::spawn(listener, Arc::clone(&shared));
        Ok(HitServer {
            port,
            shared,
            listener: Mutex::new(Some(listening)),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn mode(&self) -> Mode {
        self.shared.mode.borrow().clone()
    }

    /// Switches mode. Returns once the listener state matches it: closed
    /// (with all its connections) for `Refuse`, bound otherwise.
    pub async fn set_mode(&self, mode: Mode) -> io::Result<()> {
        let mut listener = self.listener.lock().await;
        if mode == Mode::Refuse {
            // Publish first, so a connection accepted meanwhile is dropped too.
            self.publish(mode);
            if let Some(listening) = listener.take() {
                listening.stop().await;
            }
        } else {
            if listener.is_none() {
                // Bind before publishing: on failure we are still refusing.
                let socket = bind_again(self.port).await?;
                *listener = Some(Listening::spawn(socket, Arc::clone(&self.shared)));
            }
            self.publish(mode);
        }
        Ok(())
    }

    fn publish(&self, mode: Mode) {
        // Only a real change wakes hung connections.
        self.shared.mode.send_if_modified(|current| {
            let changed = *current != mode;
            *current = mode;
            changed
        });
    }
}

/// Re-binds the port given up by `Refuse`. A client's socket may briefly
/// still hold it, so retry for a short while before giving up.
async fn bind_again(port: u16) -> io::Result<TcpListener> {
    let mut attempts = 0;
    loop {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            result => return result,
        }
    }
}

impl Listening {
    fn spawn(listener: TcpListener, shared: Arc<Shared>) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, shared, stopped));
        Listening { stop, task }
    }

    /// Closes the listener and every connection it accepted, and waits
    /// until the sockets are actually gone.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    // Connections live in this set so stopping the listener ends them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let id = shared.next_connection_id.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(serve_connection(stream, id, Arc::clone(&shared)));
                }
                // Typically out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reap finished connections so the set does not grow forever.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// What a connection does after one request.
enum Next {
    KeepOpen,
    Close,
}

async fn serve_connection(mut stream: TcpStream, connection_id: u64, shared: Arc<Shared>) {
    // Responses are tiny; don't let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let mut mode = shared.mode.subscribe();
    let mut buf = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Broken) => return,
            Err(ReadError::Malformed(why)) => {
                let _ = Response::text(400, why).write_to(&mut stream, true).await;
                return;
            }
        };
        let current = mode.borrow_and_update().clone();
        let pending = shared
            .journal
            .record(ReceivedHit::new(&request, connection_id));
        let next = apply(
            &mut stream,
            current,
            &request,
            pending,
            &shared.journal,
            &mut mode,
        )
        .await;
        if matches!(next, Next::Close) {
            return;
        }
    }
}

async fn apply(
    stream: &mut TcpStream,
    current: Mode,
    request: &Request,
    pending: Pending,
    journal: &Journal,
    mode: &mut watch::Receiver<Mode>,
) -> Next {
    let keep_alive = request.keep_alive;
    let response = match current {
        Mode::Ok => Response::empty(200),
        Mode::Redirect if request.path == REDIRECT_TARGET => Response::empty(200),
        Mode::Redirect => {
            let location = match request.query.as_str() {
                "" => REDIRECT_TARGET.to_owned(),
                query => format!("{REDIRECT_TARGET}?{query}"),
            };
            Response::empty(302).header("Location", location)
        }
        Mode::Status { code, retry_after } => {
            let response = Response::empty(code);
            match retry_after {
                Some(secs) => response.header("Retry-After", secs.to_string()),
                None => response,
            }
        }
        Mode::Delay(delay) => {
            tokio::time::sleep(delay).await;
            Response::empty(200)
        }
        Mode::Reset => {
            journal.settle(pending, None);
            reset(stream);
            return Next::Close;
        }
        Mode::ResetMidResponse => {
            journal.settle(pending, None);
            let _ = stream.write_all(PARTIAL_RESPONSE).await;
            let _ = stream.flush().await;
            reset(stream);
            return Next::Close;
        }
        Mode::Hang => {
            journal.settle(pending, None);
            // Any mode change (or the collector stopping) ends the hang.
            let _ = mode.changed().await;
            return Next::Close;
        }
        Mode::HugeBody(bytes) => {
            journal.settle(pending, Some(200));
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {bytes}\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return Next::Close;
            }
            let chunk = vec![0u8; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                // The client hanging up ends it: that is what it should do.
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return Next::Close;
                }
                left -= n as u64;
            }
            return if keep_alive {
                Next::KeepOpen
            } else {
                Next::Close
            };
        }
        // Accepted just before the listener closed: drop it like the rest.
        Mode::Refuse => {
            journal.settle(pending, None);
            return Next::Close;
        }
    };
    journal.settle(pending, Some(response.status));
    match response.write_to(stream, !keep_alive).await {
        Ok(()) if keep_alive => Next::KeepOpen,
        _ => Next::Close,
    }
}

/// With a zero linger, closing sends RST instead of FIN, so the client
/// sees a reset rather than an orderly end of stream.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}
