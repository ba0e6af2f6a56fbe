//! Building hits: parameter order and encoding, splitting long hits into
//! `mh` parts, and the rewrite a hit gets when it is stored.
//!
//! A hit is built as its query (what follows `?`); the collector's URL is
//! put in front when it is sent, from the configuration of that moment.

use super::error::{Result, TrackerError};
use super::types::HitType;

pub type Param = (String, String);

/// A hit ready to leave: one query, or several `mh` parts of one hit.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltHit {
    pub hit_type: HitType,
    pub created_ms: u64,
    pub queries: Vec<String>,
    /// Problems found while building (a parameter too long to fit, ...).
    pub warnings: Vec<String>,
}

/// What every hit of a tracker carries besides its own parameters.
pub struct Identity<'a> {
    pub base_url: &'a str,
    pub site: &'a str,
    pub idclient: &'a str,
    pub platform: &'a str,
    pub max_hit_size: usize,
    /// `(parameter, value)`: the hit's own id (`hitIdParameter`).
    pub hit_id: Option<(&'a str, String)>,
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
        return Err(TrackerError::param(
            key,
            "a parameter key must not be empty",
        ));
    }
    Ok(())
}

/// Whether a hit can be sent to `base` (the part before `?`): an http(s)
/// URL with a host. Checked when the configuration changes, so a hit never
/// meets a collector URL no client could send to.
pub fn is_sendable_base(base: &str) -> bool {
    url::Url::parse(base)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
}

/// Whether hits to `base` cross a network in clear: `http`, to a host
/// other than this device.
pub fn is_cleartext_remote(base: &str) -> bool {
    let Ok(url) = url::Url::parse(base) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    url.scheme() == "http" && !loopback
}

/// Order: `s`, the standard parameters, `persistent`, then `own`.
/// A later key replaces the value of an earlier one, keeping its place.
/// Keys were checked on the caller's thread ([`check_key`]).
pub fn build(
    identity: &Identity<'_>,
    persistent: &[Param],
    hit_type: HitType,
    own: Vec<Param>,
    created_ms: u64,
    split_id: impl FnOnce() -> u32,
) -> BuiltHit {
    let mut params: Vec<Param> = vec![
        ("s".into(), identity.site.into()),
        ("idclient".into(), identity.idclient.into()),
        ("ts".into(), created_ms.to_string()),
    ];
    if let Some((key, id)) = &identity.hit_id {
        params.push(((*key).to_owned(), id.clone()));
    }
    params.push(("vtag".into(), SDK_VERSION.into()));
    params.push(("ptag".into(), identity.platform.into()));
    for (key, value) in persistent.iter().cloned().chain(own) {
        match params.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => params.push((key, value)),
        }
    }
    let repeated = identity.hit_id.as_ref().map(|(key, _)| *key);
    let (queries, warnings) = split(identity, params, repeated, split_id);
    BuiltHit {
        hit_type,
        created_ms,
        queries,
        warnings,
    }
}

fn split(
    identity: &Identity<'_>,
    params: Vec<Param>,
    hit_id_key: Option<&str>,
    split_id: impl FnOnce() -> u32,
) -> (Vec<String>, Vec<String>) {
    let max_size = identity.max_hit_size;
    // The URL is the base, `?`, then the query.
    let budget = max_size.saturating_sub(OFFLINE_ROOM + identity.base_url.len() + 1);
    let encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| {
            let mut piece = String::with_capacity((k.len() + v.len()) * 3 / 2 + 1);
            encode_into(&mut piece, k);
            piece.push('=');
            encode_into(&mut piece, v);
            (k.clone(), piece)
        })
        .collect();
    let whole = join(encoded.iter().map(|(_, p)| p.as_str()));
    if whole.len() <= budget {
        return (vec![whole], Vec::new());
    }

    let (head, rest): (Vec<_>, Vec<_>) = encoded
        .into_iter()
        .partition(|(k, _)| REPEATED_KEYS.contains(&k.as_str()) || Some(k.as_str()) == hit_id_key);
    let id = split_id() % 1_000_000_000;
    // The widest `mh` a part can carry, so packing never overflows.
    let mh_room = format!("&mh={MAX_PARTS}-{MAX_PARTS}-{id}").len();
    let head_len = join(head.iter().map(|(_, p)| p.as_str())).len() + mh_room;
    if head_len >= budget {
        // What every part must repeat (a long visitor id, an `s` the app
        // set) leaves no room in a part: splitting cannot help.
        let warning = format!(
            "the parameters every part of a split hit repeats (s, idclient, ts) take \
             {head_len} bytes, more than maxHitSize {max_size} leaves room for: sent as \
             one hit of {} bytes",
            whole.len()
        );
        return (vec![whole], vec![warning]);
    }

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
    let queries = if count == 1 {
        vec![join(head.iter().copied().chain(parts[0].iter().copied()))]
    } else {
        parts
            .iter()
            .enumerate()
            .map(|(i, pieces)| {
                let mh = format!("mh={}-{count}-{id}", i + 1);
                join(
                    head.iter()
                        .copied()
                        .chain([mh.as_str()])
                        .chain(pieces.iter().copied()),
                )
            })
            .collect()
    };
    (queries, warnings)
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

fn join<'a>(pieces: impl Iterator<Item = &'a str>) -> String {
    let mut query = String::with_capacity(256);
    for piece in pieces {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(piece);
    }
    query
}

/// The URL a query is sent to.
pub fn url(base: &str, query: &str) -> String {
    let mut url = String::with_capacity(base.len() + 1 + query.len());
    url.push_str(base);
    url.push('?');
    url.push_str(query);
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters,
/// appending to `out`: a hit is built without a `String` per piece.
fn encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[(byte >> 4) as usize] as char);
            out.push(HEX[(byte & 0xF) as usize] as char);
        }
    }
}

/// The rewrite of a hit's query when it is stored: `cn=offline` (added or
/// replaced) and `olt` (seconds since the epoch, with fraction) right after
/// `ts`, or after `mh` for a split part.
pub fn to_offline(query: &str, olt_seconds: f64) -> String {
    let mut pieces: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("olt="))
        .collect();
    match pieces
        .iter_mut()
        .find(|p| p.starts_with("cn=") || **p == "cn")
    {
        Some(cn) => *cn = "cn=offline",
        None => pieces.push("cn=offline"),
    }
    let olt = format!("olt={olt_seconds:.3}");
    let anchor = pieces
        .iter()
        .position(|p| p.starts_with("mh="))
        .or_else(|| pieces.iter().position(|p| p.starts_with("ts=")));
    match anchor {
        Some(i) => pieces.insert(i + 1, &olt),
        None => pieces.push(&olt),
    }
    let mut out = String::with_capacity(query.len() + olt.len() + 12);
    for piece in pieces {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str) -> String {
        let mut out = String::new();
        encode_into(&mut out, text);
        out
    }

    const BASE: &str = "https://logs.xiti.com/hit.xiti";

    fn identity(max: usize) -> Identity<'static> {
        Identity {
            base_url: BASE,
            site: "123",
            idclient: "abc",
            platform: "linux",
            max_hit_size: max,
            hit_id: None,
        }
    }

    fn p(k: &str, v: &str) -> Param {
        (k.into(), v.into())
    }

    #[test]
    fn order_and_replacement() {
        let hit = build(
            &identity(8000),
            &[p("x", "1"), p("p", "old")],
            HitType::Screen,
            vec![p("p", "Home"), p("x", "2")],
            42,
            || 7,
        );
        assert_eq!(
            hit.queries,
            vec![format!(
                "s=123&idclient=abc&ts=42&vtag={SDK_VERSION}&ptag=linux&x=2&p=Home"
            )]
        );
        assert_eq!(
            url(BASE, &hit.queries[0]),
            format!("{BASE}?{}", hit.queries[0])
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
        assert!(matches!(
            check_key(""),
            Err(TrackerError::InvalidParameter { .. })
        ));
        assert!(check_key("p").is_ok());
    }

    #[test]
    fn long_hits_split_into_numbered_parts() {
        let own: Vec<Param> = (0..40)
            .map(|i| p(&format!("k{i}"), &"v".repeat(40)))
            .collect();
        let hit = build(&identity(400), &[], HitType::Custom, own, 5, || 77);
        let n = hit.queries.len();
        assert!(n > 1);
        for (i, query) in hit.queries.iter().enumerate() {
            assert!(url(BASE, query).len() + OFFLINE_ROOM <= 400, "{query}");
            let prefix = format!("s=123&idclient=abc&ts=5&mh={}-{n}-77", i + 1);
            assert!(query.starts_with(&prefix), "{query}");
        }
        let joined = hit.queries.join("&");
        for i in 0..40 {
            assert_eq!(joined.matches(&format!("&k{i}=")).count(), 1);
        }
        assert!(hit.warnings.is_empty());
    }

    #[test]
    fn every_part_repeats_the_hit_id() {
        let mut id = identity(400);
        id.hit_id = Some(("hid", "00ff".into()));
        let own: Vec<Param> = (0..40)
            .map(|i| p(&format!("k{i}"), &"v".repeat(40)))
            .collect();
        let hit = build(&id, &[], HitType::Custom, own, 5, || 77);
        assert!(hit.queries.len() > 1);
        for query in &hit.queries {
            assert!(
                query.starts_with("s=123&idclient=abc&ts=5&hid=00ff&mh="),
                "{query}"
            );
        }
    }

    #[test]
    fn parameter_too_long_for_any_part_is_dropped_with_mherr() {
        let own = vec![p("small", "1"), p("huge", &"x".repeat(1000))];
        let hit = build(&identity(300), &[], HitType::Custom, own, 5, || 1);
        assert_eq!(hit.queries.len(), 1);
        assert!(
            hit.queries[0].ends_with("&small=1&mherr=1"),
            "{}",
            hit.queries[0]
        );
        assert!(!hit.queries[0].contains("huge"));
        assert!(hit.warnings[0].contains("`huge`"));
    }

    #[test]
    fn a_head_too_long_for_any_part_is_sent_whole_and_said() {
        let mut id = identity(256);
        let long = "v".repeat(300);
        id.idclient = &long;
        let hit = build(&id, &[], HitType::Custom, vec![p("k", "x")], 5, || 1);
        assert_eq!(hit.queries.len(), 1);
        assert!(hit.queries[0].ends_with("&k=x"), "{}", hit.queries[0]);
        assert!(
            hit.warnings[0].contains("sent as one hit"),
            "{:?}",
            hit.warnings
        );
    }

    #[test]
    fn offline_rewrite_places_olt_after_ts_or_mh() {
        let query = "s=1&idclient=a&ts=5&p=Home";
        assert_eq!(
            to_offline(query, 1.5),
            "s=1&idclient=a&ts=5&olt=1.500&p=Home&cn=offline"
        );
        let part = "s=1&idclient=a&ts=5&mh=1-2-9&cn=wifi&a=b";
        assert_eq!(
            to_offline(part, 2.0),
            "s=1&idclient=a&ts=5&mh=1-2-9&olt=2.000&cn=offline&a=b"
        );
        // Storing twice never duplicates either parameter.
        assert_eq!(
            to_offline(&to_offline(query, 1.5), 3.0),
            to_offline(query, 3.0)
        );
    }

    #[test]
    fn cleartext_means_http_off_this_device() {
        assert!(is_cleartext_remote("http://collector.example/hit"));
        assert!(is_cleartext_remote("http://10.0.0.2:8080/hit"));
        assert!(!is_cleartext_remote("http://127.0.0.1:8080/hit"));
        assert!(!is_cleartext_remote("http://[::1]:8080/hit"));
        assert!(!is_cleartext_remote("http://localhost/hit"));
        assert!(!is_cleartext_remote("https://collector.example/hit"));
    }

    /// Cargo.lock pins `idna_adapter` to its release without Unicode
    /// tables (137 KB less library): a `cargo update` that undoes the pin
    /// brings them back, and this fails.
    #[test]
    fn the_url_parser_has_no_unicode_host_tables() {
        assert!(url::Url::parse("https://b\u{fc}cher.example/hit").is_err());
        assert!(url::Url::parse("https://xn--bcher-kva.example/hit").is_ok());
    }

    #[test]
    fn sendable_bases_are_http_urls_with_a_host() {
        assert!(is_sendable_base("http://127.0.0.1:8/x"));
        assert!(is_sendable_base(BASE));
        assert!(!is_sendable_base("https://logs.1.2.3/hit"));
        assert!(!is_sendable_base("ftp://h/x"));
    }
}
