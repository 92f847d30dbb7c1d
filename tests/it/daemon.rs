//! The daemon: months on the simulated clock, crash safety, several instances, broken files, shutdown.

use std::collections::BTreeMap;

use berrah::store::testing::sqlite_temp;
use berrah::store::{EntryState, ListFilter};
use jiff::Timestamp;

use super::support::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Every occurrence of `planned` is in the outbox exactly once, published
/// at its due instant (the simulated clock jumps exactly there).
fn assert_exactly_once_on_time(
    planned: &[berrah::plan::Occurrence],
    outbox: &[berrah::platforms::outbox::OutboxRecord],
) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in outbox {
        *seen.entry(r.occurrence.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "published more than once: {dups:?}");
    for o in planned {
        let r = outbox
            .iter()
            .find(|r| r.occurrence == o.id)
            .unwrap_or_else(|| panic!("never published: {} due {}", o.key, o.due));
        assert_eq!(r.published_at, o.due, "{} published late", o.key);
        assert_eq!(r.due_utc, o.due);
        assert_eq!(r.due_local, o.local);
        assert_eq!(r.text, o.content.text);
    }
    assert_eq!(outbox.len(), planned.len(), "publications nobody planned");
}

/// Months of schedule: AMAL (Africa/Casablanca, across Ramadan 2027 when
/// Morocco moves to UTC+0), a Paris campaign across both DST changes, and a
/// weekly post; each occurrence published once, at its due time.
#[tokio::test]
async fn months_of_schedule_publish_every_occurrence_once_on_time() {
    let dir = copy_project(&fixture("plan"));
    let start = t("2026-09-01T00:00:00Z");
    let planned = planned(dir.path(), start);
    assert!(
        planned.len() > 20,
        "the fixtures plan {} occurrences",
        planned.len()
    );
    let (_db, store) = sqlite_temp().await;
    let run = run_simulated(dir.path(), store.clone(), start, None).await;
    assert_exactly_once_on_time(&planned, &run.outbox);
    assert_eq!(run.events.len(), planned.len());

    // The changes of time, read from what was published.
    let at = |post: &str, day: &str| -> Vec<Timestamp> {
        run.outbox
            .iter()
            .filter(|r| r.post == post && r.due_local.starts_with(day))
            .map(|r| r.published_at)
            .collect()
    };
    // Ramadan 2027: 21:00 in Casablanca is 20:00Z before, 21:00Z during (UTC+0).
    assert_eq!(at("sundays", "2027-01-31"), [t("2027-01-31T20:00:00Z")]);
    assert_eq!(at("sundays", "2027-02-14"), [t("2027-02-14T21:00:00Z")]);
    assert_eq!(at("sundays", "2027-03-07"), [t("2027-03-07T21:00:00Z")]);
    // Ramadan's UTC+0 ends in the early hours of 14 March.
    assert_eq!(at("sundays", "2027-03-14"), [t("2027-03-14T20:00:00Z")]);
    assert_eq!(at("sundays", "2027-03-21"), Vec::<Timestamp>::new());
    // Paris: 02:30 on the spring-forward night does not exist (03:30 CEST),
    // on the fall-back night it happens twice (the first, CEST).
    assert_eq!(at("in-the-gap", "2027-03-28"), [t("2027-03-28T01:30:00Z")]);
    assert_eq!(
        at("in-the-overlap", "2026-10-25"),
        [t("2026-10-25T00:30:00Z")]
    );

    // The queue agrees: everything published, nothing else.
    let all = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), planned.len());
    assert!(
        all.iter().all(|e| e.state == EntryState::Published),
        "{:?}",
        all.iter().map(|e| (&e.id, e.state)).collect::<Vec<_>>()
    );
}

/// The example campaigns of the README, on their own config, from before
/// the first post to after the last: the whole job end to end.
#[tokio::test]
async fn the_example_campaigns_run_end_to_end() {
    let dir = copy_project(&project_root());
    let start = t("2026-11-23T00:00:00Z");
    let planned = planned(dir.path(), start);
    assert!(planned.len() > 50);
    let (_db, store) = sqlite_temp().await;
    let run = run_simulated(dir.path(), store, start, None).await;
    assert_exactly_once_on_time(&planned, &run.outbox);
}

/// A second run over the same database and outbox publishes nothing again.
#[tokio::test]
async fn a_second_run_publishes_nothing_again() {
    let dir = copy_project(&fixture("plan"));
    let start = t("2026-09-01T00:00:00Z");
    let (_db, store) = sqlite_temp().await;
    let first = run_simulated(
        dir.path(),
        store.clone(),
        start,
        Some(t("2026-12-20T00:00:00Z")),
    )
    .await;
    assert!(!first.events.is_empty());
    let second = run_simulated(dir.path(), store.clone(), t("2026-12-20T00:00:00Z"), None).await;
    let planned = planned(dir.path(), start);
    assert_exactly_once_on_time(&planned, &second.outbox);
    assert_eq!(first.events.len() + second.events.len(), planned.len());
}
