//! Instagram (professional accounts) through the Graph API's containers
//! (`docs/platforms/instagram.md`).
//!
//! The account's `handle` is the Instagram user id, its secret the Page (or
//! user) token with `instagram_content_publish`, its option `graph_version`
//! pins the API version. Instagram **downloads** every media itself from a
//! public URL (§2): the account option `media_base_url` says where the
//! campaign's media files are published; a file is fetched from
//! `<media_base_url>/<file name>`.
//!
//! Flow (§2, §3): create a container (`POST /{ig-user}/media`: `image_url`
//! with `alt_text`, or `media_type=REELS` + `video_url`; for carousels
//! (2–10 items) one `is_carousel_item` container per item, then a
//! `CAROUSEL` container with `children`), save its id in
//! `progress.extra["ig_container"]` at once, poll `status_code` until
//! `FINISHED` (bounded: a post still processing is retried later and resumes
//! with the same container), then `POST /{ig-user}/media_publish`, read the
//! `permalink`, and post the first comment (`POST /{media}/comments`).
//!
//! Idempotency (§7): no key, but the saved container answers what happened:
//! `PUBLISHED` (the media is found among the account's latest media by its
//! caption), `FINISHED` (safe to publish now), `IN_PROGRESS`, `ERROR`,
//! `EXPIRED` (never published). Captions: at most 2,200 characters and 30
//! hashtags (§4), checked before calling.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use super::common::{MediaFile, media_file, poll_interval};
use super::facebook::parse_graph_time;
use super::graph::{self, CallError, Caller, GraphClass, Reply, str_field};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::PlatformKind;

/// The container to publish (saved the moment Instagram returns it).
const CONTAINER: &str = "ig_container";
/// Carousel item containers: `ig_child.0`, `ig_child.1`, ...
const CHILD: &str = "ig_child.";
/// When `media_publish` was last sent.
const SENT_AT: &str = "ig_publish_sent_at";

/// Caption limits (instagram.md §4).
pub const MAX_CAPTION_CHARS: usize = 2200;
pub const MAX_HASHTAGS: usize = 30;
/// Carousel items (§3.4).
pub const MAX_CAROUSEL: usize = 10;

/// How long one attempt waits for a container (images are usually ready at
/// once; Meta suggests polling videos for up to about 5 minutes).
const IMAGE_WAIT: SignedDuration = SignedDuration::from_secs(60);
const VIDEO_WAIT: SignedDuration = SignedDuration::from_secs(300);

/// Builds the client of one Instagram account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Instagram::new(deps))
}

/// An Instagram client.
pub struct Instagram {
    deps: PlatformDeps,
    caller: Caller,
    api: String,
}

/// One media of the post, with the URL Instagram fetches it from.
#[derive(Debug, Clone)]
struct Item {
    file: MediaFile,
    url: String,
    alt: Option<String>,
    video: bool,
}

/// Counts hashtags as Instagram does: words starting with `#`.
pub fn count_hashtags(caption: &str) -> usize {
    caption
        .split_whitespace()
        .filter(|w| w.starts_with('#') && w.chars().count() > 1)
        .count()
}

/// Checks a caption against Instagram's limits; the message says what to change.
pub fn check_caption(caption: &str) -> Result<(), String> {
    let chars = caption.chars().count();
    if chars > MAX_CAPTION_CHARS {
        return Err(format!(
            "the caption has {chars} characters; Instagram accepts at most {MAX_CAPTION_CHARS}: shorten the text"
        ));
    }
    let tags = count_hashtags(caption);
    if tags > MAX_HASHTAGS {
        return Err(format!(
            "the caption has {tags} hashtags; Instagram accepts at most {MAX_HASHTAGS}: remove some"
        ));
    }
    Ok(())
}

/// The public URL of a media file: `<base>/<file name>`, the name
/// percent-encoded (Instagram recommends US-ASCII URLs).
pub fn media_url(base: &str, file_name: &str) -> String {
    let mut name = String::new();
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{}/{name}", base.trim_end_matches('/'))
}

impl Instagram {
    /// A client for `deps.account`.
    pub fn new(deps: PlatformDeps) -> Instagram {
        let base = deps
            .account
            .base_url()
            .unwrap_or("https://graph.facebook.com")
            .trim_end_matches('/')
            .to_string();
        let api = format!("{base}/{}", graph::version(&deps.account));
        let caller = Caller::new(deps.credentials.clone(), deps.clock.clone());
        Instagram { deps, caller, api }
    }

    fn label(&self) -> String {
        format!("the Instagram account `{}`", self.deps.account_id)
    }

    fn now(&self) -> Timestamp {
        self.deps.clock.now()
    }

    fn fail(&self, e: CallError, what: &str, create: bool) -> Outcome {
        e.outcome(what, &self.label(), self.now(), create)
    }

    fn user_id(&self) -> Result<String, Outcome> {
        match self.deps.account.handle.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) => Ok(h.to_string()),
            _ => Err(Outcome::Failed {
                reason: format!(
                    "account `{}` has no Instagram user id: set `handle` to the numeric id of \
                     the Instagram professional account (GET /<page-id>?fields=instagram_business_account)",
                    self.deps.account_id
                ),
            }),
        }
    }

    async fn post(&self, path: &str, fields: &[(String, String)]) -> Result<Reply, CallError> {
        let url = format!("{}/{path}", self.api);
        self.caller.post_form(&self.deps.http, &url, fields).await
    }

    async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Reply, CallError> {
        let url = format!("{}/{path}", self.api);
        self.caller.get(&self.deps.http, &url, query).await
    }

    async fn save(&self, checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Outcome> {
        checkpoint.save(progress).await.map_err(|e| Outcome::Retry {
            at: None,
            reason: format!("Instagram answered but {e}"),
        })
    }

    /// The post's media, checked, with their public URLs.
    async fn items(&self, job: &PublishJob) -> Result<Vec<Item>, Outcome> {
        let failed = |reason: String| Outcome::Failed { reason };
        if job.content.media.is_empty() {
            return Err(failed(
                "Instagram posts need an image or a video: add `media` to the post".into(),
            ));
        }
        if job.content.media.len() > MAX_CAROUSEL {
            return Err(failed(format!(
                "the post has {} media; an Instagram carousel takes at most {MAX_CAROUSEL}",
                job.content.media.len()
            )));
        }
        check_caption(&job.content.text).map_err(failed)?;
        let Some(base) = self
            .deps
            .account
            .option_str("media_base_url")
            .filter(|b| b.starts_with("http://") || b.starts_with("https://"))
        else {
            return Err(failed(format!(
                "account `{}` has no `media_base_url` option: Instagram downloads media from a \
                 public URL, so publish the campaign's media files on a web server and set \
                 `media_base_url` to its address (each file is fetched from <media_base_url>/<file name>)",
                self.deps.account_id
            )));
        };
        let mut items = Vec::new();
        for m in &job.content.media {
            let file = media_file(m)
                .await
                .map_err(|e| failed(format!("media `{}`: {e}", m.file)))?;
            let video = file.mime.starts_with("video/");
            if !video && file.mime != "image/jpeg" {
                return Err(failed(format!(
                    "media `{}` is {}: Instagram takes JPEG images only; convert it",
                    m.file, file.mime
                )));
            }
            if video && job.content.media.len() == 1 && m.alt.is_some() {
                tracing::debug!(file = %m.file, "Instagram reels take no alt text; it is left out");
            }
            let url = media_url(base, &file.file_name);
            items.push(Item {
                file,
                url,
                alt: m.alt.clone(),
                video,
            });
        }
        Ok(items)
    }

    /// Creates one container; its id.
    async fn create_container(
        &self,
        user: &str,
        fields: Vec<(String, String)>,
        what: &str,
    ) -> Result<String, Outcome> {
        // A container is not public: creating one twice only spends quota.
        let r = self
            .post(&format!("{user}/media"), &fields)
            .await
            .map_err(|e| self.fail(e, what, false))?;
        str_field(&r.json, "id").ok_or_else(|| Outcome::Retry {
            at: None,
            reason: format!("{what}: Instagram's answer has no container id"),
        })
    }

    /// The status of a container: `status_code` and `status`.
    async fn status(&self, container: &str) -> Result<(String, String), Outcome> {
        let q = vec![("fields".to_string(), "status_code,status".to_string())];
        let r = self
            .get(container, &q)
            .await
            .map_err(|e| self.fail(e, "reading the container's status", false))?;
        let code = str_field(&r.json, "status_code").unwrap_or_default();
        let status = str_field(&r.json, "status").unwrap_or_default();
        Ok((code, status))
    }

    /// Polls a container until `FINISHED`, at most `budget` of clock time.
    /// `Ok(true)`: finished; `Ok(false)`: expired or failed (make a new one).
    async fn wait(
        &self,
        container: &str,
        what: &str,
        budget: SignedDuration,
    ) -> Result<bool, Outcome> {
        let deadline = self.now() + budget;
        let mut attempt = 0;
        loop {
            let (code, status) = self.status(container).await?;
            match code.as_str() {
                "FINISHED" | "PUBLISHED" => return Ok(true),
                "EXPIRED" => return Ok(false),
                "ERROR" => {
                    return Err(Outcome::Failed {
                        reason: format!(
                            "Instagram could not process {what} ({status}): check the file against \
                             Instagram's media specifications (JPEG images; MP4/MOV H.264 reels of 3 s to 15 min)"
                        ),
                    });
                }
                _ => {}
            }
            let now = self.now();
            if now >= deadline {
                return Err(Outcome::Retry {
                    at: Some(now + SignedDuration::from_mins(1)),
                    reason: format!(
                        "Instagram is still processing {what}; trying again with the same container"
                    ),
                });
            }
            let pause = SignedDuration::try_from(poll_interval(attempt))
                .unwrap_or(SignedDuration::from_secs(5));
            self.deps.clock.sleep_until(now + pause).await;
            attempt += 1;
        }
    }

    /// Makes (or resumes) the container to publish; its id once `FINISHED`.
    async fn container(
        &self,
        job: &PublishJob,
        user: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        let items = self.items(job).await?;
        let budget = if items.iter().any(|i| i.video) {
            VIDEO_WAIT
        } else {
            IMAGE_WAIT
        };
        let what = match items.as_slice() {
            [one] => format!("`{}`", one.file.path.display()),
            _ => format!("the carousel of {} media", items.len()),
        };
        // Two rounds at most: a saved container that expired is made again once.
        for _ in 0..2 {
            if let Some(c) = progress.extra.get(CONTAINER).cloned() {
                if self.wait(&c, &what, budget).await? {
                    return Ok(c);
                }
                progress
                    .extra
                    .retain(|k, _| k != CONTAINER && !k.starts_with(CHILD));
                self.save(checkpoint, progress).await?;
                continue;
            }
            let caption = job.content.text.clone();
            let fields = match items.as_slice() {
                [one] if one.video => vec![
                    ("media_type".to_string(), "REELS".to_string()),
                    ("video_url".to_string(), one.url.clone()),
                    ("caption".to_string(), caption),
                    ("share_to_feed".to_string(), "true".to_string()),
                ],
                [one] => {
                    let mut f = vec![
                        ("image_url".to_string(), one.url.clone()),
                        ("caption".to_string(), caption),
                    ];
                    if let Some(alt) = &one.alt {
                        f.push(("alt_text".into(), alt.clone()));
                    }
                    f
                }
                many => {
                    let mut children = Vec::new();
                    for (i, item) in many.iter().enumerate() {
                        let key = format!("{CHILD}{i}");
                        let child = match progress.extra.get(&key) {
                            Some(c) => c.clone(),
                            None => {
                                let mut f =
                                    vec![("is_carousel_item".to_string(), "true".to_string())];
                                if item.video {
                                    f.push(("media_type".into(), "VIDEO".into()));
                                    f.push(("video_url".into(), item.url.clone()));
                                } else {
                                    f.push(("image_url".into(), item.url.clone()));
                                    if let Some(alt) = &item.alt {
                                        f.push(("alt_text".into(), alt.clone()));
                                    }
                                }
                                let what =
                                    format!("the carousel item `{}`", item.file.path.display());
                                let c = self.create_container(user, f, &what).await?;
                                progress.extra.insert(key, c.clone());
                                self.save(checkpoint, progress).await?;
                                c
                            }
                        };
                        children.push(child);
                    }
                    for (i, c) in children.iter().enumerate() {
                        let item = format!("the carousel item `{}`", many[i].file.path.display());
                        if !self.wait(c, &item, budget).await? {
                            progress.extra.retain(|k, _| !k.starts_with(CHILD));
                            self.save(checkpoint, progress).await?;
                            return Err(Outcome::Retry {
                                at: None,
                                reason: format!(
                                    "{item} expired before the carousel was made; making it again"
                                ),
                            });
                        }
                    }
                    vec![
                        ("media_type".to_string(), "CAROUSEL".to_string()),
                        ("children".to_string(), children.join(",")),
                        ("caption".to_string(), caption),
                    ]
                }
            };
            let c = self
                .create_container(user, fields, &format!("preparing {what}"))
                .await?;
            progress.extra.insert(CONTAINER.into(), c);
            self.save(checkpoint, progress).await?;
        }
        Err(Outcome::Retry {
            at: None,
            reason: format!("Instagram's container for {what} expired twice; trying again later"),
        })
    }

    /// `POST /{ig-user}/media_publish`, then the permalink. Saves the id.
    async fn publish_container(
        &self,
        user: &str,
        container: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<(), Outcome> {
        progress
            .extra
            .insert(SENT_AT.into(), self.now().to_string());
        self.save(checkpoint, progress).await?;
        let fields = vec![("creation_id".to_string(), container.to_string())];
        let r = match self.post(&format!("{user}/media_publish"), &fields).await {
            Ok(r) => r,
            Err(CallError::Status(f)) if f.class(self.now()) == GraphClass::NotReady => {
                return Err(Outcome::Retry {
                    at: Some(self.now() + SignedDuration::from_mins(1)),
                    reason: format!("Instagram says the media is not ready yet: {}", f.message()),
                });
            }
            Err(e) => return Err(self.fail(e, "publishing on Instagram", true)),
        };
        let Some(id) = str_field(&r.json, "id") else {
            return Err(Outcome::Unknown {
                reason: "Instagram's answer to media_publish has no media id".into(),
            });
        };
        progress.remote_id = Some(id.clone());
        if let Err(e) = checkpoint.save(progress).await {
            tracing::warn!(account = %self.deps.account_id, error = %e, "could not record a published Instagram media");
        }
        progress.url = self.permalink(&id).await;
        if progress.url.is_some() {
            let _ = checkpoint.save(progress).await;
        }
        Ok(())
    }

    /// `GET /{media}?fields=permalink` (never built from the id, §2.4).
    async fn permalink(&self, media: &str) -> Option<String> {
        let q = vec![("fields".to_string(), "permalink".to_string())];
        let r = self.get(media, &q).await.ok()?;
        str_field(&r.json, "permalink")
    }

    /// After a container reported `PUBLISHED`: its media among the account's
    /// latest, by exact caption, published since the post was due.
    async fn find_media(&self, job: &PublishJob) -> Option<Outcome> {
        let user = self.user_id().ok()?;
        let q = vec![
            (
                "fields".to_string(),
                "id,caption,timestamp,permalink".to_string(),
            ),
            ("limit".to_string(), "10".to_string()),
        ];
        let r = self.get(&format!("{user}/media"), &q).await.ok()?;
        let since = job.due - SignedDuration::from_mins(10);
        let (id, url) = find_media(&r.json, &job.content.text, since)?;
        Some(Outcome::Published { remote_id: id, url })
    }

    fn published(progress: Progress) -> Outcome {
        match progress.remote_id {
            Some(remote_id) => Outcome::Published {
                remote_id,
                url: progress.url,
            },
            None => Outcome::Unknown {
                reason: "the media's id was not recorded".into(),
            },
        }
    }
}

/// The media of a `/{ig-user}/media` listing with exactly this caption,
/// published at or after `since`: its id and permalink.
pub fn find_media(
    listing: &serde_json::Value,
    caption: &str,
    since: Timestamp,
) -> Option<(String, Option<String>)> {
    let caption = caption.trim();
    listing
        .get("data")?
        .as_array()?
        .iter()
        .find(|m| {
            m.get("caption")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|c| c.trim() == caption)
                && m.get("timestamp")
                    .and_then(serde_json::Value::as_str)
                    .and_then(parse_graph_time)
                    .is_some_and(|t| t >= since)
        })
        .and_then(|m| Some((str_field(m, "id")?, str_field(m, "permalink"))))
}

#[async_trait]
impl Platform for Instagram {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Instagram
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Queryable
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        let mut progress = job.progress.clone();
        if progress.remote_id.is_none() {
            let user = match self.user_id() {
                Ok(u) => u,
                Err(o) => return o,
            };
            if let Some(at) = self.caller.blocked_until() {
                return Outcome::Retry {
                    at: Some(at),
                    reason: format!("Meta's usage limit of {} is spent until {at}", self.label()),
                };
            }
            // A saved container that was already published: adopt it.
            if let Some(c) = progress.extra.get(CONTAINER).cloned()
                && let Ok((code, _)) = self.status(&c).await
                && code == "PUBLISHED"
            {
                return self.find_media(job).await.unwrap_or(Outcome::Unknown {
                    reason: format!(
                        "Instagram says container {c} is published but its media was not found among the latest"
                    ),
                });
            }
            let container = match self.container(job, &user, &mut progress, checkpoint).await {
                Ok(c) => c,
                Err(o) => return o,
            };
            if let Err(o) = self
                .publish_container(&user, &container, &mut progress, checkpoint)
                .await
            {
                return o;
            }
        }
        let comment = graph::first_comment(
            job,
            &mut progress,
            checkpoint,
            |path, fields| async move { self.post(&path, &fields).await },
            |e| self.fail(e, "publishing the first comment", true),
        );
        if let Err(o) = comment.await {
            return o;
        }
        Instagram::published(progress)
    }

    /// Asks the saved container: `PUBLISHED` ⇒ the media found by caption
    /// (else `None`); `FINISHED` ⇒ publish it now; `IN_PROGRESS`, `ERROR`,
    /// `EXPIRED` ⇒ it was never published: retry; no container ⇒ `None`.
    async fn resolve(&self, job: &PublishJob) -> Option<Outcome> {
        if job.progress.remote_id.is_some() {
            return Some(Instagram::published(job.progress.clone()));
        }
        let container = job.progress.extra.get(CONTAINER)?;
        let user = self.user_id().ok()?;
        let (code, status) = self.status(container).await.ok()?;
        match code.as_str() {
            "PUBLISHED" => self.find_media(job).await,
            "FINISHED" => {
                let mut progress = job.progress.clone();
                Some(
                    match self
                        .publish_container(&user, container, &mut progress, &super::NoCheckpoint)
                        .await
                    {
                        Ok(()) => Instagram::published(progress),
                        Err(o) => o,
                    },
                )
            }
            "IN_PROGRESS" | "ERROR" | "EXPIRED" => Some(Outcome::Retry {
                at: None,
                reason: format!(
                    "Instagram's container {container} was never published ({code} {status})"
                ),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caption_limits() {
        assert!(check_caption("Salam #a #b").is_ok());
        let tags: String = (0..31).map(|i| format!("#t{i} ")).collect();
        assert!(check_caption(&tags).unwrap_err().contains("31 hashtags"));
        let long = "م".repeat(2201);
        assert!(
            check_caption(&long)
                .unwrap_err()
                .contains("2201 characters")
        );
        assert_eq!(count_hashtags("# #ok#x #مهاجر"), 2);
    }

    #[test]
    fn media_urls_are_ascii() {
        assert_eq!(
            media_url("https://media.example.org/amal/", "affiche été.jpg"),
            "https://media.example.org/amal/affiche%20%C3%A9t%C3%A9.jpg"
        );
    }

    #[test]
    fn finds_media_by_caption() {
        let listing = json!({"data":[
            {"id":"1","caption":"x","timestamp":"2026-12-18T09:00:10+0000","permalink":"https://www.instagram.com/p/A/"},
            {"id":"2","caption":"مرحبا","timestamp":"2026-12-18T09:00:10+0000","permalink":"https://www.instagram.com/p/B/"},
            {"id":"3","caption":"مرحبا","timestamp":"2026-12-10T09:00:10+0000"}
        ]});
        let since = "2026-12-18T08:50:00Z".parse().unwrap();
        assert_eq!(
            find_media(&listing, "مرحبا", since),
            Some(("2".into(), Some("https://www.instagram.com/p/B/".into())))
        );
        assert_eq!(find_media(&listing, "absent", since), None);
    }
}
