//! Images (§3.1 of the notes): each file measured and checked against
//! Bluesky's limits, then its blob from the progress or the upload cache,
//! else `uploadBlob` streamed from disk.

use reqwest::Method;
use serde_json::Value;

use super::record::ImageEmbed;
use super::xrpc::{Fault, ReqBody};
use super::{Bluesky, MAX_IMAGE_BYTES, MAX_IMAGES, MAX_VIDEO_BYTES, save};
use crate::media::probe::MediaKind;
use crate::platforms::{Checkpoint, Outcome, Progress, PublishJob, common};

/// A media file measured and checked for Bluesky.
#[derive(Debug, Clone)]
pub(super) struct Prepared {
    /// The file opened beneath the campaign's folder, uploaded from its handle.
    pub(super) media: common::MediaFile,
    /// The path as the campaign file names it.
    pub(super) file: String,
    pub(super) mime: String,
    pub(super) size: u64,
    pub(super) sha256: String,
    pub(super) alt: String,
    pub(super) dims: Option<(u32, u32)>,
    /// A video (through the video service) rather than an image blob.
    pub(super) video: bool,
}

impl Bluesky {
    /// Measures the media of a post and checks them against Bluesky's rules.
    pub(super) async fn prepare_media(&self, job: &PublishJob) -> Result<Vec<Prepared>, Outcome> {
        let mut out = Vec::new();
        for m in &job.content.media {
            let file = common::media_file(m)
                .await
                .map_err(|reason| Outcome::Failed { reason })?;
            let info = file.info.clone();
            match info.kind {
                MediaKind::Image => {
                    if info.size > MAX_IMAGE_BYTES {
                        return Err(Outcome::Failed {
                            reason: format!(
                                "`{}` is {} bytes, over Bluesky's limit of {MAX_IMAGE_BYTES} bytes per image: resize or recompress it",
                                m.file, info.size
                            ),
                        });
                    }
                }
                MediaKind::Video => {
                    if info.mime != "video/mp4" {
                        return Err(Outcome::Failed {
                            reason: format!(
                                "`{}` is {}; Bluesky takes MP4 videos only: convert it",
                                m.file, info.mime
                            ),
                        });
                    }
                    if info.size > MAX_VIDEO_BYTES {
                        return Err(Outcome::Failed {
                            reason: format!(
                                "`{}` is {} bytes, over Bluesky's limit of {MAX_VIDEO_BYTES} bytes per video: make a smaller export",
                                m.file, info.size
                            ),
                        });
                    }
                }
                MediaKind::Other => {
                    return Err(Outcome::Failed {
                        reason: format!(
                            "`{}` is {}, which Bluesky does not accept as post media",
                            m.file, info.mime
                        ),
                    });
                }
            }
            out.push(Prepared {
                file: m.file.clone(),
                mime: file.mime.clone(),
                size: file.size,
                sha256: file.sha256.clone(),
                media: file,
                alt: m.alt.clone().unwrap_or_default(),
                dims: info.width.zip(info.height),
                video: info.kind == MediaKind::Video,
            });
        }
        if out.iter().any(|m| m.video) && out.len() > 1 {
            return Err(Outcome::Failed {
                reason: format!(
                    "Bluesky takes one video per post, without images; this post has {} media files: keep only the video",
                    out.len()
                ),
            });
        }
        if out.len() > MAX_IMAGES {
            return Err(Outcome::Failed {
                reason: format!(
                    "Bluesky takes at most {MAX_IMAGES} images per post, this post has {}: remove some",
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// The blobs of the post's images: from the progress or the upload
    /// cache, else uploaded now (and checkpointed). `fresh`: ignore both and
    /// upload again (the PDS forgot an unreferenced blob).
    pub(super) async fn blobs(
        &self,
        media: &[Prepared],
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
        fresh: bool,
    ) -> Result<Vec<ImageEmbed>, Fault> {
        let mut out = Vec::new();
        for m in media {
            let known = if fresh {
                None
            } else {
                match progress.media.get(&m.sha256) {
                    Some(b) => Some(b.clone()),
                    None => {
                        self.deps
                            .uploads
                            .get(&self.deps.account_id, &m.sha256)
                            .await
                    }
                }
            };
            let blob = match known.and_then(|b| parse_blob(&b, m)) {
                Some(b) => b,
                None => {
                    let blob = self.upload(m).await?;
                    let text = blob.to_string();
                    progress.media.insert(m.sha256.clone(), text.clone());
                    save(checkpoint, progress).await?;
                    // An unreferenced blob is kept only minutes by the PDS.
                    let expires = self
                        .now()
                        .checked_add(jiff::SignedDuration::from_mins(5))
                        .ok();
                    self.deps
                        .uploads
                        .put(&self.deps.account_id, &m.sha256, &text, expires)
                        .await;
                    blob
                }
            };
            out.push(ImageEmbed {
                blob,
                alt: m.alt.clone(),
                size: m.dims,
            });
        }
        Ok(out)
    }

    /// `uploadBlob`, streamed from disk.
    pub(super) async fn upload(&self, m: &Prepared) -> Result<Value, Fault> {
        let (answer, _) = self
            .authed(
                Method::POST,
                "com.atproto.repo.uploadBlob",
                &[],
                &ReqBody::File(m),
            )
            .await
            .map_err(|f| match f {
                Fault::Transport(e) => Fault::Outcome(common::transport_outcome(
                    &format!("uploading `{}` to Bluesky", m.file),
                    &e,
                    true,
                )),
                other => other,
            })?;
        if !answer.ok() {
            return Err(Fault::Outcome(self.classify(
                &format!("uploading `{}` to Bluesky", m.file),
                &answer,
                Some(m),
            )));
        }
        match answer.json.get("blob") {
            Some(b) if b.get("ref").is_some() => Ok(b.clone()),
            _ => Err(Fault::Outcome(Outcome::Retry {
                at: None,
                reason: format!(
                    "Bluesky answered the upload of `{}` without a blob: {}",
                    m.file,
                    common::excerpt(&answer.text)
                ),
            })),
        }
    }
}

/// A blob object saved in the progress or the upload cache, checked against
/// the file it stands for.
fn parse_blob(saved: &str, m: &Prepared) -> Option<Value> {
    let v: Value = serde_json::from_str(saved).ok()?;
    let ok = v.get("ref").and_then(|r| r.get("$link")).is_some()
        && v.get("size").and_then(Value::as_u64) == Some(m.size);
    ok.then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn saved_blobs_must_match_the_file() {
        let m = Prepared {
            media: common::test_media_file("/c/p.png", "image/png", 42),
            file: "p.png".into(),
            mime: "image/png".into(),
            size: 42,
            sha256: "00".into(),
            alt: String::new(),
            dims: None,
            video: false,
        };
        let blob =
            json!({"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "image/png", "size": 42});
        assert_eq!(parse_blob(&blob.to_string(), &m), Some(blob));
        assert_eq!(parse_blob("bafkrei", &m), None);
        let other =
            json!({"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "image/png", "size": 7});
        assert_eq!(parse_blob(&other.to_string(), &m), None);
    }
}
