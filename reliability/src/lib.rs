//! What the crash harness (`hitkit-crash`) and its child (`hitkit-crash-child`)
//! share: the line protocol the child writes on stdout, and a small seeded
//! random generator so a run can be replayed with `--seed`.
//!
//! Every hit the child makes carries a unique id in its `n` parameter. The
//! child writes one line per event, flushed at once, so the harness knows
//! exactly what was acknowledged before it killed the child:
//!
//! | line | meaning |
//! |---|---|
//! | `ready` | the tracker opened |
//! | `open-error <reason>` | the tracker did not open (the child exits 3) |
//! | `phase <store\|flush\|dispatch\|idle>` | what the child's main thread starts doing |
//! | `made <id> <µs>` | `send` returned `Ok` for hit `id`, at this wall-clock time (µs since the Unix epoch) |
//! | `saved <id>` | `save_did_end`: hit `id` is stored and flushed |
//! | `sent <id>` | `send_did_end(Success)`: the collector answered 2xx |
//! | `failed <id>` | `send_did_end(Failed)`: the collector answered, not 2xx |
//! | `flushed <count> <listed>` | `flush()` resolved; `Offline` count and `get().len()` right after |
//! | `dispatched <sent> <failed> <dropped> <remaining>` | a `dispatch_and_wait` report |
//! | `warning <text>` / `error <text>` | the delegate's warnings and errors |
//! | `opened <ms> <hits>` | `--open-store`: `Database::open` + `hit_store` took `ms`, the store says `hits` |

/// One line of the child's stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Ready,
    OpenError(String),
    Phase(String),
    Made {
        id: u64,
        at_us: u64,
    },
    Saved(u64),
    Sent(u64),
    Failed(u64),
    Flushed {
        count: u64,
        listed: u64,
    },
    Dispatched {
        sent: u64,
        failed: u64,
        dropped: u64,
        remaining: u64,
    },
    Warning(String),
    Error(String),
    Opened {
        ms: u64,
        hits: u64,
    },
}

impl Line {
    pub fn parse(line: &str) -> Option<Line> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let numbers: Vec<u64> = rest
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        let one = numbers.first().copied();
        Some(match word {
            "ready" => Line::Ready,
            "open-error" => Line::OpenError(rest.to_owned()),
            "phase" => Line::Phase(rest.to_owned()),
            "made" if numbers.len() == 2 => Line::Made {
                id: numbers[0],
                at_us: numbers[1],
            },
            "saved" => Line::Saved(one?),
            "sent" => Line::Sent(one?),
            "failed" => Line::Failed(one?),
            "flushed" if numbers.len() == 2 => Line::Flushed {
                count: numbers[0],
                listed: numbers[1],
            },
            "dispatched" if numbers.len() == 4 => Line::Dispatched {
                sent: numbers[0],
                failed: numbers[1],
                dropped: numbers[2],
                remaining: numbers[3],
            },
            "warning" => Line::Warning(rest.to_owned()),
            "error" => Line::Error(rest.to_owned()),
            "opened" if numbers.len() == 2 => Line::Opened {
                ms: numbers[0],
                hits: numbers[1],
            },
            _ => return None,
        })
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Line::Ready => write!(f, "ready"),
            Line::OpenError(why) => write!(f, "open-error {}", one_line(why)),
            Line::Phase(phase) => write!(f, "phase {phase}"),
            Line::Made { id, at_us } => write!(f, "made {id} {at_us}"),
            Line::Saved(id) => write!(f, "saved {id}"),
            Line::Sent(id) => write!(f, "sent {id}"),
            Line::Failed(id) => write!(f, "failed {id}"),
            Line::Flushed { count, listed } => write!(f, "flushed {count} {listed}"),
            Line::Dispatched {
                sent,
                failed,
                dropped,
                remaining,
            } => write!(f, "dispatched {sent} {failed} {dropped} {remaining}"),
            Line::Warning(text) => write!(f, "warning {}", one_line(text)),
            Line::Error(text) => write!(f, "error {}", one_line(text)),
            Line::Opened { ms, hits } => write!(f, "opened {ms} {hits}"),
        }
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// The id a hit URL or query carries in its `n` parameter (plain digits, so
/// never percent-encoded).
pub fn hit_id(url: &str) -> Option<u64> {
    let query = url.split_once('?').map_or(url, |(_, query)| query);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("n="))
        .and_then(|id| id.parse().ok())
}

/// The hit's own id: the `hitIdParameter` the child sets.
pub const HIT_ID_PARAMETER: &str = "hid";

/// Wall-clock time in µs since the Unix epoch: the child stamps its `made`
/// lines with it and the harness its kills, so the two can be compared.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// xorshift64*: small, seedable, good enough to pick moments and modes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is a fixed point of xorshift; any other start works.
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let lines = [
            Line::Ready,
            Line::OpenError("locked".into()),
            Line::Phase("flush".into()),
            Line::Made { id: 7, at_us: 11 },
            Line::Saved(8),
            Line::Sent(9),
            Line::Failed(10),
            Line::Flushed {
                count: 3,
                listed: 3,
            },
            Line::Dispatched {
                sent: 1,
                failed: 2,
                dropped: 3,
                remaining: 4,
            },
            Line::Warning("w".into()),
            Line::Error("e x".into()),
            Line::Opened { ms: 12, hits: 3000 },
        ];
        for line in lines {
            assert_eq!(Line::parse(&line.to_string()), Some(line.clone()), "{line}");
        }
        assert_eq!(Line::parse("made x"), None);
        assert_eq!(Line::parse("made 7"), None);
        assert_eq!(Line::parse("flushed 1"), None);
    }

    #[test]
    fn ids_come_from_the_n_parameter() {
        assert_eq!(hit_id("http://h/x?s=1&ts=5&n=42&cn=offline"), Some(42));
        assert_eq!(hit_id("http://h/x?s=1&nn=4"), None);
        assert_eq!(hit_id("http://h/x"), None);
    }

    #[test]
    fn rng_is_seeded_and_bounded() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        for _ in 0..1000 {
            let x = a.range(3, 9);
            assert_eq!(x, b.range(3, 9));
            assert!((3..=9).contains(&x));
        }
    }
}
