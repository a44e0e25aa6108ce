//! What happens to an outbox message after each attempt to send it: sent, tried again later
//! with backoff, given up at its deadline, or failed for good. Times are epoch milliseconds
//! handed in by the dispatcher; randomness for the jitter is handed in too.

/// What the provider said to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// The provider took the message and named it.
    Accepted {
        /// The provider's reference (BizId, Twilio sid, SMTP queue id, file name).
        provider_id: String,
    },
    /// Worth trying again: rate limited, the provider busy or briefly unreachable before the
    /// request was sent.
    Transient {
        /// What the provider or the network said.
        error: String,
        /// How long the provider asked us to wait, when it said (HTTP `Retry-After`).
        retry_after_ms: Option<u64>,
    },
    /// Never worth trying again.
    Permanent {
        /// What the provider said.
        error: String,
        /// Whether the contact point itself is bad (no such number, the address rejected), so
        /// that no other message should go to it.
        bad_address: bool,
    },
    /// The request may have reached the provider, but no answer came (a timeout after the
    /// request was written): only a lookup at the provider, or a receiver that drops
    /// repeats, can settle it.
    Unknown {
        /// What went wrong.
        error: String,
    },
}

/// Retry timing: exponential backoff with "full jitter" (a uniformly random wait between
/// zero and the exponential ceiling), so that many failed messages do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the wait after the first attempt, in milliseconds.
    pub base_ms: u64,
    /// Largest ceiling, in milliseconds.
    pub cap_ms: u64,
}

impl Default for Backoff {
    /// One second, doubling up to ten minutes.
    fn default() -> Backoff {
        Backoff { base_ms: 1_000, cap_ms: 600_000 }
    }
}

impl Backoff {
    /// The wait after attempt `attempt` (1 for the first) for a uniformly random `random`.
    pub fn delay_ms(&self, attempt: u32, random: u64) -> u64 {
        let doublings = attempt.saturating_sub(1).min(40);
        let ceiling = self.base_ms.saturating_mul(1u64 << doublings).min(self.cap_ms);
        random % (ceiling + 1)
    }
}

/// What becomes of the message after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Sent: the provider has it.
    Sent {
        /// The provider's reference.
        provider_id: String,
    },
    /// Back to the queue until `at_ms`.
    Retry {
        /// When to try again.
        at_ms: i64,
        /// Why the last attempt failed.
        error: String,
    },
    /// Given up: the deadline passes before another try.
    Expired {
        /// Why the last attempt failed.
        error: String,
    },
    /// Failed for good.
    Failed {
        /// What the provider said.
        error: String,
        /// Whether the contact point is bad.
        bad_address: bool,
    },
    /// Left as it is (still `sending`): the lease runs out and the outcome is settled then.
    Unsettled {
        /// What went wrong.
        error: String,
    },
}

/// The next state of a message after attempt `attempt` ended with `outcome` at `now_ms`, for
/// a message that must be sent by `deadline_ms`.
pub fn after_attempt(
    outcome: Attempted,
    attempt: u32,
    now_ms: i64,
    deadline_ms: i64,
    backoff: &Backoff,
    random: u64,
) -> Next {
    match outcome {
        Attempted::Accepted { provider_id } => Next::Sent { provider_id },
        Attempted::Permanent { error, bad_address } => Next::Failed { error, bad_address },
        Attempted::Unknown { error } => Next::Unsettled { error },
        Attempted::Transient { error, retry_after_ms } => {
            let wait = backoff.delay_ms(attempt, random).max(retry_after_ms.unwrap_or(0));
            let at_ms = now_ms.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX));
            if at_ms > deadline_ms { Next::Expired { error } } else { Next::Retry { at_ms, error } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_ceiling_doubles_up_to_the_cap() {
        let b = Backoff { base_ms: 1_000, cap_ms: 10_000 };
        // (attempt, random, wait): random at or above the ceiling wraps below it.
        let table = [
            (1, 999, 999),
            (1, 1_000, 1_000),
            (1, 1_001, 0),
            (2, 2_000, 2_000),
            (3, 4_000, 4_000),
            (4, 8_000, 8_000),
            (5, 10_000, 10_000),
            (5, 16_000, 5_999),
            (60, u64::MAX, u64::MAX % 10_001),
        ];
        for (attempt, random, wait) in table {
            assert_eq!(b.delay_ms(attempt, random), wait, "attempt {attempt}, random {random}");
        }
    }

    #[test]
    fn transient_errors_retry_until_the_deadline() {
        let b = Backoff { base_ms: 1_000, cap_ms: 60_000 };
        let transient = |retry_after_ms| Attempted::Transient { error: "busy".into(), retry_after_ms };
        assert_eq!(
            after_attempt(transient(None), 1, 10_000, 20_000, &b, 500),
            Next::Retry { at_ms: 10_500, error: "busy".into() }
        );
        // The provider's Retry-After wins over a shorter jittered wait.
        assert_eq!(
            after_attempt(transient(Some(5_000)), 1, 10_000, 20_000, &b, 500),
            Next::Retry { at_ms: 15_000, error: "busy".into() }
        );
        assert_eq!(
            after_attempt(transient(Some(15_000)), 1, 10_000, 20_000, &b, 500),
            Next::Expired { error: "busy".into() }
        );
    }

    #[test]
    fn other_outcomes_do_not_depend_on_time() {
        let b = Backoff::default();
        let sent = after_attempt(Attempted::Accepted { provider_id: "B1".into() }, 1, 0, 0, &b, 0);
        assert_eq!(sent, Next::Sent { provider_id: "B1".into() });
        let bad = Attempted::Permanent { error: "no such number".into(), bad_address: true };
        assert_eq!(
            after_attempt(bad, 3, 0, 0, &b, 0),
            Next::Failed { error: "no such number".into(), bad_address: true }
        );
        let lost = Attempted::Unknown { error: "timed out".into() };
        assert_eq!(after_attempt(lost, 1, 0, 0, &b, 0), Next::Unsettled { error: "timed out".into() });
    }
}
