//! Rows 10 and 11 of issue 9: the shipped library's size, `libhitkit.so`
//! for this machine (x86_64), built by cargo with the workspace's release
//! profile (opt-level "z", LTO, one codegen unit, stripped, panic =
//! unwind): with the default features, and without `reqwest` (no reqwest,
//! hyper, rustls or webpki roots: the app passes its HttpTransport).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use crate::report::{Line, Target};

pub fn run(lines: &mut Vec<Line>, details: &mut serde_json::Map<String, Value>) {
    let Some(target_dir) = target_dir() else {
        eprintln!("rows 10-11 skipped: cannot tell cargo's target directory");
        return;
    };
    // Each in a target directory of its own: `-p hitkit` alone resolves
    // other features of its dependencies (tokio, reqwest) than this
    // program's build does, and both name their output libhitkit.so, so in
    // one directory each build would undo the other at every run.
    let default = build(&target_dir.join("size-default"), &[]);
    let bare = build(
        &target_dir.join("size-no-default-features"),
        &["--no-default-features"],
    );
    let mut detail = serde_json::Map::new();
    for (name, built) in [("default", &default), ("no_default_features", &bare)] {
        detail.insert(name.into(), built.to_json());
    }
    // Decimal megabytes (10^6 bytes), as the issue's 5.09 MB.
    if let Some(bytes) = default.bytes {
        lines.push(
            Line::new(
                "size",
                "stripped libhitkit.so, default build",
                bytes as f64 / 1e6,
                "MB",
            )
            .issue(10, "5.09 MB", Target::AtMost(4.0), Target::AtMost(2.5))
            .note(format!(
                "{bytes} bytes; MB = 10^6 bytes; cargo build --release -p hitkit --lib \
                     (the release profile strips: {}).",
                if default.stripped {
                    "no .symtab"
                } else {
                    "a .symtab is left!"
                }
            )),
        );
    }
    if let Some(bytes) = bare.bytes {
        lines.push(
            Line::new(
                "size",
                "stripped libhitkit.so without the `reqwest` feature",
                bytes as f64 / 1e6,
                "MB",
            )
            .issue(11, "-", Target::Report, Target::None)
            .note(format!(
                "{bytes} bytes; --no-default-features: no reqwest, hyper, rustls or webpki roots \
                 (ring stays, for encryption at rest); the app passes its HttpTransport."
            )),
        );
    }
    details.insert("size".into(), detail.into());
}

struct Built {
    library: PathBuf,
    bytes: Option<u64>,
    stripped: bool,
    build_ok: bool,
    build_seconds: f64,
}

impl Built {
    fn to_json(&self) -> Value {
        json!({
            "library": self.library,
            "bytes": self.bytes,
            "stripped": self.stripped,
            "x86_64_elf": is_x86_64_elf(&self.library),
            "build_ok": self.build_ok,
            "build_seconds": self.build_seconds,
        })
    }
}

/// A no-op when the library is up to date; minutes on 2 cores when not.
fn build(target_dir: &Path, features: &[&str]) -> Built {
    let start = Instant::now();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build_ok = Command::new(cargo)
        .args(["build", "--quiet", "--release", "-p", "hitkit", "--lib"])
        .args(features)
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .is_ok_and(|status| status.success());
    let library = target_dir.join("release/libhitkit.so");
    let bytes = std::fs::metadata(&library).map(|m| m.len()).ok();
    if bytes.is_none() {
        eprintln!("{} was not built", library.display());
    }
    Built {
        stripped: !std::fs::read(&library).is_ok_and(|b| contains(&b, b".symtab\0")),
        library,
        bytes,
        build_ok,
        build_seconds: start.elapsed().as_secs_f64(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// This program runs from `<target>/release/`.
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.to_owned())
}

fn is_x86_64_elf(path: &Path) -> bool {
    let Ok(head) = std::fs::read(path).map(|b| b[..20.min(b.len())].to_vec()) else {
        return false;
    };
    // ELF magic, then e_machine (little-endian u16 at 18) = 62 (EM_X86_64).
    head.len() == 20
        && head.starts_with(b"\x7fELF")
        && u16::from_le_bytes([head[18], head[19]]) == 62
}
