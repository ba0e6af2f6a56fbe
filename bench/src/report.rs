//! One line per figure: printed as tables, written as JSON.
//!
//! Lines that carry an issue row (`issue`) make the main table, in the
//! order of issue 9's table, with the figure before the work, the target
//! and the moonshot; the other lines are the figures behind them.

use serde_json::{Value, json};

pub struct Line {
    /// The group of measurements it comes from.
    pub row: &'static str,
    pub what: String,
    pub value: f64,
    pub unit: &'static str,
    /// What HitKit is compared with, and its figure in the same unit.
    pub baseline: Option<(String, f64)>,
    pub target: Target,
    pub moonshot: Target,
    /// Its place in issue 9's table (1 = first row).
    pub issue: Option<u8>,
    /// The figure the issue gave before the work.
    pub before: Option<&'static str>,
    /// Shown instead of the value (a row judged on two figures).
    pub shown: Option<String>,
    /// Said under the table.
    pub note: Option<String>,
    /// The ratio is written as a percentage.
    pub percent: bool,
}

/// How a line is judged.
#[derive(Clone, Copy, PartialEq)]
pub enum Target {
    None,
    /// value / baseline ≥ this.
    RatioAtLeast(f64),
    /// value / baseline ≤ this.
    RatioAtMost(f64),
    /// value / baseline ≤ this, written as a percentage.
    PercentAtMost(f64),
    /// value ≤ this (in the line's unit).
    AtMost(f64),
    /// Nothing to meet: the figure is reported.
    Report,
}

impl Line {
    pub fn new(row: &'static str, what: impl Into<String>, value: f64, unit: &'static str) -> Line {
        Line {
            row,
            what: what.into(),
            value,
            unit,
            baseline: None,
            target: Target::None,
            moonshot: Target::None,
            issue: None,
            before: None,
            shown: None,
            note: None,
            percent: false,
        }
    }

    pub fn versus(mut self, name: impl Into<String>, value: f64) -> Line {
        self.baseline = Some((name.into(), value));
        self
    }

    pub fn target(mut self, target: Target) -> Line {
        self.target = target;
        self
    }

    /// A row of issue 9's table: its number, the figure before, the target
    /// and the moonshot.
    pub fn issue(
        mut self,
        number: u8,
        before: &'static str,
        target: Target,
        moonshot: Target,
    ) -> Line {
        self.issue = Some(number);
        self.before = Some(before);
        self.target = target;
        self.moonshot = moonshot;
        self
    }

    pub fn shown(mut self, text: impl Into<String>) -> Line {
        self.shown = Some(text.into());
        self
    }

    /// Writes the ratio as a percentage.
    pub fn percent(mut self) -> Line {
        self.percent = true;
        self
    }

    pub fn note(mut self, text: impl Into<String>) -> Line {
        self.note = Some(text.into());
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        self.baseline.as_ref().map(|(_, b)| self.value / b)
    }

    fn judge(&self, target: Target) -> Option<bool> {
        if self.value.is_nan() {
            return None;
        }
        match target {
            Target::None | Target::Report => None,
            Target::RatioAtLeast(min) => self.ratio().map(|r| r >= min),
            Target::RatioAtMost(max) | Target::PercentAtMost(max) => self.ratio().map(|r| r <= max),
            Target::AtMost(max) => Some(self.value <= max),
        }
    }

    pub fn met(&self) -> Option<bool> {
        self.judge(self.target)
    }

    pub fn moonshot_met(&self) -> Option<bool> {
        self.judge(self.moonshot)
    }

    fn target_text(&self, target: Target) -> String {
        match target {
            Target::None => "-".into(),
            Target::Report => "report".into(),
            Target::RatioAtLeast(min) if self.percent => format!(">= {} %", number(min * 100.0)),
            Target::RatioAtLeast(min) => format!(">= {min}x"),
            Target::RatioAtMost(max) => format!("<= {max}x"),
            Target::PercentAtMost(max) => format!("<= {} %", number(max * 100.0)),
            Target::AtMost(max) => format!("<= {} {}", number(max), self.unit),
        }
    }

    fn ratio_text(&self) -> String {
        match (self.ratio(), self.target) {
            (Some(r), Target::PercentAtMost(_)) => format!("{} %", number(r * 100.0)),
            (Some(r), _) if self.percent => format!("{} %", number(r * 100.0)),
            (Some(r), _) => format!("{r:.2}x"),
            (None, _) => "-".into(),
        }
    }

    /// The figure as the main table shows it: the ratio first when the
    /// target is a ratio.
    fn now_text(&self) -> String {
        if let Some(shown) = &self.shown {
            return shown.clone();
        }
        let value = format!("{} {}", number(self.value), self.unit);
        match &self.baseline {
            Some((name, b)) => format!(
                "{} ({value} / {name} {} {})",
                self.ratio_text(),
                number(*b),
                self.unit
            ),
            None => value,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "row": self.row,
            "issue_row": self.issue,
            "what": self.what,
            "value": self.value,
            "unit": self.unit,
            "shown": self.now_text(),
            "before": self.before,
            "baseline": self.baseline.as_ref().map(|(name, value)| json!({"name": name, "value": value})),
            "ratio": self.ratio(),
            "target": self.target_text(self.target),
            "met": self.met(),
            "moonshot": self.target_text(self.moonshot),
            "moonshot_met": self.moonshot_met(),
            "note": self.note,
        })
    }
}

/// A figure with about three significant digits.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        let n = x.round() as i64;
        let s = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn yes_no(met: Option<bool>) -> String {
    match met {
        Some(true) => "met".into(),
        Some(false) => "NOT MET".into(),
        None => "".into(),
    }
}

/// Issue 9's table, then the figures behind it.
pub fn print_tables(lines: &[Line]) {
    let mut issue: Vec<&Line> = lines.iter().filter(|l| l.issue.is_some()).collect();
    issue.sort_by_key(|l| l.issue);
    println!("Issue 9: every row, its target and moonshot\n");
    print_table(
        &[
            "#",
            "what",
            "before (issue)",
            "now",
            "target",
            "",
            "moonshot",
            "",
        ],
        issue
            .iter()
            .map(|l| {
                vec![
                    l.issue.map_or(String::new(), |n| n.to_string()),
                    l.what.clone(),
                    l.before.unwrap_or("-").to_owned(),
                    l.now_text(),
                    l.target_text(l.target),
                    yes_no(l.met()),
                    l.target_text(l.moonshot),
                    yes_no(l.moonshot_met()),
                ]
            })
            .collect(),
    );
    let notes: Vec<String> = issue
        .iter()
        .filter_map(|l| Some(format!("{}. {}", l.issue?, l.note.as_ref()?)))
        .collect();
    if !notes.is_empty() {
        println!();
        for note in notes {
            println!("{note}");
        }
    }
    println!("\nThe figures behind them\n");
    print_table(
        &[
            "#",
            "measure",
            "HitKit",
            "compared with",
            "ratio",
            "target",
            "ok",
        ],
        lines
            .iter()
            .filter(|l| l.issue.is_none())
            .map(|l| {
                vec![
                    l.row.to_owned(),
                    l.what.clone(),
                    l.shown
                        .clone()
                        .unwrap_or_else(|| format!("{} {}", number(l.value), l.unit)),
                    l.baseline.as_ref().map_or("-".into(), |(name, v)| {
                        format!("{name}: {} {}", number(*v), l.unit)
                    }),
                    l.ratio_text(),
                    l.target_text(l.target),
                    match l.met() {
                        Some(true) => "yes".into(),
                        Some(false) => "NO".into(),
                        None => "".into(),
                    },
                ]
            })
            .collect(),
    );
}

fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let print = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    print(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in &rows {
        print(row);
    }
}
