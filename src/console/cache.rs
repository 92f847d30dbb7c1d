//! The served calendar's plans, kept while nothing they depend on changes.
//!
//! Planning a folder of 1,000 campaign files takes seconds; a page of the
//! plan renders in milliseconds. The served console therefore keeps the last
//! few plans it made, each under a [`Key`]: the size and modification time
//! of every file beneath the campaign folder (media included, since checking
//! reads them) and of `berrah.toml`, the time-zone data in use, the minute
//! of "now" (what is past its `not_after` moves with it) and the bounds. A
//! change to any of them plans again; otherwise a page costs its rendering.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use jiff::Timestamp;

use super::export::Planned;

/// How many plans are kept (a month, the one beside it, a post's whole plan).
const SLOTS: usize = 4;

/// At most this many files are looked at for the key; beyond, the plan is
/// made again at every request (a folder that large is not a campaign folder).
const MAX_FILES: usize = 200_000;

/// What a plan depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    files: Vec<(PathBuf, u64, Option<SystemTime>)>,
    tzdb: usize,
    minute: i64,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
}

impl Key {
    /// The key of a plan of `campaigns_dir` (with `config`, the time-zone
    /// data identified by `tzdb`) at `now`, within the bounds; `None` when
    /// the folder cannot be listed whole (then nothing is cached).
    pub fn of(
        campaigns_dir: &Path,
        config: Option<&Path>,
        tzdb: usize,
        now: Timestamp,
        from: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Option<Key> {
        let mut files = Vec::new();
        walk(campaigns_dir, &mut files)?;
        if let Some(c) = config {
            files.push(stat(c));
        }
        files.sort();
        Some(Key {
            files,
            tzdb,
            minute: now.as_second().div_euclid(60),
            from,
            until,
        })
    }
}

fn stat(path: &Path) -> (PathBuf, u64, Option<SystemTime>) {
    let meta = std::fs::metadata(path).ok();
    (
        path.to_path_buf(),
        meta.as_ref().map_or(0, |m| m.len()),
        meta.and_then(|m| m.modified().ok()),
    )
}

/// Every entry beneath `dir` (symbolic links as themselves, never followed).
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) -> Option<()> {
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        let meta = entry.path().symlink_metadata().ok()?;
        if out.len() >= MAX_FILES {
            return None;
        }
        out.push((entry.path(), meta.len(), meta.modified().ok()));
        if meta.is_dir() {
            walk(&entry.path(), out)?;
        }
    }
    Some(())
}

/// The last plans made, newest first.
pub struct PlanCache<T = Planned> {
    slots: Mutex<VecDeque<(Key, Arc<T>)>>,
}

impl<T> Default for PlanCache<T> {
    fn default() -> Self {
        PlanCache {
            slots: Mutex::new(VecDeque::new()),
        }
    }
}

impl<T> PlanCache<T> {
    /// The plan made under `key`, if it is still kept.
    pub fn get(&self, key: &Key) -> Option<Arc<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let at = slots.iter().position(|(k, _)| k == key)?;
        let hit = slots.remove(at)?;
        let planned = hit.1.clone();
        slots.push_front(hit);
        Some(planned)
    }

    /// Keeps `planned` under `key`, forgetting the oldest beyond [`SLOTS`].
    pub fn put(&self, key: Key, planned: Arc<T>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|(k, _)| k != &key);
        slots.push_front((key, planned));
        slots.truncate(SLOTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &Path, now: &str) -> Key {
        Key::of(dir, None, 1, now.parse().unwrap(), None, None).unwrap()
    }

    #[test]
    fn a_change_beneath_the_folder_or_a_new_minute_changes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("media")).unwrap();
        std::fs::write(dir.path().join("a.toml"), "x").unwrap();
        let t = "2026-12-07T10:00:05Z";
        let first = key(dir.path(), t);
        assert_eq!(first, key(dir.path(), "2026-12-07T10:00:55Z"));
        assert_ne!(first, key(dir.path(), "2026-12-07T10:01:00Z"));
        std::fs::write(dir.path().join("media/photo.jpg"), "jpg").unwrap();
        let with_media = key(dir.path(), t);
        assert_ne!(first, with_media);
        std::fs::write(dir.path().join("a.toml"), "xy").unwrap();
        assert_ne!(with_media, key(dir.path(), t));
    }

    #[test]
    fn the_cache_keeps_the_newest_plans() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PlanCache::<u8>::default();
        let keys: Vec<Key> = (0..=SLOTS)
            .map(|m| key(dir.path(), &format!("2026-12-07T10:{m:02}:00Z")))
            .collect();
        for k in &keys {
            cache.put(k.clone(), Arc::new(0));
        }
        assert!(cache.get(&keys[0]).is_none(), "the oldest is forgotten");
        assert!(keys[1..].iter().all(|k| cache.get(k).is_some()));
    }
}
