//! Allocation of call, visit and guarantor tasks to collectors (step 6 of the daily cycle):
//! highest priority first, within each collector's capacity for the work day and skills,
//! keeping a case with the collector who already works it (continuity).
//!
//! Pure: the caller passes the work day's collectors (with what they already hold that day)
//! and the tasks; the answer is which collector takes which task.

use std::collections::{BTreeMap, HashMap};

use crate::id::{CaseId, CollectorId, TaskId};

/// A collector as allocation sees them on one work day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desk {
    /// Collector id.
    pub id: CollectorId,
    /// Tasks a day.
    pub capacity: u32,
    /// Tasks already allocated for the day (a re-run counts what it gave before).
    pub used: u32,
    /// Not working that day.
    pub off: bool,
    /// Queues worked; empty means every queue.
    pub queues: Vec<String>,
    /// Languages spoken; empty means any.
    pub languages: Vec<String>,
    /// Buckets worked; empty means any.
    pub buckets: Vec<String>,
    /// Products worked; empty means any.
    pub products: Vec<String>,
}

impl Desk {
    /// Whether the collector has the skills a task needs (capacity and days off aside).
    pub fn can_work(&self, t: &Work) -> bool {
        let ok = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        ok(&self.queues, &t.queue)
            && ok(&self.languages, &t.language)
            && ok(&self.buckets, &t.bucket)
            && ok(&self.products, &t.product)
    }

    fn room(&self) -> u32 {
        if self.off { 0 } else { self.capacity.saturating_sub(self.used) }
    }
}

/// A task waiting for a collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    /// Task id.
    pub task_id: TaskId,
    /// Its case: one collector takes all of a case's tasks of the day.
    pub case_id: CaseId,
    /// Queue the strategy sent it to.
    pub queue: String,
    /// The higher, the sooner.
    pub priority: i64,
    /// The borrower's language.
    pub language: String,
    /// The case's bucket.
    pub bucket: String,
    /// The worst loan's product.
    pub product: String,
    /// The collector who works the case in its current stage, if any.
    pub keeper: Option<CollectorId>,
}

/// Which collector takes which task: `(task_id, collector_id)`, in allocation order. Tasks
/// nobody can take (no skill or no capacity left) are not in the answer and stay unallocated.
///
/// Order: priority descending, then task id, so that the answer does not depend on the order
/// of `tasks`. A task goes to the case's keeper when the keeper can take it, else to the
/// skilled collector with the most room left (ties by id), which spreads work evenly.
pub fn allocate(desks: &mut [Desk], tasks: &[Work]) -> Vec<(TaskId, CollectorId)> {
    let mut order: Vec<&Work> = tasks.iter().collect();
    order.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.task_id.cmp(&b.task_id)));
    let index: HashMap<CollectorId, usize> =
        desks.iter().enumerate().map(|(i, d)| (d.id.clone(), i)).collect();
    // The collector each case went to during this allocation.
    let mut given: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for t in order {
        let preferred = given
            .get(t.case_id.as_str())
            .copied()
            .or_else(|| t.keeper.as_ref().and_then(|k| index.get(k).copied()));
        let pick = preferred.filter(|&i| desks[i].room() > 0 && desks[i].can_work(t)).or_else(|| {
            desks
                .iter()
                .enumerate()
                .filter(|(_, d)| d.room() > 0 && d.can_work(t))
                .max_by(|(_, a), (_, b)| a.room().cmp(&b.room()).then_with(|| b.id.cmp(&a.id)))
                .map(|(i, _)| i)
        });
        if let Some(i) = pick {
            desks[i].used += 1;
            given.insert(&t.case_id, i);
            out.push((t.task_id.clone(), desks[i].id.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(given: &[(TaskId, CollectorId)]) -> Vec<(&str, &str)> {
        given.iter().map(|(t, c)| (t.as_str(), c.as_str())).collect()
    }

    fn desk(id: &str, capacity: u32) -> Desk {
        Desk {
            id: CollectorId::new(id).unwrap(),
            capacity,
            used: 0,
            off: false,
            queues: vec![],
            languages: vec![],
            buckets: vec![],
            products: vec![],
        }
    }

    fn work(id: &str, case: &str, priority: i64) -> Work {
        Work {
            task_id: TaskId::new(id).unwrap(),
            case_id: CaseId::new(case).unwrap(),
            queue: "early_calls".into(),
            priority,
            language: "zh".into(),
            bucket: "M1".into(),
            product: "CONSUMER".into(),
            keeper: None,
        }
    }

    #[test]
    fn highest_priority_first_within_capacity() {
        let mut desks = vec![desk("a", 2)];
        let tasks = vec![work("t1", "c1", 10), work("t2", "c2", 30), work("t3", "c3", 20)];
        let got = allocate(&mut desks, &tasks);
        assert_eq!(texts(&got), vec![("t2", "a"), ("t3", "a")]);
        assert_eq!(desks[0].used, 2);
    }

    #[test]
    fn skills_days_off_and_used_capacity_are_respected() {
        let mut english = desk("en", 5);
        english.languages = vec!["en".into()];
        let mut off = desk("off", 5);
        off.off = true;
        let mut full = desk("full", 3);
        full.used = 3;
        let mut mid = desk("mid", 5);
        mid.queues = vec!["mid_calls".into()];
        let mut desks = vec![english, off, full, mid];
        let mut t = work("t1", "c1", 1);
        assert!(allocate(&mut desks, std::slice::from_ref(&t)).is_empty());
        t.queue = "mid_calls".into();
        assert_eq!(texts(&allocate(&mut desks, &[t])), vec![("t1", "mid")]);
    }

    #[test]
    fn keeper_keeps_the_case_while_it_has_room() {
        let mut desks = vec![desk("a", 5), desk("b", 1)];
        let mut t = work("t1", "c1", 1);
        t.keeper = Some(CollectorId::new("b").unwrap());
        let mut u = work("t2", "c2", 2);
        u.keeper = Some(CollectorId::new("b").unwrap());
        // t2 has the higher priority and takes b's only slot; t1 falls back to a.
        let got = allocate(&mut desks, &[t, u]);
        assert_eq!(texts(&got), vec![("t2", "b"), ("t1", "a")]);
    }

    #[test]
    fn a_case_s_tasks_of_the_day_go_to_one_collector_and_work_spreads() {
        let mut desks = vec![desk("a", 10), desk("b", 10)];
        let tasks = vec![work("t1", "c1", 5), work("t2", "c1", 4), work("t3", "c2", 3), work("t4", "c3", 2)];
        let got: BTreeMap<TaskId, CollectorId> = allocate(&mut desks, &tasks).into_iter().collect();
        assert_eq!(got["t1"], got["t2"]);
        assert_ne!(got["t3"], got["t1"], "the emptier desk takes the next case");
        assert_eq!(desks.iter().map(|d| d.used).sum::<u32>(), 4);
    }

    #[test]
    fn the_answer_does_not_depend_on_input_order() {
        let tasks: Vec<Work> =
            (0..20).map(|i| work(&format!("t{i:02}"), &format!("c{}", i % 7), i % 5)).collect();
        let mut rev = tasks.clone();
        rev.reverse();
        let mut d1 = vec![desk("a", 6), desk("b", 7)];
        let mut d2 = d1.clone();
        assert_eq!(allocate(&mut d1, &tasks), allocate(&mut d2, &rev));
    }
}
