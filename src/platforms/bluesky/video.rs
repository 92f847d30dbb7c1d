//! Videos (§3.2 of the notes): a service token, `uploadVideo` to Bluesky's
//! video service, then `getJobStatus` until the processed blob is ready;
//! the job id is checkpointed so that a later attempt resumes polling.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;

use super::media::Prepared;
use super::record::ImageEmbed;
use super::xrpc::{Fault, ReqBody};
use super::{
    Bluesky, EXTRA_VIDEO_FAILURES, EXTRA_VIDEO_JOB, VIDEO_MAX_FAILURES, VIDEO_SERVICE, VIDEO_WAIT,
    save,
};
use crate::platforms::{Checkpoint, Outcome, Progress, common};

impl Bluesky {
    /// The processed blob of a video, through Bluesky's video service (§3.2
    /// of the notes, docs.bsky.app "tutorials/video"): a service token from
    /// the PDS (`getServiceAuth`, audience the PDS's `did:web`, method
    /// `uploadBlob`), `app.bsky.video.uploadVideo` (streamed), then
    /// `getJobStatus` until the job carries a blob. The job id is
    /// checkpointed, so a later attempt resumes polling instead of
    /// uploading again.
    pub(super) async fn video(
        &self,
        m: &Prepared,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
        fresh: bool,
    ) -> Result<ImageEmbed, Fault> {
        let embed = |blob: Value| ImageEmbed {
            blob,
            alt: m.alt.clone(),
            size: m.dims,
        };
        if fresh {
            progress.media.remove(&m.sha256);
            progress.extra.remove(EXTRA_VIDEO_JOB);
        } else if let Some(b) = progress
            .media
            .get(&m.sha256)
            .and_then(|b| parse_video_blob(b))
        {
            return Ok(embed(b));
        }
        let service = self
            .deps
            .account
            .option_str("video_service")
            .unwrap_or(VIDEO_SERVICE)
            .trim_end_matches('/')
            .to_string();
        let mut job = progress.extra.get(EXTRA_VIDEO_JOB).cloned();
        if job.is_none() {
            let status = self.upload_video(m, &service).await?;
            match job_state(&status, &m.file) {
                JobState::Done(blob) => {
                    return self
                        .video_done(m, blob, progress, checkpoint)
                        .await
                        .map(embed);
                }
                JobState::Pending(id) => {
                    progress.extra.insert(EXTRA_VIDEO_JOB.into(), id.clone());
                    save(checkpoint, progress).await?;
                    job = Some(id);
                }
                JobState::Failed(reason) => {
                    return Err(self.video_failed(reason, progress, checkpoint).await);
                }
            }
        }
        let Some(job) = job else {
            return Err(Fault::Outcome(Outcome::Retry {
                at: None,
                reason: format!("the video service gave no job for `{}`", m.file),
            }));
        };
        let started = std::time::Instant::now();
        let mut polls = 0u32;
        loop {
            let answer = self
                .send(
                    &service,
                    Method::GET,
                    "app.bsky.video.getJobStatus",
                    &[("jobId", job.as_str())],
                    &ReqBody::None,
                    None,
                )
                .await
                .map_err(|f| match f {
                    Fault::Transport(e) => Fault::Outcome(common::transport_outcome(
                        &format!("asking the video service about `{}`", m.file),
                        &e,
                        true,
                    )),
                    other => other,
                })?;
            if !answer.ok() {
                return Err(Fault::Outcome(self.classify(
                    &format!("asking the video service about `{}`", m.file),
                    &answer,
                    Some(m),
                )));
            }
            match job_state(&answer.json, &m.file) {
                JobState::Done(blob) => {
                    return self
                        .video_done(m, blob, progress, checkpoint)
                        .await
                        .map(embed);
                }
                JobState::Failed(reason) => {
                    return Err(self.video_failed(reason, progress, checkpoint).await);
                }
                JobState::Pending(_) => {}
            }
            if started.elapsed() >= VIDEO_WAIT {
                return Err(Fault::Outcome(Outcome::Retry {
                    at: None,
                    reason: format!(
                        "the video service is still processing `{}` (job {job}); the next attempt goes on waiting",
                        m.file
                    ),
                }));
            }
            tokio::time::sleep(common::poll_interval(polls)).await;
            polls += 1;
        }
    }

    /// `getServiceAuth` then `uploadVideo`; answers the job status.
    async fn upload_video(&self, m: &Prepared, service: &str) -> Result<Value, Fault> {
        let session = self.current_session().await?;
        let aud = did_web(&session.pds);
        let exp = (self.now().as_second() + 1800).to_string();
        let (answer, session) = self
            .authed(
                Method::GET,
                "com.atproto.server.getServiceAuth",
                &[
                    ("aud", aud.as_str()),
                    ("lxm", "com.atproto.repo.uploadBlob"),
                    ("exp", exp.as_str()),
                ],
                &ReqBody::None,
            )
            .await?;
        let token = match answer.json.get("token").and_then(Value::as_str) {
            Some(t) if answer.ok() => SecretString::from(t.to_string()),
            _ => {
                return Err(Fault::Outcome(self.classify(
                    "getting a service token for the video upload",
                    &answer,
                    None,
                )));
            }
        };
        let name = m.media.file_name.clone();
        let answer = self
            .send(
                service,
                Method::POST,
                "app.bsky.video.uploadVideo",
                &[("did", session.did.as_str()), ("name", name.as_str())],
                &ReqBody::File(m),
                Some(&token),
            )
            .await
            .map_err(|f| match f {
                Fault::Transport(e) => Fault::Outcome(common::transport_outcome(
                    &format!("uploading `{}` to the video service", m.file),
                    &e,
                    true,
                )),
                other => other,
            })?;
        // "already_exists" (reportedly a 409) still carries the job and blob.
        let status = answer.json.get("jobStatus").unwrap_or(&answer.json);
        if answer.ok()
            || status
                .get("jobId")
                .and_then(Value::as_str)
                .is_some_and(|j| !j.is_empty())
        {
            return Ok(answer.json.clone());
        }
        if status.get("error").and_then(Value::as_str) == Some("unconfirmed_email") {
            return Err(Fault::Outcome(Outcome::Failed {
                reason: format!(
                    "Bluesky posts videos only from accounts with a verified email: verify the email of `{}`, then retry `{}`",
                    session.handle, m.file
                ),
            }));
        }
        Err(Fault::Outcome(self.classify(
            &format!("uploading `{}` to the video service", m.file),
            &answer,
            Some(m),
        )))
    }

    async fn video_done(
        &self,
        m: &Prepared,
        blob: Value,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<Value, Fault> {
        progress.extra.remove(EXTRA_VIDEO_JOB);
        progress.extra.remove(EXTRA_VIDEO_FAILURES);
        progress.media.insert(m.sha256.clone(), blob.to_string());
        save(checkpoint, progress).await?;
        Ok(blob)
    }

    /// A failed processing job: try again later with a new upload, a few times.
    async fn video_failed(
        &self,
        reason: String,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Fault {
        let failures = progress
            .extra
            .get(EXTRA_VIDEO_FAILURES)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        progress.extra.remove(EXTRA_VIDEO_JOB);
        progress
            .extra
            .insert(EXTRA_VIDEO_FAILURES.into(), failures.to_string());
        if let Err(f) = save(checkpoint, progress).await {
            return f;
        }
        Fault::Outcome(if failures >= VIDEO_MAX_FAILURES {
            Outcome::Failed {
                reason: format!(
                    "{reason} ({failures} times): check the video's format, or publish it elsewhere"
                ),
            }
        } else {
            Outcome::Retry { at: None, reason }
        })
    }
}

/// Where a video job stands.
enum JobState {
    Done(Value),
    Pending(String),
    Failed(String),
}

/// Reads a job status, bare (`uploadVideo`) or wrapped in `jobStatus`
/// (`getJobStatus`): done when it carries a blob, failed on
/// `JOB_STATE_FAILED`, pending otherwise (unknown states too).
fn job_state(v: &Value, file: &str) -> JobState {
    let st = v.get("jobStatus").unwrap_or(v);
    if let Some(blob) = st.get("blob").filter(|b| b.get("ref").is_some()) {
        return JobState::Done(blob.clone());
    }
    let state = st.get("state").and_then(Value::as_str).unwrap_or("");
    if state == "JOB_STATE_FAILED" {
        let what = [st.get("failureCode"), st.get("error"), st.get("message")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(": ");
        return JobState::Failed(format!(
            "Bluesky's video service could not process `{file}` ({})",
            if what.is_empty() {
                "no reason given"
            } else {
                &what
            }
        ));
    }
    match st.get("jobId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => JobState::Pending(id.to_string()),
        _ => JobState::Failed(format!(
            "Bluesky's video service answered no job for `{file}`: {}",
            common::excerpt(&v.to_string())
        )),
    }
}

/// The `did:web` of a PDS URL (the audience of a video service token).
fn did_web(pds: &str) -> String {
    let host = url::Url::parse(pds)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}%3A{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_default();
    format!("did:web:{host}")
}

/// A processed video blob saved in the progress.
fn parse_video_blob(saved: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(saved).ok()?;
    let ok = v.get("ref").and_then(|r| r.get("$link")).is_some()
        && v.get("mimeType")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("video/"));
    ok.then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn video_jobs_bare_or_wrapped() {
        let bare = json!({"did": "did:plc:x", "jobId": "j1", "state": "JOB_STATE_CREATED"});
        assert!(matches!(job_state(&bare, "v.mp4"), JobState::Pending(id) if id == "j1"));
        let wrapped = json!({"jobStatus": {"jobId": "j1", "state": "JOB_STATE_SOMETHING_NEW"}});
        assert!(matches!(job_state(&wrapped, "v.mp4"), JobState::Pending(_)));
        let done = json!({"jobStatus": {"jobId": "j1", "state": "JOB_STATE_COMPLETED",
            "blob": {"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "video/mp4", "size": 9}}});
        assert!(matches!(job_state(&done, "v.mp4"), JobState::Done(_)));
        // "already_exists" still carries the blob.
        let exists = json!({"did": "d", "error": "already_exists", "jobId": "j2", "state": "JOB_STATE_COMPLETED",
            "blob": {"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "video/mp4", "size": 9}});
        assert!(matches!(job_state(&exists, "v.mp4"), JobState::Done(_)));
        let failed = json!({"jobStatus": {"jobId": "j1", "state": "JOB_STATE_FAILED", "failureCode": "encoding_failure"}});
        match job_state(&failed, "media/v.mp4") {
            JobState::Failed(r) => assert!(
                r.contains("media/v.mp4") && r.contains("encoding_failure"),
                "{r}"
            ),
            _ => panic!(),
        }
        assert_eq!(
            did_web("https://amanita.us-east.host.bsky.network"),
            "did:web:amanita.us-east.host.bsky.network"
        );
        assert_eq!(
            did_web("http://127.0.0.1:2583/"),
            "did:web:127.0.0.1%3A2583"
        );
    }
}
