//! The delivery policy, in one place (docs/contract.md §3): what a send's
//! result means for a hit, how many attempts a stored hit gets, how
//! automatic passes back off and follow the server's pacing, the storage
//! limits, and the few timings the worker keeps.

use std::time::{Duration, Instant, SystemTime};

/// What came back from one GET of a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A complete HTTP response (a redirect is not followed: it is a status
    /// like any other). `retry_after`: the header, as the server sent it.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// No complete response: connect error, DNS failure, reset, timeout,
    /// or the host's network switched off.
    NoResponse(String),
    /// No request could be made at all (a URL no client can send).
    Unsendable(String),
}

/// What a send's result means for the hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Any 2xx: the collector has it. Nothing else is success.
    Delivered,
    /// The collector answered, and not with 2xx; or the hit can never be
    /// sent. Costs one attempt of a stored hit; a live hit is not stored.
    Refused { why: String, pace: Option<Duration> },
    /// Loss of connection: stops a pass at once and costs no attempt; in
    /// `required` mode a live hit is stored.
    Lost(String),
}

pub fn outcome(response: Response, now: SystemTime) -> Outcome {
    match response {
        Response::Status { code, .. } if (200..300).contains(&code) => Outcome::Delivered,
        // Not an HTTP status (a host stack's -1 for a response it could not
        // read): no complete response, so no attempt.
        Response::Status { code, .. } if !(100..=599).contains(&code) => {
            Outcome::Lost(format!("no valid HTTP status ({code})"))
        }
        Response::Status { code, retry_after } => Outcome::Refused {
            why: format!("answered HTTP {code}"),
            pace: paced_by(code)
                .then(|| {
                    retry_after
                        .as_deref()
                        .and_then(|v| retry_after_delay(v, now))
                })
                .flatten(),
        },
        Response::Unsendable(why) => Outcome::Refused {
            why: format!("could not be sent ({why})"),
            pace: None,
        },
        Response::NoResponse(why) => Outcome::Lost(why),
    }
}

/// What becomes of a stored hit the collector refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterRefusal {
    /// Keep it for a later pass.
    Keep,
    /// It has used all its attempts: delete it and report it.
    Drop,
}

/// Each refusal uses one attempt; after `max_attempts` (default 3: the first
/// send and two more) the hit is dropped. A loss of connection never comes
/// here. A pass gives a hit at most one attempt.
pub fn after_refusal(attempts_used: u32, max_attempts: u32) -> AfterRefusal {
    if attempts_used >= max_attempts {
        AfterRefusal::Drop
    } else {
        AfterRefusal::Keep
    }
}

/// Automatic passes (new hits in `required` mode, the network coming back)
/// wait this long after the first failed pass, doubling after each further
/// failure, up to the cap, with up to half again of random jitter. An
/// explicit dispatch ignores the backoff.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);

/// `Retry-After` is honoured on these statuses only.
fn paced_by(code: u16) -> bool {
    matches!(code, 429 | 503)
}

/// The longest `Retry-After` honoured; a longer, negative or unreadable
/// value falls back to the backoff.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After`: seconds, or an HTTP date.
pub fn retry_after_delay(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        Duration::from_secs(value.parse().ok()?)
    } else {
        http_date(value)?.duration_since(now).ok()?
    };
    (delay <= MAX_RETRY_AFTER).then_some(delay)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (the IMF-fixdate HTTP servers send).
fn http_date(value: &str) -> Option<SystemTime> {
    let rest = value.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    // Four digits, as servers send: a year of any size would overflow the
    // arithmetic below (the value comes from the network).
    let year: i64 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// When automatic passes may run again.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    not_before: Option<Instant>,
    /// The server's own pacing (`Retry-After`), which an explicit dispatch
    /// also honours unless the app asks to go ahead.
    paced_until: Option<Instant>,
}

impl Backoff {
    pub fn allows_automatic_pass(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t) && !self.is_paced(now)
    }

    pub fn is_paced(&self, now: Instant) -> bool {
        self.paced_until.is_some_and(|t| now < t)
    }

    pub fn paced_until(&self) -> Option<Instant> {
        self.paced_until
    }

    /// A failed pass or live send: wait longer before the next automatic one.
    pub fn record_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.not_before = Some(now + backoff_delay(self.failures, random_fraction()));
    }

    /// The server asked for a pause (`Retry-After`).
    pub fn pace(&mut self, now: Instant, delay: Duration) {
        self.paced_until = Some(now + delay);
    }

    /// The network coming back: start afresh (the server's pacing stands:
    /// the network coming back changes nothing for the server).
    pub fn reset(&mut self) {
        self.failures = 0;
        self.not_before = None;
    }

    /// A hit the collector accepted: it is taking hits again, pacing over.
    pub fn delivered(&mut self) {
        *self = Backoff::default();
    }
}

/// `jitter` in [0, 1).
pub fn backoff_delay(failures: u32, jitter: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    let base = BACKOFF_FIRST.saturating_mul(1 << exponent).min(BACKOFF_CAP);
    base.mul_f64(1.0 + jitter.clamp(0.0, 1.0) / 2.0)
        .min(BACKOFF_CAP)
}

fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes) as f64 / (u32::MAX as f64 + 1.0),
        Err(_) => 0.5,
    }
}

/// Limits on the store. 0 means no limit.
pub fn over_count_limit(stored: u64, max_stored_hits: i64) -> bool {
    max_stored_hits > 0 && stored >= max_stored_hits as u64
}

/// Hits created before the returned time (ms since the epoch) are too old.
pub fn age_cutoff_ms(now_ms: u64, max_storage_age_days: i32) -> Option<u64> {
    (max_storage_age_days > 0)
        .then(|| now_ms.saturating_sub(max_storage_age_days as u64 * 24 * 3600 * 1000))
}

/// Hits waiting in memory to go out live (`never` and `required` modes)
/// while sends are slow. Beyond it, `never` drops the newest (and says so)
/// and `required` stores them, so memory stays bounded.
pub const MAX_LIVE_QUEUE: usize = 1000;

/// During a pass, deletes of sent hits become durable at least this often,
/// so a kill sends again at most this much of the pass (delivery is
/// at-least-once), without one sync per hit.
pub const COMMIT_EVERY: Duration = Duration::from_millis(25);

/// After work, the worker stays awake this long, checking for more every
/// nap, so an app sending paced hits finds it awake: handing over a hit
/// then needs no system call on the app's thread. Then it sleeps, with no
/// timer unless a deadline needs one.
pub const LINGER: Duration = Duration::from_millis(3);
pub const NAP: Duration = Duration::from_micros(250);

/// A host transport that never calls back is taken as no response this
/// long after its timeout.
pub const HOST_TRANSPORT_GRACE: Duration = Duration::from_secs(2);

/// A deadline beyond a day is no deadline (and cannot overflow).
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_attempts_by_default() {
        assert_eq!(after_refusal(1, 3), AfterRefusal::Keep);
        assert_eq!(after_refusal(2, 3), AfterRefusal::Keep);
        assert_eq!(after_refusal(3, 3), AfterRefusal::Drop);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff_delay(4, 0.0), Duration::from_secs(8));
        assert_eq!(
            backoff_delay(3, 0.99),
            Duration::from_secs(4).mul_f64(1.495)
        );
        assert_eq!(backoff_delay(40, 0.9), BACKOFF_CAP);
    }

    #[test]
    fn success_is_2xx_only_and_silence_is_a_loss() {
        let now = SystemTime::now();
        let status = |code| {
            outcome(
                Response::Status {
                    code,
                    retry_after: None,
                },
                now,
            )
        };
        assert_eq!(status(200), Outcome::Delivered);
        assert_eq!(status(299), Outcome::Delivered);
        for code in [199, 301, 404, 500] {
            assert!(matches!(status(code), Outcome::Refused { .. }), "{code}");
        }
        assert!(matches!(
            outcome(Response::NoResponse("reset".into()), now),
            Outcome::Lost(_)
        ));
        assert!(matches!(
            outcome(Response::Unsendable("bad url".into()), now),
            Outcome::Refused { pace: None, .. }
        ));
    }

    #[test]
    fn retry_after_paces_429_and_503_only() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let with = |code, value: &str| {
            outcome(
                Response::Status {
                    code,
                    retry_after: Some(value.into()),
                },
                now,
            )
        };
        let pace = |o: Outcome| match o {
            Outcome::Refused { pace, .. } => pace,
            other => panic!("{other:?}"),
        };
        assert_eq!(pace(with(503, "7")), Some(Duration::from_secs(7)));
        assert_eq!(pace(with(429, " 120 ")), Some(Duration::from_secs(120)));
        assert_eq!(pace(with(500, "7")), None);
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
        assert_eq!(
            pace(with(503, "Sun, 06 Nov 1994 08:50:37 GMT")),
            Some(Duration::from_secs(60))
        );
        for bad in [
            "-1",
            "soon",
            "",
            "3601",
            "99999999999999999999999",
            "Sun, 06 Nov 400000000000 08:49:37 GMT",
            "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
            "Sun, 06 Nov 0 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:36 GMT",
            "1.5",
        ] {
            assert_eq!(pace(with(503, bad)), None, "{bad:?}");
        }
        assert_eq!(pace(with(503, "3600")), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn pacing_outlives_a_reset_but_not_its_time_or_a_delivery() {
        let now = Instant::now();
        let mut backoff = Backoff::default();
        backoff.pace(now, Duration::from_secs(10));
        backoff.reset();
        assert!(!backoff.allows_automatic_pass(now + Duration::from_secs(9)));
        assert!(backoff.allows_automatic_pass(now + Duration::from_secs(10)));
        backoff.delivered();
        assert!(!backoff.is_paced(now));
    }

    #[test]
    fn limits_of_zero_mean_none() {
        assert!(!over_count_limit(1_000_000, 0));
        assert!(over_count_limit(10, 10));
        assert_eq!(age_cutoff_ms(10, 0), None);
        assert_eq!(age_cutoff_ms(2 * 86_400_000, 1), Some(86_400_000));
    }
}
