//! Security, files: what the daemon refuses to open or send, and the modes
//! of what it writes.
//!
//! The media tests run the real daemon on the simulated clock against the
//! fake Mastodon: campaign files are checked, then a media file is swapped
//! (for a symlink to a file outside the campaign's folder, for a FIFO)
//! before it is due, and nothing of it may reach the platform.

use std::path::Path;
use std::sync::Arc;

use berrah::auth::{CredentialsFactory, MemoryTokenStore};
use berrah::scheduler::Daemon;
use berrah::store::testing::sqlite_temp;
use berrah::store::{EntryState, ListFilter, Store};
use berrah::time::SimClock;
use berrah_fakes::mastodon::{self as fm, FakeMastodon};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::support::{daemon_config, fixture, planned};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const CONFIG: &str = r#"
[daemon]
campaigns = "campaigns"
data_dir = "data"
expires_after = "24h"

[accounts.oim-mastodon]
platform = "mastodon"
name = "OIM Maroc (Mastodon)"
handle = "@berrah"
base_url = "MASTODON_URL"
credentials = "file:secrets/mastodon"
languages = ["fr"]
options = { visibility = "public" }
"#;

/// Three posts with one photo each: `lien` and `tube` get their photo
/// swapped after the check, `vrai` keeps it.
const CAMPAIGN: &str = r#"
[campaign]
id = "fichiers"
title = "Des fichiers échangés après la vérification"
timezone = "Africa/Casablanca"
start = 2027-01-20
end = 2027-01-31
accounts = ["oim-mastodon"]
languages = ["fr"]

[[posts]]
id = "lien"
date_time = 2027-01-22T10:00:00
text.fr = "Une photo remplacée par un lien vers un fichier hors du dossier."
[[posts.media]]
file = "media/lien.jpg"
alt = { fr = "Une cour d'école." }

[[posts]]
id = "tube"
date_time = 2027-01-23T10:00:00
text.fr = "Une photo remplacée par un tube nommé."
[[posts.media]]
file = "media/tube.jpg"
alt = { fr = "Une cour d'école." }

[[posts]]
id = "vrai"
date_time = 2027-01-24T10:00:00
text.fr = "Une photo restée à sa place."
[[posts.media]]
file = "media/vrai.jpg"
alt = { fr = "Une cour d'école." }
"#;

/// A project folder for the campaign above, pointed at `fake`; the photo
/// that stands outside the campaign's folder is `outside.jpg` beside it.
fn project(fake: &FakeMastodon) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("berrah.toml"),
        CONFIG.replace("MASTODON_URL", &fake.url()),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/mastodon"), fm::DEFAULT_TOKEN).unwrap();
    let media = dir.join("campaigns/media");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(dir.join("campaigns/fichiers.toml"), CAMPAIGN).unwrap();
    let photos = fixture("e2e/open/campaigns/media");
    for name in ["lien.jpg", "tube.jpg", "vrai.jpg"] {
        std::fs::copy(photos.join("amal-ecole-pour-tous.jpg"), media.join(name)).unwrap();
    }
    std::fs::copy(
        photos.join("b7al-b7al-semaine.jpg"),
        dir.join("outside.jpg"),
    )
    .unwrap();
    tmp
}

/// Runs the daemon of `dir` (its accounts' real clients) on a SimClock
/// that jumps from due time to due time from `start` until `until` or
/// until nothing is left. Hang guard: 60 s of real time (a FIFO opened
/// blocking would trip it).
async fn run_daemon(dir: &Path, store: Store, start: Timestamp, until: Option<Timestamp>) {
    let sim = SimClock::new(start);
    let mut cfg = daemon_config(dir, store, Arc::new(sim.clone()));
    cfg.jump = Some(sim.clone());
    cfg.until = until;
    cfg.credentials = Some(CredentialsFactory {
        store: Arc::new(MemoryTokenStore::new()),
        key: None,
        base_dir: dir.to_path_buf(),
        clock: Arc::new(sim),
    });
    let run = Daemon::new(cfg).run(CancellationToken::new());
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the simulated run hung")
        .expect("the daemon failed");
}

#[tokio::test]
async fn media_swapped_after_check_for_a_link_out_or_a_fifo_is_never_sent() {
    let fake = FakeMastodon::start().await.unwrap();
    fake.set_processing_polls(0);
    let tmp = project(&fake);
    let dir = tmp.path();
    let start = t("2027-01-21T00:00:00Z");

    // `berrah check` accepts the campaign as written, and the daemon
    // queues its posts.
    let planned = planned(dir, start);
    assert_eq!(planned.len(), 3, "the campaign is valid and plans 3 posts");
    let (_db, store) = sqlite_temp().await;
    let queued = t("2027-01-21T12:00:00Z");
    run_daemon(dir, store.clone(), start, Some(queued)).await;
    let entries = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.state == EntryState::Scheduled));

    // Then, before they are due: a link to a photo outside the folder (a
    // real JPEG, so only the folder's bound can stop it), and a FIFO.
    let media = dir.join("campaigns/media");
    std::fs::remove_file(media.join("lien.jpg")).unwrap();
    std::os::unix::fs::symlink(dir.join("outside.jpg"), media.join("lien.jpg")).unwrap();
    std::fs::remove_file(media.join("tube.jpg")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(media.join("tube.jpg"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");

    // The daemon finds the campaign file now broken and keeps its last
    // valid snapshot: the entries stay queued and come due.
    run_daemon(dir, store.clone(), queued, None).await;

    // Only the untouched post reached Mastodon, with its own photo.
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    assert!(statuses[0].text.contains("restée à sa place"));
    let uploaded = fake.media();
    assert_eq!(uploaded.len(), 1, "{uploaded:#?}");
    let inside = std::fs::metadata(dir.join("campaigns/media/vrai.jpg"))
        .unwrap()
        .len();
    assert_eq!(uploaded[0].size as u64, inside);

    // The other two failed, each with a reason naming its file and what to do.
    let entries = store.list(ListFilter::default()).await.unwrap();
    let entry = |post: &str| entries.iter().find(|e| e.post == post).unwrap();
    assert_eq!(entry("vrai").state, EntryState::Published);
    for (post, file, why) in [
        (
            "lien",
            "media/lien.jpg",
            "leads outside the campaign's folder",
        ),
        (
            "tube",
            "media/tube.jpg",
            "is a named pipe (FIFO), not a regular file",
        ),
    ] {
        let e = entry(post);
        assert_eq!(e.state, EntryState::Failed, "{post}: {e:?}");
        let reason = e.last_error.as_deref().unwrap_or_default();
        assert!(
            reason.contains(file) && reason.contains(why) && reason.contains("berrah retry"),
            "{post}: {reason}"
        );
    }
}
