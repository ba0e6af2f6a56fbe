//! One line per comparison: printed as a table, written as JSON.

use serde_json::{Value, json};

pub struct Line {
    pub row: &'static str,
    pub what: String,
    pub value: f64,
    pub unit: &'static str,
    /// What HitKit is compared with, and its figure in the same unit.
    pub baseline: Option<(String, f64)>,
    pub target: Target,
}

/// How a line is judged.
#[derive(Clone, Copy)]
pub enum Target {
    None,
    /// value / baseline ≥ this.
    RatioAtLeast(f64),
    /// value / baseline ≤ this.
    RatioAtMost(f64),
    /// value ≤ this (in the line's unit).
    AtMost(f64),
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

    pub fn ratio(&self) -> Option<f64> {
        self.baseline.as_ref().map(|(_, b)| self.value / b)
    }

    pub fn met(&self) -> Option<bool> {
        match self.target {
            Target::None => None,
            Target::RatioAtLeast(min) => self.ratio().map(|r| r >= min),
            Target::RatioAtMost(max) => self.ratio().map(|r| r <= max),
            Target::AtMost(max) => Some(self.value <= max),
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => "-".into(),
            Target::RatioAtLeast(min) if min < 1.0 => format!(">= {:.0} %", min * 100.0),
            Target::RatioAtLeast(min) => format!(">= {min}x"),
            Target::RatioAtMost(max) => format!("<= {max}x"),
            Target::AtMost(max) => format!("<= {} {}", number(max), self.unit),
        }
    }

    fn ratio_text(&self) -> String {
        match (self.ratio(), self.target) {
            (Some(r), Target::RatioAtLeast(min)) if min < 1.0 => format!("{:.0} %", r * 100.0),
            (Some(r), _) => format!("{r:.2}x"),
            (None, _) => "-".into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "row": self.row,
            "what": self.what,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline.as_ref().map(|(name, value)| json!({"name": name, "value": value})),
            "ratio": self.ratio(),
            "target": self.target_text(),
            "met": self.met(),
        })
    }
}

/// A figure with about three significant digits.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        // Thousands separated by a thin space would be nicer; a comma is ASCII.
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

pub fn print_table(lines: &[Line]) {
    let header = [
        "#",
        "measure",
        "HitKit",
        "compared with",
        "ratio",
        "target",
        "ok",
    ];
    let rows: Vec<[String; 7]> = lines
        .iter()
        .map(|l| {
            [
                l.row.to_owned(),
                l.what.clone(),
                format!("{} {}", number(l.value), l.unit),
                l.baseline.as_ref().map_or("-".into(), |(name, v)| {
                    format!("{name}: {} {}", number(*v), l.unit)
                }),
                l.ratio_text(),
                l.target_text(),
                match l.met() {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "".into(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let print = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    print(&header.map(String::from));
    println!("|{}|", widths.map(|w| "-".repeat(w + 2)).join("|"));
    for row in &rows {
        print(row);
    }
}
