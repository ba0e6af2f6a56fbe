//! Row 8: the shipped library's size: `libhitkit.so` for this machine
//! (x86_64), built by cargo with the workspace's release profile (opt-level
//! "z", LTO, one codegen unit, stripped, panic = unwind).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use crate::report::{Line, Target};

pub fn run(lines: &mut Vec<Line>, details: &mut serde_json::Map<String, Value>) {
    let Some(target_dir) = target_dir() else {
        eprintln!("row 8 skipped: cannot tell cargo's target directory");
        return;
    };
    // A no-op when the library is up to date; about a minute on 2 cores when not.
    let start = Instant::now();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "hitkit",
            "--lib",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .is_ok_and(|status| status.success());
    let build_seconds = start.elapsed().as_secs_f64();
    let library = target_dir.join("release/libhitkit.so");
    let Ok(bytes) = std::fs::metadata(&library).map(|m| m.len()) else {
        eprintln!("row 8 skipped: {} was not built", library.display());
        return;
    };
    // Decimal megabytes (10^6 bytes), the stricter reading of the 3.0 MB budget.
    let mb = bytes as f64 / 1e6;
    lines.push(
        Line::new("8", "libhitkit.so, stripped release", mb, "MB").target(Target::AtMost(3.0)),
    );
    details.insert(
        "size".into(),
        json!({
            "library": library,
            "bytes": bytes,
            "x86_64_elf": is_x86_64_elf(&library),
            "build_ok": built,
            "build_seconds": build_seconds,
        }),
    );
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
