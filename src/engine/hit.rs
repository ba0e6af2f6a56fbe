//! Building hits: parameter order and encoding, splitting long hits into
//! `mh` parts, and the rewrite a hit gets when it is stored.

use super::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Screen,
    Touch,
    Custom,
}

pub type Param = (String, String);

/// A hit ready to leave: one URL, or several `mh` parts of one hit.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltHit {
    pub kind: HitKind,
    pub created_ms: u64,
    pub urls: Vec<String>,
    /// Problems found while building (a parameter too long to fit, ...).
    pub warnings: Vec<String>,
}

/// The identity every hit of a tracker carries.
pub struct Standard<'a> {
    pub base_url: &'a str,
    pub site: &'a str,
    pub idclient: &'a str,
    pub platform: &'a str,
    pub max_hit_size: usize,
}

pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const MAX_PARTS: usize = 999;

/// Room kept free in every URL for the `cn=offline&olt=...` a stored hit
/// gains, so storing never pushes a part over `maxHitSize`.
const OFFLINE_ROOM: usize = "&cn=offline&olt=0000000000.000".len();

/// Keys every split part repeats, in this order, before its `mh`.
const REPEATED_KEYS: [&str; 3] = ["s", "idclient", "ts"];

pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::param(key, "a parameter key must not be empty"));
    }
    Ok(())
}

/// Order: `s`, the standard parameters, `persistent`, then `own`.
/// A later key replaces the value of an earlier one, keeping its place.
pub fn build(
    standard: &Standard<'_>,
    persistent: &[Param],
    kind: HitKind,
    own: Vec<Param>,
    created_ms: u64,
    split_id: impl FnOnce() -> u32,
) -> Result<BuiltHit> {
    for (key, _) in &own {
        check_key(key)?;
    }
    let mut params: Vec<Param> = vec![
        ("s".into(), standard.site.into()),
        ("idclient".into(), standard.idclient.into()),
        ("ts".into(), created_ms.to_string()),
        ("vtag".into(), SDK_VERSION.into()),
        ("ptag".into(), standard.platform.into()),
    ];
    for (key, value) in persistent.iter().cloned().chain(own) {
        match params.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => params.push((key, value)),
        }
    }
    let (urls, warnings) = split(standard.base_url, params, standard.max_hit_size, split_id);
    Ok(BuiltHit {
        kind,
        created_ms,
        urls,
        warnings,
    })
}

fn split(
    base: &str,
    params: Vec<Param>,
    max_size: usize,
    split_id: impl FnOnce() -> u32,
) -> (Vec<String>, Vec<String>) {
    let budget = max_size.saturating_sub(OFFLINE_ROOM);
    let encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.clone(), format!("{}={}", encode(k), encode(v))))
        .collect();
    let whole = join(base, encoded.iter().map(|(_, p)| p.as_str()));
    if whole.len() <= budget {
        return (vec![whole], Vec::new());
    }

    let (head, rest): (Vec<_>, Vec<_>) = encoded
        .into_iter()
        .partition(|(k, _)| REPEATED_KEYS.contains(&k.as_str()));
    let id = split_id() % 1_000_000_000;
    // The widest `mh` a part can carry, so packing never overflows.
    let mh_room = format!("&mh={MAX_PARTS}-{MAX_PARTS}-{id}").len();
    let head_len = join(base, head.iter().map(|(_, p)| p.as_str())).len() + mh_room;

    let mut warnings = Vec::new();
    let (fitting, offending): (Vec<_>, Vec<_>) = rest
        .iter()
        .partition(|(_, piece)| head_len + piece.len() < budget);
    for (key, _) in &offending {
        warnings.push(format!(
            "parameter `{key}` cannot fit in a hit of {max_size} bytes: sent without it (mherr=1)"
        ));
    }
    let mut pieces: Vec<&str> = fitting.iter().map(|(_, piece)| piece.as_str()).collect();
    if !offending.is_empty() {
        pieces.push("mherr=1");
    }
    let mut parts = pack(&pieces, head_len, budget);
    if parts.len() > MAX_PARTS {
        warnings.push(format!(
            "hit needs {} parts (at most {MAX_PARTS}): sent with its standard parameters only (mherr=1)",
            parts.len()
        ));
        let standard: Vec<&str> = pieces
            .iter()
            .copied()
            .filter(|piece| piece.starts_with("vtag=") || piece.starts_with("ptag="))
            .chain(["mherr=1"])
            .collect();
        parts = pack(&standard, head_len, budget);
    }

    let head: Vec<&str> = head.iter().map(|(_, p)| p.as_str()).collect();
    let count = parts.len();
    let urls = if count == 1 {
        vec![join(
            base,
            head.iter().copied().chain(parts[0].iter().copied()),
        )]
    } else {
        parts
            .iter()
            .enumerate()
            .map(|(i, pieces)| {
                let mh = format!("mh={}-{count}-{id}", i + 1);
                join(
                    base,
                    head.iter()
                        .copied()
                        .chain([mh.as_str()])
                        .chain(pieces.iter().copied()),
                )
            })
            .collect()
    };
    (urls, warnings)
}

/// Greedy packing, in order: each part holds as many pieces as fit after
/// the `head_len` bytes every part repeats.
fn pack<'a>(pieces: &[&'a str], head_len: usize, budget: usize) -> Vec<Vec<&'a str>> {
    let mut parts = vec![Vec::new()];
    let mut used = head_len;
    for &piece in pieces {
        let len = piece.len() + 1;
        if used + len > budget && !parts.last().is_none_or(Vec::is_empty) {
            parts.push(Vec::new());
            used = head_len;
        }
        used += len;
        if let Some(part) = parts.last_mut() {
            part.push(piece);
        }
    }
    parts
}

fn join<'a>(base: &str, pieces: impl Iterator<Item = &'a str>) -> String {
    let mut url = String::with_capacity(base.len() + 256);
    url.push_str(base);
    for (i, piece) in pieces.enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(piece);
    }
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[(byte >> 4) as usize] as char);
            out.push(HEX[(byte & 0xF) as usize] as char);
        }
    }
    out
}

/// The rewrite of a hit that is stored: `cn=offline` (added or replaced) and
/// `olt` (seconds since the epoch, with fraction) right after `ts`, or after
/// `mh` for a split part.
pub fn to_offline(url: &str, olt_seconds: f64) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pieces: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("olt="))
        .map(str::to_owned)
        .collect();
    match pieces
        .iter_mut()
        .find(|p| p.starts_with("cn=") || *p == "cn")
    {
        Some(cn) => *cn = "cn=offline".into(),
        None => pieces.push("cn=offline".into()),
    }
    let olt = format!("olt={olt_seconds:.3}");
    let anchor = pieces
        .iter()
        .position(|p| p.starts_with("mh="))
        .or_else(|| pieces.iter().position(|p| p.starts_with("ts=")));
    match anchor {
        Some(i) => pieces.insert(i + 1, olt),
        None => pieces.push(olt),
    }
    join(base, pieces.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard(max: usize) -> Standard<'static> {
        Standard {
            base_url: "https://logs.xiti.com/hit.xiti",
            site: "123",
            idclient: "abc",
            platform: "linux",
            max_hit_size: max,
        }
    }

    fn p(k: &str, v: &str) -> Param {
        (k.into(), v.into())
    }

    #[test]
    fn order_and_replacement() {
        let hit = build(
            &standard(8000),
            &[p("x", "1"), p("p", "old")],
            HitKind::Screen,
            vec![p("p", "Home"), p("x", "2")],
            42,
            || 7,
        )
        .unwrap();
        assert_eq!(
            hit.urls,
            vec![format!(
                "https://logs.xiti.com/hit.xiti?s=123&idclient=abc&ts=42&vtag={SDK_VERSION}&ptag=linux&x=2&p=Home"
            )]
        );
    }

    #[test]
    fn encoding_keeps_unreserved_only() {
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("\n"), "%0A");
    }

    #[test]
    fn empty_key_is_rejected() {
        let err = build(
            &standard(8000),
            &[],
            HitKind::Custom,
            vec![p("", "v")],
            1,
            || 1,
        );
        assert!(matches!(err, Err(Error::InvalidParameter { .. })));
    }

    #[test]
    fn long_hits_split_into_numbered_parts() {
        let own: Vec<Param> = (0..40)
            .map(|i| p(&format!("k{i}"), &"v".repeat(40)))
            .collect();
        let hit = build(&standard(400), &[], HitKind::Custom, own, 5, || 77).unwrap();
        let n = hit.urls.len();
        assert!(n > 1);
        for (i, url) in hit.urls.iter().enumerate() {
            assert!(url.len() + OFFLINE_ROOM <= 400, "{url}");
            let prefix = format!(
                "https://logs.xiti.com/hit.xiti?s=123&idclient=abc&ts=5&mh={}-{n}-77",
                i + 1
            );
            assert!(url.starts_with(&prefix), "{url}");
        }
        let joined = hit.urls.join("&");
        for i in 0..40 {
            assert_eq!(joined.matches(&format!("&k{i}=")).count(), 1);
        }
        assert!(hit.warnings.is_empty());
    }

    #[test]
    fn parameter_too_long_for_any_part_is_dropped_with_mherr() {
        let own = vec![p("small", "1"), p("huge", &"x".repeat(1000))];
        let hit = build(&standard(300), &[], HitKind::Custom, own, 5, || 1).unwrap();
        assert_eq!(hit.urls.len(), 1);
        assert!(hit.urls[0].ends_with("&small=1&mherr=1"), "{}", hit.urls[0]);
        assert!(!hit.urls[0].contains("huge"));
        assert!(hit.warnings[0].contains("`huge`"));
    }

    #[test]
    fn offline_rewrite_places_olt_after_ts_or_mh() {
        let url = "http://h/x?s=1&idclient=a&ts=5&p=Home";
        assert_eq!(
            to_offline(url, 1.5),
            "http://h/x?s=1&idclient=a&ts=5&olt=1.500&p=Home&cn=offline"
        );
        let part = "http://h/x?s=1&idclient=a&ts=5&mh=1-2-9&cn=wifi&a=b";
        assert_eq!(
            to_offline(part, 2.0),
            "http://h/x?s=1&idclient=a&ts=5&mh=1-2-9&olt=2.000&cn=offline&a=b"
        );
        // Storing twice never duplicates either parameter.
        assert_eq!(to_offline(&to_offline(url, 1.5), 3.0), to_offline(url, 3.0));
    }
}
