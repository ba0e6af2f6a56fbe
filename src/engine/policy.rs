//! The delivery policy, in one place: what counts as success, how many
//! attempts a stored hit gets, how automatic passes back off, and the
//! storage limits.

use std::time::{Duration, Instant};

/// Success is any 2xx response. Nothing else is success.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// What becomes of a stored hit whose send got a complete, non-2xx answer.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterRejection {
    /// Keep it for a later pass.
    Keep,
    /// It has used all its attempts: delete it and report it.
    Drop,
}

/// Each non-2xx answer uses one attempt; after `max_attempts` (default 3:
/// the first send and two more) the hit is dropped. Loss of connection never
/// reaches here: it costs no attempt.
pub fn after_rejection(attempts_used: u32, max_attempts: u32) -> AfterRejection {
    if attempts_used >= max_attempts {
        AfterRejection::Drop
    } else {
        AfterRejection::Keep
    }
}

/// Automatic passes (new hits in `required` mode) wait this long after the
/// first failed pass, doubling after each further failure, up to the cap,
/// with up to half again of random jitter. An explicit `dispatch` ignores it.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    not_before: Option<Instant>,
}

impl Backoff {
    pub fn allows_automatic_pass(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }

    pub fn record_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.not_before = Some(now + backoff_delay(self.failures, random_fraction()));
    }

    /// A pass that got through, or the network coming back: start afresh.
    pub fn reset(&mut self) {
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
pub fn over_count_limit(stored: u64, max_stored_hits: u64) -> bool {
    max_stored_hits > 0 && stored >= max_stored_hits
}

/// Hits created before the returned time (ms since the epoch) are too old.
pub fn age_cutoff_ms(now_ms: u64, max_storage_age_days: u32) -> Option<u64> {
    (max_storage_age_days > 0)
        .then(|| now_ms.saturating_sub(max_storage_age_days as u64 * 24 * 3600 * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_attempts_by_default() {
        assert_eq!(after_rejection(1, 3), AfterRejection::Keep);
        assert_eq!(after_rejection(2, 3), AfterRejection::Keep);
        assert_eq!(after_rejection(3, 3), AfterRejection::Drop);
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
    fn success_is_2xx_only() {
        assert!(is_success(200) && is_success(204) && is_success(299));
        assert!(!is_success(199) && !is_success(301) && !is_success(500));
    }

    #[test]
    fn limits_of_zero_mean_none() {
        assert!(!over_count_limit(1_000_000, 0));
        assert!(over_count_limit(10, 10));
        assert_eq!(age_cutoff_ms(10, 0), None);
        assert_eq!(age_cutoff_ms(2 * 86_400_000, 1), Some(86_400_000));
    }
}
