//! The campaign file format: what a comms team writes in `campaigns/*.toml`.
//!
//! These types are the whole format: serde derives them from TOML, schemars
//! derives the JSON Schema of `berrah schema` from them, and nothing else parses
//! campaign files. Fields whose value can be wrong in ways TOML cannot see (an
//! unknown zone, a cron expression, an account name, a date outside the window)
//! are wrapped in [`Spanned`] so that validation can point at them with
//! `path:line:column`.
//!
//! Unknown keys are refused everywhere (`deny_unknown_fields`) so that a typo
//! such as `hashtag = [...]` is reported ("did you mean `hashtags`?") instead of
//! being silently ignored.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
pub use serde_spanned::Spanned;

use super::values::{LocalDate, LocalDateTime, LocalTime};

/// A language code as written in campaign files: `fr`, `ar`, `en`, ... (BCP 47).
pub type Lang = String;

/// Text per language: `{ fr = "...", ar = "...", en = "..." }`.
///
/// The text is kept byte for byte as written: Arabic, French and mixed
/// right-to-left / left-to-right text must survive untouched.
pub type LangText = BTreeMap<Lang, Spanned<String>>;

/// One campaign file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignFile {
    /// The campaign itself: id, title, zone, window and defaults.
    pub campaign: Campaign,
    /// Days of the campaign's own, besides the shipped calendar of international days.
    #[serde(default)]
    pub days: Vec<CustomDay>,
    /// The capsules: a video (or a theme) anchored on a day, with its posts.
    #[serde(default)]
    pub capsules: Vec<Capsule>,
    /// Posts that belong to no capsule (for example a weekly recurring post).
    #[serde(default)]
    pub posts: Vec<Post>,
}

/// The `[campaign]` table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Stable identifier: lowercase letters, digits and `-`. Changing it makes a new campaign.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    pub title: String,
    /// IANA time zone in which every local time of this file is read, e.g. `Africa/Casablanca`.
    #[schemars(with = "String")]
    pub timezone: Spanned<String>,
    /// First local day of the campaign (inclusive).
    #[schemars(with = "String")]
    pub start: Spanned<LocalDate>,
    /// Last local day of the campaign (inclusive).
    #[schemars(with = "String")]
    pub end: Spanned<LocalDate>,
    /// Accounts (ids from `berrah.toml`) that posts go to unless a post says otherwise.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub accounts: Vec<Spanned<String>>,
    /// Languages published unless a post says otherwise, e.g. `["fr", "ar"]`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub languages: Vec<Spanned<Lang>>,
    /// Hashtags appended to every post (without or with the leading `#`).
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// UTM parameters added to every link in the text.
    #[serde(default)]
    pub utm: Option<Utm>,
    /// How late a post may still go out, unless the post says otherwise
    /// (a duration such as `"6h"` or `"2 days"`). See [`Post::expires_after`].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expires_after: Option<Spanned<String>>,
    /// Set to `true` to stop publishing this campaign (its posts stay planned).
    #[serde(default)]
    pub paused: bool,
}

/// UTM parameters (`utm_source`, `utm_medium`, `utm_campaign`, ...).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

/// A day of the campaign's own, `[[days]]`, usable as an anchor like the shipped ones.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomDay {
    /// Identifier used in `anchor = { day = "..." }`.
    #[schemars(with = "String")]
    pub slug: Spanned<String>,
    /// Month (1-12) of a day that recurs every year.
    pub month: Option<u8>,
    /// Day of the month (1-31) of a day that recurs every year.
    pub day: Option<u8>,
    /// An explicit date, for a day that does not recur.
    #[schemars(with = "Option<String>")]
    pub date: Option<Spanned<LocalDate>>,
    /// Names per language.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub names: LangText,
}

/// What a capsule or a post is anchored on.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// Slug of an international day (`berrah days` lists them) or of a `[[days]]` entry.
    #[schemars(with = "Option<String>")]
    pub day: Option<Spanned<String>>,
    /// Year of that day; defaults to the first occurrence inside the campaign window.
    #[schemars(with = "Option<i16>")]
    pub year: Option<Spanned<i16>>,
    /// An explicit local date instead of a named day.
    #[schemars(with = "Option<String>")]
    pub date: Option<Spanned<LocalDate>>,
}

/// A capsule: one of the monthly videos of a web series, with its posts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capsule {
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    pub title: String,
    #[schemars(with = "Anchor")]
    pub anchor: Spanned<Anchor>,
    /// Media of every post of the capsule, unless a post has its own.
    #[serde(default)]
    pub media: Vec<Media>,
    #[serde(default)]
    pub posts: Vec<Post>,
}

/// A media file, relative to the campaign file's folder.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Media {
    #[schemars(with = "String")]
    pub file: Spanned<String>,
    /// Alternative text per language (screen readers); missing alt text is a warning.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub alt: LangText,
    /// A still image shown before a video plays (YouTube thumbnail, cover).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub thumbnail: Option<Spanned<String>>,
}

/// A post. When it goes out is given by exactly one of:
/// - `at` (a local time on the anchor day), optionally with `days_before` or `days_after`;
/// - `date_time` (an absolute local date and time);
/// - `cron` (a recurrence, bounded by the campaign window).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Post {
    /// Stable identifier, unique in its capsule (or among the campaign's own posts).
    /// It makes the post's identity: editing text or time reschedules the post,
    /// changing the id makes a new post.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Local time on the anchor day, e.g. `at = 10:00`.
    #[schemars(with = "Option<String>")]
    pub at: Option<Spanned<LocalTime>>,
    /// With `at`: that many days before the anchor day.
    #[schemars(with = "Option<u32>")]
    pub days_before: Option<Spanned<u32>>,
    /// With `at`: that many days after the anchor day.
    #[schemars(with = "Option<u32>")]
    pub days_after: Option<Spanned<u32>>,
    /// An anchor of the post's own (for posts outside capsules, or to override the capsule's).
    #[schemars(with = "Option<Anchor>")]
    pub anchor: Option<Spanned<Anchor>>,
    /// An absolute local date and time, e.g. `date_time = 2026-12-18T10:00:00`.
    #[schemars(with = "Option<String>")]
    pub date_time: Option<Spanned<LocalDateTime>>,
    /// A recurrence as a cron expression read in the campaign's zone: five fields
    /// (`"0 10 * * TUE"`: every Tuesday at 10:00): minute hour day-of-month month day-of-week.
    #[schemars(with = "Option<String>")]
    pub cron: Option<Spanned<String>>,
    /// Accounts of this post, instead of the campaign's.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub accounts: Option<Vec<Spanned<String>>>,
    /// Languages of this post, instead of the campaign's.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub languages: Option<Vec<Spanned<Lang>>>,
    /// The text per language.
    #[schemars(with = "BTreeMap<String, String>")]
    pub text: LangText,
    /// Per-platform variants: `[...variants.x]`, `[...variants.youtube]`, ...
    #[serde(default)]
    pub variants: BTreeMap<String, Variant>,
    /// Media of this post, instead of the capsule's (an empty list means none).
    pub media: Option<Vec<Media>>,
    /// A comment published under the post right after it, per language.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub first_comment: LangText,
    /// Replies published in order under the post, each with its text per language.
    #[serde(default)]
    #[schemars(with = "Vec<BTreeMap<String, String>>")]
    pub thread: Vec<LangText>,
    /// Extra hashtags of this post, appended after the campaign's.
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// Past this local date and time a late post is dropped instead of published.
    #[schemars(with = "Option<String>")]
    pub not_after: Option<Spanned<LocalDateTime>>,
    /// How late the post may still go out (`"6h"`, `"2 days"`).
    #[schemars(with = "Option<String>")]
    pub expires_after: Option<Spanned<String>>,
    /// Set to `true` to hold this post back (it stays planned, nothing is published).
    #[serde(default)]
    pub paused: bool,
    /// The link card (Bluesky) of the post's first link. Without it, the
    /// card comes from the linked page's Open Graph title and description,
    /// fetched when publishing; a page without them gives no card.
    pub card: Option<Card>,
}

/// A link card: what a preview of the post's first link shows, e.g.
/// `card = { title = { fr = "Journée des migrants" }, description = { fr = "Le programme" }, image = "media/carte.jpg" }`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// The card's title per language.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub title: LangText,
    /// The card's description per language.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub description: LangText,
    /// An image for the card (JPEG, PNG or WebP, at most 1 MB), relative to the campaign file.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
}

/// A per-platform variant of a post. Every field is per language.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// A text for this platform instead of the post's (e.g. a shorter one for X).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub text: LangText,
    /// A title (YouTube, LinkedIn articles).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub title: LangText,
    /// A description (YouTube).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub description: LangText,
    /// A first comment for this platform instead of the post's.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub first_comment: LangText,
    /// A thread for this platform instead of the post's.
    #[serde(default)]
    #[schemars(with = "Option<Vec<BTreeMap<String, String>>>")]
    pub thread: Option<Vec<LangText>>,
}
