//! A cheaper way in for the call an app makes per event.
//!
//! Through the generated Kotlin, `sendScreen` costs about 40 µs of the
//! app's thread: four FFI calls, each allocating a JNA structure for its
//! status. The Kotlin and Swift packages send hits through
//! `hitkit_quick_send` instead: one C call with plain arguments and one
//! byte buffer. It answers only "queued" or "not here": on anything else
//! the package makes the generated call, which returns the typed error
//! (so errors are described in one place, the engine).
//!
//! The payload is a list of UTF-8 strings, each preceded by its length
//! (u32, little-endian): for a screen or a touch, its name, then the
//! parameters as key, value, key, value...; for a custom hit, only the
//! parameters.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, RwLock, Weak};

use crate::engine::Engine;
use crate::engine::hit::Param;
use crate::engine::types::HitType;

static TRACKERS: LazyLock<RwLock<HashMap<i64, Weak<Engine>>>> = LazyLock::new(Default::default);
static NEXT_ID: AtomicI64 = AtomicI64::new(1);

/// Queued.
pub const QUEUED: i32 = 0;
/// Not done here: make the generated call (it says why).
pub const NOT_HERE: i32 = 1;

pub(crate) fn register(engine: &Arc<Engine>) -> i64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    TRACKERS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, Arc::downgrade(engine));
    id
}

pub(crate) fn unregister(id: i64) {
    TRACKERS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
}

/// `hit_type`: 0 screen, 1 touch, 2 custom. Returns [`QUEUED`] or
/// [`NOT_HERE`]. For the Kotlin and Swift packages; Rust apps call
/// [`Tracker::send_screen`](crate::Tracker::send_screen) and co.
///
/// # Safety
/// `payload` points at `len` readable bytes (or is null with `len` 0).
#[doc(hidden)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitkit_quick_send(
    tracker_id: i64,
    hit_type: i32,
    payload: *const u8,
    len: u32,
) -> i32 {
    let bytes = match (payload.is_null(), len) {
        (_, 0) => &[][..],
        (true, _) => return NOT_HERE,
        // SAFETY: the caller passes `len` readable bytes at `payload`.
        (false, len) => unsafe { std::slice::from_raw_parts(payload, len as usize) },
    };
    catch_unwind(AssertUnwindSafe(|| quick_send(tracker_id, hit_type, bytes))).unwrap_or(NOT_HERE)
}

fn quick_send(tracker_id: i64, hit_type: i32, payload: &[u8]) -> i32 {
    let engine = TRACKERS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&tracker_id)
        .and_then(Weak::upgrade);
    let Some(engine) = engine else {
        return NOT_HERE;
    };
    let Some(strings) = strings(payload) else {
        return NOT_HERE;
    };
    let (hit_type, mut params, rest) = match hit_type {
        0 | 1 => {
            let Some((name, rest)) = strings.split_first() else {
                return NOT_HERE;
            };
            let mut params: Vec<Param> = vec![("p".into(), name.clone())];
            if hit_type == 1 {
                params.push(("click".into(), "A".into()));
            }
            let kind = if hit_type == 0 {
                HitType::Screen
            } else {
                HitType::Touch
            };
            (kind, params, rest)
        }
        2 => (HitType::Custom, Vec::new(), &strings[..]),
        _ => return NOT_HERE,
    };
    if rest.len() % 2 != 0 {
        return NOT_HERE;
    }
    params.extend(
        rest.chunks_exact(2)
            .map(|kv| (kv[0].clone(), kv[1].clone())),
    );
    match engine.track(hit_type, params) {
        Ok(()) => QUEUED,
        Err(_) => NOT_HERE,
    }
}

fn strings(mut payload: &[u8]) -> Option<Vec<String>> {
    let mut strings = Vec::new();
    while !payload.is_empty() {
        let (len, rest) = payload.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        let (text, rest) = rest.split_at(len);
        strings.push(String::from_utf8(text.to_vec()).ok()?);
        payload = rest;
    }
    Some(strings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(strings: &[&str]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for s in strings {
            bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
            bytes.extend_from_slice(s.as_bytes());
        }
        bytes
    }

    #[test]
    fn payloads_are_length_prefixed_strings() {
        assert_eq!(
            strings(&encode(&["Home", "k", "é"])),
            Some(vec!["Home".into(), "k".into(), "é".into()])
        );
        assert_eq!(strings(&[]), Some(vec![]));
        assert_eq!(strings(&[5, 0, 0, 0, b'a']), None, "too short");
        assert_eq!(strings(&[1, 0, 0]), None, "a cut length");
        assert_eq!(strings(&[1, 0, 0, 0, 0xFF]), None, "not UTF-8");
    }

    #[test]
    fn an_unknown_tracker_or_a_bad_payload_is_not_handled_here() {
        let payload = encode(&["Home"]);
        // SAFETY: the pointer and length come from a live Vec.
        let answer = unsafe { hitkit_quick_send(-1, 0, payload.as_ptr(), payload.len() as u32) };
        assert_eq!(answer, NOT_HERE);
        assert_eq!(
            unsafe { hitkit_quick_send(-1, 0, std::ptr::null(), 3) },
            NOT_HERE
        );
    }
}
