//! The local outbox: where accounts without credentials publish.
//!
//! `<data_dir>/outbox.jsonl` holds one JSON object per publication (its
//! occurrence id, campaign, capsule, post, account, platform, language, due
//! time local and UTC, when it was published, the text and the media),
//! appended and flushed to disk (`fsync`) before the publication counts.
//!
//! The outbox is [`Idempotency::Keyed`] on the occurrence id: before
//! appending, it looks for the id in the file, so that a crash between the
//! append and the queue's `finish` never writes a publication twice.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Checkpoint, Idempotency, Outcome, Platform, PublishJob};
use crate::config::PlatformKind;
use crate::store::Entry;
use crate::time::Clock;

/// The outbox file's name in the data folder.
pub const FILE_NAME: &str = "outbox.jsonl";

/// One line of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub occurrence: String,
    pub campaign: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capsule: Option<String>,
    pub post: String,
    pub account: String,
    pub platform: PlatformKind,
    pub language: String,
    /// Due time, local to the campaign's zone (RFC 3339 with offset).
    pub due_local: String,
    /// Due time, UTC.
    pub due_utc: Timestamp,
    pub timezone: String,
    pub published_at: Timestamp,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Media files (the paths as written in the campaign file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_comment: Option<String>,
}

/// The outbox file, shared by every outbox account of one daemon.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    /// Occurrence ids seen in the file up to `read_to` bytes.
    seen: tokio::sync::Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    ids: HashSet<String>,
    read_to: u64,
}

/// Why the outbox could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the outbox {path}: {source}")]
pub struct OutboxError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

impl Outbox {
    /// The outbox of a data folder (`<data_dir>/outbox.jsonl`).
    pub fn in_dir(data_dir: &Path) -> Arc<Outbox> {
        Outbox::at(data_dir.join(FILE_NAME))
    }

    /// The outbox at this file.
    pub fn at(path: PathBuf) -> Arc<Outbox> {
        Arc::new(Outbox {
            path,
            seen: tokio::sync::Mutex::new(Seen::default()),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record for an entry published at `at`.
    pub fn record(entry: &Entry, at: Timestamp) -> OutboxRecord {
        OutboxRecord {
            occurrence: entry.id.clone(),
            campaign: entry.campaign.clone(),
            capsule: entry.capsule.clone(),
            post: entry.post.clone(),
            account: entry.account.clone(),
            platform: entry.platform,
            language: entry.language.clone(),
            due_local: entry.local.clone(),
            due_utc: entry.due,
            timezone: entry.timezone.clone(),
            published_at: at,
            text: entry.content.text.clone(),
            title: entry.content.title.clone(),
            media: entry.content.media.iter().map(|m| m.file.clone()).collect(),
            thread: entry.content.thread.clone(),
            first_comment: entry.content.first_comment.clone(),
        }
    }

    /// Appends `record` unless its occurrence is already in the file.
    /// Returns `true` when it was appended, `false` when it was there.
    pub async fn append(&self, record: &OutboxRecord) -> Result<bool, OutboxError> {
        let mut seen = self.seen.lock().await;
        let path = self.path.clone();
        let line = serde_json::to_string(record).map_err(|e| OutboxError {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        let id = record.occurrence.clone();
        let state = std::mem::take(&mut *seen);
        let (state, result) = tokio::task::spawn_blocking(move || {
            let mut state = state;
            let r = append_blocking(&path, &mut state, &id, &line);
            (state, r)
        })
        .await
        .map_err(|e| OutboxError {
            path: self.path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        *seen = state;
        result.map_err(|source| OutboxError {
            path: self.path.display().to_string(),
            source,
        })
    }

    /// Every record in the file (unreadable lines, e.g. one torn by a
    /// crash, are skipped).
    pub fn read_all(path: &Path) -> std::io::Result<Vec<OutboxRecord>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

/// Reads what other writers (or an earlier run) appended since `state.read_to`,
/// then appends `line` if `id` is not in the file, and syncs it to disk.
fn append_blocking(path: &Path, state: &mut Seen, id: &str, line: &str) -> std::io::Result<bool> {
    // The data folder 0700 if it is created here, the file 0600: it holds
    // texts before they are public. An existing file more open is tightened.
    if let Some(parent) = path.parent() {
        crate::store::private::create_dir(parent)?;
    }
    crate::store::private::private_file(path)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let len = file.metadata()?.len();
    if len < state.read_to {
        // The file was truncated or replaced: read it all again.
        *state = Seen::default();
    }
    let mut ends_with_newline = true;
    if len > state.read_to {
        file.seek(SeekFrom::Start(state.read_to))?;
        let mut buf = Vec::with_capacity((len - state.read_to) as usize);
        (&mut file)
            .take(len - state.read_to)
            .read_to_end(&mut buf)?;
        // Only complete lines count; a torn last line is read again next time.
        let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for l in buf[..complete].split(|b| *b == b'\n') {
            if let Some(found) = occurrence_of(l) {
                state.ids.insert(found);
            }
        }
        // A torn last line (a power loss mid-write) is not a publication:
        // it is closed and the occurrence written again in full.
        if complete < buf.len() {
            ends_with_newline = false;
        }
        state.read_to += complete as u64;
    }
    if state.ids.contains(id) {
        return Ok(false);
    }
    let mut out = String::with_capacity(line.len() + 2);
    if !ends_with_newline {
        // Close a torn line so that ours stands on its own.
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    file.write_all(out.as_bytes())?;
    file.sync_data()?;
    state.read_to = len + out.len() as u64;
    state.ids.insert(id.to_string());
    Ok(true)
}

/// The first `max` characters of `text` on one line.
fn excerpt(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// The occurrence id of a complete outbox line.
fn occurrence_of(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        occurrence: String,
    }
    serde_json::from_slice::<Id>(line)
        .ok()
        .map(|r| r.occurrence)
}

/// The outbox as a [`Platform`] for one queue entry (the outbox writes what
/// the entry says: campaign, capsule, post, local time, which a
/// [`PublishJob`] alone does not carry).
pub struct OutboxPlatform {
    outbox: Arc<Outbox>,
    entry: Entry,
    clock: Arc<dyn Clock>,
}

impl OutboxPlatform {
    /// The outbox publisher of `entry`.
    pub fn new(outbox: Arc<Outbox>, entry: Entry, clock: Arc<dyn Clock>) -> OutboxPlatform {
        OutboxPlatform {
            outbox,
            entry,
            clock,
        }
    }

    /// The remote id an outbox publication gets (the same at every attempt).
    pub fn remote_id(occurrence: &str) -> String {
        format!("outbox:{occurrence}")
    }
}

#[async_trait]
impl Platform for OutboxPlatform {
    fn kind(&self) -> PlatformKind {
        self.entry.platform
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Keyed
    }

    async fn publish(&self, job: &PublishJob, _: &dyn Checkpoint) -> Outcome {
        let mut entry = self.entry.clone();
        entry.content = job.content.clone();
        let record = Outbox::record(&entry, self.clock.now());
        let remote_id = OutboxPlatform::remote_id(&job.occurrence_id);
        let url = Some(format!(
            "file://{}#{}",
            self.outbox.path().display(),
            job.occurrence_id
        ));
        match self.outbox.append(&record).await {
            Ok(appended) => {
                if appended {
                    tracing::info!(
                        outbox = %self.outbox.path().display(),
                        text = %excerpt(&record.text, 80),
                        "written to the outbox"
                    );
                } else {
                    tracing::info!("already in the outbox (an earlier attempt wrote it)");
                }
                // One step: the worker records it at once (see `Checkpoint`).
                Outcome::Published { remote_id, url }
            }
            Err(e) => Outcome::Retry {
                at: None,
                reason: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> OutboxRecord {
        OutboxRecord {
            occurrence: id.into(),
            campaign: "c".into(),
            capsule: None,
            post: "p".into(),
            account: "a".into(),
            platform: PlatformKind::Facebook,
            language: "fr".into(),
            due_local: "2027-01-01T10:00:00+01:00".into(),
            due_utc: "2027-01-01T09:00:00Z".parse().unwrap(),
            timezone: "Africa/Casablanca".into(),
            published_at: "2027-01-01T09:00:01Z".parse().unwrap(),
            text: "Bonjour \"à tous\"\nligne".into(),
            title: None,
            media: vec!["media/x.jpg".into()],
            thread: vec![],
            first_comment: None,
        }
    }

    #[tokio::test]
    async fn appends_once_per_occurrence_even_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(FILE_NAME);
        let outbox = Outbox::at(path.clone());
        assert!(outbox.append(&record("o-1")).await.unwrap());
        assert!(!outbox.append(&record("o-1")).await.unwrap());
        assert!(outbox.append(&record("o-2")).await.unwrap());
        // A new process reads the file again.
        let again = Outbox::at(path.clone());
        assert!(!again.append(&record("o-2")).await.unwrap());
        let all = Outbox::read_all(&path).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], record("o-1"));
    }

    #[tokio::test]
    async fn a_torn_line_is_closed_and_written_again_in_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let full = serde_json::to_string(&record("o-1")).unwrap();
        let torn = serde_json::to_string(&record("o-2")).unwrap();
        std::fs::write(&path, format!("{full}\n{}", &torn[..40])).unwrap();
        let outbox = Outbox::at(path.clone());
        assert!(outbox.append(&record("o-2")).await.unwrap());
        assert!(!outbox.append(&record("o-1")).await.unwrap());
        let ids: Vec<_> = Outbox::read_all(&path)
            .unwrap()
            .into_iter()
            .map(|r| r.occurrence)
            .collect();
        assert_eq!(ids, ["o-1", "o-2"]);
    }
}
