//! One dated publication: the unit that flows from the plan into the queue.

use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::PlatformKind;

/// One publication of one post, on one account, in one language, at one instant.
///
/// Its [`id`](Occurrence::id) is stable: see [`crate::plan::occurrence_id`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occurrence {
    /// Stable id, e.g. `o-3fa9c2d1e4b5a6f7`.
    pub id: String,
    /// The readable identity that the id is a hash of:
    /// `campaign/capsule/post/account/language/slot`.
    pub key: String,
    pub campaign: String,
    pub capsule: Option<String>,
    pub post: String,
    pub account: String,
    pub platform: PlatformKind,
    pub language: String,
    /// When it is due, UTC.
    pub due: Timestamp,
    /// The same instant as a local time with its offset in the campaign's zone
    /// (RFC 3339, e.g. `2026-12-18T10:00:00+01:00`).
    pub local: String,
    /// The campaign's IANA time zone.
    pub timezone: String,
    /// The time-zone database release `due` was computed with (`2026f`).
    #[serde(default)]
    pub tzdb: String,
    /// Past this instant a late publication is dropped, never published.
    pub not_after: Timestamp,
    /// For a recurring post, the id shared by all its occurrences on this
    /// account and language: after downtime only the latest missed one goes out.
    pub series: Option<String>,
    /// Held back by `paused = true` in the file.
    pub paused: bool,
    /// The campaign file it comes from.
    pub source: PathBuf,
    /// What is published, already rendered for the platform.
    pub content: Content,
}

/// What is published, rendered for one platform and one language:
/// hashtags appended, links UTM-tagged, the platform's variant chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub text: String,
    /// Title (YouTube, LinkedIn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description (YouTube).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaRef>,
    /// Replies published in order under the post.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
    /// A comment published under the post right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_comment: Option<String>,
    /// The link card given in the campaign file (Bluesky).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<LinkCard>,
}

/// A link card given in the campaign file, in the occurrence's language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCard {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The card's image, a file beneath the campaign's folder like a media file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaRef>,
}

/// A media file of a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// The path as it stands in the campaign file, relative to that file's folder.
    pub file: String,
    /// The path to read it from (the campaign folder joined with `file`).
    pub path: PathBuf,
    /// Alternative text in the occurrence's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// Thumbnail or cover image, resolved like `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<PathBuf>,
}

impl MediaRef {
    /// The campaign's folder and the file's path beneath it, for
    /// [`crate::media::open::open_beneath`]. `path` is the folder joined with
    /// `file`, so the folder is `path` without `file`'s components. An
    /// absolute `file` or one with `..` is returned as it is, for the opener
    /// to refuse.
    pub fn beneath(&self) -> (PathBuf, PathBuf) {
        let rel = Path::new(&self.file);
        let plain = rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        let normal: PathBuf = rel
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let parent = self.path.parent().unwrap_or(Path::new("")).to_path_buf();
        if !plain || normal.as_os_str().is_empty() {
            return (parent, rel.to_path_buf());
        }
        if self.path.ends_with(&normal) {
            let mut folder = self.path.clone();
            for _ in normal.components() {
                folder.pop();
            }
            return (folder, normal);
        }
        // Not made by planning (a hand-built reference): the file `path`
        // names, beneath its own folder.
        let name = self.path.file_name().map(PathBuf::from).unwrap_or(normal);
        (parent, name)
    }

    /// The thumbnail's folder and path beneath it, like [`MediaRef::beneath`]
    /// (the thumbnail was resolved against the same folder).
    pub fn thumbnail_beneath(&self) -> Option<(PathBuf, PathBuf)> {
        let thumb = self.thumbnail.as_ref()?;
        let (folder, _) = self.beneath();
        let rel = thumb
            .strip_prefix(&folder)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| thumb.clone());
        Some((folder, rel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(file: &str, path: &str, thumb: Option<&str>) -> MediaRef {
        MediaRef {
            file: file.into(),
            path: path.into(),
            alt: None,
            thumbnail: thumb.map(PathBuf::from),
        }
    }

    #[test]
    fn the_folder_is_the_path_without_the_file() {
        let m = media(
            "./media/a.jpg",
            "/srv/c/./media/a.jpg",
            Some("/srv/c/media/t.jpg"),
        );
        assert_eq!(
            m.beneath(),
            (PathBuf::from("/srv/c"), PathBuf::from("media/a.jpg"))
        );
        assert_eq!(
            m.thumbnail_beneath(),
            Some((PathBuf::from("/srv/c"), PathBuf::from("media/t.jpg")))
        );
        // A campaign file given by bare name: the working directory.
        let m = media("a.jpg", "a.jpg", None);
        assert_eq!(m.beneath(), (PathBuf::new(), PathBuf::from("a.jpg")));
        assert_eq!(m.thumbnail_beneath(), None);
        // Built by hand with another path: that path's file, in its folder.
        let m = media("media/a.jpg", "/tmp/x/a.jpg", None);
        assert_eq!(
            m.beneath(),
            (PathBuf::from("/tmp/x"), PathBuf::from("a.jpg"))
        );
    }

    #[test]
    fn escapes_are_kept_for_the_opener_to_refuse() {
        let m = media("../x.jpg", "/srv/c/../x.jpg", Some("/etc/passwd"));
        assert_eq!(m.beneath().1, PathBuf::from("../x.jpg"));
        assert_eq!(
            m.thumbnail_beneath().unwrap().1,
            PathBuf::from("/etc/passwd")
        );
    }
}
