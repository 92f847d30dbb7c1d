//! Integration tests: daemon instances in the store (registry, heartbeat,
//! clean stop, the crashed predecessor, rescue of a gone daemon's leases),
//! the last valid berrah.toml and the next post due. Every case runs on
//! SQLite and on PostgreSQL (loudly skipped without
//! `BERRAH_TEST_POSTGRES_URL`).

use berrah::config::PlatformKind;
use berrah::plan::{Content, Occurrence};
use berrah::store::instances::GONE_AFTER;
use berrah::store::{
    Candidate, ClaimSkip, EntryState, Finish, InstanceInfo, Liveness, PauseScope, Store, Take,
};
use jiff::{SignedDuration, Timestamp};

both!(
    instances_register_beat_and_stop,
    an_unclean_predecessor_is_told_with_when_it_was_last_heard_of,
    leases_of_others_end_at_once_for_the_lock_holder,
    the_last_valid_config_is_kept,
    next_due_counts_retries_and_skips_paused,
    leases_of_a_silent_daemon_end,
);

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("test instant")
}

fn info(id: &str, pid: u32) -> InstanceInfo {
    InstanceInfo {
        id: id.into(),
        host: "test-host".into(),
        pid,
        version: "9.9.9".into(),
    }
}

fn occ(id: &str, due: i64) -> Occurrence {
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
            text: format!("text {id}"),
            ..Content::default()
        },
    }
}

/// Takes the due entries straight to `publishing` for `owner` until `until`.
async fn take(store: &Store, now: Timestamp, owner: &str, until: Timestamp) -> Vec<String> {
    let (taken, _, _) = store
        .claim_turn(
            now,
            10,
            owner,
            until,
            &ClaimSkip::default(),
            |_: &Candidate| Take::Begin,
        )
        .await
        .unwrap();
    taken.into_iter().map(|e| e.id).collect()
}

async fn instances_register_beat_and_stop(store: Store) {
    store.register_instance(&info("a", 11), t(0)).await.unwrap();
    store.register_instance(&info("b", 12), t(5)).await.unwrap();
    let all = store.instances().await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"],
        "newest first"
    );
    assert_eq!(all[1].pid, 11);
    assert_eq!(all[1].host, "test-host");
    assert_eq!(all[1].version, "9.9.9");
    assert_eq!(all[1].started, t(0));

    // A beat moves the heartbeat and extends only its own leases.
    store
        .sync_campaign("amal", &[occ("o1", 0), occ("o2", 0)], t(0))
        .await
        .unwrap();
    let (taken, _, _) = store
        .claim_turn(
            t(1),
            1,
            "a",
            t(61),
            &ClaimSkip::default(),
            |_: &Candidate| Take::Begin,
        )
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let mine = taken[0].id.clone();
    assert_eq!(take(&store, t(1), "b", t(61)).await.len(), 1);
    assert_eq!(store.beat("a", t(30), Some(t(90))).await.unwrap(), 1);
    let a = store.get(&mine).await.unwrap();
    assert_eq!(a.lease_until, Some(t(90)));
    let all = store.instances().await.unwrap();
    let a_row = all.iter().find(|i| i.id == "a").unwrap();
    assert_eq!(a_row.heartbeat, t(30));
    assert_eq!(a_row.liveness(t(40), |_| None), Liveness::Running);
    // Not heard of for long: gone.
    let later = t(30)
        .checked_add(GONE_AFTER)
        .unwrap()
        .checked_add(SignedDuration::from_secs(1))
        .unwrap();
    assert_eq!(
        a_row.liveness(later, |_| None),
        Liveness::Gone { since: t(30) }
    );

    store.stop_instance("a", t(45)).await.unwrap();
    let a_row = store
        .instances()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == "a")
        .unwrap();
    assert!(a_row.ended_cleanly());
    assert_eq!(
        a_row.liveness(later, |_| None),
        Liveness::Stopped { at: t(45) }
    );

    // Registering again (a restart under the same name) clears the stop.
    store
        .register_instance(&info("a", 13), t(100))
        .await
        .unwrap();
    let a_row = store
        .instances()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == "a")
        .unwrap();
    assert_eq!((a_row.pid, a_row.stopped), (13, None));

    // Instances gone for over a month are forgotten at the next start.
    store
        .register_instance(&info("c", 14), t(100 + 31 * 86_400))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .instances()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["c"]);
}

async fn an_unclean_predecessor_is_told_with_when_it_was_last_heard_of(store: Store) {
    // The first daemon has no predecessor.
    store
        .register_instance(&info("first", 1), t(0))
        .await
        .unwrap();
    assert_eq!(
        store.unclean_predecessor("first", t(0)).await.unwrap(),
        None
    );
    // It stops cleanly: its successor finds nothing to say.
    store.stop_instance("first", t(10)).await.unwrap();
    store
        .register_instance(&info("second", 2), t(20))
        .await
        .unwrap();
    assert_eq!(
        store.unclean_predecessor("second", t(20)).await.unwrap(),
        None
    );
    // The second dies (no stop) after a last beat at 50.
    store.beat("second", t(50), None).await.unwrap();
    store
        .register_instance(&info("third", 3), t(60))
        .await
        .unwrap();
    // On PostgreSQL it may still run (heard of 10 s ago) ...
    assert_eq!(
        store.unclean_predecessor("third", t(60)).await.unwrap(),
        None
    );
    // ... until it is silent for long, or its work is rescued.
    let silent = t(50)
        .checked_add(GONE_AFTER)
        .unwrap()
        .checked_add(SignedDuration::from_secs(1))
        .unwrap();
    let p = store
        .unclean_predecessor("third", silent)
        .await
        .unwrap()
        .expect("a crash");
    assert_eq!((p.id.as_str(), p.pid, p.heartbeat), ("second", 2, t(50)));
    store
        .mark_rescued(&["second".into()], "third", t(61))
        .await
        .unwrap();
    let p = store
        .unclean_predecessor("third", t(61))
        .await
        .unwrap()
        .expect("a crash");
    assert_eq!(p.rescued, Some(t(61)));
    assert_eq!(p.rescued_by.as_deref(), Some("third"));
    assert!(!p.ended_cleanly());
    // A clean stop is never marked rescued.
    store
        .mark_rescued(&["first".into()], "third", t(62))
        .await
        .unwrap();
    let first = store
        .instances()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == "first")
        .unwrap();
    assert_eq!(first.rescued, None);
}

async fn leases_of_others_end_at_once_for_the_lock_holder(store: Store) {
    store
        .sync_campaign("amal", &[occ("o1", 0), occ("o2", 0), occ("o3", 0)], t(0))
        .await
        .unwrap();
    let (one, _, _) = store
        .claim_turn(
            t(1),
            1,
            "dead",
            t(3_600),
            &ClaimSkip::default(),
            |_: &Candidate| Take::Begin,
        )
        .await
        .unwrap();
    let (two, _, _) = store
        .claim_turn(
            t(1),
            1,
            "dead",
            t(3_600),
            &ClaimSkip::default(),
            |_: &Candidate| Take::Claim,
        )
        .await
        .unwrap();
    let mine = take(&store, t(1), "me", t(3_600)).await;
    assert_eq!((one.len(), two.len(), mine.len()), (1, 1, 1));
    // Nothing expired yet: an hour-long lease.
    let (requeued, unknown) = store.expired_leases(t(2)).await.unwrap();
    assert!(requeued.is_empty() && unknown.is_empty());
    let owners = store.expire_leases_of_others("me", t(2)).await.unwrap();
    assert_eq!(owners, ["dead"]);
    let (requeued, unknown) = store.expired_leases(t(2)).await.unwrap();
    assert_eq!(
        requeued.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&two[0].id]
    );
    assert_eq!(
        unknown.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&one[0].id]
    );
    assert_eq!(
        store.get(&two[0].id).await.unwrap().state,
        EntryState::Scheduled
    );
    // Its own lease is untouched.
    assert_eq!(
        store.get(&mine[0]).await.unwrap().lease_until,
        Some(t(3_600))
    );
    // Taken over like any expired attempt.
    let e = store
        .take_over(&one[0].id, "dead", "me", t(3_600))
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!(e.state, EntryState::Publishing);
}

async fn the_last_valid_config_is_kept(store: Store) {
    assert_eq!(store.config_snapshot().await.unwrap(), None);
    store
        .save_config_snapshot("berrah.toml", "[accounts.a]\nplatform = \"x\"\n", t(0))
        .await
        .unwrap();
    store
        .save_config_snapshot(
            "/etc/berrah/berrah.toml",
            "[accounts.b]\nplatform = \"x\"\n",
            t(5),
        )
        .await
        .unwrap();
    let s = store.config_snapshot().await.unwrap().unwrap();
    assert_eq!(s.path, "/etc/berrah/berrah.toml");
    assert!(s.source.contains("accounts.b"));
    assert_eq!(s.saved_at, t(5));
}

async fn next_due_counts_retries_and_skips_paused(store: Store) {
    assert!(store.next_due(t(0)).await.unwrap().is_none());
    let mut other = occ("o2", 100);
    other.campaign = "other".into();
    store
        .sync_campaign("amal", &[occ("o1", 10)], t(0))
        .await
        .unwrap();
    store.sync_campaign("other", &[other], t(0)).await.unwrap();
    assert_eq!(store.next_due(t(0)).await.unwrap().unwrap().id, "o1");
    // o1 fails for now and waits to be retried at 500: o2 (100) is next.
    let ids = take(&store, t(10), "me", t(70)).await;
    assert_eq!(ids, ["o1"]);
    store
        .finish(
            "o1",
            "me",
            Finish::Retry {
                run_at: t(500),
                reason: "503".into(),
            },
            t(11),
        )
        .await
        .unwrap();
    assert_eq!(store.next_due(t(11)).await.unwrap().unwrap().id, "o2");
    // Paused: the retry is what waits, never "nothing".
    store.pause(PauseScope::Campaign, "other").await.unwrap();
    let next = store.next_due(t(11)).await.unwrap().unwrap();
    assert_eq!(
        (next.id.as_str(), next.state, next.run_at),
        ("o1", EntryState::Retrying, t(500))
    );
}

/// PostgreSQL (and any shared queue): a daemon silent for long is gone, and
/// its leases end without waiting for their expiry; a daemon that beats, or
/// stopped cleanly, keeps them.
async fn leases_of_a_silent_daemon_end(store: Store) {
    store
        .sync_campaign("amal", &[occ("o1", 0), occ("o2", 0), occ("o3", 0)], t(0))
        .await
        .unwrap();
    for (id, pid) in [("ghost", 1), ("alive", 2), ("me", 3)] {
        store.register_instance(&info(id, pid), t(0)).await.unwrap();
    }
    for owner in ["ghost", "alive", "me"] {
        let (taken, _, _) = store
            .claim_turn(
                t(1),
                1,
                owner,
                t(3_600),
                &ClaimSkip::default(),
                |_: &Candidate| Take::Begin,
            )
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
    }
    store.beat("alive", t(80), None).await.unwrap();
    // Heard of 60 s ago: not gone yet.
    assert!(
        store
            .expire_leases_of_gone("me", t(60))
            .await
            .unwrap()
            .is_empty()
    );
    let at = t(0)
        .checked_add(GONE_AFTER)
        .unwrap()
        .checked_add(SignedDuration::from_secs(1))
        .unwrap();
    assert_eq!(
        store.expire_leases_of_gone("me", at).await.unwrap(),
        ["ghost"]
    );
    let (_, unknown) = store.expired_leases(at).await.unwrap();
    assert_eq!(
        unknown
            .iter()
            .map(|e| e.lease_owner.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["ghost"]
    );
    // Once ended, nothing more to do; a clean stop is never taken for a death.
    assert!(
        store
            .expire_leases_of_gone("me", at)
            .await
            .unwrap()
            .is_empty()
    );
    store.stop_instance("alive", t(81)).await.unwrap();
    let much_later = t(10_000);
    assert!(
        store
            .expire_leases_of_gone("me", much_later)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The heartbeat of an idle daemon wakes nobody: the SQLite change watcher
/// recognises the process's own commits (its writer's connection keeps its
/// `data_version` through them) and wakes the daemon only for another
/// process's commit. Before, each beat cost the daemon a whole turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_own_heartbeat_wakes_nobody_but_another_process_does() {
    use tokio::sync::broadcast::error::TryRecvError;
    let (dir, store) = berrah::store::testing::sqlite_temp().await;
    store
        .register_instance(&info("me", 1), t(0))
        .await
        .expect("register");
    // Whatever the registration set off has settled (the watcher looks
    // again a second after the last write it saw).
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let mut rx = store.wakeups();
    for n in 1..=3 {
        store.beat("me", t(n * 20), None).await.expect("beat");
        store
            .beat("me", t(n * 20 + 1), Some(t(n * 20 + 60)))
            .await
            .expect("beat with leases");
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    // Longer than the watcher's look after a write, and its second look.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "the daemon's own heartbeat woke it"
    );
    // Another process's commit (a second store on the file) still wakes it.
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let other = Store::connect(&url).await.expect("a second store");
    other
        .register_instance(&info("other", 2), t(100))
        .await
        .expect("register another");
    tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("another process's commit wakes the daemon")
        .expect("channel open");
}
