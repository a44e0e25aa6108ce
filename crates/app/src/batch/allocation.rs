//! Step 6 of the daily cycle: queue tasks are allocated to collectors by capacity, skill and
//! priority for the work day after the business date.

use std::collections::HashMap;

use arrears_core::allocation::{self, Desk, Work};
use arrears_core::id::{CaseId, CollectorId, TaskId};
use arrears_store::Db;
use arrears_store::treatment as store;
use chrono::{Duration, NaiveDate};

use super::BatchError;
use super::treatment::{TreatmentError, TreatmentReport};
use crate::audit::{Clock, Event};

/// Allocates the waiting queue tasks after the treatment of `date` and counts them in its report.
pub(super) async fn run_phase(
    db: &Db,
    date: NaiveDate,
    report: &mut TreatmentReport,
    clock: &Clock,
) -> Result<(), BatchError> {
    let (allocated, waiting) = allocate(db, date, clock).await?;
    report.allocated = allocated;
    report.unallocated = waiting;
    Ok(())
}

/// Gives waiting queue tasks to collectors for the work day after `date`; returns how many
/// were given and how many still wait.
async fn allocate(db: &Db, date: NaiveDate, clock: &Clock) -> Result<(u64, u64), TreatmentError> {
    let work_day = date + Duration::days(1);
    let mut desks: Vec<Desk> = store::desks(db, date, work_day)
        .await?
        .into_iter()
        .map(|d| Desk {
            id: d.collector.collector_id,
            capacity: u32::try_from(d.collector.capacity).unwrap_or(0),
            used: u32::try_from(d.used).unwrap_or(u32::MAX),
            off: d.off,
            queues: list(&d.collector.queues),
            languages: list(&d.collector.languages),
            buckets: list(&d.collector.buckets),
            products: list(&d.collector.products),
        })
        .collect();
    let waiting = arrears_store::tasks::waiting_tasks(db).await?;
    let work: Vec<Work> = waiting
        .iter()
        .map(|t| Work {
            task_id: t.task_id.clone(),
            case_id: t.case_id.clone(),
            queue: t.queue.clone(),
            priority: t.priority,
            language: t.language.clone(),
            bucket: t.bucket.clone(),
            product: t.product.clone(),
            keeper: t.keeper.clone(),
        })
        .collect();
    let case_of: HashMap<&str, &CaseId> = waiting.iter().map(|t| (t.task_id.as_str(), &t.case_id)).collect();
    let given: Vec<(TaskId, CollectorId, CaseId)> = allocation::allocate(&mut desks, &work)
        .into_iter()
        .map(|(task, collector)| {
            let case = case_of[task.as_str()].clone();
            (task, collector, case)
        })
        .collect();
    let mut tx = db.begin().await?;
    store::allocate(&mut tx, date, &given).await?;
    if !given.is_empty() {
        let mut lines: Vec<String> = given.iter().map(|(t, c, _)| format!("{t}\t{c}\n")).collect();
        lines.sort();
        let e = Event::new("system:batch", "tasks.allocated")
            .entity(format!("day:{date}"))
            .fact("business_date", date.to_string().as_str())
            .fact("tasks", given.len() as i64)
            .fact("sha256", super::lines_digest(&lines).as_str());
        crate::audit::record_all(&mut tx, &clock(), vec![e]).await?;
    }
    tx.commit().await?;
    Ok((given.len() as u64, (waiting.len() - given.len()) as u64))
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
}
