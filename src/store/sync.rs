//! What a campaign sync does to the queue, decided without I/O.
//!
//! The campaign file is the source of truth for what *should* go out; the
//! queue is the source of truth for what *did* (or may have). [`plan_sync`]
//! compares the two and never lets a file edit touch an entry that is
//! published, in flight or finished: those edits are counted `frozen`.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::types::{EntryState, StoreError, SyncReport};
use crate::plan::{Content, Occurrence};

/// Why an entry is in its current state, when the state alone is ambiguous
/// (column `state_cause`): it decides what sync and `release_account` may undo.
pub(crate) mod cause {
    /// Cancelled because it disappeared from the campaign file: revived if it comes back.
    pub const SYNC: &str = "sync";
    /// Cancelled by an operator: stays cancelled whatever the file says.
    pub const OPERATOR: &str = "operator";
    /// Held by `paused = true` in the campaign file: released when the flag goes.
    pub const FILE_PAUSE: &str = "file_pause";
    /// Held because the account's credentials need an operator: released by `release_account`.
    pub const ACCOUNT: &str = "account";
    /// Held after an attempt (unknown outcome...): only an operator releases it.
    pub const OUTCOME: &str = "outcome";
}

/// The reason shown for an entry cancelled by sync.
pub(crate) const REMOVED_FROM_FILE: &str = "removed from the campaign file";
/// The reason shown for an entry held by `paused = true`.
pub(crate) const PAUSED_IN_FILE: &str =
    "paused in the campaign file (`paused = true`); remove it to publish";

/// The fields of an entry that come from the plan: when one differs, the
/// entry is updated (or the edit is counted frozen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub capsule: Option<String>,
    pub post: String,
    pub account: String,
    pub platform: String,
    pub language: String,
    pub series: Option<String>,
    pub due_ms: i64,
    pub local: String,
    pub timezone: String,
    pub not_after_ms: i64,
    pub content_hash: String,
    /// The time-zone release `due_ms` was computed with ('' before it was recorded).
    pub tzdb: String,
}

impl Fingerprint {
    /// Whether the plan differs, whatever release computed it: a new
    /// release alone that moves nothing changes no published entry.
    fn plan_differs(&self, other: &Fingerprint) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let Fingerprint {
            capsule,
            post,
            account,
            platform,
            language,
            series,
            due_ms,
            local,
            timezone,
            not_after_ms,
            content_hash,
            tzdb: _,
        } = self;
        *capsule != other.capsule
            || *post != other.post
            || *account != other.account
            || *platform != other.platform
            || *language != other.language
            || *series != other.series
            || *due_ms != other.due_ms
            || *local != other.local
            || *timezone != other.timezone
            || *not_after_ms != other.not_after_ms
            || *content_hash != other.content_hash
    }
}

/// Where an entry was due before a sync moved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MovedFrom {
    pub due_ms: i64,
    pub local: String,
    pub tzdb: String,
}

/// The record of `w`'s entry moving from `from` (written by sync).
pub(crate) fn make_move(
    campaign: &str,
    w: &Wanted<'_>,
    from: &MovedFrom,
    now: Timestamp,
) -> super::types::Move {
    let o = w.occurrence;
    super::types::Move {
        id: o.id.clone(),
        campaign: campaign.to_string(),
        post: o.post.clone(),
        account: o.account.clone(),
        language: o.language.clone(),
        timezone: o.timezone.clone(),
        from_due: Timestamp::from_millisecond(from.due_ms).unwrap_or(o.due),
        from_local: from.local.clone(),
        to_due: o.due,
        to_local: o.local.clone(),
        reason: move_reason(from, &o.local, &o.tzdb),
        at: now,
    }
}

/// Why a due time moved: new zone data (the wall-clock time is the same,
/// its offset is not), the file, or both.
pub(crate) fn move_reason(from: &MovedFrom, to_local: &str, to_tzdb: &str) -> String {
    let wall = |l: &str| l.get(..19).map(str::to_string).unwrap_or_default();
    let tzdata = (from.tzdb != to_tzdb).then(|| {
        let old = if from.tzdb.is_empty() {
            "(not recorded)"
        } else {
            from.tzdb.as_str()
        };
        format!("tzdata {old} → {to_tzdb}")
    });
    match (wall(&from.local) == wall(to_local), tzdata) {
        (true, Some(t)) => t,
        (false, Some(t)) => format!("campaign file edited; {t}"),
        (_, None) => "campaign file edited".to_string(),
    }
}

/// An entry already in the queue for this campaign, as sync sees it.
#[derive(Debug, Clone)]
pub(crate) struct Existing {
    pub id: String,
    /// `None` when the stored state is unreadable: the entry is left alone.
    pub state: Option<EntryState>,
    pub cause: Option<String>,
    pub fingerprint: Fingerprint,
}

/// An occurrence ready to be written: its fingerprint and serialized content.
#[derive(Debug, Clone)]
pub(crate) struct Wanted<'a> {
    pub occurrence: &'a Occurrence,
    pub fingerprint: Fingerprint,
    pub content_json: String,
}

/// One write that sync will make, each guarded by the state it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// A new entry (index into the wanted list).
    Insert {
        wanted: usize,
        state: EntryState,
        cause: Option<&'static str>,
    },
    /// Rewrites the planned fields of an existing entry.
    Update {
        wanted: usize,
        expected: EntryState,
        state: EntryState,
        cause: Option<String>,
        last_error: Option<String>,
        /// Whether `run_at` goes back to `due`.
        reset_run_at: bool,
        /// Counted as `added` (a sync-cancelled entry that came back) or `updated`.
        revived: bool,
        /// Set when the due time changes: where it was.
        moved: Option<MovedFrom>,
    },
    /// No longer planned.
    Cancel { id: String, expected: EntryState },
}

/// The serialized content and its hash (SHA-256 of the JSON, hex).
pub(crate) fn content_json(id: &str, content: &Content) -> Result<(String, String), StoreError> {
    let json = serde_json::to_string(content).map_err(|e| StoreError::Unstorable {
        id: id.to_string(),
        why: format!("its content does not serialize: {e}"),
    })?;
    let hash = hex::encode(Sha256::digest(json.as_bytes()));
    Ok((json, hash))
}

/// Prepares the occurrences for [`plan_sync`].
pub(crate) fn wanted(occurrences: &[Occurrence]) -> Result<Vec<Wanted<'_>>, StoreError> {
    occurrences
        .iter()
        .map(|o| {
            let (content_json, content_hash) = content_json(&o.id, &o.content)?;
            Ok(Wanted {
                occurrence: o,
                fingerprint: Fingerprint {
                    capsule: o.capsule.clone(),
                    post: o.post.clone(),
                    account: o.account.clone(),
                    platform: o.platform.as_str().to_string(),
                    language: o.language.clone(),
                    series: o.series.clone(),
                    due_ms: o.due.as_millisecond(),
                    local: o.local.clone(),
                    timezone: o.timezone.clone(),
                    not_after_ms: o.not_after.as_millisecond(),
                    content_hash,
                    tzdb: o.tzdb.clone(),
                },
                content_json,
            })
        })
        .collect()
}

/// Decides the writes of a sync and the report's `unchanged`/`frozen` counts
/// (`added`, `updated`, `cancelled` are counted when the guarded writes succeed).
pub(crate) fn plan_sync(existing: &[Existing], wanted: &[Wanted<'_>]) -> (Vec<Action>, SyncReport) {
    use EntryState::*;
    let mut report = SyncReport::default();
    let mut actions = Vec::new();
    let by_id: HashMap<&str, &Existing> = existing.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut seen: HashSet<&str> = HashSet::new();

    for (i, w) in wanted.iter().enumerate() {
        let o = w.occurrence;
        if !seen.insert(o.id.as_str()) {
            // The same id twice in one plan: the first one wins (the plan
            // guarantees unique ids; this only keeps sync total).
            continue;
        }
        let Some(ex) = by_id.get(o.id.as_str()) else {
            actions.push(if o.paused {
                Action::Insert {
                    wanted: i,
                    state: Held,
                    cause: Some(cause::FILE_PAUSE),
                }
            } else {
                Action::Insert {
                    wanted: i,
                    state: Scheduled,
                    cause: None,
                }
            });
            continue;
        };
        let changed = ex.fingerprint.plan_differs(&w.fingerprint);
        let restamp = ex.fingerprint.tzdb != w.fingerprint.tzdb;
        let moved = (ex.fingerprint.due_ms != w.fingerprint.due_ms).then(|| MovedFrom {
            due_ms: ex.fingerprint.due_ms,
            local: ex.fingerprint.local.clone(),
            tzdb: ex.fingerprint.tzdb.clone(),
        });
        let Some(state) = ex.state else {
            // Unreadable state: never guess; the operator sees it as corrupt.
            report.frozen += 1;
            continue;
        };
        let held_by_file = state == Held && ex.cause.as_deref() == Some(cause::FILE_PAUSE);
        let sync_cancelled = state == Cancelled && ex.cause.as_deref() == Some(cause::SYNC);
        match state {
            Scheduled | Retrying | Held if o.paused && state != Held => {
                actions.push(Action::Update {
                    wanted: i,
                    expected: state,
                    state: Held,
                    cause: Some(cause::FILE_PAUSE.into()),
                    last_error: Some(PAUSED_IN_FILE.into()),
                    reset_run_at: false,
                    revived: false,
                    moved,
                });
            }
            Held if held_by_file && !o.paused => actions.push(Action::Update {
                wanted: i,
                expected: Held,
                state: Scheduled,
                cause: None,
                last_error: None,
                reset_run_at: true,
                revived: false,
                moved,
            }),
            Scheduled | Retrying | Held if changed || restamp => actions.push(Action::Update {
                wanted: i,
                expected: state,
                state: if state == Held { Held } else { Scheduled },
                cause: ex.cause.clone(),
                last_error: None,
                // Also for a held entry: `run_at` decides when it goes once released.
                reset_run_at: true,
                revived: false,
                moved,
            }),
            Cancelled if sync_cancelled => actions.push(Action::Update {
                wanted: i,
                expected: Cancelled,
                state: if o.paused { Held } else { Scheduled },
                cause: o.paused.then(|| cause::FILE_PAUSE.to_string()),
                last_error: o.paused.then(|| PAUSED_IN_FILE.to_string()),
                reset_run_at: true,
                revived: true,
                // Back from cancelled: nothing of it was waiting to move.
                moved: None,
            }),
            _ if changed => report.frozen += 1,
            _ => report.unchanged += 1,
        }
    }

    for ex in existing {
        if seen.contains(ex.id.as_str()) {
            continue;
        }
        match ex.state {
            Some(s @ (Scheduled | Retrying | Held)) => actions.push(Action::Cancel {
                id: ex.id.clone(),
                expected: s,
            }),
            Some(Claimed | Publishing) | None => report.frozen += 1,
            // Already finished: nothing to cancel.
            Some(Published | Failed | Cancelled | Expired) => {}
        }
    }
    (actions, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlatformKind;
    use jiff::SignedDuration;

    fn occ(id: &str, text: &str) -> Occurrence {
        Occurrence {
            id: id.into(),
            key: format!("c/{id}"),
            campaign: "c".into(),
            capsule: None,
            post: "p".into(),
            account: "a".into(),
            platform: PlatformKind::Mastodon,
            language: "fr".into(),
            due: Timestamp::from_second(1_000).expect("valid"),
            local: "x".into(),
            timezone: "UTC".into(),
            tzdb: "2026f".into(),
            not_after: Timestamp::from_second(2_000).expect("valid"),
            series: None,
            paused: false,
            source: "c.toml".into(),
            content: Content {
                text: text.into(),
                ..Content::default()
            },
        }
    }

    fn existing(w: &Wanted<'_>, state: EntryState, cause: Option<&str>) -> Existing {
        Existing {
            id: w.occurrence.id.clone(),
            state: Some(state),
            cause: cause.map(str::to_string),
            fingerprint: w.fingerprint.clone(),
        }
    }

    #[test]
    fn new_occurrences_are_inserted_and_paused_ones_held() {
        let mut b = occ("b", "B");
        b.paused = true;
        let occs = [occ("a", "A"), b];
        let w = wanted(&occs).expect("serializable");
        let (actions, report) = plan_sync(&[], &w);
        assert_eq!(report, SyncReport::default());
        assert_eq!(
            actions,
            vec![
                Action::Insert {
                    wanted: 0,
                    state: EntryState::Scheduled,
                    cause: None
                },
                Action::Insert {
                    wanted: 1,
                    state: EntryState::Held,
                    cause: Some(cause::FILE_PAUSE)
                },
            ]
        );
    }

    #[test]
    fn edits_reach_waiting_entries_and_freeze_on_finished_ones() {
        let old = [occ("s", "old"), occ("p", "old"), occ("f", "old")];
        let old_w = wanted(&old).expect("serializable");
        let ex = vec![
            existing(&old_w[0], EntryState::Retrying, None),
            existing(&old_w[1], EntryState::Published, None),
            existing(&old_w[2], EntryState::Publishing, None),
        ];
        let new = [occ("s", "new"), occ("p", "new"), occ("f", "old")];
        let new_w = wanted(&new).expect("serializable");
        let (actions, report) = plan_sync(&ex, &new_w);
        assert_eq!(report.frozen, 1, "the published edit is frozen");
        assert_eq!(report.unchanged, 1, "the unchanged in-flight one");
        assert!(matches!(
            &actions[..],
            [Action::Update {
                wanted: 0,
                expected: EntryState::Retrying,
                state: EntryState::Scheduled,
                reset_run_at: true,
                ..
            }]
        ));
    }

    #[test]
    fn new_zone_data_moves_waiting_entries_and_never_published_ones() {
        // Planned with 2025b: 10:00 at UTC+01:00.
        let mut old = [occ("w", "T"), occ("p", "T"), occ("same", "T")];
        for o in &mut old {
            o.tzdb = "2025b".into();
            o.local = "2026-12-18T10:00:00+01:00".into();
        }
        old[2].local = "2026-12-18T10:00:00+00:00".into();
        let old_w = wanted(&old).expect("serializable");
        let ex = vec![
            existing(&old_w[0], EntryState::Scheduled, None),
            existing(&old_w[1], EntryState::Published, None),
            existing(&old_w[2], EntryState::Published, None),
        ];
        // Planned again with 2026f: 10:00 at UTC+00:00, an hour later.
        let mut new = old.clone();
        for o in &mut new {
            o.tzdb = "2026f".into();
            o.due = o
                .due
                .saturating_add(SignedDuration::from_hours(1))
                .expect("in range");
            o.local = "2026-12-18T10:00:00+00:00".into();
        }
        // The third was not moved by the new data: only its release differs.
        new[2].due = old[2].due;
        let new_w = wanted(&new).expect("serializable");
        let (actions, report) = plan_sync(&ex, &new_w);
        let Action::Update {
            wanted: 0,
            moved: Some(from),
            reset_run_at: true,
            ..
        } = &actions[0]
        else {
            panic!("{actions:?}")
        };
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert_eq!(from.tzdb, "2025b");
        assert_eq!(
            move_reason(from, &new[0].local, &new[0].tzdb),
            "tzdata 2025b → 2026f"
        );
        // The published one that moved is frozen; the one whose instant is
        // the same is simply unchanged.
        assert_eq!(report.frozen, 1);
        assert_eq!(report.unchanged, 1);
    }

    #[test]
    fn move_reasons_tell_file_edits_from_new_zone_data() {
        let from = MovedFrom {
            due_ms: 0,
            local: "2026-12-18T10:00:00+01:00".into(),
            tzdb: String::new(),
        };
        assert_eq!(
            move_reason(&from, "2026-12-18T10:00:00+00:00", "2026f"),
            "tzdata (not recorded) → 2026f"
        );
        assert_eq!(
            move_reason(&from, "2026-12-18T11:00:00+00:00", "2026f"),
            "campaign file edited; tzdata (not recorded) → 2026f"
        );
        let from = MovedFrom {
            tzdb: "2026f".into(),
            ..from
        };
        assert_eq!(
            move_reason(&from, "2026-12-18T11:00:00+01:00", "2026f"),
            "campaign file edited"
        );
    }

    #[test]
    fn removed_entries_are_cancelled_unless_in_flight_or_finished() {
        let old = [occ("a", "A"), occ("b", "B"), occ("c", "C"), occ("d", "D")];
        let w = wanted(&old).expect("serializable");
        let ex = vec![
            existing(&w[0], EntryState::Scheduled, None),
            existing(&w[1], EntryState::Claimed, None),
            existing(&w[2], EntryState::Published, None),
            existing(&w[3], EntryState::Held, Some(cause::OUTCOME)),
        ];
        let (actions, report) = plan_sync(&ex, &[]);
        assert_eq!(report.frozen, 1);
        assert_eq!(
            actions,
            vec![
                Action::Cancel {
                    id: "a".into(),
                    expected: EntryState::Scheduled
                },
                Action::Cancel {
                    id: "d".into(),
                    expected: EntryState::Held
                },
            ]
        );
    }

    #[test]
    fn a_post_removed_then_restored_comes_back_but_an_operator_cancel_stays() {
        let occs = [occ("a", "A"), occ("b", "B")];
        let w = wanted(&occs).expect("serializable");
        let ex = vec![
            existing(&w[0], EntryState::Cancelled, Some(cause::SYNC)),
            existing(&w[1], EntryState::Cancelled, Some(cause::OPERATOR)),
        ];
        let (actions, report) = plan_sync(&ex, &w);
        assert_eq!(report.unchanged, 1);
        assert!(matches!(
            &actions[..],
            [Action::Update {
                wanted: 0,
                state: EntryState::Scheduled,
                revived: true,
                ..
            }]
        ));
    }

    #[test]
    fn the_file_pause_flag_holds_and_releases() {
        let mut paused = occ("a", "A");
        paused.paused = true;
        let w = wanted(std::slice::from_ref(&paused)).expect("serializable");
        let (actions, _) = plan_sync(&[existing(&w[0], EntryState::Scheduled, None)], &w);
        assert!(matches!(
            &actions[..],
            [Action::Update {
                state: EntryState::Held,
                ..
            }]
        ));
        let unpaused = [occ("a", "A")];
        let w2 = wanted(&unpaused).expect("serializable");
        let (actions, _) = plan_sync(
            &[existing(&w2[0], EntryState::Held, Some(cause::FILE_PAUSE))],
            &w2,
        );
        assert!(matches!(
            &actions[..],
            [Action::Update {
                state: EntryState::Scheduled,
                reset_run_at: true,
                ..
            }]
        ));
        // Held for another reason: the flag going away does not release it.
        let (actions, report) = plan_sync(
            &[existing(&w2[0], EntryState::Held, Some(cause::OUTCOME))],
            &w2,
        );
        assert!(actions.is_empty());
        assert_eq!(report.unchanged, 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_state() -> impl Strategy<Value = Option<EntryState>> {
            prop_oneof![
                Just(None),
                proptest::sample::select(EntryState::ALL.to_vec()).prop_map(Some)
            ]
        }

        fn any_cause() -> impl Strategy<Value = Option<String>> {
            proptest::option::of(
                proptest::sample::select(vec![
                    cause::SYNC,
                    cause::OPERATOR,
                    cause::FILE_PAUSE,
                    cause::ACCOUNT,
                    cause::OUTCOME,
                ])
                .prop_map(str::to_string),
            )
        }

        proptest! {
            /// Whatever the queue holds and the file says, sync never writes
            /// to a published, in-flight, failed, expired or unreadable entry,
            /// never revives an operator's cancel, and accounts for every
            /// planned occurrence exactly once.
            #[test]
            fn sync_never_touches_what_went_out_or_is_in_flight(
                rows in proptest::collection::vec((0u8..12, any_state(), any_cause(), any::<bool>()), 0..12),
                planned in proptest::collection::vec((0u8..12, any::<bool>(), any::<bool>()), 0..12),
            ) {
                let occs: Vec<Occurrence> = planned
                    .iter()
                    .map(|(n, edited, paused)| {
                        let mut o = occ(&format!("o{n}"), if *edited { "new" } else { "old" });
                        o.paused = *paused;
                        o
                    })
                    .collect();
                let w = wanted(&occs).expect("serializable");
                let old = occ("x", "old");
                let old_w = wanted(std::slice::from_ref(&old)).expect("serializable");
                let mut seen = HashSet::new();
                let existing: Vec<Existing> = rows
                    .iter()
                    .filter(|(n, ..)| seen.insert(*n))
                    .map(|(n, state, cause, _)| Existing {
                        id: format!("o{n}"),
                        state: *state,
                        cause: cause.clone(),
                        fingerprint: old_w[0].fingerprint.clone(),
                    })
                    .collect();
                let (actions, report) = plan_sync(&existing, &w);
                let state_of = |id: &str| existing.iter().find(|e| e.id == id).map(|e| (e.state, e.cause.clone()));
                let mut written = HashSet::new();
                for a in &actions {
                    let (id, expected) = match a {
                        Action::Insert { wanted, .. } => {
                            let id = &w[*wanted].occurrence.id;
                            prop_assert!(state_of(id).is_none(), "insert over an existing {id}");
                            (id.clone(), None)
                        }
                        Action::Update { wanted, expected, .. } => (w[*wanted].occurrence.id.clone(), Some(*expected)),
                        Action::Cancel { id, expected } => (id.clone(), Some(*expected)),
                    };
                    prop_assert!(written.insert(id.clone()), "two writes to {id}");
                    if let Some(expected) = expected {
                        let (state, cause) = state_of(&id).expect("exists");
                        prop_assert_eq!(state, Some(expected));
                        prop_assert!(!expected.is_in_flight(), "{id} is in flight");
                        prop_assert!(
                            !matches!(expected, EntryState::Published | EntryState::Failed | EntryState::Expired),
                            "{id} is finished"
                        );
                        if expected == EntryState::Cancelled {
                            prop_assert_eq!(cause.as_deref(), Some(cause::SYNC));
                        }
                    }
                }
                let distinct_planned: HashSet<&str> = occs.iter().map(|o| o.id.as_str()).collect();
                let planned_writes = actions.iter().filter(|a| !matches!(a, Action::Cancel { .. })).count();
                let planned_frozen_or_unchanged = distinct_planned.len() - planned_writes;
                let removed_in_flight = existing
                    .iter()
                    .filter(|e| !distinct_planned.contains(e.id.as_str()))
                    .filter(|e| e.state.is_none_or(EntryState::is_in_flight))
                    .count();
                prop_assert_eq!(
                    report.unchanged + report.frozen,
                    planned_frozen_or_unchanged + removed_in_flight
                );
            }
        }
    }
}
