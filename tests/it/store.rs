//! Integration tests: store. Every case is one generic body run on SQLite and
//! on PostgreSQL (when `BERRAH_TEST_POSTGRES_URL` is set; loudly skipped else).

use berrah::config::PlatformKind;
use berrah::plan::{Content, Occurrence};
use berrah::platforms::Progress;
use berrah::store::testing::sqlite_temp;
use berrah::store::{
    Candidate, ClaimSkip, Db, EntryState, Finish, ListFilter, PauseScope, Store, StoreError,
    StoreOptions, Take,
};
use jiff::Timestamp;

both!(
    sync_adds_updates_cancels_and_freezes,
    sync_revives_and_file_pause,
    claim_orders_and_limits,
    a_turn_begins_some_and_claims_others,
    paused_entries_are_not_claimed,
    begin_attempt_refuses_what_must_not_go_out,
    checkpoint_then_finish,
    finish_outcomes,
    expired_leases_requeue_or_report,
    take_over_is_atomic,
    expire_late_and_series_catch_up,
    operator_commands,
    accounts_hold_and_release,
    counts_and_budgets,
    upload_cache,
    snapshots_keep_the_last_valid_source,
    corrupt_rows_are_reported,
    get_by_prefix,
    next_wakeup_ignores_paused,
    wakeups_are_delivered,
    superseded_series_entries_are_never_claimed,
    races_move_an_entry_once,
    late_and_unattempted_entries_are_never_published,
    sync_racing_claims_never_edits_a_claimed_entry,
    outcomes_recorded_together_keep_the_state_machine,
);

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("test instant")
}

fn occ(id: &str, due: i64, text: &str) -> Occurrence {
    Occurrence {
        id: id.into(),
        key: format!("c/{id}"),
        campaign: "amal".into(),
        capsule: Some("capsule-1".into()),
        post: format!("post-{id}"),
        account: "oim-mastodon".into(),
        platform: PlatformKind::Mastodon,
        language: "fr".into(),
        due: t(due),
        local: "2027-01-15T10:00:00+01:00".into(),
        timezone: "Africa/Casablanca".into(),
        tzdb: "2026f".into(),
        not_after: t(due + 3_600),
        series: None,
        paused: false,
        source: "campaigns/amal.toml".into(),
        content: Content {
            text: text.into(),
            ..Content::default()
        },
    }
}

fn on(account: &str, mut o: Occurrence) -> Occurrence {
    o.account = account.into();
    o
}

async fn state(store: &Store, id: &str) -> EntryState {
    store.get(id).await.expect("entry").state
}

async fn exec(store: &Store, sql: &'static str) {
    match store.db() {
        Db::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.expect("sql");
        }
        Db::Postgres(p) => {
            sqlx::query(sql).execute(p).await.expect("sql");
        }
    }
}

async fn sync_campaign_adds_occurrences(store: &Store, occs: &[Occurrence]) {
    store.sync_campaign("amal", occs, t(0)).await.expect("sync");
}

async fn sync_adds_updates_cancels_and_freezes(store: Store) {
    let occs = vec![occ("a", 10, "A"), occ("b", 20, "B"), occ("c", 30, "C")];
    let r = store
        .sync_campaign("amal", &occs, t(0))
        .await
        .expect("sync");
    assert_eq!(
        (r.added, r.updated, r.cancelled, r.unchanged, r.frozen),
        (3, 0, 0, 0, 0)
    );
    let again = store
        .sync_campaign("amal", &occs, t(1))
        .await
        .expect("sync");
    assert_eq!(
        again.unchanged, 3,
        "syncing twice changes nothing: {again:?}"
    );

    let a = store.get("a").await.expect("a");
    assert_eq!(a.state, EntryState::Scheduled);
    assert_eq!(a.run_at, t(10));
    assert_eq!(a.content.text, "A");
    assert_eq!(a.capsule.as_deref(), Some("capsule-1"));

    // Publish b; claim c (in flight).
    let claimed = store
        .claim_due(t(30), 10, "w1", t(100))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    store
        .begin_attempt("b", "w1", t(25))
        .await
        .expect("begin")
        .expect("b goes");
    store
        .finish(
            "b",
            "w1",
            Finish::Published {
                remote_id: "r-b".into(),
                url: None,
            },
            t(26),
        )
        .await
        .expect("finish");
    store.release("a", "w1", t(50)).await.expect("release");

    // Edit a (waiting), b (published), drop c (in flight), add d.
    let edited = vec![occ("a", 40, "A2"), occ("b", 20, "B2"), occ("d", 60, "D")];
    let r = store
        .sync_campaign("amal", &edited, t(27))
        .await
        .expect("sync");
    assert_eq!(
        (r.added, r.updated, r.cancelled, r.frozen),
        (1, 1, 0, 2),
        "{r:?}"
    );
    let a = store.get("a").await.expect("a");
    assert_eq!(
        (a.content.text.as_str(), a.run_at, a.due),
        ("A2", t(40), t(40))
    );
    let b = store.get("b").await.expect("b");
    assert_eq!(
        (b.state, b.content.text.as_str()),
        (EntryState::Published, "B")
    );
    assert_eq!(state(&store, "c").await, EntryState::Claimed);

    // Removing a waiting entry cancels it.
    let r = store
        .sync_campaign("amal", &[occ("b", 20, "B"), occ("d", 60, "D")], t(28))
        .await
        .expect("sync");
    assert_eq!(r.cancelled, 1, "{r:?}");
    assert_eq!(state(&store, "a").await, EntryState::Cancelled);
    // Another campaign's sync never touches this one.
    store
        .sync_campaign("other", &[], t(29))
        .await
        .expect("sync");
    assert_eq!(state(&store, "d").await, EntryState::Scheduled);
}

async fn sync_revives_and_file_pause(store: Store) {
    let mut p = occ("p", 10, "P");
    p.paused = true;
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A"), p.clone()]).await;
    let held = store.get("p").await.expect("p");
    assert_eq!(held.state, EntryState::Held);
    assert!(held.last_error.unwrap_or_default().contains("paused"));
    // a removed, then restored: it comes back.
    store
        .sync_campaign("amal", &[p.clone()], t(1))
        .await
        .expect("sync");
    assert_eq!(state(&store, "a").await, EntryState::Cancelled);
    let r = store
        .sync_campaign("amal", &[occ("a", 10, "A"), p.clone()], t(2))
        .await
        .expect("sync");
    assert_eq!(r.added, 1, "{r:?}");
    assert_eq!(state(&store, "a").await, EntryState::Scheduled);
    // An operator's cancel stays.
    store.cancel("a", t(3)).await.expect("cancel");
    store
        .sync_campaign("amal", &[occ("a", 10, "A"), p.clone()], t(4))
        .await
        .expect("sync");
    assert_eq!(state(&store, "a").await, EntryState::Cancelled);
    // Unpausing in the file releases p.
    p.paused = false;
    store.sync_campaign("amal", &[p], t(5)).await.expect("sync");
    assert_eq!(state(&store, "p").await, EntryState::Scheduled);
}

async fn claim_orders_and_limits(store: Store) {
    let occs = vec![
        occ("e", 50, "E"),
        occ("b", 10, "B"),
        occ("a", 10, "A"),
        occ("c", 20, "C"),
        occ("late", 1_000, "later"),
    ];
    sync_campaign_adds_occurrences(&store, &occs).await;
    let first = store
        .claim_due(t(60), 2, "w1", t(120))
        .await
        .expect("claim");
    let ids: Vec<_> = first.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(first.iter().all(|e| e.state == EntryState::Claimed
        && e.lease_owner.as_deref() == Some("w1")
        && e.lease_until == Some(t(120))));
    let rest = store
        .claim_due(t(60), 10, "w2", t(120))
        .await
        .expect("claim");
    let ids: Vec<_> = rest.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["c", "e"], "not the future one, not the claimed ones");
    assert!(
        store
            .claim_due(t(60), 10, "w3", t(120))
            .await
            .expect("claim")
            .is_empty()
    );
}

/// One turn: `Begin` takes an entry straight to `publishing` with its
/// attempt recorded (in the same write), `Claim` only claims, `Leave` leaves.
async fn a_turn_begins_some_and_claims_others(store: Store) {
    let occs = vec![occ("a", 10, "A"), occ("b", 10, "B"), occ("c", 10, "C")];
    sync_campaign_adds_occurrences(&store, &occs).await;
    let (taken, _, _) = store
        .claim_turn(
            t(60),
            10,
            "w",
            t(120),
            &ClaimSkip::default(),
            |c: &Candidate| match c.id.as_str() {
                "a" => Take::Begin,
                "b" => Take::Claim,
                _ => Take::Leave,
            },
        )
        .await
        .expect("turn");
    let got: Vec<_> = taken
        .iter()
        .map(|e| (e.id.as_str(), e.state, e.attempts))
        .collect();
    assert_eq!(
        got,
        [
            ("a", EntryState::Publishing, 1),
            ("b", EntryState::Claimed, 0)
        ]
    );
    let attempts = store.attempts("a").await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (
            attempts[0].number,
            attempts[0].owner.as_str(),
            attempts[0].started_at
        ),
        (1, "w", t(60))
    );
    assert!(attempts[0].outcome.is_none());
    assert!(store.attempts("b").await.expect("attempts").is_empty());
    assert_eq!(state(&store, "c").await, EntryState::Scheduled);
}

async fn paused_entries_are_not_claimed(store: Store) {
    let occs = vec![
        occ("a", 10, "A"),
        on("unicef-x", occ("b", 10, "B")),
        on("unhcr-fb", occ("c", 10, "C")),
    ];
    sync_campaign_adds_occurrences(&store, &occs).await;
    store
        .pause(PauseScope::Account, "unicef-x")
        .await
        .expect("pause");
    store
        .pause(PauseScope::Account, "unicef-x")
        .await
        .expect("pausing twice is fine");
    let got = store.claim_due(t(20), 10, "w", t(80)).await.expect("claim");
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|e| e.id != "b"));
    store
        .pause(PauseScope::Campaign, "amal")
        .await
        .expect("pause");
    store
        .resume(PauseScope::Account, "unicef-x")
        .await
        .expect("resume");
    assert!(
        store
            .claim_due(t(20), 10, "w", t(80))
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store.pauses().await.expect("pauses"),
        vec![(PauseScope::Campaign, "amal".to_string())]
    );
    store
        .resume(PauseScope::Campaign, "amal")
        .await
        .expect("resume");
    let got = store.claim_due(t(20), 10, "w", t(80)).await.expect("claim");
    assert_eq!(got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["b"]);
}

async fn begin_attempt_refuses_what_must_not_go_out(store: Store) {
    let occs = vec![
        occ("a", 10, "A"),
        occ("b", 10, "B"),
        occ("c", 10, "C"),
        occ("d", 10, "D"),
    ];
    sync_campaign_adds_occurrences(&store, &occs).await;
    assert_eq!(
        store
            .claim_due(t(20), 10, "w", t(60))
            .await
            .expect("claim")
            .len(),
        4
    );

    // Cancelled while claimed.
    store.cancel("a", t(21)).await.expect("cancel");
    assert!(
        store
            .begin_attempt("a", "w", t(22))
            .await
            .expect("begin")
            .is_none()
    );
    assert_eq!(state(&store, "a").await, EntryState::Cancelled);

    // Paused while claimed: refused and put back.
    store
        .pause(PauseScope::Account, "oim-mastodon")
        .await
        .expect("pause");
    assert!(
        store
            .begin_attempt("b", "w", t(22))
            .await
            .expect("begin")
            .is_none()
    );
    assert_eq!(state(&store, "b").await, EntryState::Scheduled);
    store
        .resume(PauseScope::Account, "oim-mastodon")
        .await
        .expect("resume");

    // Lease expired: refused and put back.
    assert!(
        store
            .begin_attempt("c", "w", t(61))
            .await
            .expect("begin")
            .is_none()
    );
    assert_eq!(state(&store, "c").await, EntryState::Scheduled);

    // Not the owner: refused, left alone.
    assert!(
        store
            .begin_attempt("d", "intruder", t(22))
            .await
            .expect("begin")
            .is_none()
    );
    assert_eq!(state(&store, "d").await, EntryState::Claimed);

    // The owner, in time: goes.
    let d = store
        .begin_attempt("d", "w", t(22))
        .await
        .expect("begin")
        .expect("d goes");
    assert_eq!((d.state, d.attempts), (EntryState::Publishing, 1));
    // Twice: refused (already publishing).
    assert!(
        store
            .begin_attempt("d", "w", t(23))
            .await
            .expect("begin")
            .is_none()
    );
    let attempts = store.attempts("d").await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].number, attempts[0].owner.as_str()), (1, "w"));
    assert_eq!(attempts[0].started_at, t(22));
    assert!(attempts[0].outcome.is_none());
}

async fn checkpoint_then_finish(store: Store) {
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A")]).await;
    store.claim_due(t(10), 1, "w", t(60)).await.expect("claim");
    store
        .begin_attempt("a", "w", t(11))
        .await
        .expect("begin")
        .expect("goes");
    let mut progress = Progress {
        remote_id: Some("111".into()),
        url: Some("https://m.example/@oim/111".into()),
        ..Progress::default()
    };
    progress.thread.push("112".into());
    store
        .checkpoint("a", "w", &progress)
        .await
        .expect("checkpoint");
    let mid = store.get("a").await.expect("a");
    assert_eq!(mid.progress, progress);
    assert_eq!(mid.remote_id.as_deref(), Some("111"));
    // Someone else cannot checkpoint it.
    let err = store
        .checkpoint("a", "other", &progress)
        .await
        .expect_err("not the owner");
    assert!(matches!(err, StoreError::WrongState { .. }), "{err}");

    store
        .finish(
            "a",
            "w",
            Finish::Published {
                remote_id: "111".into(),
                url: Some("https://m.example/@oim/111".into()),
            },
            t(12),
        )
        .await
        .expect("finish");
    let done = store.get("a").await.expect("a");
    assert_eq!(done.state, EntryState::Published);
    assert_eq!(done.published_at, Some(t(12)));
    assert_eq!(done.progress.thread, ["112"]);
    assert!(done.lease_owner.is_none() && done.lease_until.is_none());
    let attempts = store.attempts("a").await.expect("attempts");
    assert_eq!(attempts[0].outcome.as_deref(), Some("published"));
    assert_eq!(attempts[0].finished_at, Some(t(12)));
    // Finishing twice with the same id is harmless; another id is not.
    store
        .finish(
            "a",
            "w",
            Finish::Published {
                remote_id: "111".into(),
                url: None,
            },
            t(13),
        )
        .await
        .expect("idempotent");
    assert!(
        store
            .finish(
                "a",
                "w",
                Finish::Published {
                    remote_id: "999".into(),
                    url: None
                },
                t(13)
            )
            .await
            .is_err()
    );
    assert!(
        store.cancel("a", t(14)).await.is_err(),
        "published cannot be cancelled"
    );
    assert!(
        store.retry("a", t(14)).await.is_err(),
        "published cannot be retried"
    );
}

async fn finish_outcomes(store: Store) {
    let occs = vec![
        occ("r", 10, "R"),
        occ("f", 10, "F"),
        occ("h", 10, "H"),
        occ("x", 10, "X"),
    ];
    sync_campaign_adds_occurrences(&store, &occs).await;
    store.claim_due(t(10), 10, "w", t(60)).await.expect("claim");
    for id in ["r", "f", "h"] {
        store
            .begin_attempt(id, "w", t(11))
            .await
            .expect("begin")
            .expect("goes");
    }
    store
        .finish(
            "r",
            "w",
            Finish::Retry {
                run_at: t(40),
                reason: "HTTP 503".into(),
            },
            t(12),
        )
        .await
        .expect("retry");
    store
        .finish(
            "f",
            "w",
            Finish::Failed {
                reason: "HTTP 422".into(),
            },
            t(12),
        )
        .await
        .expect("f");
    store
        .finish(
            "h",
            "w",
            Finish::Held {
                reason: "unknown".into(),
            },
            t(12),
        )
        .await
        .expect("h");
    store
        .finish(
            "x",
            "w",
            Finish::Expired {
                reason: "late".into(),
            },
            t(12),
        )
        .await
        .expect("x");
    let r = store.get("r").await.expect("r");
    assert_eq!(
        (r.state, r.run_at, r.last_error.as_deref()),
        (EntryState::Retrying, t(40), Some("HTTP 503"))
    );
    assert_eq!(state(&store, "f").await, EntryState::Failed);
    assert_eq!(state(&store, "h").await, EntryState::Held);
    assert_eq!(state(&store, "x").await, EntryState::Expired);
    assert_eq!(
        store.attempts("r").await.expect("a")[0].outcome.as_deref(),
        Some("retry")
    );
    // Retrying is claimable again at its run_at, not before.
    assert!(
        store
            .claim_due(t(39), 10, "w", t(90))
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due(t(40), 10, "w", t(90))
            .await
            .expect("claim")
            .len(),
        1
    );
    let again = store
        .begin_attempt("r", "w", t(41))
        .await
        .expect("begin")
        .expect("goes");
    assert_eq!(again.attempts, 2);
    // Not the owner: refused.
    let err = store
        .finish(
            "r",
            "other",
            Finish::Failed {
                reason: "no".into(),
            },
            t(42),
        )
        .await
        .expect_err("not the owner");
    assert!(
        matches!(
            err,
            StoreError::WrongState {
                state: EntryState::Publishing,
                ..
            }
        ),
        "{err}"
    );
}

async fn expired_leases_requeue_or_report(store: Store) {
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A"), occ("b", 10, "B")]).await;
    store.claim_due(t(10), 10, "w", t(30)).await.expect("claim");
    store
        .begin_attempt("b", "w", t(11))
        .await
        .expect("begin")
        .expect("goes");
    let (requeued, unknown) = store.expired_leases(t(30)).await.expect("not yet");
    assert!(requeued.is_empty() && unknown.is_empty());
    // A heartbeat extends both.
    assert_eq!(store.heartbeat("w", t(50)).await.expect("hb"), 2);
    assert_eq!(store.heartbeat("nobody", t(50)).await.expect("hb"), 0);
    assert!(
        !store.release("a", "nobody", t(60)).await.expect("release"),
        "not the owner"
    );
    let (requeued, unknown) = store.expired_leases(t(49)).await.expect("not yet");
    assert!(requeued.is_empty() && unknown.is_empty());
    let (requeued, unknown) = store.expired_leases(t(51)).await.expect("expired");
    assert_eq!(
        requeued.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(requeued[0].state, EntryState::Scheduled);
    assert_eq!(
        unknown.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(
        state(&store, "b").await,
        EntryState::Publishing,
        "left for the scheduler"
    );
}

async fn take_over_is_atomic(store: Store) {
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A")]).await;
    store
        .claim_due(t(10), 1, "dead", t(20))
        .await
        .expect("claim");
    store
        .begin_attempt("a", "dead", t(11))
        .await
        .expect("begin")
        .expect("goes");
    let got = store
        .take_over("a", "dead", "w2", t(90))
        .await
        .expect("take")
        .expect("mine");
    assert_eq!(got.lease_owner.as_deref(), Some("w2"));
    assert!(
        store
            .take_over("a", "dead", "w3", t(90))
            .await
            .expect("take")
            .is_none()
    );
    // The old owner can no longer finish it (except as published).
    assert!(
        store
            .finish("a", "dead", Finish::Failed { reason: "x".into() }, t(21))
            .await
            .is_err()
    );
    store
        .finish(
            "a",
            "w2",
            Finish::Published {
                remote_id: "r".into(),
                url: None,
            },
            t(22),
        )
        .await
        .expect("resolved");
    assert_eq!(state(&store, "a").await, EntryState::Published);
}

async fn expire_late_and_series_catch_up(store: Store) {
    let mut occs = Vec::new();
    for (i, due) in [0, 100, 200, 300, 10_000].into_iter().enumerate() {
        let mut o = occ(&format!("s{i}"), due, "weekly");
        o.series = Some("weekly-fr".into());
        o.not_after = t(due + 50_000);
        occs.push(o);
    }
    let mut lone = occ("late", 0, "late");
    lone.not_after = t(100);
    occs.push(lone);
    sync_campaign_adds_occurrences(&store, &occs).await;
    let expired = store.expire_late(t(350)).await.expect("expire");
    let mut ids: Vec<_> = expired.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["late", "s0", "s1", "s2"]);
    assert!(
        expired
            .iter()
            .all(|e| e.state == EntryState::Expired && e.last_error.is_some())
    );
    assert_eq!(
        state(&store, "s3").await,
        EntryState::Scheduled,
        "the latest missed one survives"
    );
    assert_eq!(
        state(&store, "s4").await,
        EntryState::Scheduled,
        "the future one too"
    );
    assert!(store.expire_late(t(351)).await.expect("expire").is_empty());
    // Past its not_after, nothing is ever claimed.
    let mut o = occ("z", 0, "Z");
    o.not_after = t(10);
    store
        .sync_campaign("other", &[o], t(0))
        .await
        .expect("sync");
    let got = store.claim_due(t(11), 10, "w", t(99)).await.expect("claim");
    assert!(got.iter().all(|e| e.id != "z"));
}

async fn operator_commands(store: Store) {
    let occs = vec![occ("a", 10, "A"), occ("b", 10, "B"), occ("c", 10, "C")];
    sync_campaign_adds_occurrences(&store, &occs).await;
    store.claim_due(t(10), 10, "w", t(60)).await.expect("claim");
    store
        .begin_attempt("a", "w", t(10))
        .await
        .expect("begin")
        .expect("goes");
    store
        .begin_attempt("b", "w", t(10))
        .await
        .expect("begin")
        .expect("goes");
    store
        .finish(
            "a",
            "w",
            Finish::Failed {
                reason: "bad".into(),
            },
            t(11),
        )
        .await
        .expect("f");
    // Cancelling a publishing entry is refused.
    let err = store.cancel("b", t(11)).await.expect_err("in flight");
    assert!(
        matches!(
            err,
            StoreError::WrongState {
                state: EntryState::Publishing,
                ..
            }
        ),
        "{err}"
    );
    let retried = store.retry("a", t(20)).await.expect("retry");
    assert_eq!(
        (retried.state, retried.run_at),
        (EntryState::Scheduled, t(20))
    );
    assert!(
        store.retry("b", t(20)).await.is_err(),
        "in flight cannot be retried"
    );
    assert!(matches!(
        store.retry("nope", t(20)).await,
        Err(StoreError::NotFound(_))
    ));
    store.cancel("a", t(21)).await.expect("cancel");
    store
        .cancel("a", t(22))
        .await
        .expect("cancelling twice is fine");
    assert!(
        store.retry("a", t(23)).await.is_err(),
        "cancelled stays cancelled"
    );
    // Listing.
    let all = store.list(&ListFilter::default()).await.expect("list");
    assert_eq!(all.len(), 3);
    let claimed = store
        .list(&ListFilter {
            states: vec![EntryState::Claimed, EntryState::Cancelled],
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        claimed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["a", "c"]
    );
    let limited = store
        .list(&ListFilter {
            campaign: Some("amal".into()),
            limit: Some(1),
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(limited.len(), 1);
    let none = store
        .list(&ListFilter {
            account: Some("nobody".into()),
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert!(none.is_empty());
    let window = store
        .list(&ListFilter {
            from: Some(t(10)),
            until: Some(t(11)),
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(window.len(), 3);
    let before = store
        .list(&ListFilter {
            until: Some(t(10)),
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert!(before.is_empty());
    // Retrying a held post that is not due yet keeps its due time.
    store
        .sync_campaign("later", &[occ("f", 900, "F")], t(0))
        .await
        .expect("sync");
    store
        .hold_account("oim-mastodon", "login")
        .await
        .expect("hold");
    let f = store.retry("f", t(20)).await.expect("retry");
    assert_eq!(f.run_at, t(900));
}

async fn accounts_hold_and_release(store: Store) {
    let occs = vec![
        occ("a", 10, "A"),
        occ("b", 20, "B"),
        occ("c", 10, "C"),
        on("other", occ("d", 10, "D")),
    ];
    sync_campaign_adds_occurrences(&store, &occs).await;
    store.claim_due(t(10), 1, "w", t(60)).await.expect("claim"); // a
    store
        .begin_attempt("a", "w", t(10))
        .await
        .expect("begin")
        .expect("goes");
    store
        .finish(
            "a",
            "w",
            Finish::NeedsOperator {
                reason: "token revoked".into(),
            },
            t(11),
        )
        .await
        .expect("finish");
    assert_eq!(
        store
            .hold_account("oim-mastodon", "token revoked: run berrah accounts login")
            .await
            .expect("hold"),
        2
    );
    assert_eq!(state(&store, "b").await, EntryState::Held);
    assert_eq!(state(&store, "d").await, EntryState::Scheduled);
    // An unknown-outcome hold of the same account must survive the release.
    store
        .sync_campaign("amal2", &[occ("u", 10, "U")], t(0))
        .await
        .expect("sync");
    store.claim_due(t(10), 10, "w", t(60)).await.expect("claim");
    store
        .begin_attempt("u", "w", t(10))
        .await
        .expect("begin")
        .expect("goes");
    store
        .finish(
            "u",
            "w",
            Finish::Held {
                reason: "unknown outcome".into(),
            },
            t(11),
        )
        .await
        .expect("h");
    // The causes that decide what releases each hold.
    assert_eq!(
        store.held_cause("b").await.expect("cause").as_deref(),
        Some("account")
    );
    assert_eq!(
        store.held_cause("u").await.expect("cause").as_deref(),
        Some("outcome")
    );
    assert_eq!(store.held_cause("d").await.expect("not held"), None);
    let causes = store.held_causes().await.expect("causes");
    assert_eq!(causes.len(), 4, "{causes:?}");
    assert_eq!(causes["u"].as_deref(), Some("outcome"));
    assert_eq!(
        store
            .release_account("oim-mastodon")
            .await
            .expect("release"),
        3
    );
    for id in ["a", "b", "c"] {
        assert_eq!(state(&store, id).await, EntryState::Scheduled, "{id}");
    }
    assert_eq!(state(&store, "u").await, EntryState::Held);

    // A held post moved later in the file goes out at its new time once released.
    store
        .hold_account("oim-mastodon", "again")
        .await
        .expect("hold");
    let moved = vec![occ("a", 10, "A"), occ("b", 500, "B"), occ("c", 10, "C")];
    store
        .sync_campaign("amal", &moved, t(12))
        .await
        .expect("sync");
    assert_eq!(state(&store, "b").await, EntryState::Held);
    store
        .release_account("oim-mastodon")
        .await
        .expect("release");
    let got = store
        .claim_due(t(100), 10, "w", t(160))
        .await
        .expect("claim");
    assert!(got.iter().all(|e| e.id != "b"), "not before its new time");
    assert_eq!(store.get("b").await.expect("b").run_at, t(500));
}

async fn counts_and_budgets(store: Store) {
    let occs = vec![
        occ("a", 10, "A"),
        occ("b", 10, "B"),
        on("other", occ("c", 10, "C")),
    ];
    sync_campaign_adds_occurrences(&store, &occs).await;
    store.claim_due(t(10), 10, "w", t(60)).await.expect("claim");
    for (id, at) in [("a", 11), ("b", 20), ("c", 12)] {
        store
            .begin_attempt(id, "w", t(at))
            .await
            .expect("begin")
            .expect("goes");
        store
            .finish(
                id,
                "w",
                Finish::Published {
                    remote_id: id.into(),
                    url: None,
                },
                t(at),
            )
            .await
            .expect("finish");
    }
    assert_eq!(
        store
            .count_published("oim-mastodon", t(0), t(100))
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        store
            .count_published("oim-mastodon", t(0), t(20))
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        store
            .count_published("other", t(0), t(100))
            .await
            .expect("count"),
        1
    );
    store
        .sync_campaign("wcd", &[occ("w", 99, "W")], t(0))
        .await
        .expect("sync");
    let counts = store.counts_by_campaign().await.expect("counts");
    assert_eq!(
        counts,
        vec![
            ("amal".to_string(), EntryState::Published, 3),
            ("wcd".to_string(), EntryState::Scheduled, 1)
        ]
    );
}

async fn upload_cache(store: Store) {
    use berrah::media::UploadCache;
    use berrah::media::cache::StoreUploadCache;
    assert_eq!(
        store
            .media_upload_get("acc", "abc", t(0))
            .await
            .expect("get"),
        None
    );
    store
        .media_upload_put("acc", "abc", "m-1", Some(t(100)))
        .await
        .expect("put");
    assert_eq!(
        store
            .media_upload_get("acc", "abc", t(99))
            .await
            .expect("get")
            .as_deref(),
        Some("m-1")
    );
    assert_eq!(
        store
            .media_upload_get("acc", "abc", t(100))
            .await
            .expect("get"),
        None,
        "expired"
    );
    assert_eq!(
        store
            .media_upload_get("other", "abc", t(0))
            .await
            .expect("get"),
        None,
        "per account"
    );
    store
        .media_upload_put("acc", "abc", "m-2", None)
        .await
        .expect("replace");
    assert_eq!(
        store
            .media_upload_get("acc", "abc", t(1_000))
            .await
            .expect("get")
            .as_deref(),
        Some("m-2")
    );

    let clock = berrah::time::SystemClock;
    let cache = StoreUploadCache::new(store.clone(), std::sync::Arc::new(clock));
    cache.put("acc", "def", "m-3", None).await;
    assert_eq!(cache.get("acc", "def").await.as_deref(), Some("m-3"));
    // Taken once: the second caller finds nothing (Mastodon attaches an
    // upload to one status only).
    assert_eq!(cache.take("acc", "def").await.as_deref(), Some("m-3"));
    assert_eq!(cache.take("acc", "def").await, None);
    assert_eq!(cache.get("acc", "def").await, None);
    assert_eq!(cache.get("acc", "zzz").await, None);
}

async fn snapshots_keep_the_last_valid_source(store: Store) {
    store
        .save_snapshot("amal", "campaigns/amal.toml", "v1", t(0))
        .await
        .expect("save");
    store
        .save_snapshot("amal", "campaigns/amal.toml", "v2", t(5))
        .await
        .expect("save");
    store
        .save_snapshot("eu", "campaigns/eu.toml", "e1", t(6))
        .await
        .expect("save");
    let snaps = store.snapshots().await.expect("snapshots");
    assert_eq!(snaps.len(), 2);
    assert_eq!(
        (
            snaps[0].campaign.as_str(),
            snaps[0].source.as_str(),
            snaps[0].saved_at
        ),
        ("amal", "v2", t(5))
    );
    assert_eq!(snaps[1].path, "campaigns/eu.toml");
}

async fn corrupt_rows_are_reported(store: Store) {
    sync_campaign_adds_occurrences(
        &store,
        &[
            occ("good", 10, "G"),
            occ("bad-state", 10, "S"),
            occ("bad-json", 10, "J"),
        ],
    )
    .await;
    exec(
        &store,
        "UPDATE entries SET state = 'flying' WHERE id = 'bad-state'",
    )
    .await;
    exec(
        &store,
        "UPDATE entries SET content = '{not json' WHERE id = 'bad-json'",
    )
    .await;
    match store.get("bad-state").await {
        Err(StoreError::Corrupt { id, why }) => {
            assert_eq!(id, "bad-state");
            assert!(why.contains("flying"), "{why}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        store.get("bad-json").await,
        Err(StoreError::Corrupt { .. })
    ));
    assert!(
        store.list(&ListFilter::default()).await.is_err(),
        "strict listing fails"
    );
    let (good, bad) = store
        .list_checked(&ListFilter::default())
        .await
        .expect("lenient");
    assert_eq!(
        good.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["good"]
    );
    assert_eq!(bad.len(), 2);
    // Claiming skips the corrupt row and holds it, without blocking the good one.
    let got = store.claim_due(t(10), 10, "w", t(60)).await.expect("claim");
    assert_eq!(
        got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["good"]
    );
    let (_, bad) = store
        .list_checked(&ListFilter {
            states: vec![EntryState::Held],
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(bad.len(), 1, "the unreadable claimed row is held");
    exec(
        &store,
        "UPDATE entries SET due_ms = 9223372036854775807 WHERE id = 'good'",
    )
    .await;
    assert!(matches!(
        store.get("good").await,
        Err(StoreError::Corrupt { .. })
    ));
    // Counts skip the unreadable state instead of failing.
    let counts = store.counts_by_campaign().await.expect("counts");
    assert!(counts.iter().all(|(_, s, _)| s.as_str() != "flying"));
    // Sync leaves the unreadable entry alone.
    let r = store.sync_campaign("amal", &[], t(11)).await.expect("sync");
    assert!(r.frozen >= 1, "{r:?}");
}

async fn get_by_prefix(store: Store) {
    sync_campaign_adds_occurrences(
        &store,
        &[
            occ("o-abc1", 10, "1"),
            occ("o-abc2", 10, "2"),
            occ("o-x_y", 10, "3"),
        ],
    )
    .await;
    assert_eq!(store.get("o-abc1").await.expect("exact").id, "o-abc1");
    assert_eq!(store.get("o-x").await.expect("unique prefix").id, "o-x_y");
    match store.get("o-abc").await {
        Err(StoreError::Ambiguous { candidates, .. }) => {
            assert_eq!(candidates, ["o-abc1", "o-abc2"])
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert!(
        matches!(store.get("o-_").await, Err(StoreError::NotFound(_))),
        "LIKE wildcards are literal"
    );
    assert!(matches!(
        store.get("zzz").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn next_wakeup_ignores_paused(store: Store) {
    assert_eq!(store.next_wakeup(t(0)).await.expect("empty"), None);
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A"), on("x", occ("b", 5, "B"))]).await;
    assert_eq!(store.next_wakeup(t(0)).await.expect("next"), Some(t(5)));
    store.pause(PauseScope::Account, "x").await.expect("pause");
    assert_eq!(store.next_wakeup(t(0)).await.expect("next"), Some(t(10)));
    store.claim_due(t(10), 10, "w", t(70)).await.expect("claim");
    assert_eq!(
        store.next_wakeup(t(10)).await.expect("next"),
        Some(t(70)),
        "the lease"
    );
}

async fn wakeups_are_delivered(store: Store) {
    let mut rx = store.wakeups();
    store
        .pause(PauseScope::Campaign, "amal")
        .await
        .expect("pause");
    tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("a wake-up arrives")
        .expect("channel open");
}

#[tokio::test]
async fn migrations_are_idempotent_on_sqlite() {
    let (dir, store) = sqlite_temp().await;
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A")]).await;
    store.close().await;
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let again = Store::connect(&url).await.expect("reconnect");
    let third = Store::connect(&url).await.expect("and again");
    assert_eq!(again.get("a").await.expect("kept").content.text, "A");
    assert_eq!(third.backend_name(), "sqlite");
}

/// A queue written before migration 0004 (which rebuilds `attempts`) keeps
/// its entries and their attempts.
#[tokio::test]
async fn a_queue_from_before_migration_4_keeps_its_attempts_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = berrah::store::testing::sqlite_url(&dir.path().join("old.db"));
    {
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
            .expect("url")
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
        let migrator = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite"
        )))
        .await
        .expect("migrations");
        migrator.run_to(3, &pool).await.expect("migrate to 3");
        sqlx::query(
            "INSERT INTO entries (id, campaign, post, account, platform, language, due_ms, \
             local, timezone, not_after_ms, run_at_ms, state, attempts, content, content_hash, \
             remote_id, published_at_ms, created_ms, updated_ms) VALUES \
             ('a', 'c', 'p', 'acc', 'webhook', 'fr', 10, '2026-12-18T10:00', 'UTC', 20, 10, \
             'published', 1, '{\"text\":\"A\"}', 'h', 'r-1', 12, 1, 12)",
        )
        .execute(&pool)
        .await
        .expect("entry");
        sqlx::query(
            "INSERT INTO attempts VALUES ('a', 1, 'old-daemon', 11, 12, 'published', 'HTTP 200')",
        )
        .execute(&pool)
        .await
        .expect("attempt");
        pool.close().await;
    }
    let store = Store::connect(&url).await.expect("migrate to the latest");
    let entry = store.get("a").await.expect("kept");
    assert_eq!(entry.state, EntryState::Published);
    assert_eq!(entry.remote_id.as_deref(), Some("r-1"));
    let attempts = store.attempts("a").await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].owner, "old-daemon");
    assert_eq!(attempts[0].outcome.as_deref(), Some("published"));
    assert_eq!(attempts[0].detail.as_deref(), Some("HTTP 200"));
}

#[tokio::test]
async fn migrations_are_idempotent_on_postgres() {
    let Some(url) = berrah::store::testing::postgres_url_or_skip(
        "store::migrations_are_idempotent_on_postgres",
    ) else {
        return;
    };
    let store = Store::connect(&url).await.expect("connect");
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A")]).await;
    let again = Store::connect(&url).await.expect("reconnect");
    assert_eq!(again.get("a").await.expect("kept").content.text, "A");
    assert_eq!(again.backend_name(), "postgres");
}

#[tokio::test]
async fn sqlite_creates_its_folder_and_rejects_unknown_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = berrah::store::testing::sqlite_url(&dir.path().join("deep/er/berrah.db"));
    Store::connect(&url)
        .await
        .expect("creates the parent folders");
    assert!(matches!(
        Store::connect("mysql://x").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
    // A database under a file (not a folder): a clear Connect error.
    std::fs::write(dir.path().join("file"), "x").expect("write");
    let bad = berrah::store::testing::sqlite_url(&dir.path().join("file/berrah.db"));
    match Store::connect(&bad).await {
        Err(e @ StoreError::Connect { .. }) => {
            assert!(e.to_string().contains("file/berrah.db"), "{e}")
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    let mem = Store::connect("sqlite::memory:").await.expect("memory");
    sync_campaign_adds_occurrences(&mem, &[occ("a", 10, "A")]).await;
    assert_eq!(mem.get("a").await.expect("a").id, "a");
}

/// Claims everything from `due` entries with `workers` stores (separate
/// pools) racing, and checks that the claimed sets are disjoint and complete.
async fn claim_race(stores: Vec<Store>, due: usize) {
    let occs: Vec<_> = (0..due)
        .map(|i| occ(&format!("o-{i:04}"), (i % 50) as i64, "x"))
        .collect();
    sync_campaign_adds_occurrences(&stores[0], &occs).await;
    let mut tasks = Vec::new();
    for (n, store) in stores.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let owner = format!("w{n}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_due(t(100), 7, &owner, t(1_000))
                    .await
                    .expect("claim");
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|e| e.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, all.len(), "an entry was claimed twice");
    assert_eq!(all.len(), due, "every entry was claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_are_disjoint_on_postgres() {
    let Some(url) = berrah::store::testing::postgres_url_or_skip(
        "store::concurrent_claims_are_disjoint_on_postgres",
    ) else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..6 {
        stores.push(Store::connect_with(&url, &SMALL).await.expect("connect"));
    }
    claim_race(stores, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_are_disjoint_on_sqlite() {
    let (dir, first) = sqlite_temp().await;
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let second = Store::connect(&url).await.expect("second pool");
    claim_race(vec![first, second], 1_000).await;
}

/// Small pools: PostgreSQL's 100 connections are shared by every helper's tests.
const SMALL: StoreOptions = StoreOptions { max_connections: 2 };

async fn superseded_series_entries_are_never_claimed(store: Store) {
    let mut occs = Vec::new();
    for (i, due) in [0, 100, 200].into_iter().enumerate() {
        let mut o = occ(&format!("s{i}"), due, "daily");
        o.series = Some("daily-ar".into());
        o.not_after = t(due + 50_000);
        occs.push(o);
    }
    sync_campaign_adds_occurrences(&store, &occs).await;
    // Even without expire_late first, only the latest due one is claimed.
    let got = store
        .claim_due(t(250), 10, "w", t(999))
        .await
        .expect("claim");
    assert_eq!(
        got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["s2"]
    );
    assert_eq!(store.next_wakeup(t(250)).await.expect("next"), Some(t(999)));
    // Once the latest is published, the older ones stay superseded.
    store
        .begin_attempt("s2", "w", t(250))
        .await
        .expect("begin")
        .expect("goes");
    store
        .finish(
            "s2",
            "w",
            Finish::Published {
                remote_id: "1".into(),
                url: None,
            },
            t(251),
        )
        .await
        .expect("finish");
    assert!(
        store
            .claim_due(t(260), 10, "w", t(999))
            .await
            .expect("claim")
            .is_empty()
    );
    let expired = store.expire_late(t(260)).await.expect("expire");
    assert_eq!(expired.len(), 2);
}

/// Several stores race to move the same entries: each move happens once.
async fn races_move_an_entry_once(store: Store) {
    let occs: Vec<_> = (0..20).map(|i| occ(&format!("r{i:02}"), 10, "x")).collect();
    sync_campaign_adds_occurrences(&store, &occs).await;
    let claimed = store
        .claim_due(t(10), 20, "dead", t(20))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 20);
    for e in &claimed[..10] {
        store
            .begin_attempt(&e.id, "dead", t(11))
            .await
            .expect("begin")
            .expect("goes");
    }
    // take_over of r00..r09 by 4 racing owners; cancel vs begin_attempt on r10..r19.
    let mut tasks = Vec::new();
    for n in 0..4 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for i in 0..10 {
                let id = format!("r{i:02}");
                if s.take_over(&id, "dead", &format!("w{n}"), t(99))
                    .await
                    .expect("take")
                    .is_some()
                {
                    won.push(id);
                }
            }
            won
        }));
    }
    let canceller = {
        let s = store.clone();
        tokio::spawn(async move {
            let mut cancelled = Vec::new();
            for i in 10..20 {
                let id = format!("r{i:02}");
                if s.cancel(&id, t(12)).await.is_ok() {
                    cancelled.push(id);
                }
            }
            cancelled
        })
    };
    let mut begun = Vec::new();
    for i in 10..20 {
        let id = format!("r{i:02}");
        if store
            .begin_attempt(&id, "dead", t(12))
            .await
            .expect("begin")
            .is_some()
        {
            begun.push(id);
        }
    }
    let mut won = Vec::new();
    for task in tasks {
        won.extend(task.await.expect("task"));
    }
    won.sort();
    assert_eq!(
        won,
        (0..10).map(|i| format!("r{i:02}")).collect::<Vec<_>>(),
        "each taken over once"
    );
    let cancelled = canceller.await.expect("task");
    for i in 10..20 {
        let id = format!("r{i:02}");
        let st = state(&store, &id).await;
        let (b, c) = (begun.contains(&id), cancelled.contains(&id));
        assert!(b != c, "{id}: begun {b}, cancelled {c}");
        assert_eq!(
            st,
            if b {
                EntryState::Publishing
            } else {
                EntryState::Cancelled
            },
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_connects_migrate_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = berrah::store::testing::sqlite_url(&dir.path().join("new.db"));
    let (a, b, c) = tokio::join!(
        Store::connect_with(&url, &SMALL),
        Store::connect_with(&url, &SMALL),
        Store::connect_with(&url, &SMALL)
    );
    let (a, _b, _c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    sync_campaign_adds_occurrences(&a, &[occ("a", 10, "A")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_connects_migrate_once_on_postgres() {
    let Some(url) = berrah::store::testing::postgres_url_or_skip(
        "store::concurrent_first_connects_migrate_once_on_postgres",
    ) else {
        return;
    };
    let (a, b, c) = tokio::join!(
        Store::connect_with(&url, &SMALL),
        Store::connect_with(&url, &SMALL),
        Store::connect_with(&url, &SMALL)
    );
    let (a, _b, _c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    sync_campaign_adds_occurrences(&a, &[occ("a", 10, "A")]).await;
}

#[tokio::test]
async fn wakeups_reach_other_instances_on_postgres() {
    let Some(url) = berrah::store::testing::postgres_url_or_skip(
        "store::wakeups_reach_other_instances_on_postgres",
    ) else {
        return;
    };
    let a = Store::connect_with(&url, &SMALL).await.expect("a");
    let b = Store::connect_with(&url, &SMALL).await.expect("b");
    let mut rx = b.wakeups();
    sync_campaign_adds_occurrences(&a, &[occ("a", 10, "A")]).await;
    tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("the other instance hears it")
        .expect("channel open");
}

#[tokio::test]
async fn sqlite_values_of_the_wrong_type_are_corrupt() {
    let (_dir, store) = sqlite_temp().await;
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A"), occ("b", 10, "B")]).await;
    exec(
        &store,
        "UPDATE entries SET due_ms = 'tomorrow' WHERE id = 'a'",
    )
    .await;
    match store.get("a").await {
        Err(StoreError::Corrupt { id, why }) => {
            assert_eq!(id, "a");
            assert!(why.contains("due_ms"), "{why}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let (good, bad) = store
        .list_checked(&ListFilter::default())
        .await
        .expect("list");
    assert_eq!((good.len(), bad.len()), (1, 1));
    // Sync keeps working around it.
    let r = store
        .sync_campaign("amal", &[occ("a", 10, "A"), occ("b", 10, "B2")], t(1))
        .await
        .expect("sync");
    assert_eq!((r.updated, r.frozen), (1, 1), "{r:?}");
}

async fn late_and_unattempted_entries_are_never_published(store: Store) {
    use berrah::platforms::Checkpoint;
    let mut late = occ("late", 10, "L");
    late.not_after = t(20);
    sync_campaign_adds_occurrences(&store, &[late, occ("a", 10, "A")]).await;
    assert_eq!(
        store
            .claim_due(t(15), 10, "w", t(90))
            .await
            .expect("claim")
            .len(),
        2
    );
    // Claimed in time, but too late to begin: refused and put back, then expired.
    assert!(
        store
            .begin_attempt("late", "w", t(21))
            .await
            .expect("begin")
            .is_none()
    );
    assert_eq!(state(&store, "late").await, EntryState::Scheduled);
    let expired = store.expire_late(t(21)).await.expect("expire");
    assert_eq!(
        expired.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["late"]
    );
    // "Published" without any attempt is refused: it would hide a post that never went out.
    let err = store
        .finish(
            "a",
            "someone",
            Finish::Published {
                remote_id: "1".into(),
                url: None,
            },
            t(22),
        )
        .await
        .expect_err("no attempt");
    assert!(
        matches!(
            err,
            StoreError::WrongState {
                state: EntryState::Claimed,
                ..
            }
        ),
        "{err}"
    );
    // The checkpoint adapter the scheduler hands to platforms.
    store
        .begin_attempt("a", "w", t(22))
        .await
        .expect("begin")
        .expect("goes");
    let cp = berrah::store::EntryCheckpoint::new(store.clone(), "a", "w");
    let progress = Progress {
        remote_id: Some("77".into()),
        ..Progress::default()
    };
    cp.save(&progress).await.expect("saved");
    assert_eq!(
        store.get("a").await.expect("a").remote_id.as_deref(),
        Some("77")
    );
    let foreign = berrah::store::EntryCheckpoint::new(store.clone(), "a", "other");
    assert!(foreign.save(&progress).await.is_err());
    // Listing takes the filter by value too.
    assert_eq!(
        store.list(ListFilter::default()).await.expect("list").len(),
        2
    );
}

/// Edits synced while other workers claim: every claimed entry keeps exactly
/// the content it was claimed with (sync never writes to an in-flight entry).
async fn sync_racing_claims_never_edits_a_claimed_entry(store: Store) {
    let plan = |text: &str| -> Vec<Occurrence> {
        (0..200)
            .map(|i| occ(&format!("e{i:03}"), (i % 20) as i64, text))
            .collect()
    };
    sync_campaign_adds_occurrences(&store, &plan("v0")).await;
    let mut claimers = Vec::new();
    for n in 0..3 {
        let s = store.clone();
        claimers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            for _ in 0..40 {
                let got = s
                    .claim_due(t(100), 3, &format!("w{n}"), t(999))
                    .await
                    .expect("claim");
                claimed.extend(got);
                tokio::task::yield_now().await;
            }
            claimed
        }));
    }
    let syncer = {
        let s = store.clone();
        tokio::spawn(async move {
            for v in 1..6 {
                s.sync_campaign("amal", &plan(&format!("v{v}")), t(50))
                    .await
                    .expect("sync");
                tokio::task::yield_now().await;
            }
        })
    };
    syncer.await.expect("sync task");
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.expect("claim task"));
    }
    assert!(!claimed.is_empty());
    for e in claimed {
        let now = store.get(&e.id).await.expect("entry");
        assert_eq!(now.state, EntryState::Claimed, "{}", e.id);
        assert_eq!(
            now.content, e.content,
            "{} was edited after its claim",
            e.id
        );
    }
    // Everything not claimed carries the last version.
    let waiting = store
        .list(ListFilter {
            states: vec![EntryState::Scheduled],
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert!(waiting.iter().all(|e| e.content.text == "v5"));
}

#[tokio::test]
async fn sqlite_wakes_other_processes_on_the_same_file() {
    let (dir, a) = sqlite_temp().await;
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let b = Store::connect_with(&url, &SMALL)
        .await
        .expect("second instance");
    let mut rx = b.wakeups();
    a.pause(PauseScope::Account, "x").await.expect("pause");
    tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("the other pool notices the commit")
        .expect("channel open");
}

/// Set in the child processes of [`sqlite_claims_are_disjoint_across_processes`].
const CHILD_URL: &str = "BERRAH_STORE_TEST_CLAIM_URL";
const CHILD_OWNER: &str = "BERRAH_STORE_TEST_CLAIM_OWNER";

/// Several OS processes claim from one SQLite file at once (as a daemon and
/// a second instance started by mistake would): `BEGIN IMMEDIATE`, the busy
/// timeout and the single writer give each entry to exactly one of them.
/// The test binary re-runs itself as the children (same test, with
/// `BERRAH_STORE_TEST_CLAIM_URL` set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_claims_are_disjoint_across_processes() {
    const NAME: &str = "store::sqlite_claims_are_disjoint_across_processes";
    if let (Ok(url), Ok(owner)) = (std::env::var(CHILD_URL), std::env::var(CHILD_OWNER)) {
        let store = Store::connect_with(&url, &SMALL)
            .await
            .expect("child connect");
        loop {
            let got = store
                .claim_due(t(100), 5, &owner, t(1_000))
                .await
                .expect("claim");
            if got.is_empty() {
                break;
            }
            for e in got {
                println!("CLAIMED {}", e.id);
            }
        }
        return;
    }
    let (dir, store) = sqlite_temp().await;
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let occs: Vec<_> = (0..600)
        .map(|i| occ(&format!("p{i:04}"), (i % 30) as i64, "x"))
        .collect();
    sync_campaign_adds_occurrences(&store, &occs).await;
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..3)
        .map(|n| {
            std::process::Command::new(&exe)
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD_URL, &url)
                .env(CHILD_OWNER, format!("proc{n}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn a child")
        })
        .collect();
    let mut all = Vec::new();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("child output");
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        all.extend(
            stdout
                .lines()
                // The harness's "test ... " may precede the first line.
                .filter_map(|l| {
                    l.split_once("CLAIMED ")
                        .map(|(_, id)| id.trim().to_string())
                }),
        );
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, all.len(), "an entry was claimed by two processes");
    assert_eq!(all.len(), 600, "every entry was claimed");
    let (claimed, _) = store
        .list_checked(ListFilter {
            states: vec![EntryState::Claimed],
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(claimed.len(), 600);
}

const CRASH_URL: &str = "BERRAH_STORE_TEST_CRASH_URL";

/// A process killed (kill -9) in the middle of its work:
/// what it committed survives, its claimed entry goes back to the queue and
/// its publishing entry comes back as unknown with the progress it saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_a_killed_process() {
    const NAME: &str = "store::sqlite_survives_a_killed_process";
    if let Ok(url) = std::env::var(CRASH_URL) {
        let store = Store::connect_with(&url, &SMALL)
            .await
            .expect("child connect");
        let got = store
            .claim_due(t(10), 2, "doomed", t(60))
            .await
            .expect("claim");
        assert_eq!(got.len(), 2);
        store
            .begin_attempt("b", "doomed", t(11))
            .await
            .expect("begin")
            .expect("goes");
        let progress = Progress {
            remote_id: Some("posted-1".into()),
            ..Progress::default()
        };
        store
            .checkpoint("b", "doomed", &progress)
            .await
            .expect("checkpoint");
        // Die without closing anything: kill -9 ourselves (no core dump,
        // unlike abort); exit without destructors if `kill` is missing.
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        std::process::exit(3);
    }
    let (dir, store) = sqlite_temp().await;
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    sync_campaign_adds_occurrences(&store, &[occ("a", 10, "A"), occ("b", 10, "B")]).await;
    let exe = std::env::current_exe().expect("test binary");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CRASH_URL, &url)
            .output()
    })
    .await
    .expect("join")
    .expect("child ran");
    assert!(!out.status.success(), "the child was meant to die");
    let (requeued, unknown) = store.expired_leases(t(61)).await.expect("leases");
    assert_eq!(
        requeued.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(
        unknown.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(unknown[0].progress.remote_id.as_deref(), Some("posted-1"));
    assert_eq!(unknown[0].attempts, 1);
    let took = store
        .take_over("b", "doomed", "heir", t(200))
        .await
        .expect("take over")
        .expect("mine");
    assert_eq!(took.remote_id.as_deref(), Some("posted-1"));
}

/// Outcomes finished at the same moment (on PostgreSQL recorded in one
/// batch, one statement) each move their own entry as alone: published,
/// retrying, failed, held; a wrong owner is refused, a repeat of the same
/// publication is harmless, and a publication whose lease was lost is still
/// recorded (a fact), each with its attempt's outcome.
async fn outcomes_recorded_together_keep_the_state_machine(store: Store) {
    let occs: Vec<Occurrence> = (0..40)
        .map(|i| on(&format!("acc{}", i % 8), occ(&format!("b{i:02}"), 10, "B")))
        .collect();
    sync_campaign_adds_occurrences(&store, &occs).await;
    let (taken, _, _) = store
        .claim_turn(
            t(10),
            100,
            "w",
            t(60),
            &ClaimSkip::default(),
            |_: &Candidate| Take::Begin,
        )
        .await
        .expect("take");
    assert_eq!(taken.len(), 40);
    // b36's and b39's leases pass to another worker before their outcomes
    // come: b36's publication is recorded all the same (a fact), b39's
    // failure is refused.
    for id in ["b36", "b39"] {
        store
            .take_over(id, "w", "other", t(90))
            .await
            .expect("take over")
            .expect("moved");
    }
    let outcome = |i: usize| match i % 4 {
        0 | 2 => Finish::Published {
            remote_id: format!("remote-{i}"),
            url: None,
        },
        1 => Finish::Retry {
            run_at: t(40),
            reason: "HTTP 503".into(),
        },
        _ => Finish::Failed {
            reason: "HTTP 422".into(),
        },
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (store, finish) = (store.clone(), outcome(i));
        tasks.spawn(async move {
            let r = store.finish(&format!("b{i:02}"), "w", finish, t(12)).await;
            (format!("b{i:02}"), r)
        });
    }
    // In the same burst: the same publication reported twice, and an
    // outcome from a worker that never held the entry.
    let twice = store.clone();
    tasks.spawn(async move {
        let r = twice
            .finish(
                "b00",
                "w",
                Finish::Published {
                    remote_id: "remote-0".into(),
                    url: None,
                },
                t(12),
            )
            .await;
        ("b00 again".to_string(), r)
    });
    let stranger = store.clone();
    tasks.spawn(async move {
        let r = stranger
            .finish(
                "b01",
                "nobody",
                Finish::Failed {
                    reason: "no".into(),
                },
                t(12),
            )
            .await;
        ("b01 stranger".to_string(), r)
    });
    while let Some(done) = tasks.join_next().await {
        let (what, r) = done.expect("a finish task");
        match what.as_str() {
            "b01 stranger" => assert!(r.is_err(), "a worker that never held b01"),
            "b39" => assert!(r.is_err(), "b39's worker lost its lease"),
            _ => r.unwrap_or_else(|e| panic!("{what}: {e}")),
        }
    }
    for i in 0..40 {
        let id = format!("b{i:02}");
        let e = store.get(&id).await.expect("entry");
        let attempt = store.attempts(&id).await.expect("attempts");
        let (want, outcome) = match (i, i % 4) {
            (39, _) => (EntryState::Publishing, None),
            (_, 0 | 2) => (EntryState::Published, Some("published")),
            (_, 1) => (EntryState::Retrying, Some("retry")),
            _ => (EntryState::Failed, Some("failed")),
        };
        assert_eq!(
            (e.state, attempt[0].outcome.as_deref()),
            (want, outcome),
            "{id}"
        );
        assert_eq!(attempt.len(), 1, "{id}");
        if want == EntryState::Published {
            assert_eq!(e.remote_id, Some(format!("remote-{i}")), "{id}");
        } else {
            assert_eq!(
                e.lease_owner,
                (want == EntryState::Publishing).then(|| "other".to_string()),
                "{id}"
            );
        }
    }
}
