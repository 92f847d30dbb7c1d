//! Turning database rows into [`Entry`] and [`Attempt`] values without ever
//! panicking.
//!
//! The database is input like any other (promise 5): a hand-edited state, a
//! truncated JSON document or an absurd instant becomes
//! [`StoreError::Corrupt`] for that row, naming the entry, so that one bad row
//! never hides the others (see [`split_corrupt`]).

use jiff::Timestamp;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::types::{Attempt, Entry, EntryState, StoreError};
use crate::config::PlatformKind;
use crate::plan::Content;
use crate::platforms::Progress;

/// The raw columns of an `entries` row, before any interpretation.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawEntry {
    pub id: String,
    pub campaign: String,
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
    pub run_at_ms: i64,
    pub state: String,
    pub attempts: i64,
    pub content: String,
    pub progress: String,
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub published_at_ms: Option<i64>,
    pub last_error: Option<String>,
    pub updated_ms: i64,
}

/// Reads one column, turning a type mismatch into a readable reason.
fn col<'r, R, T>(row: &'r R, name: &'static str) -> Result<T, String>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get::<T, _>(name)
        .map_err(|e| format!("column {name}: {e}"))
}

/// Reads the raw columns of an `entries` row (selected with `*`).
/// The error carries the row's id when it could be read, else `?`.
pub(crate) fn raw_entry<'r, R>(row: &'r R) -> Result<RawEntry, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = col(row, "id").map_err(|why| StoreError::Corrupt {
        id: "?".into(),
        why,
    })?;
    let read = || -> Result<RawEntry, String> {
        Ok(RawEntry {
            id: id.clone(),
            campaign: col(row, "campaign")?,
            capsule: col(row, "capsule")?,
            post: col(row, "post")?,
            account: col(row, "account")?,
            platform: col(row, "platform")?,
            language: col(row, "language")?,
            series: col(row, "series")?,
            due_ms: col(row, "due_ms")?,
            local: col(row, "local")?,
            timezone: col(row, "timezone")?,
            not_after_ms: col(row, "not_after_ms")?,
            run_at_ms: col(row, "run_at_ms")?,
            state: col(row, "state")?,
            attempts: col(row, "attempts")?,
            content: col(row, "content")?,
            progress: col(row, "progress")?,
            lease_owner: col(row, "lease_owner")?,
            lease_until_ms: col(row, "lease_until_ms")?,
            remote_id: col(row, "remote_id")?,
            url: col(row, "url")?,
            published_at_ms: col(row, "published_at_ms")?,
            last_error: col(row, "last_error")?,
            updated_ms: col(row, "updated_ms")?,
        })
    };
    read().map_err(|why| StoreError::Corrupt {
        id: id.clone(),
        why,
    })
}

/// Decodes an `entries` row into an [`Entry`].
pub(crate) fn entry<'r, R>(row: &'r R) -> Result<Entry, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    raw_entry(row)?.decode()
}

/// Decodes every row, keeping the good entries and the errors of the bad ones.
pub(crate) fn split_corrupt<'r, R>(rows: &'r [R]) -> (Vec<Entry>, Vec<StoreError>)
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut good = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for row in rows {
        match entry(row) {
            Ok(e) => good.push(e),
            Err(e) => bad.push(e),
        }
    }
    (good, bad)
}

/// An instant from the database; out of jiff's range is corruption, not a clamp.
pub(crate) fn instant(ms: i64, column: &str) -> Result<Timestamp, String> {
    Timestamp::from_millisecond(ms).map_err(|_| format!("{column} = {ms} is not a valid instant"))
}

fn opt_instant(ms: Option<i64>, column: &str) -> Result<Option<Timestamp>, String> {
    ms.map(|ms| instant(ms, column)).transpose()
}

impl RawEntry {
    /// Interprets the raw columns; any nonsense is [`StoreError::Corrupt`].
    pub(crate) fn decode(self) -> Result<Entry, StoreError> {
        let id = self.id.clone();
        self.decode_inner()
            .map_err(|why| StoreError::Corrupt { id, why })
    }

    fn decode_inner(self) -> Result<Entry, String> {
        let state = EntryState::parse(&self.state)
            .ok_or_else(|| format!("unknown state `{}`", self.state))?;
        let platform = PlatformKind::from_name(&self.platform)
            .ok_or_else(|| format!("unknown platform `{}`", self.platform))?;
        let attempts = u32::try_from(self.attempts)
            .map_err(|_| format!("attempts = {} is out of range", self.attempts))?;
        let content: Content = serde_json::from_str(&self.content)
            .map_err(|e| format!("content is not valid JSON for a post: {e}"))?;
        let progress: Progress = serde_json::from_str(&self.progress)
            .map_err(|e| format!("progress is not valid JSON: {e}"))?;
        Ok(Entry {
            id: self.id,
            campaign: self.campaign,
            capsule: self.capsule,
            post: self.post,
            account: self.account,
            platform,
            language: self.language,
            series: self.series,
            due: instant(self.due_ms, "due_ms")?,
            local: self.local,
            timezone: self.timezone,
            not_after: instant(self.not_after_ms, "not_after_ms")?,
            run_at: instant(self.run_at_ms, "run_at_ms")?,
            state,
            attempts,
            content,
            progress,
            lease_owner: self.lease_owner,
            lease_until: opt_instant(self.lease_until_ms, "lease_until_ms")?,
            remote_id: self.remote_id,
            url: self.url,
            published_at: opt_instant(self.published_at_ms, "published_at_ms")?,
            last_error: self.last_error,
            updated_at: instant(self.updated_ms, "updated_ms")?,
        })
    }
}

/// Decodes an `attempts` row.
pub(crate) fn attempt<'r, R>(row: &'r R) -> Result<Attempt, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let entry_id: String = col(row, "entry_id").map_err(|why| StoreError::Corrupt {
        id: "?".into(),
        why,
    })?;
    let read = || -> Result<Attempt, String> {
        let number: i64 = col(row, "number")?;
        Ok(Attempt {
            entry_id: entry_id.clone(),
            number: u32::try_from(number)
                .map_err(|_| format!("attempt number {number} is out of range"))?,
            owner: col(row, "owner")?,
            started_at: instant(col(row, "started_ms")?, "started_ms")?,
            finished_at: opt_instant(col(row, "finished_ms")?, "finished_ms")?,
            outcome: col(row, "outcome")?,
            detail: col(row, "detail")?,
        })
    };
    read().map_err(|why| StoreError::Corrupt {
        id: entry_id.clone(),
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RawEntry {
        RawEntry {
            id: "o-1".into(),
            campaign: "amal".into(),
            post: "p".into(),
            account: "acc".into(),
            platform: "mastodon".into(),
            language: "fr".into(),
            due_ms: 1_700_000_000_000,
            local: "2023-11-14T23:13:20+01:00".into(),
            timezone: "Africa/Casablanca".into(),
            not_after_ms: 1_700_000_600_000,
            run_at_ms: 1_700_000_000_000,
            state: "scheduled".into(),
            content: r#"{"text":"Bonjour"}"#.into(),
            progress: "{}".into(),
            updated_ms: 1_700_000_000_000,
            ..RawEntry::default()
        }
    }

    #[test]
    fn a_good_row_decodes() {
        let e = good().decode().expect("good row");
        assert_eq!(e.state, EntryState::Scheduled);
        assert_eq!(e.content.text, "Bonjour");
        assert_eq!(e.platform, PlatformKind::Mastodon);
    }

    fn why(raw: RawEntry) -> String {
        match raw.decode() {
            Err(StoreError::Corrupt { id, why }) => {
                assert_eq!(id, "o-1");
                why
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn nonsense_is_corrupt_not_a_panic() {
        assert!(
            why(RawEntry {
                state: "flying".into(),
                ..good()
            })
            .contains("flying")
        );
        assert!(
            why(RawEntry {
                platform: "myspace".into(),
                ..good()
            })
            .contains("myspace")
        );
        assert!(
            why(RawEntry {
                content: "{".into(),
                ..good()
            })
            .contains("content")
        );
        assert!(
            why(RawEntry {
                content: "[1]".into(),
                ..good()
            })
            .contains("content")
        );
        assert!(
            why(RawEntry {
                progress: "nope".into(),
                ..good()
            })
            .contains("progress")
        );
        assert!(
            why(RawEntry {
                attempts: -1,
                ..good()
            })
            .contains("attempts")
        );
        assert!(
            why(RawEntry {
                due_ms: i64::MAX,
                ..good()
            })
            .contains("due_ms")
        );
        assert!(
            why(RawEntry {
                lease_until_ms: Some(i64::MIN),
                ..good()
            })
            .contains("lease_until_ms")
        );
    }
}
