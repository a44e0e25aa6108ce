//! Step 5 of the daily cycle: each open case is placed in a segment of the strategy in
//! force, its due steps become tasks (automatic messages to the outbox at the first moment the
//! contact policy allows, calls and visits to queues, placements with agencies), and queue
//! tasks are allocated to collectors.
//!
//! The work is for the next calendar day: the batch of date D runs after D's close, so
//! messages and calls are scheduled from D+1 00:00 in the debtor's time zone onwards.

use arrears_core::delinquency::FiveClass;
use std::collections::HashMap;

use arrears_core::contact_policy::{
    Attempt, Channel, CollectorId, Party, Proposal, Purpose, Source, check, first_allowed,
};
use arrears_core::id::{AgencyId, BorrowerId, CaseId, TaskId};
use arrears_core::work::TaskStatus;
use arrears_core::{Amount, BorrowerKind, Currency, Language, Relation};
use arrears_store::batch_chunks::KeyRange;
use arrears_store::case_treatment::TreatmentState;
use arrears_store::outbox::NewMessage;
use arrears_store::placements::NewPlacement;
use arrears_store::tasks::NewTask;
use arrears_store::treatment::{self as store, OpenCase, OpenCaseLoan, TreatmentWrites};
use arrears_store::{Db, StoreError};
use arrears_strategy::{
    BorrowerInfo, CaseFacts, CaseInfo, CaseStatus, ContactInfo, Done, Hold, Known, LoanInfo, ScoreInfo,
    StepKind, Strategy, due_steps,
};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::audit::{Clock, Event};
use crate::contact_policy::{Packs, attempt, profile};
use crate::restrictions::{Target, bidx_for};
use crate::templates::{MessageScanner, Templates, shipped_scanner};
use arrears_content::{Scanner, Verdict};
use chrono_tz::Tz;

/// The strategy shipped with arrears, used until one is installed.
pub const DEFAULT_STRATEGY: &str = include_str!("../../../../config/strategies/default.toml");

/// What went wrong deciding treatment.
#[derive(Debug, thiserror::Error)]
pub enum TreatmentError {
    /// The strategy in force does not pass its checks.
    #[error("strategy {name}: {errors}")]
    Strategy {
        /// Where it came from.
        name: String,
        /// Every problem, one a line.
        errors: String,
    },
    /// A contact-policy pack or holiday calendar failed to load.
    #[error(transparent)]
    Policy(#[from] crate::contact_policy::PolicySetupError),
    /// The message templates could not be read.
    #[error(transparent)]
    Templates(#[from] crate::templates::TemplateError),
    /// The contact restrictions could not be read.
    #[error(transparent)]
    Restrictions(#[from] crate::restrictions::RestrictionError),
    /// A step's name makes a task id that is not valid (white space, or too long).
    #[error("a strategy step makes an invalid task id: {0}")]
    TaskId(#[from] arrears_core::id::IdError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// What the treatment phase did on one date.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreatmentReport {
    /// The strategy used, as `name v<version>`.
    pub strategy: String,
    /// Open cases decided.
    pub cases: u64,
    /// Tasks made.
    pub tasks: u64,
    /// Of those, messages queued in the outbox.
    pub messages: u64,
    /// Of those, blocked by the contact policy, the content rules or a missing agency.
    pub blocked: u64,
    /// Messages not queued because their rendered text breaks a blocking content rule.
    pub content_blocked: u64,
    /// Messages queued with a content warning, for compliance review.
    pub content_warned: u64,
    /// Distinct rendered texts the content rules scanned (the others were repeats).
    pub content_scanned: u64,
    /// Tasks of closed, placed or superseded cases cancelled.
    pub cancelled: u64,
    /// Cases placed with an agency.
    pub placed: u64,
    /// Cases recalled by a step.
    pub recalled: u64,
    /// Queue tasks given to collectors.
    pub allocated: u64,
    /// Queue tasks no collector could take.
    pub unallocated: u64,
    /// Reminders before or on the due date, and penalty notices, queued.
    pub reminders: u64,
    /// Reminders the contact policy or the content rules kept from their day.
    pub reminders_blocked: u64,
    /// Reminders not made: no valid phone or e-mail on record for their channel.
    pub reminders_unreachable: u64,
    /// Conditions that could not be evaluated (first few), e.g. a null score compared.
    pub errors: Vec<String>,
}

/// The strategy in force on `date`: the latest installed one, else the built-in default.
pub async fn strategy_for(db: &Db, date: NaiveDate) -> Result<Strategy, TreatmentError> {
    let (name, text) = match arrears_store::strategies::strategy_in_force(db, date).await? {
        Some(s) => (format!("{} v{}", s.name, s.version), s.source),
        None => ("config/strategies/default.toml (built in)".to_string(), DEFAULT_STRATEGY.to_string()),
    };
    arrears_strategy::check(&name, &text, &Known::default())
        .map_err(|e| TreatmentError::Strategy { name, errors: e.lines().join("\n") })
}

impl TreatmentReport {
    /// Adds what another part of the book's treatment did (a chunk of `arrears worker`).
    pub fn add(&mut self, other: &TreatmentReport) {
        if self.strategy.is_empty() {
            self.strategy.clone_from(&other.strategy);
        }
        self.cases += other.cases;
        self.tasks += other.tasks;
        self.messages += other.messages;
        self.blocked += other.blocked;
        self.content_blocked += other.content_blocked;
        self.content_warned += other.content_warned;
        self.content_scanned += other.content_scanned;
        self.cancelled += other.cancelled;
        self.placed += other.placed;
        self.recalled += other.recalled;
        self.allocated += other.allocated;
        self.unallocated += other.unallocated;
        self.reminders += other.reminders;
        self.reminders_blocked += other.reminders_blocked;
        self.reminders_unreachable += other.reminders_unreachable;
        for e in &other.errors {
            if self.errors.len() < 10 {
                self.errors.push(e.clone());
            }
        }
    }
}

/// Runs step 5 for `date` on what [`prepare`] read (the run allocates afterwards, step 6).
pub async fn run_prepared(
    db: &Db,
    date: NaiveDate,
    read: Prepared,
    clock: &Clock,
) -> Result<TreatmentReport, TreatmentError> {
    run_with(db, date, read, &Templates::load()?, shipped_scanner(), clock).await
}

/// What the treatment of a date reads before deciding, once the work of cases no longer
/// open is closed. The batch reads it while the alerts phase runs (on two cores that phase
/// leaves one idle for a third of its time): alerts write nothing read here.
pub struct Prepared {
    /// The borrowers whose cases are decided.
    range: KeyRange,
    cancelled: u64,
    cases: Vec<OpenCase>,
    loans: HashMap<CaseId, Vec<OpenCaseLoan>>,
    history: HashMap<CaseId, Vec<Done>>,
    attempts: HashMap<CaseId, Vec<Attempt>>,
    agencies: Vec<AgencyId>,
    restricted: HashMap<BorrowerId, crate::restrictions::BorrowerRestrictions>,
    guarantors: HashMap<BorrowerId, Vec<arrears_store::restrictions::OpenCaseGuarantor>>,
    product_packs: HashMap<String, String>,
    scores: HashMap<String, arrears_store::scores::ScoreFacts>,
    /// Phone and e-mail validity by borrower.
    contact: HashMap<BorrowerId, (bool, bool)>,
    /// The latest broken promise by case: due date, amount (minor units), currency.
    broken: HashMap<CaseId, (NaiveDate, i64, String)>,
}

/// Closes the work of cases no longer open and reads what deciding `date`'s treatment needs.
pub async fn prepare(db: &Db, date: NaiveDate) -> Result<Prepared, TreatmentError> {
    let cancelled = close_finished_work(db, date).await?;
    read(db, date, KeyRange::ALL, cancelled).await
}

/// Closes the work of cases no longer open and of placements that ran out; returns the
/// number of tasks cancelled. Once per date, before any case is decided.
pub async fn close_finished_work(db: &Db, date: NaiveDate) -> Result<u64, TreatmentError> {
    let mut tx = db.begin().await?;
    let cancelled = store::close_finished_work(&mut tx, date).await?;
    tx.commit().await?;
    Ok(cancelled)
}

/// Reads what deciding `date`'s treatment of the borrowers of `range` needs, the work of
/// closed cases being closed already (`cancelled` tasks of it).
pub async fn read(
    db: &Db,
    date: NaiveDate,
    range: KeyRange,
    cancelled: u64,
) -> Result<Prepared, TreatmentError> {
    let cases = store::open_cases(db, &range).await?;
    let mut loans: HashMap<CaseId, Vec<OpenCaseLoan>> = HashMap::new();
    for l in store::open_case_loans(db, &range).await? {
        loans.entry(l.case_id.clone()).or_default().push(l);
    }
    let mut history: HashMap<CaseId, Vec<Done>> = HashMap::new();
    for (case_id, step, on) in arrears_store::tasks::step_history(db, &range).await? {
        history.entry(case_id).or_default().push(Done { step, on });
    }
    let since = Utc.from_utc_datetime(&(date - Duration::days(30)).and_time(NaiveTime::MIN)).to_rfc3339();
    let mut attempts: HashMap<CaseId, Vec<Attempt>> = HashMap::new();
    for a in store::recent_attempts(db, &since, &[], &[], &range).await? {
        if let Some(at) = attempt(&a) {
            attempts.entry(a.case_id.clone()).or_default().push(at);
        }
    }
    let agencies: Vec<AgencyId> =
        arrears_store::staff::agencies(db).await?.into_iter().map(|a| a.agency_id).collect();
    let restricted = crate::restrictions::for_batch(db, date).await?;
    let mut guarantors: HashMap<BorrowerId, Vec<arrears_store::restrictions::OpenCaseGuarantor>> =
        HashMap::new();
    for g in arrears_store::restrictions::guarantors_of_open_cases(db, &range).await? {
        guarantors.entry(g.borrower_id.clone()).or_default().push(g);
    }
    let product_packs: HashMap<String, String> = arrears_store::products::list(db)
        .await?
        .into_iter()
        .filter_map(|p| Some((p.product, p.contact_pack?)))
        .collect();
    let scores = arrears_store::scores::scores_on(db, date, None).await?;
    let contact = arrears_store::contact_points::validity_of_open_cases(db, &range).await?;
    let broken = arrears_store::ptps::last_broken_of_open_cases(db, &range).await?;
    Ok(Prepared {
        range,
        cancelled,
        cases,
        loans,
        history,
        attempts,
        agencies,
        restricted,
        guarantors,
        product_packs,
        scores,
        contact,
        broken,
    })
}

/// Runs step 5 for `date` on what [`prepare`] read; each message is rendered from
/// `templates` and scanned by `scanner` before it is queued.
pub async fn run_with(
    db: &Db,
    date: NaiveDate,
    read: Prepared,
    templates: &Templates,
    scanner: &Scanner,
    clock: &Clock,
) -> Result<TreatmentReport, TreatmentError> {
    let strategy = strategy_for(db, date).await?;
    let mut messages = MessageScanner::new(scanner);
    let packs = Packs::load()?;
    let mut report = TreatmentReport {
        strategy: format!("{} v{}", strategy.name, strategy.version),
        cancelled: read.cancelled,
        ..Default::default()
    };
    let Prepared {
        range,
        cases,
        loans,
        history,
        mut attempts,
        agencies,
        restricted,
        guarantors,
        product_packs,
        scores,
        contact,
        broken,
        ..
    } = read;

    let mut w = TreatmentWrites::default();
    for c in &cases {
        let Some(case_loans) = loans.get(&c.case_id) else { continue };
        let Some(mut facts) = facts(c, case_loans) else { continue };
        if let Some(s) = scores.get(c.borrower_id.as_str()) {
            facts.score = ScoreInfo::from_stored(s.roll_ppm, s.ptp_ppm, s.points);
        }
        if let Some(&(phone_valid, email_valid)) = contact.get(&c.borrower_id) {
            facts.contact = ContactInfo { phone_valid, email_valid };
        }
        report.cases += 1;
        let done = history.get(&c.case_id).map(Vec::as_slice).unwrap_or_default();
        let d = due_steps(&strategy, &facts, done, date);
        for e in &d.errors {
            if report.errors.len() < 10 {
                report.errors.push(format!("{}: {e}", c.case_id));
            }
        }
        w.states.push(TreatmentState {
            case_id: c.case_id.clone(),
            borrower_id: c.borrower_id.clone(),
            segment: d.segment.clone(),
            experiment: d.arm.as_ref().map(|a| a.experiment.clone()),
            arm: d.arm.as_ref().map(|a| a.arm.clone()),
            bucket: facts.case.bucket.clone(),
            product: facts.loan.product.clone(),
        });
        let Some(segment) = d.segment.clone() else { continue };
        let priority = d.priority.map_or(0, |p| p.round() as i64);
        let history = attempts.entry(c.case_id.clone()).or_default();
        for step in &d.due {
            let mut task = NewTask {
                task_id: TaskId::new(format!("T:{}:{}:{date}", c.case_id, step.step))?,
                case_id: c.case_id.clone(),
                borrower_id: c.borrower_id.clone(),
                step: step.step.clone(),
                kind: step.kind.as_str(),
                due_at: String::new(),
                priority,
                status: TaskStatus::Due,
                queue: step.queue.clone(),
                template: step.template.clone(),
                segment: segment.clone(),
                arm: d.arm.as_ref().map(|a| a.arm.clone()),
                because: step.because.clone(),
                reason: None,
            };
            let morning = local_midnight(&c.timezone, date + Duration::days(1));
            task.due_at = morning.to_rfc3339();
            match step.kind {
                StepKind::AgencyPlacement => {
                    let p = step.placement.as_ref().expect("checked strategies give placements an agency");
                    if let Some(agency) = agencies.iter().find(|a| a.as_str() == p.agency) {
                        task.status = TaskStatus::Done;
                        w.placements.push(NewPlacement {
                            case_id: c.case_id.clone(),
                            agency_id: agency.clone(),
                            until_on: date + Duration::days(i64::from(p.days.max(1)) - 1),
                        });
                        report.placed += 1;
                    } else {
                        task.status = TaskStatus::Blocked;
                        task.reason =
                            Some(format!("agency {} is not registered (arrears agency add)", p.agency));
                    }
                }
                StepKind::AgencyRecall => {
                    task.status = TaskStatus::Done;
                    w.recalls.push(c.case_id.clone());
                    report.recalled += 1;
                }
                StepKind::Hold => task.status = TaskStatus::Done,
                StepKind::LegalReferral | StepKind::WriteOffReview => {
                    task.queue = Some(step.kind.as_str().to_string());
                }
                kind if !reachable(kind, facts.contact) => {
                    task.status = TaskStatus::Blocked;
                    task.reason = Some(if channel_of(kind) == Channel::Email {
                        "跳过：没有有效的电子邮箱 / skipped: no valid e-mail on record".to_string()
                    } else {
                        "跳过：没有有效的手机号码 / skipped: no valid phone on record".to_string()
                    });
                }
                kind => {
                    let channel = channel_of(kind);
                    let pack = packs
                        .for_case(product_packs.get(&facts.loan.product).map(String::as_str), &c.timezone);
                    let holidays = packs.holidays_for(pack);
                    let limit = morning + Duration::days(14);
                    // Who may be contacted: the debtor, or for a guarantor step each guarantor on
                    // record in turn (the first the contact policy allows is the one scheduled).
                    let parties: Vec<(Party, Option<&str>)> = if kind == StepKind::GuarantorContact {
                        let mut on_record: Vec<(Party, Option<&str>)> = guarantors
                            .get(&c.borrower_id)
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .map(|g| {
                                let id = g.contact_id.clone();
                                let bidx = bidx_for(channel, &g.phone_bidx, &g.email_bidx);
                                (Party::Contact { id, relation: Relation::Guarantor }, bidx)
                            })
                            .collect();
                        if on_record.is_empty()
                            && let Ok(id) = arrears_core::ContactId::new("guarantor")
                        {
                            // No guarantor on record: the step still goes to its queue, checked
                            // as a guarantor whose restrictions are unknown.
                            on_record.push((Party::Contact { id, relation: Relation::Guarantor }, None));
                        }
                        on_record
                    } else {
                        let bidx = restricted
                            .get(&c.borrower_id)
                            .and_then(|r| bidx_for(channel, &r.phone_bidx, &r.email_bidx));
                        vec![(Party::Debtor, bidx)]
                    };
                    let mut scheduled = None;
                    let mut refusals: Vec<String> = Vec::new();
                    for (party, bidx) in parties {
                        let proposal = Proposal {
                            party,
                            channel,
                            address: format!("{}:{}", c.case_id, channel.as_str()),
                            at: morning,
                            // The visiting team is named when the visit is logged (and checked then);
                            // scheduling assumes the two collectors the cn pack asks for.
                            by: if kind == StepKind::Visit { visit_team() } else { Vec::new() },
                            source: Source::Lender,
                            purpose: Purpose::Collect,
                            debt: None,
                            carries_opt_out: true,
                        };
                        let mut profile = profile(&c.timezone, c.hold.as_deref());
                        if let Some(r) = restricted.get(&c.borrower_id) {
                            let target = Target { channel, address: &proposal.address, bidx };
                            crate::restrictions::apply(&mut profile, &r.restrictions, None, target);
                        }
                        match first_allowed(pack, &proposal, &profile, history, holidays, limit) {
                            Some(at) => {
                                scheduled = Some((at, proposal));
                                break;
                            }
                            None => {
                                // Asked at 10:00 local, so that the night's quiet hours do not hide
                                // the rule that really blocks.
                                let mut at_ten = proposal.clone();
                                at_ten.at = morning + Duration::hours(10);
                                let refused = check(pack, &at_ten, &profile, history, holidays);
                                for r in refused.refusals {
                                    let m = r.message_zh();
                                    if !refusals.contains(&m) {
                                        refusals.push(m);
                                    }
                                }
                            }
                        }
                    }
                    match scheduled {
                        Some((at, proposal)) => {
                            task.due_at = at.to_rfc3339();
                            if let Some(template) = &step.template {
                                // The message as the debtor would read it, checked by the content
                                // rules before it may reach the outbox.
                                // Placeholders of the sender ({lender}) stay for the dispatcher
                                // to fill; a language without the template queues an empty body,
                                // which the dispatcher refuses with that reason.
                                let values = MessageValues {
                                    case: c,
                                    facts: &facts,
                                    date,
                                    broken: broken.get(&c.case_id),
                                };
                                let rendered = templates
                                    .get(template, &c.language)
                                    .map(|text| arrears_content::render(text, |k| values.get(k)));
                                let scanned = rendered.as_deref().map(|text| messages.check(text));
                                match scanned {
                                    Some(m) if m.verdict == Verdict::Block => {
                                        task.status = TaskStatus::Blocked;
                                        task.reason = Some(m.reason);
                                        report.content_blocked += 1;
                                    }
                                    scanned => {
                                        let warned = scanned.filter(|m| m.verdict == Verdict::Warn);
                                        if warned.is_some() {
                                            report.content_warned += 1;
                                        }
                                        task.status = TaskStatus::Pending;
                                        w.messages.push(NewMessage {
                                            task_id: task.task_id.clone(),
                                            case_id: Some(c.case_id.clone()),
                                            loan_id: None,
                                            borrower_id: c.borrower_id.clone(),
                                            channel: channel.as_str(),
                                            template: template.clone(),
                                            language: c.language.clone(),
                                            body: rendered.unwrap_or_default(),
                                            params: values.json(),
                                            send_at: task.due_at.clone(),
                                            content: if warned.is_some() { "warn" } else { "ok" },
                                            content_rules: warned
                                                .map(|m| m.rules.join(","))
                                                .unwrap_or_default(),
                                        });
                                        // A scheduled message counts against the frequency limits of the next.
                                        history.push(Attempt::scheduled(&proposal, at));
                                        report.messages += 1;
                                    }
                                }
                            }
                        }
                        None => {
                            task.status = TaskStatus::Blocked;
                            task.reason = Some(if refusals.is_empty() {
                                "拒绝：14 天内没有合规的联系时间".to_string()
                            } else {
                                refusals.join("; ")
                            });
                        }
                    }
                }
            }
            if task.status == TaskStatus::Blocked {
                report.blocked += 1;
            }
            report.tasks += 1;
            w.tasks.push(task);
        }
    }
    let reminders =
        super::reminders::decide(db, date, &range, &strategy, templates, &mut messages, &packs, &mut report)
            .await?;
    w.messages.extend(reminders);
    report.content_scanned = messages.scanned;
    let mut tx = db.begin().await?;
    store::write_treatment(&mut tx, date, &w).await?;
    crate::audit::record_all(&mut tx, &clock(), treatment_events(date, &report, &w)).await?;
    tx.commit().await?;
    Ok(report)
}

/// The audit entries of a treatment run: one for the day's decisions, with a SHA-256 over the
/// tasks made (one line each, `task_id TAB status TAB due_at TAB priority`, in id order), and
/// one per placement and recall.
fn treatment_events(date: NaiveDate, r: &TreatmentReport, w: &TreatmentWrites) -> Vec<Event> {
    let mut lines: Vec<String> = w
        .tasks
        .iter()
        .map(|t| format!("{}\t{}\t{}\t{}\n", t.task_id, t.status, t.due_at, t.priority))
        .collect();
    lines.sort();
    let day = date.to_string();
    let mut out = vec![
        Event::new("system:batch", "treatment.decided")
            .entity(format!("day:{date}"))
            .fact("business_date", day.as_str())
            .fact("strategy", r.strategy.as_str())
            .fact("cases", r.cases as i64)
            .fact("tasks", w.tasks.len() as i64)
            .fact("messages", w.messages.len() as i64)
            .fact("reminders", r.reminders as i64)
            .fact("content_blocked", r.content_blocked as i64)
            .fact("content_warned", r.content_warned as i64)
            .fact("sha256", super::lines_digest(&lines).as_str()),
    ];
    for p in &w.placements {
        out.push(
            Event::new("system:batch", "case.placed")
                .entity(format!("case:{}", p.case_id))
                .entity(format!("agency:{}", p.agency_id))
                .fact("business_date", day.as_str())
                .fact("until_on", p.until_on.to_string().as_str()),
        );
    }
    for c in &w.recalls {
        out.push(
            Event::new("system:batch", "case.recalled")
                .entity(format!("case:{c}"))
                .fact("business_date", day.as_str()),
        );
    }
    out
}

/// The values of a message's placeholders that the batch knows; the others (`{lender}`,
/// `{due_date}`, a promise's `{ptp_date}` and `{ptp_amount}`) are filled by the sender from its
/// configuration and are scanned as written.
/// The placeholders the batch fills (the dispatcher fills `{lender}`).
const MESSAGE_KEYS: &[&str] =
    &["name", "dpd", "overdue", "loan_id", "date", "due_date", "ptp_date", "ptp_amount"];

/// Days from the batch date to the `{due_date}` a firm reminder names.
const DUE_DATE_DAYS: i64 = 7;

struct MessageValues<'a> {
    case: &'a OpenCase,
    facts: &'a CaseFacts,
    date: NaiveDate,
    /// The case's latest broken promise: due date, amount (minor units), currency.
    broken: Option<&'a (NaiveDate, i64, String)>,
}

impl MessageValues<'_> {
    /// The values as a JSON object of strings, for providers that fill a registered template.
    fn json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = MESSAGE_KEYS
            .iter()
            .filter_map(|k| Some((k.to_string(), serde_json::Value::String(self.get(k)?.into_owned()))))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    fn get(&self, key: &str) -> Option<std::borrow::Cow<'static, str>> {
        let f = self.facts;
        Some(match key {
            "name" => self.case.name.clone().into(),
            "dpd" => f.case.max_dpd.to_string().into(),
            "overdue" => f.case.total_overdue.format(f.case.currency).into(),
            "loan_id" => f.loan.id.clone().into(),
            "date" => self.date.to_string().into(),
            // A firm reminder gives a week to pay.
            "due_date" => (self.date + Duration::days(DUE_DATE_DAYS)).to_string().into(),
            "ptp_date" => self.broken?.0.to_string().into(),
            "ptp_amount" => {
                let (_, minor, code) = self.broken?;
                let currency = Currency::from_code(code).ok()?;
                Amount::from_minor(*minor).format(currency).into()
            }
            _ => return None,
        })
    }
}

fn visit_team() -> Vec<CollectorId> {
    ["visit-team-a", "visit-team-b"].into_iter().filter_map(|id| CollectorId::new(id).ok()).collect()
}

/// Whether the debtor has a contact point the step's channel needs (a letter or a visit
/// needs none of these, a guarantor's step the guarantor's).
fn reachable(kind: StepKind, contact: ContactInfo) -> bool {
    match kind {
        StepKind::Sms | StepKind::VoiceBot => contact.phone_valid,
        StepKind::Email => contact.email_valid,
        _ => true,
    }
}

/// The contact channel of an automatic or collector step.
pub(super) fn channel_of(kind: StepKind) -> Channel {
    match kind {
        StepKind::Sms => Channel::Sms,
        StepKind::Email => Channel::Email,
        StepKind::VoiceBot => Channel::VoiceBot,
        StepKind::Letter | StepKind::LawyerLetter => Channel::Letter,
        StepKind::Visit => Channel::Visit,
        _ => Channel::Call,
    }
}

/// 00:00 of `day` in the zone (an unknown zone counts as Asia/Shanghai), as an instant.
pub fn local_midnight(zone: &str, day: NaiveDate) -> DateTime<Utc> {
    let tz: Tz = zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let local = day.and_time(NaiveTime::MIN);
    // A zone whose clocks skip midnight (DST at 00:00) starts the day at the first valid minute.
    (0..180)
        .find_map(|m| tz.from_local_datetime(&(local + Duration::minutes(m))).earliest())
        .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
}

/// The strategy's view of an open case on the date, from its stored rows; `None` when no
/// loan of the case has a readable snapshot.
pub fn facts(c: &OpenCase, loans: &[OpenCaseLoan]) -> Option<CaseFacts> {
    let worst = loans.iter().max_by(|a, b| {
        a.dpd.cmp(&b.dpd).then(a.overdue.cmp(&b.overdue)).then_with(|| b.loan_id.cmp(&a.loan_id))
    })?;
    let currency = Currency::from_code(&worst.currency).ok()?;
    let same: Vec<&OpenCaseLoan> = loans.iter().filter(|l| l.currency == worst.currency).collect();
    let total = same.iter().map(|l| l.overdue).sum::<i64>();
    let five_class = loans.iter().map(|l| l.five_class).max().unwrap_or(FiveClass::Normal);
    let hold = match c.hold.as_deref() {
        Some("dispute") => Some(Hold::Dispute),
        Some("deceased") => Some(Hold::Deceased),
        Some("bankrupt" | "bankruptcy") => Some(Hold::Bankrupt),
        Some("sold") => Some(Hold::Sold),
        // Collection waits while every loan of the case is in an arrangement in force.
        _ if loans.iter().all(|l| l.arranged) => Some(Hold::Arrangement),
        _ => None,
    };
    Some(CaseFacts {
        case: CaseInfo {
            id: c.case_id.to_string(),
            status: CaseStatus::Open,
            opened_on: c.opened_on,
            max_dpd: worst.dpd,
            total_overdue: Amount::from_minor(total),
            currency,
            loans: loans.iter().filter(|l| l.dpd > 0).count() as i64,
            bucket: worst.bucket.clone(),
            five_class: five_class.as_str().to_string(),
            hold,
            dispute_raised_on: if hold == Some(Hold::Dispute) { c.dispute_on } else { None },
            broken_promises: c.broken,
            last_broken_promise_on: c.last_broken_on,
            last_right_party_contact_on: c.last_rpc_on,
            placed_with: c.placed_with.clone(),
            stage: c.segment.clone(),
        },
        loan: LoanInfo {
            id: worst.loan_id.to_string(),
            product: worst.product.clone(),
            dpd: worst.dpd,
            bucket: worst.bucket.clone(),
            outstanding_principal: Amount::from_minor(worst.outstanding),
            overdue_total: Amount::from_minor(worst.overdue),
            currency,
        },
        borrower: BorrowerInfo {
            id: c.borrower_id.to_string(),
            kind: c.kind.parse().unwrap_or(BorrowerKind::Individual),
            language: c.language.parse().unwrap_or(Language::Zh),
            province: None,
            timezone: c.timezone.clone(),
        },
        score: ScoreInfo::default(),
        contact: ContactInfo::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_midnight_is_in_the_debtor_s_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(local_midnight("Asia/Shanghai", d).to_rfc3339(), "2026-03-07T16:00:00+00:00");
        assert_eq!(local_midnight("America/New_York", d).to_rfc3339(), "2026-03-08T05:00:00+00:00");
        // São Paulo skipped midnight when it had daylight saving time (2018-11-04).
        let skip = NaiveDate::from_ymd_opt(2018, 11, 4).unwrap();
        assert_eq!(local_midnight("America/Sao_Paulo", skip).to_rfc3339(), "2018-11-04T03:00:00+00:00");
        assert_eq!(local_midnight("Not/AZone", d), local_midnight("Asia/Shanghai", d));
    }
}
