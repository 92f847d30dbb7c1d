//! The names the command line takes (campaigns, accounts, posts, entry ids)
//! checked against what berrah knows, so that a typo is an error with a
//! "did you mean" (exit status 2) instead of a silent empty answer or a
//! pause of nothing.
//!
//! Known campaigns: the campaign files' ids, the queue's campaigns, their
//! saved snapshots and the pauses in force. Known accounts: berrah.toml's,
//! the queue's and the pauses'. Posts: a campaign's posts in its file and in
//! the queue.

use std::collections::BTreeSet;
use std::path::Path;

use crate::campaign::suggest::closest;
use crate::config::Config;
use crate::store::{PauseScope, Store, StoreError};

/// Everything a name can be checked against.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub campaigns: BTreeSet<String>,
    pub accounts: BTreeSet<String>,
    /// `(campaign, post)`.
    pub posts: BTreeSet<(String, String)>,
}

/// What a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Campaign,
    Account,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Campaign => "campaign",
            Kind::Account => "account",
        }
    }
}

impl Known {
    /// Gathers the names from the store, the configuration and the campaign files.
    pub async fn gather(
        store: &Store,
        config: &Config,
        campaigns_dir: &Path,
    ) -> Result<Known, StoreError> {
        let mut known = Known::default();
        let queue = store.queue_names().await?;
        known.campaigns.extend(queue.campaigns);
        known.accounts.extend(queue.accounts);
        known.posts.extend(queue.posts);
        known
            .campaigns
            .extend(store.snapshots().await?.into_iter().map(|s| s.campaign));
        for (scope, name) in store.pauses().await? {
            match scope {
                PauseScope::Campaign => known.campaigns.insert(name),
                PauseScope::Account => known.accounts.insert(name),
            };
        }
        known.accounts.extend(config.accounts.keys().cloned());
        for (campaign, posts) in campaign_files(campaigns_dir) {
            for p in posts {
                known.posts.insert((campaign.clone(), p));
            }
            known.campaigns.insert(campaign);
        }
        Ok(known)
    }

    /// `Ok` when `name` is a known campaign or account, else the error
    /// message with the closest name.
    pub fn check(&self, kind: Kind, name: &str) -> Result<(), String> {
        let set = match kind {
            Kind::Campaign => &self.campaigns,
            Kind::Account => &self.accounts,
        };
        if set.contains(name) {
            return Ok(());
        }
        Err(unknown(kind.word(), name, set.iter().map(String::as_str)))
    }

    /// `Ok` when `post` is a post of `campaign`.
    pub fn check_post(&self, campaign: &str, post: &str) -> Result<(), String> {
        let posts: Vec<&str> = self
            .posts
            .iter()
            .filter(|(c, _)| c == campaign)
            .map(|(_, p)| p.as_str())
            .collect();
        if posts.contains(&post) {
            return Ok(());
        }
        Err(unknown(
            &format!("post in campaign `{campaign}` named"),
            post,
            posts,
        ))
    }
}

/// "no campaign `b7al`; did you mean `b7al-b7al`?", or the list of known
/// names when none is close.
pub fn unknown<'a>(what: &str, name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    match closest(name, known.iter().copied()) {
        Some(c) => format!("no {what} `{name}`; did you mean `{c}`?"),
        None if known.is_empty() => format!("no {what} `{name}`, and none is known yet"),
        None if known.len() <= 12 => {
            format!(
                "no {what} `{name}`; the known ones are: {}",
                known.join(", ")
            )
        }
        None => format!(
            "no {what} `{name}` (there are {}; `berrah status` lists them)",
            known.len()
        ),
    }
}

/// "no queue entry with id `o-12x`; did you mean `o-123…`?": the closest id
/// of the same length's prefix, when one is a typo away.
pub fn unknown_id(id: &str, ids: &[String]) -> String {
    let len = id.chars().count().max(4);
    let prefixes: BTreeSet<String> = ids.iter().map(|i| i.chars().take(len).collect()).collect();
    let max = 2.min(len / 4).max(1);
    let best = prefixes
        .iter()
        .map(|p| (crate::campaign::suggest::distance(id, p), p))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, p)| p.clone());
    match best {
        Some(p) => format!("no queue entry with id `{id}`; did you mean `{p}`?"),
        None => format!("no queue entry with id `{id}`; `berrah status` lists the ids"),
    }
}

/// The campaign files beneath `dir`: each one's campaign id and post ids
/// (read loosely: a file that does not parse is `berrah check`'s business).
fn campaign_files(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in read.flatten() {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && path.extension().is_some_and(|x| x == "toml")
                && let Some(found) = read_names(&path)
            {
                out.push(found);
            }
        }
    }
    out
}

fn read_names(path: &Path) -> Option<(String, Vec<String>)> {
    use std::io::Read as _;
    let mut text = String::new();
    // A campaign file is at most 1 MiB (`berrah check` refuses more).
    std::fs::File::open(path)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    let doc: toml::Table = toml::from_str(&text).ok()?;
    let id = doc.get("campaign")?.get("id")?.as_str()?.to_string();
    let ids = |list: Option<&toml::Value>| -> Vec<String> {
        list.and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("id")?.as_str().map(str::to_string))
            .collect()
    };
    let mut posts = ids(doc.get("posts"));
    for c in doc
        .get("capsules")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        posts.extend(ids(c.get("posts")));
    }
    Some((id, posts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_name() {
        let known = Known {
            campaigns: ["amal-web-series", "b7al-b7al", "journee-enfance-2027"]
                .map(String::from)
                .into(),
            ..Known::default()
        };
        assert_eq!(
            known.check(Kind::Campaign, "b7al").unwrap_err(),
            "no campaign `b7al`; did you mean `b7al-b7al`?"
        );
        assert!(known.check(Kind::Campaign, "b7al-b7al").is_ok());
        let far = known.check(Kind::Campaign, "nope").unwrap_err();
        assert!(far.contains("the known ones are: amal-web-series"), "{far}");
    }

    #[test]
    fn mistyped_ids_suggest_the_close_one() {
        let ids = vec![
            "o-3fa9c2d1e4b5a6f7".to_string(),
            "o-0000000000000000".into(),
        ];
        assert_eq!(
            unknown_id("o-3fa9c2d1e4b6", &ids),
            "no queue entry with id `o-3fa9c2d1e4b6`; did you mean `o-3fa9c2d1e4b5`?"
        );
        assert!(unknown_id("o-nothing", &ids).contains("`berrah status` lists"));
    }

    #[test]
    fn the_example_campaigns_are_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
        let files = campaign_files(&dir);
        let b7al = files.iter().find(|(c, _)| c == "b7al-b7al").unwrap();
        assert!(!b7al.1.is_empty());
    }
}
