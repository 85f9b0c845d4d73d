//! [`RetryBudget`]: how long table requests may take and keep retrying.

use std::time::Duration;

/// Retry and timeout limits for every table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    /// Total time one operation may spend retrying throttling/5xx/network errors.
    pub total: Duration,
    /// Limit for one HTTP round trip (including reading the body).
    pub per_request: Duration,
    /// First backoff; doubles per attempt, jittered ([`RetryBudget::backoff`]).
    pub initial_backoff: Duration,
    /// Largest single backoff.
    pub max_backoff: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            total: Duration::from_secs(60),
            per_request: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryBudget {
    /// The budget for a total time a user chose (the provider's
    /// `retry_timeout_seconds`, the CLI's `--retry-timeout-seconds`). A short total still
    /// leaves room for retries after one request hangs: each attempt gets at
    /// most a third of it, and at least a second.
    pub fn for_total(total: Duration) -> RetryBudget {
        let default = RetryBudget::default();
        RetryBudget {
            total,
            per_request: default
                .per_request
                .min(total / 3)
                .max(Duration::from_secs(1)),
            ..default
        }
    }

    /// How long to wait after the `attempts`-th failed attempt: the initial
    /// backoff doubled per attempt up to the largest, jittered anywhere in
    /// [half, all] of that so clients that failed together spread out.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        let low = millis / 2;
        Duration::from_millis(rand::Rng::random_range(&mut rand::rng(), low..=millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_attempt_gets_a_third_of_a_short_total() {
        let secs = |s| RetryBudget::for_total(Duration::from_secs(s)).per_request;
        assert_eq!(secs(1), Duration::from_secs(1));
        assert_eq!(secs(6), Duration::from_secs(2));
        assert_eq!(secs(60), Duration::from_secs(20));
        assert_eq!(secs(3600), Duration::from_secs(30));
        assert_eq!(
            RetryBudget::for_total(Duration::from_secs(5))
                .total
                .as_secs(),
            5
        );
    }
}
