//! Integration tests: the sync path at scale. New entries go in by
//! statements of many rows, and a campaign's snapshot and its mark share
//! the sync's transaction; the queue must hold exactly what one statement
//! per row held. Every case runs on SQLite and on PostgreSQL.

use berrah::config::PlatformKind;
use berrah::plan::{Content, Occurrence};
use berrah::store::{EntryState, ListFilter, SnapshotWrite, Store};
use jiff::Timestamp;

both!(
    a_large_sync_holds_every_occurrence_exactly,
    a_sync_writes_its_snapshot_and_mark_with_the_queue,
);

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("test instant")
}

/// Occurrence `n`: every optional field set on some, unset on others.
fn occ(n: usize, text: &str) -> Occurrence {
    let due = t(1_000 + n as i64 * 60);
    Occurrence {
        id: format!("o-{n:04}"),
        key: format!("c/{n}"),
        campaign: "big".into(),
        capsule: n.is_multiple_of(3).then(|| format!("capsule-{}", n % 7)),
        post: format!("post-{}", n / 2),
        account: if n.is_multiple_of(2) {
            "oim-mastodon"
        } else {
            "oim-x"
        }
        .into(),
        platform: if n.is_multiple_of(2) {
            PlatformKind::Mastodon
        } else {
            PlatformKind::X
        },
        language: if n.is_multiple_of(5) { "ar" } else { "fr" }.into(),
        due,
        local: format!("2027-01-15T10:{:02}:00+01:00", n % 60),
        timezone: "Africa/Casablanca".into(),
        tzdb: "2026f".into(),
        not_after: due
            .checked_add(jiff::SignedDuration::from_hours(1))
            .expect("limit"),
        series: n.is_multiple_of(4).then(|| format!("series-{}", n % 9)),
        paused: n.is_multiple_of(97),
        source: "campaigns/big.toml".into(),
        content: Content {
            text: format!("{text} {n} « l'été » ‎مرحبا"),
            ..Content::default()
        },
    }
}

async fn all(store: &Store) -> Vec<berrah::store::Entry> {
    store
        .list(ListFilter {
            campaign: Some("big".into()),
            ..ListFilter::default()
        })
        .await
        .expect("list")
}

/// More rows than one statement takes (several full chunks and a partial
/// one): every entry carries its occurrence's fields, paused ones are
/// held, and a second sync adds nothing, edits some, cancels the removed.
async fn a_large_sync_holds_every_occurrence_exactly(store: Store) {
    const N: usize = 1_037;
    let occs: Vec<Occurrence> = (0..N).map(|n| occ(n, "v1")).collect();
    let r = store
        .sync_campaign("big", &occs, t(0))
        .await
        .expect("first sync");
    assert_eq!((r.added, r.updated, r.cancelled, r.unchanged), (N, 0, 0, 0));
    let entries = all(&store).await;
    assert_eq!(entries.len(), N);
    for e in &entries {
        let n: usize = e.id[2..].parse().expect("an id of the test");
        let o = &occs[n];
        assert_eq!(e.campaign, "big");
        assert_eq!(e.capsule, o.capsule, "{}", e.id);
        assert_eq!(e.post, o.post);
        assert_eq!(e.account, o.account);
        assert_eq!(e.platform, o.platform);
        assert_eq!(e.language, o.language);
        assert_eq!(e.series, o.series, "{}", e.id);
        assert_eq!((e.due, e.run_at, e.not_after), (o.due, o.due, o.not_after));
        assert_eq!(e.local, o.local);
        assert_eq!(e.timezone, o.timezone);
        assert_eq!(e.content, o.content);
        assert_eq!(e.attempts, 0);
        assert_eq!(e.updated_at, t(0));
        if o.paused {
            assert_eq!(e.state, EntryState::Held, "{}", e.id);
            assert!(
                e.last_error
                    .as_deref()
                    .is_some_and(|m| m.contains("paused"))
            );
        } else {
            assert_eq!(e.state, EntryState::Scheduled, "{}", e.id);
            assert_eq!(e.last_error, None);
        }
    }
    // The same plan again: nothing to do.
    let again = store
        .sync_campaign("big", &occs, t(1))
        .await
        .expect("second sync");
    assert_eq!((again.added, again.updated, again.cancelled), (0, 0, 0));
    // Some edited, the last hundred removed, a few new.
    let mut next: Vec<Occurrence> = (0..N - 100)
        .map(|n| occ(n, if n.is_multiple_of(10) { "v2" } else { "v1" }))
        .collect();
    next.extend((N..N + 250).map(|n| occ(n, "new")));
    let r = store
        .sync_campaign("big", &next, t(2))
        .await
        .expect("third sync");
    assert_eq!(r.added, 250);
    assert_eq!(
        r.updated,
        (0..N - 100).filter(|n| n.is_multiple_of(10)).count()
    );
    // Waiting and held ones alike.
    assert_eq!(r.cancelled, 100);
    let entries = all(&store).await;
    assert_eq!(entries.len(), N + 250);
    for e in &entries {
        let n: usize = e.id[2..].parse().expect("an id of the test");
        if (N - 100..N).contains(&n) {
            assert_eq!(e.state, EntryState::Cancelled, "{}", e.id);
        } else {
            let o = next.iter().find(|o| o.id == e.id).expect("planned");
            assert_eq!(e.content, o.content, "{}", e.id);
        }
    }
}

/// The snapshot, its mark and the queue change in one transaction.
async fn a_sync_writes_its_snapshot_and_mark_with_the_queue(store: Store) {
    let occs: Vec<Occurrence> = (0..3).map(|n| occ(n, "v1")).collect();
    let write = SnapshotWrite {
        clear_mark: false,
        save: Some((
            "campaigns/big.toml".into(),
            "[campaign]\nid = \"big\"\n".into(),
        )),
        mark: Some(("fp-1".into(), 3)),
    };
    store
        .sync_campaign_with("big", &occs, t(0), &write)
        .await
        .expect("sync");
    let s = store.snapshots().await.expect("snapshots");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].campaign, "big");
    assert_eq!(s[0].path, "campaigns/big.toml");
    assert_eq!(s[0].fingerprint.as_deref(), Some("fp-1"));
    assert_eq!(s[0].occurrences, Some(3));
    assert_eq!(all(&store).await.len(), 3);
    // A stale mark is cleared (and a new one recorded) in the same write.
    let clear = SnapshotWrite {
        clear_mark: true,
        save: None,
        mark: None,
    };
    store
        .sync_campaign_with("big", &occs[..2], t(1), &clear)
        .await
        .expect("sync");
    let s = store.snapshots().await.expect("snapshots");
    assert_eq!(s[0].fingerprint, None);
    let remark = SnapshotWrite {
        clear_mark: true,
        save: None,
        mark: Some(("fp-2".into(), 2)),
    };
    store
        .sync_campaign_with("big", &occs[..2], t(2), &remark)
        .await
        .expect("sync");
    let s = store.snapshots().await.expect("snapshots");
    assert_eq!(
        (s[0].fingerprint.as_deref(), s[0].occurrences),
        (Some("fp-2"), Some(2))
    );
}
