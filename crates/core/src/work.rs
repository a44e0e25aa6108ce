//! The lifecycles of the work done on cases: tasks the strategy makes, messages it queues,
//! early-warning alerts and arrangement requests. Each status is stored as its text.

use crate::book::text_enum;

text_enum!(
    /// Where a task stands.
    TaskStatus {
        /// Made, not yet workable (a message waiting for its send time).
        Pending = "pending",
        /// Workable now: in a queue, or ready to send.
        Due = "due",
        /// Done (by an action, a send, or at once for a placement or hold step).
        Done = "done",
        /// Stopped before it was done: the case closed, went on hold or to an agency, or a newer task superseded it.
        Cancelled = "cancelled",
        /// Could not be made workable (the contact policy refused every party, an unknown agency).
        Blocked = "blocked",
    }
);

impl TaskStatus {
    /// Whether the task may still be worked (it is neither done nor cancelled).
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Pending | TaskStatus::Due | TaskStatus::Blocked)
    }
}

text_enum!(
    /// Where an outbox message stands.
    MessageStatus {
        /// Waiting for its send time (or for its next try after a transient failure).
        Queued = "queued",
        /// Claimed by a dispatcher, which holds a lease on it while it talks to the provider.
        Sending = "sending",
        /// Accepted by the provider.
        Sent = "sent",
        /// The provider reported it delivered.
        Delivered = "delivered",
        /// The channel could not deliver it (a permanent error, or a failed delivery receipt).
        Failed = "failed",
        /// Accepted, then returned by the recipient's server.
        Bounced = "bounced",
        /// Still not sent when its time ran out (transient errors until the deadline).
        Expired = "expired",
        /// Not sent: the contact policy or the content rules refused it at send time.
        Refused = "refused",
        /// Withdrawn before sending (the case closed, went on hold or to an agency).
        Cancelled = "cancelled",
    }
);

impl MessageStatus {
    /// Whether the provider took the message (it reached the wire once and must not again).
    pub fn accepted(self) -> bool {
        matches!(self, MessageStatus::Sent | MessageStatus::Delivered | MessageStatus::Bounced)
    }

    /// Whether nothing more will happen to the message but a delivery receipt.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageStatus::Queued | MessageStatus::Sending)
    }
}

text_enum!(
    /// Where an early-warning alert stands.
    AlertStatus {
        /// Raised, nobody has looked at it yet.
        Open = "open",
        /// Someone in a department it names has seen it and noted what they do.
        Acknowledged = "acknowledged",
        /// Dealt with.
        Closed = "closed",
    }
);

text_enum!(
    /// Where a borrower's arrangement request stands.
    ArrangementStatus {
        /// Recorded, waiting for a decision.
        Requested = "requested",
        /// Approved.
        Approved = "approved",
        /// Rejected.
        Rejected = "rejected",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
        }
        for s in MessageStatus::ALL {
            assert_eq!(s.as_str().parse::<MessageStatus>(), Ok(*s));
        }
        for s in AlertStatus::ALL {
            assert_eq!(s.as_str().parse::<AlertStatus>(), Ok(*s));
        }
        let e = "paused".parse::<TaskStatus>().unwrap_err();
        assert_eq!(e.to_string(), "\"paused\" is not one of pending due done cancelled blocked ");
        let open: Vec<_> = TaskStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [&TaskStatus::Pending, &TaskStatus::Due, &TaskStatus::Blocked]);
    }
}
