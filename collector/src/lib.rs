//! A real HTTP/1.1 collection server on 127.0.0.1 for HitKit's tests,
//! benchmarks and CLI.
//!
//! [`Collector`] records every request it receives and answers according to
//! a [`Mode`] that can be switched at any time, to play a healthy endpoint,
//! a failing one, or a dead network. Its API is blocking and needs no
//! runtime from the caller: the collector runs its own small tokio runtime
//! on a background thread, so it works from plain `#[test]`s and from
//! inside other runtimes alike.
//!
//! ```
//! use std::time::Duration;
//! use hitkit_collector::{Collector, Mode};
//!
//! let collector = Collector::start().unwrap();
//! collector.set_mode(Mode::Status { code: 503, retry_after: Some(5) });
//! // ... point a tracker at collector.endpoint() ...
//! assert!(!collector.wait_for_delivered(1, Duration::from_millis(10)));
//! ```

mod control;
mod hit;
mod http;
mod journal;
mod mode;
mod server;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

pub use hit::ReceivedHit;
pub use mode::Mode;

use control::Control;
use journal::Journal;
use server::HitServer;

/// A collection server listening on `127.0.0.1`. Stops when dropped.
pub struct Collector {
    server: Arc<HitServer>,
    journal: Arc<Journal>,
    runtime: Handle,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Collector {
    /// Starts on an ephemeral port, answering `200` ([`Mode::Ok`]).
    pub fn start() -> io::Result<Collector> {
        Collector::start_on(0)
    }

    /// Starts on `port` (0 for an ephemeral one), answering `200`.
    pub fn start_on(port: u16) -> io::Result<Collector> {
        // Bind on the caller's thread so a busy port is reported right here.
        let listener = bind(port)?;
        let journal = Arc::new(Journal::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let (shutdown, shutdown_rx) = oneshot::channel();
        let thread_journal = Arc::clone(&journal);
        let thread = thread::Builder::new()
            .name("hitkit-collector".into())
            .spawn(move || {
                let started = runtime().and_then(|runtime| {
                    let _context = runtime.enter();
                    let server = HitServer::start(listener, thread_journal)?;
                    Ok((runtime, server))
                });
                let runtime = match started {
                    Ok((runtime, server)) => {
                        let _ = ready_tx.send(Ok((Arc::new(server), runtime.handle().clone())));
                        runtime
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async {
                    let _ = shutdown_rx.await;
                });
                // The runtime drops here, on this thread and outside any async
                // context, which closes every socket the collector had open.
            })?;
        let (server, runtime) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("collector thread died while starting"))??;
        Ok(Collector {
            server,
            journal,
            runtime,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// URL a tracker should send hits to.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/hit.xiti", self.port())
    }

    /// Switches mode; it is in effect when this returns (for `Refuse`, the
    /// port is closed; when leaving it, the port is bound again).
    ///
    /// # Panics
    /// If the port cannot be bound again after `Refuse`; see [`Collector::try_set_mode`].
    pub fn set_mode(&self, mode: Mode) {
        let port = self.port();
        if let Err(e) = self.try_set_mode(mode) {
            panic!("collector could not re-bind port {port}: {e}");
        }
    }

    /// Like [`Collector::set_mode`], but reports a failure to re-bind the
    /// port after `Refuse` (someone else took it) instead of panicking.
    pub fn try_set_mode(&self, mode: Mode) -> io::Result<()> {
        let server = Arc::clone(&self.server);
        self.run(async move { server.set_mode(mode).await })
    }

    pub fn mode(&self) -> Mode {
        self.server.mode()
    }

    /// Every request received so far, in arrival order, whatever its fate.
    pub fn hits(&self) -> Vec<ReceivedHit> {
        self.journal.hits()
    }

    /// Only the requests answered with a 2xx status.
    pub fn delivered(&self) -> Vec<ReceivedHit> {
        self.journal.delivered()
    }

    /// Forgets all received hits.
    pub fn clear(&self) {
        self.journal.clear();
    }

    /// Blocks until at least `n` hits were answered 2xx, or `timeout`
    /// passes; returns whether the count was reached.
    pub fn wait_for_delivered(&self, n: usize, timeout: Duration) -> bool {
        self.journal.wait_for_delivered(n, timeout)
    }

    /// Blocks until at least `n` requests arrived, or `timeout` passes.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.journal.wait_for_requests(n, timeout)
    }

    /// Calls `f` once per request, as soon as its fate is decided: with
    /// `answered` set once the status is chosen, or `None` for a reset or
    /// hung request. Runs on a collector thread, so keep it short, and do
    /// not call [`Collector::set_mode`] from it.
    pub fn on_hit(&self, f: impl Fn(&ReceivedHit) + Send + Sync + 'static) {
        self.journal.subscribe(Arc::new(f));
    }

    /// Starts the HTTP control API on `127.0.0.1:port` (0 for an ephemeral
    /// port) and returns its port. It stays up whatever the mode is.
    /// Routes: `POST /mode?set=<mode>[&retry_after=N]`, `POST /clear`, and
    /// `GET /mode`, `/hits`, `/delivered`, `/count`. It answers only
    /// requests whose `Host` is `127.0.0.1`, `localhost` or `[::1]` (any
    /// port) and that carry no browser `Origin` from elsewhere, so a web page
    /// cannot drive it (see the `control` module).
    pub fn start_control(&self, port: u16) -> io::Result<u16> {
        let listener = bind(port)?;
        let port = listener.local_addr()?.port();
        let control = Arc::new(Control {
            server: Arc::clone(&self.server),
            journal: Arc::clone(&self.journal),
        });
        self.run(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tokio::spawn(control.serve(listener));
            Ok::<_, io::Error>(())
        })?;
        Ok(port)
    }

    /// Closes every socket and joins the collector thread (as does drop).
    pub fn stop(self) {}

    /// Runs `job` on the collector's runtime and waits for it with a std
    /// channel, which (unlike `block_on`) is safe inside another runtime.
    fn run<T: Send + 'static>(&self, job: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(job.await);
        });
        rx.recv().expect("collector runtime is gone")
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("port", &self.port())
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

fn bind(port: u16) -> io::Result<TcpListener> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    // Tokio requires non-blocking sockets when adopting std ones.
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Two workers are plenty for loopback traffic and keep the footprint small.
fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hitkit-collector-worker")
        .enable_all()
        .build()
}
