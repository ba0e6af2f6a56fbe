//! `hitkit collect`: a local collector that prints each hit as it arrives,
//! for an app developer pointing a debug build at their machine, and for
//! tests in any language that drive it as a child process.
//!
//! Stdout protocol: the first line is always
//! `listening 127.0.0.1:PORT[ control 127.0.0.1:CPORT]`, flushed at once;
//! then free-form lines, one per hit. The process exits 0 on SIGINT,
//! SIGTERM, or (with `--exit-on-stdin-close`) when its stdin closes.

use std::io::Write;
use std::sync::mpsc;
use std::thread;

use hitkit_collector::{Collector, Mode, ReceivedHit};

use crate::Failure;
use crate::clock;
use crate::text::token;

pub struct Options {
    pub port: u16,
    pub control_port: Option<u16>,
    pub mode: Mode,
    pub exit_on_stdin_close: bool,
}

pub fn run(opts: &Options) -> Result<(), Failure> {
    let collector = Collector::start_on(opts.port)
        .map_err(|e| Failure::usage(format!("cannot listen on 127.0.0.1:{}: {e}", opts.port)))?;
    collector
        .try_set_mode(opts.mode.clone())
        .map_err(|e| Failure::usage(format!("cannot set mode {}: {e}", opts.mode)))?;
    let control = match opts.control_port {
        Some(port) => Some(collector.start_control(port).map_err(|e| {
            Failure::usage(format!(
                "cannot serve the control API on 127.0.0.1:{port}: {e}"
            ))
        })?),
        None => None,
    };

    let stop = stop_signals(opts.exit_on_stdin_close)?;

    {
        // Hold stdout while subscribing and printing the header, so a hit
        // arriving meanwhile (on a fixed port) is printed after it, never
        // before the machine-readable first line.
        let mut out = std::io::stdout().lock();
        collector.on_hit(print_hit);
        let port = collector.port();
        let mut first = format!("listening 127.0.0.1:{port}");
        if let Some(cport) = control {
            first.push_str(&format!(" control 127.0.0.1:{cport}"));
        }
        let _ = writeln!(out, "{first}");
        let _ = writeln!(
            out,
            "endpoint: {}   (TrackerConfig.endpoint / setConfig(\"endpoint\", ...))",
            collector.endpoint()
        );
        let _ = writeln!(out, "mode: {}", collector.mode());
        if let Some(cport) = control {
            let _ = writeln!(
                out,
                "control: http://127.0.0.1:{cport}/   (POST /mode?set=refuse|ok|500|..., POST /clear; GET /mode, /hits, /delivered, /count)"
            );
        }
        let until = if opts.exit_on_stdin_close {
            "Ctrl-C or stdin closes"
        } else {
            "Ctrl-C"
        };
        let _ = writeln!(out, "waiting for hits until {until}");
        let _ = out.flush();
    }

    let reason = stop.recv().unwrap_or("signal handling stopped");
    let hits = collector.hits();
    let accepted = hits.iter().filter(|h| h.is_delivered()).count();
    // Stop the server before the last line, so a parent that sees it can
    // rely on the port being closed.
    collector.stop();
    println!(
        "stopped ({reason}): {} request(s), {accepted} accepted",
        hits.len()
    );
    Ok(())
}

/// A channel that yields once the process should stop, with the reason.
fn stop_signals(watch_stdin: bool) -> Result<mpsc::Receiver<&'static str>, Failure> {
    let (tx, rx) = mpsc::channel();
    let on_signal = tx.clone();
    ctrlc::set_handler(move || {
        let _ = on_signal.send("signal");
    })
    .map_err(|e| Failure::usage(format!("cannot install the SIGINT/SIGTERM handler: {e}")))?;
    if watch_stdin {
        thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                // Read and discard until EOF: the parent closed our stdin or died.
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                let _ = tx.send("stdin closed");
            })
            .map_err(|e| Failure::usage(format!("cannot watch stdin: {e}")))?;
    }
    Ok(rx)
}

/// One line per hit: time (UTC), answer, path, then the decoded parameters.
/// Path, names and values are whatever the sender chose, so each goes
/// through [`token`]: nothing from a request reaches the terminal raw.
fn print_hit(hit: &ReceivedHit) {
    let answered = hit
        .answered
        .map_or_else(|| "none".to_owned(), |code| code.to_string());
    let params: Vec<String> = hit
        .params
        .iter()
        .map(|(k, v)| format!("{}={}", token(k, &['=']), token(v, &[])))
        .collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}  {answered:<4} {}  {}",
        clock::clock(hit.received_at_ms),
        token(&hit.path, &[]),
        params.join(" ")
    );
    let _ = out.flush();
}
