//! A one-line progress bar, hand-made to stay colour-free and dependency-free.
//!
//! On a terminal the line is redrawn in place; in a pipe or a CI log only
//! the finished line is printed, so logs stay readable.

use std::io::{IsTerminal, Write};

pub struct Progress {
    label: String,
    total: usize,
    live: bool,
    visible: bool,
}

const WIDTH: usize = 20;

impl Progress {
    pub fn new(label: impl Into<String>, total: usize, visible: bool) -> Progress {
        let live = visible && std::io::stdout().is_terminal();
        let progress = Progress {
            label: label.into(),
            total,
            live,
            visible,
        };
        progress.draw(0, "");
        progress
    }

    /// Redraws the line at `done` of `total`, with a short note after it.
    pub fn set(&self, done: usize, note: &str) {
        self.draw(done, note);
    }

    /// Prints the line for good.
    pub fn finish(self, done: usize, note: &str) {
        if !self.visible {
            return;
        }
        let line = self.line(done, note);
        let mut out = std::io::stdout().lock();
        if self.live {
            // Clear whatever a longer earlier note left on the line.
            let _ = write!(out, "\r\x1b[2K");
        }
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn draw(&self, done: usize, note: &str) {
        if !self.live {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r\x1b[2K{}", self.line(done, note));
        let _ = out.flush();
    }

    fn line(&self, done: usize, note: &str) -> String {
        let filled = (done.min(self.total) * WIDTH)
            .checked_div(self.total)
            .unwrap_or(WIDTH);
        let bar: String = "#".repeat(filled) + &"-".repeat(WIDTH - filled);
        let note = if note.is_empty() {
            String::new()
        } else {
            format!("  {note}")
        };
        format!("    [{bar}] {done}/{} {}{note}", self.total, self.label)
    }
}
