//! Scheduling: the first moment a contact would be allowed, for automatic messages that the
//! batch postpones rather than drops.

use chrono::{DateTime, Duration, Utc};

use super::check::violations;
use super::model::{Attempt, DebtorProfile, Holidays, Proposal};
use super::pack::PolicyPack;

/// Safety bound on the number of jumps; each jump passes at least one rule's boundary (the end
/// of a quiet night, a holiday, a local day), so real schedules need a handful.
const MAX_JUMPS: usize = 10_000;

/// The first instant at or after `proposal.at`, and not after `not_after`, at which the
/// contact would be allowed; `None` when no such instant exists (a hold, an opt-out, a refusal
/// that waiting does not lift) or it lies beyond `not_after`.
///
/// Rather than scanning minute by minute, each refusing rule reports the earliest instant it
/// could stop refusing (08:00 local sharp, the next local midnight, the day a conversation's
/// pause ends); the search jumps to the latest of those and checks again.
pub fn first_allowed(
    pack: &PolicyPack,
    proposal: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
    not_after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    search(pack, proposal, profile, history, holidays, not_after).0
}

/// The end of the allowed stretch that starts at `proposal.at`: the first instant, in steps of
/// `step`, at which the same contact would be refused, or `not_after` if none comes first. A
/// dialer is given this as the end of the window a call may be made in.
pub fn allowed_until(
    pack: &PolicyPack,
    proposal: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
    step: Duration,
    not_after: DateTime<Utc>,
) -> DateTime<Utc> {
    let mut candidate = proposal.clone();
    let step = step.max(Duration::minutes(1));
    while candidate.at < not_after {
        candidate.at += step;
        if !violations(pack, &candidate, profile, history, holidays).is_empty() {
            return candidate.at.min(not_after);
        }
    }
    not_after
}

/// [`first_allowed`] and the number of jumps it made (tests hold it to a handful).
fn search(
    pack: &PolicyPack,
    proposal: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
    not_after: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, usize) {
    let mut candidate = proposal.clone();
    for jumps in 0..MAX_JUMPS {
        if candidate.at > not_after {
            return (None, jumps);
        }
        let found = violations(pack, &candidate, profile, history, holidays);
        if found.is_empty() {
            return (Some(candidate.at), jumps);
        }
        let mut next = candidate.at;
        for (_, violation) in found {
            match violation.until {
                Some(until) => next = next.max(until),
                None => return (None, jumps),
            }
        }
        // Every rule's release lies after the instant it refused; the guard keeps a mistaken
        // one from looping in place.
        candidate.at = if next > candidate.at { next } else { candidate.at + Duration::seconds(1) };
    }
    (None, MAX_JUMPS)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, NaiveDate, Utc};
    use chrono_tz::America::{Los_Angeles, New_York};

    use super::{allowed_until, first_allowed, search};
    use crate::contact_policy::check;
    use crate::contact_policy::model::{Attempt, DebtorProfile, Hold, Holidays, Outcome, Proposal};
    use crate::contact_policy::pack::PolicyPack;
    use crate::contact_policy::rules::testkit::*;

    struct Case {
        name: &'static str,
        pack: PolicyPack,
        proposal: Proposal,
        profile: DebtorProfile,
        history: Vec<Attempt>,
        holidays: Holidays,
        want: Option<&'static str>,
        /// Jumps from rule boundary to rule boundary that the search may make.
        jumps: usize,
    }

    fn cases() -> Vec<Case> {
        let national_day = Holidays::new((1..=7).map(|d| NaiveDate::from_ymd_opt(2026, 10, d).unwrap()));
        let ny_la = DebtorProfile { timezones: vec![New_York, Los_Angeles], ..profile_us() };
        let seven_calls: Vec<Attempt> = (0..7)
            .map(|i| {
                let mut a = us_attempt("2026-01-05T17:00:00Z", Outcome::NoAnswer);
                a.at += Duration::days(i);
                a
            })
            .collect();
        let held = DebtorProfile { holds: vec![Hold::Bankruptcy], ..profile_us() };
        vec![
            Case {
                name: "already allowed: the proposed instant itself",
                pack: cn(),
                proposal: proposal("2026-05-04T02:00:00Z"),
                profile: profile_cn(),
                history: vec![],
                holidays: Holidays::default(),
                want: Some("2026-05-04T02:00:00Z"),
                jumps: 0,
            },
            Case {
                name: "cn: 22:00 Shanghai waits for 08:00 sharp",
                pack: cn(),
                proposal: proposal("2026-05-04T14:00:00Z"),
                profile: profile_cn(),
                history: vec![],
                holidays: Holidays::default(),
                want: Some("2026-05-05T00:00:00Z"),
                jumps: 1,
            },
            Case {
                name: "us: spring-forward night, 08:00 EDT is 12:00Z",
                pack: us(),
                proposal: us_proposal("2026-03-08T06:00:00Z"),
                profile: profile_us(),
                history: vec![],
                holidays: Holidays::default(),
                want: Some("2026-03-08T12:00:00Z"),
                jumps: 1,
            },
            Case {
                name: "us: inside the repeated hour of 1 November, 08:00 EST is 13:00Z",
                pack: us(),
                proposal: us_proposal("2026-11-01T05:30:00Z"),
                profile: profile_us(),
                history: vec![],
                holidays: Holidays::default(),
                want: Some("2026-11-01T13:00:00Z"),
                jumps: 1,
            },
            Case {
                // The collector in Shanghai starts work at 09:00 on 5 May (01:00Z); the debtor
                // in New York is at 21:00 on 4 May — too late there, so 08:00 EDT.
                name: "debtor's zone, not the collector's",
                pack: us(),
                proposal: us_proposal("2026-05-05T01:00:00Z"),
                profile: profile_us(),
                history: vec![],
                holidays: Holidays::default(),
                want: Some("2026-05-05T12:00:00Z"),
                jumps: 1,
            },
            Case {
                name: "two possible zones: 08:00 in Los Angeles",
                pack: us(),
                proposal: us_proposal("2026-01-12T05:00:00Z"),
                profile: ny_la,
                history: vec![],
                holidays: Holidays::default(),
                want: Some("2026-01-12T16:00:00Z"),
                jumps: 1,
            },
            Case {
                name: "cn: a week of holidays and a quiet night",
                pack: cn(),
                proposal: proposal("2026-09-30T15:00:00Z"),
                profile: profile_cn(),
                history: vec![],
                holidays: national_day,
                want: Some("2026-10-08T00:00:00Z"),
                jumps: 3,
            },
            Case {
                // Seven calls Mon–Sun; Monday's leaves the period at Monday midnight, but that
                // is quiet hours: 08:00 EST on Monday 12 January.
                name: "us: the eighth call waits for the period and the morning",
                pack: us(),
                proposal: us_proposal("2026-01-11T22:00:00Z"),
                profile: profile_us(),
                history: seven_calls,
                holidays: Holidays::default(),
                want: Some("2026-01-12T13:00:00Z"),
                jumps: 2,
            },
            Case {
                name: "us: a conversation pauses calls to day 8, then 08:00",
                pack: us(),
                proposal: us_proposal("2026-03-03T16:00:00Z"),
                profile: profile_us(),
                history: vec![us_attempt("2026-03-03T15:00:00Z", Outcome::Conversation)],
                holidays: Holidays::default(),
                want: Some("2026-03-10T12:00:00Z"),
                jumps: 2,
            },
            Case {
                name: "a hold is not lifted by waiting",
                pack: us(),
                proposal: us_proposal("2026-01-12T17:00:00Z"),
                profile: held,
                history: vec![],
                holidays: Holidays::default(),
                want: None,
                jumps: 0,
            },
        ]
    }

    #[test]
    fn first_allowed_table() {
        for case in cases() {
            let not_after = case.proposal.at + Duration::days(30);
            let (got, jumps) =
                search(&case.pack, &case.proposal, &case.profile, &case.history, &case.holidays, not_after);
            assert_eq!(got, case.want.map(at), "{}", case.name);
            assert_eq!(jumps, case.jumps, "{}", case.name);
            let Some(t) = got else { continue };
            // Exact: allowed at the answer and refused one second earlier (unless it is the start).
            let mut p = case.proposal.clone();
            p.at = t;
            assert!(
                check(&case.pack, &p, &case.profile, &case.history, &case.holidays).allowed,
                "{}",
                case.name
            );
            if t > case.proposal.at {
                p.at = t - Duration::seconds(1);
                assert!(
                    !check(&case.pack, &p, &case.profile, &case.history, &case.holidays).allowed,
                    "{}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn agrees_with_a_minute_by_minute_scan() {
        // The slow, obvious answer on a minute grid; every case above starts on a whole minute
        // and every boundary is a whole minute.
        for case in cases() {
            let limit = case.proposal.at + Duration::days(10);
            let mut p = case.proposal.clone();
            let mut scanned: Option<DateTime<Utc>> = None;
            while p.at <= limit {
                if check(&case.pack, &p, &case.profile, &case.history, &case.holidays).allowed {
                    scanned = Some(p.at);
                    break;
                }
                p.at += Duration::minutes(1);
            }
            let fast = first_allowed(
                &case.pack,
                &case.proposal,
                &case.profile,
                &case.history,
                &case.holidays,
                limit,
            );
            assert_eq!(fast, scanned, "{}", case.name);
        }
    }

    #[test]
    fn not_after_bounds_the_search() {
        let p = proposal("2026-05-04T14:00:00Z");
        let profile = profile_cn();
        let h = Holidays::default();
        assert_eq!(first_allowed(&cn(), &p, &profile, &[], &h, at("2026-05-04T23:59:59Z")), None);
        assert_eq!(
            first_allowed(&cn(), &p, &profile, &[], &h, at("2026-05-05T00:00:00Z")),
            Some(at("2026-05-05T00:00:00Z"))
        );
    }

    #[test]
    fn a_window_ends_where_the_policy_starts_refusing() {
        // (pack, start, want): the cn pack's quiet hours begin at 22:00 Beijing (14:00 UTC),
        // the us pack's at 21:00 in New York (02:00 UTC in winter).
        let table = [
            (cn(), proposal("2026-05-04T01:00:00Z"), profile_cn(), "2026-05-04T14:00:00+00:00"),
            (us(), us_proposal("2026-01-12T15:00:00Z"), profile_us(), "2026-01-13T02:00:00+00:00"),
        ];
        for (pack, p, profile, want) in table {
            let end = allowed_until(
                &pack,
                &p,
                &profile,
                &[],
                &Holidays::default(),
                Duration::minutes(15),
                p.at + Duration::days(1),
            );
            assert_eq!(end.to_rfc3339(), want, "{}", p.at);
        }
        let p = proposal("2026-05-04T01:00:00Z");
        let capped = allowed_until(
            &cn(),
            &p,
            &profile_cn(),
            &[],
            &Holidays::default(),
            Duration::minutes(15),
            p.at + Duration::hours(2),
        );
        assert_eq!(capped, p.at + Duration::hours(2));
    }
}
