//! A compact, in-memory form of many occurrences, for `berrah plan`.
//!
//! A plan of 100,000 occurrences held as [`Occurrence`]s repeats, in each
//! one, the strings its post shares with every other occurrence of that post
//! on that account and language (campaign, post, account, zone, source path
//! and the whole rendered content). [`Compact`] keeps only what differs per
//! occurrence (id, key, times) and points to one shared [`Group`] for the
//! rest; [`Compactor`] finds the group, so that nothing is lost: a group is
//! only shared by occurrences whose shared fields are all equal.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use super::output::{AsView, View};
use super::{Content, Occurrence};
use crate::config::PlatformKind;

/// What the occurrences of one post on one account and language share.
#[derive(Debug, PartialEq)]
struct Group {
    campaign: String,
    capsule: Option<String>,
    post: String,
    account: String,
    platform: PlatformKind,
    language: String,
    timezone: String,
    tzdb: String,
    series: Option<String>,
    paused: bool,
    source: PathBuf,
    content: Content,
}

impl Group {
    fn matches(&self, o: &Occurrence) -> bool {
        self.post == o.post
            && self.account == o.account
            && self.language == o.language
            && self.capsule == o.capsule
            && self.campaign == o.campaign
            && self.platform == o.platform
            && self.series == o.series
            && self.paused == o.paused
            && self.timezone == o.timezone
            && self.tzdb == o.tzdb
            && self.source == o.source
            && self.content == o.content
    }
}

/// One occurrence, its shared part behind an [`Arc`]. Shows exactly as the
/// [`Occurrence`] it was made from ([`AsView`]).
#[derive(Debug)]
pub struct Compact {
    group: Arc<Group>,
    /// Id, key and local time, one after the other: one allocation, not three.
    text: Box<str>,
    /// Where the key starts in `text`.
    key_at: u32,
    /// Where the local time starts in `text`.
    local_at: u32,
    /// When it is due, UTC.
    pub due: Timestamp,
    not_after: Timestamp,
}

impl Compact {
    /// The readable identity (`campaign/capsule/post/account/language/slot`).
    pub fn key(&self) -> &str {
        &self.text[self.key_at as usize..self.local_at as usize]
    }

    fn id(&self) -> &str {
        &self.text[..self.key_at as usize]
    }

    fn local(&self) -> &str {
        &self.text[self.local_at as usize..]
    }
}

impl AsView for Compact {
    fn view(&self) -> View<'_> {
        let g = &*self.group;
        View {
            id: self.id(),
            key: self.key(),
            campaign: &g.campaign,
            capsule: g.capsule.as_deref(),
            post: &g.post,
            account: &g.account,
            platform: g.platform,
            language: &g.language,
            due: self.due,
            local: self.local(),
            timezone: &g.timezone,
            tzdb: &g.tzdb,
            not_after: self.not_after,
            series: g.series.as_deref(),
            paused: g.paused,
            source: &g.source,
            content: &g.content,
        }
    }
}

/// Turns occurrences into [`Compact`]s, sharing groups between them.
#[derive(Debug, Default)]
pub struct Compactor {
    groups: Vec<Arc<Group>>,
}

impl Compactor {
    /// Forgets the groups seen so far (call between campaign files: groups
    /// never span two files, and the search stays short).
    pub fn reset(&mut self) {
        self.groups.clear();
    }

    /// The compact form of `o`.
    pub fn compact(&mut self, o: Occurrence) -> Compact {
        let group = match self.groups.iter().rev().find(|g| g.matches(&o)) {
            Some(g) => Arc::clone(g),
            None => {
                let g = Arc::new(Group {
                    campaign: o.campaign,
                    capsule: o.capsule,
                    post: o.post,
                    account: o.account,
                    platform: o.platform,
                    language: o.language,
                    timezone: o.timezone,
                    tzdb: o.tzdb,
                    series: o.series,
                    paused: o.paused,
                    source: o.source,
                    content: o.content,
                });
                self.groups.push(Arc::clone(&g));
                g
            }
        };
        let mut text = String::with_capacity(o.id.len() + o.key.len() + o.local.len());
        text.push_str(&o.id);
        let key_at = text.len();
        text.push_str(&o.key);
        let local_at = text.len();
        text.push_str(&o.local);
        Compact {
            group,
            text: text.into_boxed_str(),
            // An occurrence's id, key and local time are a few dozen bytes.
            key_at: u32::try_from(key_at).unwrap_or(u32::MAX),
            local_at: u32::try_from(local_at).unwrap_or(u32::MAX),
            due: o.due,
            not_after: o.not_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::output::{json, write_json};

    fn occ(key: &str, text: &str, due: &str) -> Occurrence {
        Occurrence {
            id: crate::plan::occurrence_id(key),
            key: key.to_string(),
            campaign: "c".into(),
            capsule: None,
            post: "p".into(),
            account: "fb".into(),
            platform: PlatformKind::Facebook,
            language: "fr".into(),
            due: due.parse().unwrap(),
            local: "2026-12-18T10:00:00+01:00".into(),
            timezone: "Africa/Casablanca".into(),
            tzdb: "2026f".into(),
            not_after: due.parse().unwrap(),
            series: None,
            paused: false,
            source: PathBuf::from("/c/c.toml"),
            content: Content {
                text: text.into(),
                ..Content::default()
            },
        }
    }

    #[test]
    fn shares_equal_groups_only_and_shows_the_same() {
        let occs = vec![
            occ("c/_/p/fb/fr/a", "t", "2026-12-18T09:00:00Z"),
            occ("c/_/p/fb/fr/b", "t", "2026-12-19T09:00:00Z"),
            occ("c/_/p/fb/fr/c", "other", "2026-12-20T09:00:00Z"),
        ];
        let mut c = Compactor::default();
        let compact: Vec<Compact> = occs.iter().cloned().map(|o| c.compact(o)).collect();
        assert!(Arc::ptr_eq(&compact[0].group, &compact[1].group));
        assert!(!Arc::ptr_eq(&compact[0].group, &compact[2].group));
        let mut out = Vec::new();
        write_json(&mut out, &compact).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), json(&occs));
    }
}
