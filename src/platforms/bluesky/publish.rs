//! The publish flow: texts checked, media prepared, record keys fixed
//! before anything reaches the PDS, mentions resolved, then the main post,
//! each thread reply under the previous one, and the first comment under
//! the post, each checkpointed as the PDS confirms it.

use super::record::{self, Embed, KeyBase, PostParts};
use super::records::Created;
use super::xrpc::Fault;
use super::{Bluesky, EXTRA_RKEY, extra_cid, save};
use crate::config::PlatformKind;
use crate::platforms::{Checkpoint, Outcome, PublishJob};
use crate::text::limits;

impl Bluesky {
    pub(super) async fn publish_inner(
        &self,
        job: &PublishJob,
        checkpoint: &dyn Checkpoint,
    ) -> Result<Outcome, Fault> {
        if let Some(o) = self.limits.exhausted(self.now()) {
            return Ok(o);
        }
        let content = &job.content;
        check_text("the post", &content.text)?;
        for (i, t) in content.thread.iter().enumerate() {
            check_text(&format!("thread reply {}", i + 1), t)?;
        }
        if let Some(c) = &content.first_comment {
            check_text("the first comment", c)?;
        }
        if content.thread.len() as u64 >= record::FIRST_COMMENT_PART {
            return Err(Fault::Outcome(Outcome::Failed {
                reason: format!(
                    "a thread of {} replies is longer than berrah publishes on Bluesky; split it",
                    content.thread.len()
                ),
            }));
        }
        let mut progress = job.progress.clone();
        let media = if progress.remote_id.is_none() {
            self.prepare_media(job).await?
        } else {
            Vec::new()
        };
        if content.text.trim().is_empty() && media.is_empty() && progress.remote_id.is_none() {
            return Err(Fault::Outcome(Outcome::Failed {
                reason: "the post has neither text nor media".into(),
            }));
        }

        // The record keys, fixed before anything can reach the PDS.
        let base = match progress
            .extra
            .get(EXTRA_RKEY)
            .and_then(|s| KeyBase::from_progress(s))
        {
            Some(b) => b,
            None => {
                let b = KeyBase::derive(&job.occurrence_id, job.due);
                progress.extra.insert(EXTRA_RKEY.into(), b.to_progress());
                save(checkpoint, &progress).await?;
                b
            }
        };
        let session = self.current_session().await?;
        let lang = Some(job.language.as_str()).filter(|l| !l.is_empty() && *l != "und");

        // Mentions of what is still to publish.
        let mut pending: Vec<&str> = Vec::new();
        if progress.remote_id.is_none() {
            pending.push(&content.text);
        }
        pending.extend(
            content
                .thread
                .iter()
                .skip(progress.thread.len())
                .map(String::as_str),
        );
        if progress.first_comment.is_none()
            && let Some(c) = &content.first_comment
        {
            pending.push(c);
        }
        let handles: Vec<String> = pending
            .iter()
            .flat_map(|t| record::detect(t))
            .filter_map(|s| match s.feature {
                record::Feature::Mention(h) => Some(h),
                _ => None,
            })
            .collect();
        let dids = self.resolve_handles(&handles).await?;
        let facets = |text: &str| {
            record::facets_json(&record::detect(text), |h| dids.get(h).cloned().flatten())
        };

        // 1. The main post.
        let root = match progress.remote_id.clone() {
            Some(uri) => self.known_ref(&uri, 0, &mut progress, checkpoint).await?,
            None => {
                let rkey = base.rkey(0);
                let mut fresh = false;
                let root = loop {
                    let embed = if media.is_empty() {
                        self.link_card(content).await
                    } else if media[0].video {
                        Embed::Video(
                            self.video(&media[0], &mut progress, checkpoint, fresh)
                                .await?,
                        )
                    } else {
                        Embed::Images(self.blobs(&media, &mut progress, checkpoint, fresh).await?)
                    };
                    let rec = record::post_record(&PostParts {
                        text: &content.text,
                        created_at: self.now(),
                        lang,
                        facets: facets(&content.text),
                        embed,
                        reply: None,
                    });
                    match self.create_post(&rkey, &rec, "publishing the post").await? {
                        Created::Ref(r) => break r,
                        Created::BlobNotFound(msg) if !fresh && !media.is_empty() => {
                            tracing::info!(%msg, "Bluesky forgot an uploaded image; uploading again");
                            fresh = true;
                        }
                        Created::BlobNotFound(msg) => {
                            return Err(Fault::Outcome(Outcome::Retry {
                                at: None,
                                reason: format!("Bluesky lost the uploaded images: {msg}"),
                            }));
                        }
                    }
                };
                progress.remote_id = Some(root.uri.clone());
                progress.url = Some(record::post_url(&session.handle, &rkey));
                progress.extra.insert(extra_cid(0), root.cid.clone());
                save(checkpoint, &progress).await?;
                for m in &media {
                    if let Some(b) = progress.media.get(&m.sha256) {
                        // Referenced by a post now: the PDS keeps it.
                        self.deps
                            .uploads
                            .put(&self.deps.account_id, &m.sha256, b, None)
                            .await;
                    }
                }
                root
            }
        };
        let remote_id = root.uri.clone();
        let url = progress.url.clone();

        // 2. The thread, each reply under the previous one.
        let mut parent = match progress.thread.last().cloned() {
            Some(uri) => {
                let part = progress.thread.len() as u64;
                self.known_ref(&uri, part, &mut progress, checkpoint)
                    .await?
            }
            None => root.clone(),
        };
        for i in progress.thread.len()..content.thread.len() {
            let part = i as u64 + 1;
            let text = &content.thread[i];
            let rec = record::post_record(&PostParts {
                text,
                created_at: self.now(),
                lang,
                facets: facets(text),
                embed: Embed::None,
                reply: Some((root.clone(), parent.clone())),
            });
            let what = format!(
                "publishing thread reply {} (the post is out at {remote_id})",
                i + 1
            );
            let created = match self.create_post(&base.rkey(part), &rec, &what).await? {
                Created::Ref(r) => r,
                Created::BlobNotFound(msg) => {
                    return Err(Fault::Outcome(Outcome::Failed {
                        reason: format!("{what}: {msg}"),
                    }));
                }
            };
            progress.thread.push(created.uri.clone());
            progress.extra.insert(extra_cid(part), created.cid.clone());
            save(checkpoint, &progress).await?;
            parent = created;
        }

        // 3. The first comment, under the post.
        if progress.first_comment.is_none()
            && let Some(text) = &content.first_comment
        {
            let rec = record::post_record(&PostParts {
                text,
                created_at: self.now(),
                lang,
                facets: facets(text),
                embed: Embed::None,
                reply: Some((root.clone(), root.clone())),
            });
            let what = format!("publishing the first comment (the post is out at {remote_id})");
            let part = record::FIRST_COMMENT_PART;
            match self.create_post(&base.rkey(part), &rec, &what).await? {
                Created::Ref(r) => {
                    progress.first_comment = Some(r.uri.clone());
                    progress.extra.insert(extra_cid(part), r.cid);
                    save(checkpoint, &progress).await?;
                }
                Created::BlobNotFound(msg) => {
                    return Err(Fault::Outcome(Outcome::Failed {
                        reason: format!("{what}: {msg}"),
                    }));
                }
            }
        }
        Ok(Outcome::Published { remote_id, url })
    }
}

fn check_text(what: &str, text: &str) -> Result<(), Fault> {
    let over = limits::check_text(PlatformKind::Bluesky, text, None, false);
    match over.first() {
        None => Ok(()),
        Some(o) => Err(Fault::Outcome(Outcome::Failed {
            reason: format!(
                "{what} {}: shorten it (Bluesky counts 300 graphemes and 3,000 bytes)",
                o.describe()
            ),
        })),
    }
}
