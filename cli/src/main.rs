//! `hitkit`: the developer's command line for HitKit.
//!
//! - `demo`: the offline story end to end against a real local collector;
//!   it checks itself, so it doubles as a smoke test.
//! - `collect`: a local collector that prints every hit it receives.
//! - `inspect`: what a tracker's store (say, one copied from a device) holds.
//!
//! Exit codes: 0 success, 1 the demo found a broken invariant, 2 bad usage,
//! bad path or an unusable store (clap's own usage errors are 2 as well).

mod clock;
mod collect;
mod demo;
mod inspect;
mod progress;
mod text;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hitkit_collector::Mode;

#[derive(Parser)]
#[command(
    name = "hitkit",
    version,
    about = "HitKit developer tools: demo, local collector, store inspector"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show hits surviving a lost connection, against a local collector.
    /// Exits non-zero if anything in the story does not add up.
    Demo {
        /// Screen hits to send in each phase (online, then offline).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        hits: u32,
        /// Print only the summary and the checks.
        #[arg(long)]
        quiet: bool,
        /// Leave out the phase where a failing collector (HTTP 500) makes a
        /// stored hit use up its attempts.
        #[arg(long)]
        skip_failure: bool,
    },
    /// Run a collector on 127.0.0.1 and print every hit it receives.
    ///
    /// The first line on stdout is machine-readable:
    /// `listening 127.0.0.1:PORT` (plus ` control 127.0.0.1:CPORT` when a
    /// control port is given), so a parent process can read the ports.
    Collect {
        /// Port for hits; 0 picks a free one.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Also serve the control API on 127.0.0.1 at this port (0 picks a
        /// free one): POST /mode?set=<mode>, POST /clear; GET /mode, /hits,
        /// /delivered, /count. It answers only requests whose Host is
        /// 127.0.0.1, localhost or [::1], so web pages cannot use it.
        #[arg(long)]
        control_port: Option<u16>,
        /// How to answer: ok, refuse, reset, reset-mid, hang, redirect,
        /// delay-<ms>, <status> or <status>,retry-after=<secs>.
        #[arg(long, default_value = "ok")]
        mode: Mode,
        /// Exit when standard input closes (so a test's collector never
        /// outlives the test).
        #[arg(long)]
        exit_on_stdin_close: bool,
    },
    /// Count and list the hits stored under a tracker's databasePath.
    ///
    /// Reads a copy of the store, taken in a temporary directory: nothing
    /// under PATH is written. A store in use by a running app is refused
    /// unless --copy-anyway is given.
    Inspect {
        /// The tracker's databasePath (the directory holding `store/`).
        path: PathBuf,
        /// The tracker's name (config `name`).
        #[arg(long, default_value = "default")]
        name: String,
        /// Print JSON: an object with the counts, or with --list an array of
        /// every stored hit and journal entry.
        #[arg(long)]
        json: bool,
        /// List every stored hit, oldest first, then the journal.
        #[arg(long)]
        list: bool,
        /// Read the key of an encrypted store from this environment variable.
        #[arg(long, value_name = "VAR", conflicts_with = "key_file")]
        key_env: Option<String>,
        /// Read the key of an encrypted store from this file.
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
        /// Copy and read the store even while an app or tracker is using it
        /// (the copy may then miss what is written meanwhile).
        #[arg(long)]
        copy_anyway: bool,
        /// Refused: a key on the command line is visible to every user of
        /// the machine (`ps`). Taken only to say so without echoing it.
        #[arg(long, hide = true, num_args = 0..=1, value_name = "KEY")]
        key: Option<Option<String>>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            hits,
            quiet,
            skip_failure,
        } => demo::run(&demo::Options {
            hits: hits as usize,
            quiet,
            failure_phase: !skip_failure,
        }),
        Command::Collect {
            port,
            control_port,
            mode,
            exit_on_stdin_close,
        } => collect::run(&collect::Options {
            port,
            control_port,
            mode,
            exit_on_stdin_close,
        }),
        Command::Inspect { key: Some(_), .. } => Err(Failure::usage(
            "a key is never taken on the command line (every user of the machine can read \
             it there): use --key-env VAR or --key-file PATH",
        )),
        Command::Inspect {
            path,
            name,
            json,
            list,
            key_env,
            key_file,
            copy_anyway,
            key: None,
        } => inspect::run(&inspect::Options {
            path,
            name,
            json,
            list,
            key: key_env
                .map(inspect::KeySource::Env)
                .or(key_file.map(inspect::KeySource::File)),
            copy_anyway,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hitkit: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// A command's failure: what to tell the user and the exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// The environment or input is unusable (bad path, busy port, locked store).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// The demo saw HitKit break one of its promises.
    pub fn broken(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

/// Runs one of the library's async calls to completion. They only await
/// channels fed by HitKit's own runtime, so a bare current-thread runtime
/// without I/O or timers is enough.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without drivers cannot fail to build")
        .block_on(future)
}
