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

// ------------------------------------------------------------ data folder

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `berrah run` under `umask 000`: a new data folder is 0700 and the
/// database with its `-wal` and `-shm` 0600; a data folder and database
/// left open by an earlier version are tightened, and the change logged.
#[tokio::test]
async fn the_daemon_keeps_its_data_folder_and_database_private() {
    for existing in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("berrah.toml"), "[daemon]\ndata_dir = \"data\"\n").unwrap();
        std::fs::create_dir(dir.join("campaigns")).unwrap();
        let data = dir.join("data");
        if existing {
            std::fs::create_dir(&data).unwrap();
            set_mode(&data, 0o755);
            std::fs::write(data.join("berrah.db"), b"").unwrap();
            set_mode(&data.join("berrah.db"), 0o644);
        }
        let log = dir.join("daemon.log");
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"umask 000 && exec "$0" --config berrah.toml run --no-watch"#)
            .arg(env!("CARGO_BIN_EXE_berrah"))
            .current_dir(dir)
            .env("BERRAH_TZDB", "bundled")
            .env_remove("BERRAH_CONFIG")
            .env_remove("BERRAH_CAMPAIGNS")
            .env_remove("DATABASE_URL")
            .env_remove("BERRAH_NOW")
            .env_remove("BERRAH_TOKEN_KEY")
            .env("RUST_LOG", "warn,berrah=info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let files = ["berrah.db", "berrah.db-wal", "berrah.db-shm"].map(|f| data.join(f));
        super::support::eventually("the daemon started, its database and WAL", 30, || {
            let ready = files.iter().all(|f| f.exists())
                && std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("berrah daemon starting");
            async move { ready }
        })
        .await;
        let modes: Vec<u32> = files.iter().map(|f| mode(f)).collect();
        let data_mode = mode(&data);
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(status.success(), "{status:?}\n{text}");
        assert_eq!(data_mode, 0o700, "existing: {existing}\n{text}");
        assert_eq!(modes, [0o600; 3], "existing: {existing}\n{text}");
        if existing {
            assert!(
                text.contains("readable by other users; tightened"),
                "{text}"
            );
        }
    }
}

/// The outbox (accounts without credentials) is 0600 in a 0700 folder
/// when it creates them, and an outbox left open is tightened.
#[tokio::test]
async fn the_outbox_is_private() {
    use berrah::platforms::outbox::{FILE_NAME, Outbox};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let record = |id: &str| berrah::platforms::outbox::OutboxRecord {
        occurrence: id.into(),
        campaign: "c".into(),
        capsule: None,
        post: "p".into(),
        account: "a".into(),
        platform: berrah::config::PlatformKind::Mastodon,
        language: "fr".into(),
        due_local: "2027-01-22T10:00:00+00:00".into(),
        due_utc: t("2027-01-22T10:00:00Z"),
        timezone: "Africa/Casablanca".into(),
        published_at: t("2027-01-22T10:00:00Z"),
        text: "t".into(),
        title: None,
        media: Vec::new(),
        thread: Vec::new(),
        first_comment: None,
    };
    let outbox = Outbox::in_dir(&data);
    assert!(outbox.append(&record("o-1")).await.unwrap());
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join(FILE_NAME)), 0o600);
    set_mode(&data.join(FILE_NAME), 0o644);
    assert!(outbox.append(&record("o-2")).await.unwrap());
    assert_eq!(mode(&data.join(FILE_NAME)), 0o600);
}

// -------------------------------------------------------------- token key

/// `berrah run` with the token key in a file others may read: refused
/// before anything else, with the `chmod 600` to run, never the key; once
/// it is 0600 the daemon starts.
#[tokio::test]
async fn a_token_key_file_others_may_read_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("berrah.toml"),
        "[daemon]\ndata_dir = \"data\"\ntoken_key = \"file:token.key\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("campaigns")).unwrap();
    let key = dir.join("token.key");
    std::fs::write(&key, "5a".repeat(32)).unwrap();
    set_mode(&key, 0o644);
    let command = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"));
        cmd.current_dir(dir)
            .env("BERRAH_TZDB", "bundled")
            .env_remove("BERRAH_CONFIG")
            .env_remove("BERRAH_CAMPAIGNS")
            .env_remove("DATABASE_URL")
            .env_remove("BERRAH_NOW")
            .env_remove("BERRAH_TOKEN_KEY")
            .env("RUST_LOG", "warn,berrah=info")
            .args(["--config", "berrah.toml", "run", "--no-watch"])
            .stdin(std::process::Stdio::null());
        cmd
    };
    let out = command().output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    // The path as berrah resolved it (relative to berrah.toml's folder,
    // here the working directory).
    assert!(err.contains("run `chmod 600 token.key`"), "{err}");
    assert!(err.contains("readable by other users"), "{err}");
    assert!(!err.contains("5a5a5a"), "the key is never shown: {err}");

    set_mode(&key, 0o600);
    let log = dir.join("daemon.log");
    let mut child = command()
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    super::support::eventually("the daemon started", 30, || {
        let started = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("berrah daemon starting");
        async move { started }
    })
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status:?}\n{text}");
    assert!(!text.contains("chmod 600"), "{text}");
}
