//! Integration tests: auth. The login flow, refresh, rotation with crashes,
//! revocation and redaction, against the fake authorization server
//! (`berrah_fakes::oauth`), on the in-memory, SQLite and PostgreSQL token
//! stores.
//!
//! Client credentials: the fake's client id and secret are the values of
//! `CARGO_PKG_NAME` and `CARGO_PKG_VERSION`, which cargo sets for every test
//! run, so no test has to call `std::env::set_var` (unsound while other test
//! threads read the environment).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use berrah::auth::crypto::TokenKey;
use berrah::auth::login::{self, LoginError};
use berrah::auth::oauth::OAuthError;
use berrah::auth::refresh::{Refresher, StoredCredentials};
use berrah::auth::tokens::TokenStoreError;
use berrah::auth::{
    AuthError, Credentials, MemoryTokenStore, SqlTokenStore, TokenRecord, TokenStore,
    check_key_available, sources::KeyCheckError,
};
use berrah::config::AccountConfig;
use berrah::time::{BoxFuture, Clock};
use berrah_fakes::oauth::{FakeOAuth, FakeOAuthConfig};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};

// ---------------------------------------------------------------- helpers

/// A clock tests move by hand.
struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    fn new(at: Timestamp) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(at)))
    }
    fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
    fn sleep_until(&self, _deadline: Timestamp) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

fn t0() -> Timestamp {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn fake_config() -> FakeOAuthConfig {
    FakeOAuthConfig {
        client_id: env!("CARGO_PKG_NAME").to_string(),
        client_secret: Some(env!("CARGO_PKG_VERSION").to_string()),
        ..FakeOAuthConfig::default()
    }
}

fn account(platform: &str, fake: &FakeOAuth) -> AccountConfig {
    toml::from_str(&format!(
        r#"
platform = "{platform}"
credentials = "store"
[options]
auth_url = "{}"
token_url = "{}"
client_id_env = "CARGO_PKG_NAME"
client_secret_env = "CARGO_PKG_VERSION"
"#,
        fake.auth_url(),
        fake.token_url()
    ))
    .unwrap()
}

/// Plays the operator's browser: opens the authorization URL, then follows
/// the fake's redirect to the loopback listener.
fn browser() -> impl FnOnce(&url::Url) {
    |url: &url::Url| {
        let url = url.clone();
        tokio::spawn(async move {
            let client = berrah::http::client();
            let answer = client.get(url).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 302, "the fake redirects");
            let location = answer.headers()["location"].to_str().unwrap().to_string();
            let done = client.get(location).send().await.unwrap();
            assert!(done.status().is_success());
        });
    }
}

async fn do_login(
    store: &dyn TokenStore,
    key: &TokenKey,
    name: &str,
    cfg: &AccountConfig,
) -> Result<login::LoginSummary, LoginError> {
    login::oauth_login(
        store,
        key,
        name,
        cfg,
        Duration::from_secs(30),
        t0,
        browser(),
    )
    .await
}

fn creds(
    name: &str,
    cfg: &AccountConfig,
    store: Arc<dyn TokenStore>,
    key: &Arc<TokenKey>,
    clock: Arc<ManualClock>,
) -> StoredCredentials {
    let endpoints = berrah::auth::providers::oauth_endpoints(name, cfg)
        .unwrap()
        .unwrap();
    StoredCredentials::new(
        name,
        cfg.platform,
        store,
        key.clone(),
        clock,
        Some(Refresher {
            endpoints,
            account: cfg.clone(),
        }),
    )
}

fn refresh_token_of(record: &TokenRecord, key: &TokenKey) -> Option<String> {
    record
        .open(key)
        .unwrap()
        .refresh
        .map(|r| r.expose_secret().to_string())
}

fn access_token_of(record: &TokenRecord, key: &TokenKey) -> String {
    record.open(key).unwrap().access.expose_secret().to_string()
}

/// The tokens table of a real daemon database on SQLite, migrated by `Store::connect`.
async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn TokenStore> {
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let store = berrah::store::Store::connect(&url).await.unwrap();
    Arc::new(SqlTokenStore::from_store(&store))
}

/// The same on a fresh PostgreSQL database (or skipped, loudly).
async fn postgres_store(test: &str) -> Option<Arc<dyn TokenStore>> {
    let store = berrah::store::testing::postgres_or_skip(test).await?;
    Some(Arc::new(SqlTokenStore::from_store(&store)))
}

/// Every backend available: memory, SQLite, and PostgreSQL when configured.
async fn stores(test: &str, dir: &tempfile::TempDir) -> Vec<(&'static str, Arc<dyn TokenStore>)> {
    let mut out: Vec<(&'static str, Arc<dyn TokenStore>)> = vec![
        ("memory", Arc::new(MemoryTokenStore::new())),
        ("sqlite", sqlite_store(dir).await),
    ];
    if let Some(pg) = postgres_store(test).await {
        out.push(("postgres", pg));
    }
    out
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn login_flow_with_pkce_stores_encrypted_tokens() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("login_flow", &dir).await {
        let fake = FakeOAuth::start(fake_config()).await.unwrap();
        let key = TokenKey::generate();
        let cfg = account("x", &fake);
        let summary = do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
        assert!(summary.has_refresh_token, "{backend}");
        assert_eq!(
            summary.access_expires_at,
            Some(t0() + SignedDuration::from_secs(7200))
        );
        let reqs = fake.requests();
        let exchange = reqs
            .iter()
            .find(|r| r.grant_type.as_deref() == Some("authorization_code"))
            .unwrap();
        assert!(
            exchange.pkce_verified,
            "{backend}: the verifier matched the S256 challenge"
        );
        assert!(
            exchange.basic_auth,
            "{backend}: X's confidential client uses Basic"
        );
        assert_eq!(exchange.status, 200);
        let record = store.get("oim-x").await.unwrap().unwrap();
        assert_eq!(record.platform, "x");
        assert!(record.refreshable && !record.needs_operator);
        let access = access_token_of(&record, &key);
        assert!(fake.access_token_issued(&access));
        // At rest, the blob does not contain the token in clear.
        assert!(
            !record
                .blob
                .windows(access.len())
                .any(|w| w == access.as_bytes()),
            "{backend}"
        );
    }
}

/// Plays a browser that opens the authorization URL `times` times (the
/// operator tries again after an error page), following each redirect to
/// the loopback listener; returns the listener's answers' statuses.
fn browser_visiting(
    times: usize,
) -> (
    impl FnOnce(&url::Url),
    tokio::sync::oneshot::Receiver<Vec<u16>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let visit = move |url: &url::Url| {
        let url = url.clone();
        tokio::spawn(async move {
            let client = berrah::http::client();
            let mut statuses = Vec::new();
            for _ in 0..times {
                let answer = client.get(url.clone()).send().await.unwrap();
                assert_eq!(answer.status().as_u16(), 302, "the fake redirects");
                let location = answer.headers()["location"].to_str().unwrap().to_string();
                let page = client.get(location).send().await.unwrap();
                statuses.push(page.status().as_u16());
            }
            let _ = tx.send(statuses);
        });
    };
    (visit, rx)
}

/// A redirect with a wrong `state` (forged, or from a stale tab) gets an
/// error page and is ignored: its code is never exchanged, and the login
/// waits on until its timeout, storing nothing.
#[tokio::test]
async fn login_with_a_wrong_state_is_ignored_and_stores_nothing() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    fake.send_wrong_state_next();
    let store = MemoryTokenStore::new();
    let key = TokenKey::generate();
    let cfg = account("x", &fake);
    let (browser, statuses) = browser_visiting(1);
    let started = std::time::Instant::now();
    let err = login::oauth_login(
        &store,
        &key,
        "oim-x",
        &cfg,
        Duration::from_secs(2),
        t0,
        browser,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, LoginError::OAuth(OAuthError::Timeout(2))),
        "{err}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the wrong state ended the login"
    );
    assert_eq!(statuses.await.unwrap(), [400], "an error page");
    assert_eq!(
        fake.token_requests("authorization_code"),
        0,
        "no code exchanged"
    );
    assert!(store.get("oim-x").await.unwrap().is_none());
}

/// After a redirect with a wrong `state`, the right one still connects the
/// account: only its code is exchanged.
#[tokio::test]
async fn login_waits_past_a_wrong_state_for_the_right_one() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    fake.send_wrong_state_next();
    let store = MemoryTokenStore::new();
    let key = TokenKey::generate();
    let cfg = account("x", &fake);
    let (browser, statuses) = browser_visiting(2);
    let summary = login::oauth_login(
        &store,
        &key,
        "oim-x",
        &cfg,
        Duration::from_secs(30),
        t0,
        browser,
    )
    .await
    .unwrap();
    assert!(summary.has_refresh_token);
    assert_eq!(statuses.await.unwrap(), [400, 200]);
    assert_eq!(fake.token_requests("authorization_code"), 1);
    assert!(store.get("oim-x").await.unwrap().is_some());
}

/// The server's `error_description` reaches the operator without terminal
/// control sequences.
#[tokio::test]
async fn a_denial_is_reported_without_control_sequences() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    fake.deny_next_saying("Denied\u{1b}]0;pwned\u{7} by\u{1b}[2J the owner");
    let store = MemoryTokenStore::new();
    let key = TokenKey::generate();
    let err = do_login(&store, &key, "a", &account("linkedin", &fake))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("access_denied: Denied by the owner"),
        "{text:?}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains("pwned"),
        "{text:?}"
    );
}

#[tokio::test]
async fn login_denied_by_the_operator_is_reported() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    fake.deny_next();
    let store = MemoryTokenStore::new();
    let key = TokenKey::generate();
    let err = do_login(&store, &key, "a", &account("linkedin", &fake))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoginError::OAuth(OAuthError::Denied(_))),
        "{err}"
    );
    assert!(err.to_string().contains("access_denied"));
}

#[tokio::test]
async fn the_fake_refuses_a_wrong_pkce_verifier() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let client = berrah::http::client();
    let redirect = "http://127.0.0.1:9/callback";
    let answer = client
        .get(fake.auth_url())
        .query(&[
            ("response_type", "code"),
            ("client_id", env!("CARGO_PKG_NAME")),
            ("redirect_uri", redirect),
            ("state", "s"),
            // S256 of the RFC 7636 example verifier.
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let token = |verifier: &'static str, code: String| {
        client.post(fake.token_url()).form(&[
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", redirect.to_string()),
            ("code_verifier", verifier.to_string()),
            ("client_id", env!("CARGO_PKG_NAME").to_string()),
            ("client_secret", env!("CARGO_PKG_VERSION").to_string()),
        ])
    };
    let wrong = token(
        "not-the-verifier-not-the-verifier-not-the-verifier",
        code.clone(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(wrong.status().as_u16(), 400);
    assert!(wrong.text().await.unwrap().contains("invalid_grant"));
}

// ---------------------------------------------------------------- refresh

#[tokio::test]
async fn refreshes_shortly_before_expiry_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("refresh_before_expiry", &dir).await {
        let fake = FakeOAuth::start(fake_config()).await.unwrap();
        let key = Arc::new(TokenKey::generate());
        let cfg = account("x", &fake);
        do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
        let first = store.get("oim-x").await.unwrap().unwrap();
        let clock = ManualClock::new(t0() + SignedDuration::from_secs(3600));
        let c = creds("oim-x", &cfg, store.clone(), &key, clock.clone());

        // An hour left: the stored token, no refresh.
        let s = c.secret().await.unwrap();
        assert_eq!(s.expose_secret(), access_token_of(&first, &key));
        assert_eq!(fake.token_requests("refresh_token"), 0, "{backend}");

        // Two minutes left (inside the margin): refreshed first.
        clock.set(t0() + SignedDuration::from_secs(7200 - 120));
        let s = c.secret().await.unwrap();
        assert_ne!(
            s.expose_secret(),
            access_token_of(&first, &key),
            "{backend}"
        );
        assert!(fake.access_token_issued(s.expose_secret()));
        assert_eq!(fake.token_requests("refresh_token"), 1);
        let second = store.get("oim-x").await.unwrap().unwrap();
        assert_eq!(access_token_of(&second, &key), s.expose_secret());
        assert_eq!(
            second.access_expires_at,
            Some(clock.now() + SignedDuration::from_secs(7200))
        );
        // X rotates: the new refresh token is stored, the old one is spent.
        let old_rt = refresh_token_of(&first, &key).unwrap();
        let new_rt = refresh_token_of(&second, &key).unwrap();
        assert_ne!(old_rt, new_rt);
        assert!(!fake.refresh_token_valid(&old_rt) && fake.refresh_token_valid(&new_rt));

        // Fresh again: no further refresh.
        c.secret().await.unwrap();
        assert_eq!(fake.token_requests("refresh_token"), 1, "{backend}");
    }
}

#[tokio::test]
async fn concurrent_publications_refresh_once() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let key = Arc::new(TokenKey::generate());
    let cfg = account("x", &fake);
    do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
    let clock = ManualClock::new(t0() + SignedDuration::from_secs(7300));
    let a = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
    let b = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
    let (ra, rb) = tokio::join!(a.secret(), b.secret());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.expose_secret(), rb.expose_secret());
    assert_eq!(
        fake.token_requests("refresh_token"),
        1,
        "one refresh for two concurrent publications (the second would be refused by a rotating server)"
    );
}

#[tokio::test]
async fn a_refresh_answer_without_refresh_token_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("keep_refresh", &dir).await {
        // Google: refreshes answer no refresh token.
        let fake = FakeOAuth::start(FakeOAuthConfig {
            rotate_refresh: false,
            access_ttl: Some(3599),
            ..fake_config()
        })
        .await
        .unwrap();
        let key = Arc::new(TokenKey::generate());
        let cfg = account("youtube", &fake);
        do_login(store.as_ref(), &key, "unicef-yt", &cfg)
            .await
            .unwrap();
        let rt = refresh_token_of(&store.get("unicef-yt").await.unwrap().unwrap(), &key).unwrap();
        let clock = ManualClock::new(t0() + SignedDuration::from_secs(3599));
        let c = creds("unicef-yt", &cfg, store.clone(), &key, clock.clone());
        c.secret().await.unwrap();
        clock.set(t0() + SignedDuration::from_secs(3 * 3599));
        c.secret().await.unwrap();
        assert_eq!(fake.token_requests("refresh_token"), 2, "{backend}");
        let after = store.get("unicef-yt").await.unwrap().unwrap();
        assert_eq!(
            refresh_token_of(&after, &key).as_deref(),
            Some(rt.as_str()),
            "{backend}"
        );
        assert!(after.refreshable);

        // A reconnect whose answer carries no refresh token keeps it too.
        let no_rt = FakeOAuth::start(FakeOAuthConfig {
            issue_refresh: false,
            ..fake_config()
        })
        .await
        .unwrap();
        let summary = do_login(
            store.as_ref(),
            &key,
            "unicef-yt",
            &account("youtube", &no_rt),
        )
        .await
        .unwrap();
        assert!(summary.kept_old_refresh_token, "{backend}");
        let after = store.get("unicef-yt").await.unwrap().unwrap();
        assert_eq!(refresh_token_of(&after, &key).as_deref(), Some(rt.as_str()));
    }
}

#[tokio::test]
async fn a_revoked_refresh_token_needs_login_for_that_account_only() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("revoked", &dir).await {
        let fake = FakeOAuth::start(fake_config()).await.unwrap();
        let key = Arc::new(TokenKey::generate());
        let cfg = account("x", &fake);
        do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
        do_login(store.as_ref(), &key, "unhcr-x", &cfg)
            .await
            .unwrap();
        let rt = refresh_token_of(&store.get("oim-x").await.unwrap().unwrap(), &key).unwrap();
        fake.revoke_refresh_token(&rt);

        let clock = ManualClock::new(t0() + SignedDuration::from_secs(8000));
        let oim = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
        let unhcr = creds("unhcr-x", &cfg, store.clone(), &key, clock.clone());
        let err = oim.secret().await.unwrap_err();
        assert!(
            matches!(err, AuthError::NeedsLogin { ref account, .. } if account == "oim-x"),
            "{backend}: {err}"
        );
        assert!(
            err.to_string().contains("berrah accounts login oim-x"),
            "{err}"
        );
        let row = store.get("oim-x").await.unwrap().unwrap();
        assert!(row.needs_operator && row.reason.is_some(), "{backend}");
        // The other account is untouched and refreshes.
        assert!(unhcr.secret().await.is_ok(), "{backend}");
        assert!(!store.get("unhcr-x").await.unwrap().unwrap().needs_operator);
        // Once flagged, no more requests to the token endpoint for it.
        let before = fake.token_requests("refresh_token");
        assert!(matches!(
            oim.secret().await,
            Err(AuthError::NeedsLogin { .. })
        ));
        assert_eq!(fake.token_requests("refresh_token"), before);
        // A new login clears the flag.
        do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
        assert!(!store.get("oim-x").await.unwrap().unwrap().needs_operator);
    }
}

#[tokio::test]
async fn a_transient_token_endpoint_failure_is_transient() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let key = Arc::new(TokenKey::generate());
    let cfg = account("x", &fake);
    do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
    let clock = ManualClock::new(t0() + SignedDuration::from_secs(7200 - 60));
    let c = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
    // Still valid for a minute: the old token is used despite the failure.
    fake.unavailable_next(1);
    assert!(c.secret().await.is_ok());
    // Expired and the endpoint down: Transient, and the account is not flagged.
    clock.set(t0() + SignedDuration::from_secs(7300));
    fake.unavailable_next(1);
    let err = c.secret().await.unwrap_err();
    assert!(matches!(err, AuthError::Transient { .. }), "{err}");
    assert!(!store.get("oim-x").await.unwrap().unwrap().needs_operator);
    // The endpoint is back: it works.
    assert!(c.secret().await.is_ok());
}

// ---------------------------------------------------------------- crashes

#[tokio::test]
async fn a_caller_dropped_after_the_token_endpoint_answered_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("dropped_caller", &dir).await {
        let fake = FakeOAuth::start(fake_config()).await.unwrap();
        let key = Arc::new(TokenKey::generate());
        let cfg = account("x", &fake);
        do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
        let before = store.get("oim-x").await.unwrap().unwrap();
        let old_rt = refresh_token_of(&before, &key).unwrap();
        let clock = ManualClock::new(t0() + SignedDuration::from_secs(7300));
        {
            let c = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
            // The publication is abandoned (timeout, shutdown) right after the
            // server rotated the refresh token.
            tokio::select! {
                _ = c.secret() => {}
                _ = fake.token_answered() => {}
            }
        }
        // The detached refresh still stores the new pair.
        let mut after = before.clone();
        for _ in 0..500 {
            after = store.get("oim-x").await.unwrap().unwrap();
            if after.blob != before.blob {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let new_rt = refresh_token_of(&after, &key).unwrap();
        assert_ne!(new_rt, old_rt, "{backend}: the rotated token was stored");
        assert!(!fake.refresh_token_valid(&old_rt));
        // "Restart": new credentials over the same store work, and refresh again.
        let restarted = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
        let s = restarted.secret().await.unwrap();
        assert!(fake.access_token_issued(s.expose_secret()));
        clock.set(t0() + SignedDuration::from_secs(7300 + 7200));
        assert!(
            restarted.secret().await.is_ok(),
            "{backend}: the stored refresh token works"
        );
    }
}

/// A store that "crashes" (fails) when the refresh result is written:
/// what a kill between the token endpoint's answer and the commit leaves.
struct CrashOnReplace(Arc<dyn TokenStore>);

#[async_trait]
impl TokenStore for CrashOnReplace {
    async fn get(&self, a: &str) -> Result<Option<TokenRecord>, TokenStoreError> {
        self.0.get(a).await
    }
    async fn put(&self, r: &TokenRecord) -> Result<(), TokenStoreError> {
        self.0.put(r).await
    }
    async fn replace(&self, _: &TokenRecord, _: &[u8]) -> Result<bool, TokenStoreError> {
        Err(TokenStoreError::Crashed)
    }
    async fn mark_needs_operator(
        &self,
        a: &str,
        why: &str,
        now: Timestamp,
    ) -> Result<(), TokenStoreError> {
        self.0.mark_needs_operator(a, why, now).await
    }
    async fn delete(&self, a: &str) -> Result<bool, TokenStoreError> {
        self.0.delete(a).await
    }
    async fn list(&self) -> Result<Vec<TokenRecord>, TokenStoreError> {
        self.0.list().await
    }
}

#[tokio::test]
async fn a_crash_between_answer_and_commit_keeps_the_old_pair_intact() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("crash_before_commit", &dir).await {
        for grace in [true, false] {
            let fake = FakeOAuth::start(FakeOAuthConfig {
                rotation_grace: grace,
                ..fake_config()
            })
            .await
            .unwrap();
            let key = Arc::new(TokenKey::generate());
            let cfg = account("x", &fake);
            do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
            do_login(store.as_ref(), &key, "other-x", &cfg)
                .await
                .unwrap();
            let before = store.get("oim-x").await.unwrap().unwrap();
            let clock = ManualClock::new(t0() + SignedDuration::from_secs(7300));
            let crashing: Arc<dyn TokenStore> = Arc::new(CrashOnReplace(store.clone()));
            let c = creds("oim-x", &cfg, crashing, &key, clock.clone());
            let err = c.secret().await.unwrap_err();
            assert!(
                matches!(err, AuthError::Transient { .. }),
                "{backend}: {err}"
            );
            // The row is exactly the old pair: intact, decryptable, not flagged.
            let after = store.get("oim-x").await.unwrap().unwrap();
            assert_eq!(after, before, "{backend}");
            assert!(after.open(&key).is_ok());

            // Restart with the real store.
            let restarted = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
            let result = restarted.secret().await;
            if grace {
                // The provider still accepts the old refresh token: recovered.
                assert!(result.is_ok(), "{backend}: {result:?}");
            } else {
                // Strictly single-use (X): flagged for an operator with a clear
                // reason, and only this account.
                let err = result.unwrap_err();
                assert!(
                    matches!(err, AuthError::NeedsLogin { .. }),
                    "{backend}: {err}"
                );
                assert!(err.to_string().contains("rotated"), "{err}");
                let other = creds("other-x", &cfg, store.clone(), &key, clock.clone());
                assert!(other.secret().await.is_ok());
            }
            store.delete("oim-x").await.unwrap();
            store.delete("other-x").await.unwrap();
        }
    }
}

// ---------------------------------------------------------------- keys

#[tokio::test]
async fn wrong_key_and_tampered_ciphertext_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("wrong_key", &dir).await {
        let fake = FakeOAuth::start(fake_config()).await.unwrap();
        let key = Arc::new(TokenKey::generate());
        let cfg = account("x", &fake);
        // No tokens: no key needed.
        check_key_available(store.as_ref(), None).await.unwrap();
        do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
        check_key_available(store.as_ref(), Some(&key))
            .await
            .unwrap();
        let err = check_key_available(store.as_ref(), None).await.unwrap_err();
        assert!(matches!(err, KeyCheckError::NoKey { .. }), "{backend}");
        assert!(err.to_string().contains("BERRAH_TOKEN_KEY"), "{err}");
        let other = Arc::new(TokenKey::generate());
        let err = check_key_available(store.as_ref(), Some(&other))
            .await
            .unwrap_err();
        assert!(matches!(err, KeyCheckError::WrongKey { .. }), "{backend}");
        assert!(err.to_string().contains("token key"), "{err}");

        let clock = ManualClock::new(t0());
        let c = creds("oim-x", &cfg, store.clone(), &other, clock.clone());
        let err = c.secret().await.unwrap_err();
        assert!(matches!(err, AuthError::Config { .. }), "{backend}: {err}");
        assert!(err.to_string().contains("token key"), "{err}");

        // Tampered ciphertext in the database.
        let mut row = store.get("oim-x").await.unwrap().unwrap();
        let last = row.blob.len() - 1;
        row.blob[last] ^= 0x01;
        store.put(&row).await.unwrap();
        let c = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
        let err = c.secret().await.unwrap_err();
        assert!(err.to_string().contains("altered"), "{backend}: {err}");
    }
}

#[tokio::test]
async fn secrets_from_the_prompt_are_stored_and_warned_before_expiry() {
    let store = MemoryTokenStore::new();
    let key = TokenKey::generate();
    let expires = t0() + SignedDuration::from_hours(24 * 10);
    login::save_secret(
        &store,
        &key,
        "oim-facebook",
        berrah::config::PlatformKind::Facebook,
        SecretString::from("EAAG-page-token".to_string()),
        Some(expires),
        t0(),
    )
    .await
    .unwrap();
    let warnings = berrah::auth::sources::stored_expiry_warnings(&store, t0())
        .await
        .unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].account, "oim-facebook");
    assert_eq!(warnings[0].days_left, Some(10));
    assert!(!warnings[0].message.contains("EAAG"));
    // And the stored secret is what platforms get.
    let cfg: AccountConfig =
        toml::from_str("platform = \"facebook\"\ncredentials = \"store\"").unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(store);
    let c = berrah::auth::CredentialsFactory {
        store,
        key: Some(Arc::new(key)),
        base_dir: ".".into(),
        clock: ManualClock::new(t0()),
    }
    .for_account("oim-facebook", &cfg)
    .unwrap();
    assert_eq!(c.secret().await.unwrap().expose_secret(), "EAAG-page-token");
}

// ---------------------------------------------------------------- redaction

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_in_logs_debug_display_or_errors() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    // Current-thread runtime: every task (fake server, refresh) logs here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let key = Arc::new(TokenKey::generate());
    let cfg = account("x", &fake);
    do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
    do_login(store.as_ref(), &key, "unhcr-x", &cfg)
        .await
        .unwrap();
    let mut secrets = Vec::new();
    let mut shown = Vec::new();
    for name in ["oim-x", "unhcr-x"] {
        let rec = store.get(name).await.unwrap().unwrap();
        let set = rec.open(&key).unwrap();
        secrets.push(set.access.expose_secret().to_string());
        secrets.push(set.refresh.as_ref().unwrap().expose_secret().to_string());
        shown.push(format!("{rec:?} {set:?}"));
    }
    let clock = ManualClock::new(t0() + SignedDuration::from_secs(7300));
    let oim = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
    let refreshed = oim.secret().await.unwrap();
    secrets.push(refreshed.expose_secret().to_string());
    shown.push(format!("{refreshed:?} {oim:?} {key:?}"));
    fake.revoke_all_refresh_tokens();
    let unhcr = creds("unhcr-x", &cfg, store.clone(), &key, clock.clone());
    let err = unhcr.secret().await.unwrap_err();
    shown.push(format!("{err} {err:?}"));
    fake.unavailable_next(1);
    clock.set(t0() + SignedDuration::from_secs(20_000));
    let err = oim.secret().await.unwrap_err();
    shown.push(format!("{err} {err:?}"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("refresh"), "the test captured logs: {logs}");
    let everything = format!("{logs}\n{}", shown.join("\n"));
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "a secret leaked into logs or formatting:\n{everything}"
        );
    }
}

// ---------------------------------------------------------------- CLI

fn write_config(dir: &std::path::Path, fake: &FakeOAuth) {
    std::fs::write(
        dir.join("berrah.toml"),
        format!(
            r#"
[daemon]
data_dir = "data"

[accounts.oim-x]
platform = "x"
handle = "OIM_Maroc"
credentials = "store"
[accounts.oim-x.options]
auth_url = "{}"
token_url = "{}"
client_id_env = "TEST_X_CLIENT_ID"
client_secret_env = "TEST_X_CLIENT_SECRET"

[accounts.oim-facebook]
platform = "facebook"
handle = "123456"
credentials = "store"

[accounts.unicef-outbox]
platform = "mastodon"
base_url = "https://mastodon.example"
"#,
            fake.auth_url(),
            fake.token_url()
        ),
    )
    .unwrap();
}

fn berrah_cmd(dir: &std::path::Path, key_hex: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env("BERRAH_CONFIG", dir.join("berrah.toml"))
        .env("BERRAH_TOKEN_KEY", key_hex)
        .env("TEST_X_CLIENT_ID", env!("CARGO_PKG_NAME"))
        .env("TEST_X_CLIENT_SECRET", env!("CARGO_PKG_VERSION"))
        .env_remove("DATABASE_URL")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_LOG");
    cmd
}

/// The browser `accounts login` starts gets the desktop's variables and
/// none of berrah's secrets: an `xdg-open` on PATH writes down what it got.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_starts_the_browser_without_secrets() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    write_config(dir.path(), &fake);
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let seen = dir.path().join("browser-env");
    let opener = bin.join("xdg-open");
    std::fs::write(
        &opener,
        format!(
            "#!/bin/sh\nenv > '{}.tmp'\nmv '{0}.tmp' '{0}'\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let key_hex = "cd".repeat(32);
    let out = berrah_cmd(dir.path(), &key_hex)
        .env("PATH", path)
        .env("DISPLAY", ":99")
        .env("XDG_CURRENT_DESKTOP", "test")
        .args(["accounts", "login", "oim-x", "--timeout", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no redirect arrived"), "{stderr}");
    let env = std::fs::read_to_string(&seen).expect("the opener ran");
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    for wanted in ["DISPLAY", "PATH", "XDG_CURRENT_DESKTOP"] {
        assert!(names.contains(&wanted), "{wanted} missing: {names:?}");
    }
    for secret in [
        "BERRAH_TOKEN_KEY",
        "TEST_X_CLIENT_SECRET",
        "TEST_X_CLIENT_ID",
    ] {
        assert!(!names.contains(&secret), "{secret} given to the browser");
    }
    assert!(!env.contains(&key_hex), "the token key reached the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_list_and_logout() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    write_config(dir.path(), &fake);
    let key_hex = "ab".repeat(32);

    // OAuth login: read the printed URL, play the browser, wait for the end.
    let mut child = berrah_cmd(dir.path(), &key_hex)
        .args([
            "accounts",
            "login",
            "oim-x",
            "--no-browser",
            "--timeout",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let mut url_tx = Some(url_tx);
        for line in lines.by_ref().map_while(Result::ok) {
            if line.trim().starts_with("http")
                && let Some(tx) = url_tx.take()
            {
                let _ = tx.send(line.trim().to_string());
            }
            seen.push(line);
        }
        seen.join("\n")
    });
    let url = url_rx
        .await
        .expect("the login prints the authorization URL");
    browser()(&url::Url::parse(&url).unwrap());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let printed = reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{printed}\n{stderr}");
    assert!(printed.contains("Connected `oim-x`"), "{printed}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    // A secret from an environment variable, never from the arguments.
    let out = berrah_cmd(dir.path(), &key_hex)
        .args([
            "accounts",
            "login",
            "oim-facebook",
            "--from-env",
            "PAGE_TOKEN",
            "--expires-in-days",
            "5",
        ])
        .env("PAGE_TOKEN", "EAAG-secret-page-token\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The list shows state, never a secret.
    let out = berrah_cmd(dir.path(), &key_hex)
        .args(["accounts", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    let x = accounts.iter().find(|a| a["account"] == "oim-x").unwrap();
    assert_eq!(x["platform"], "x");
    assert_eq!(x["handle"], "OIM_Maroc");
    assert_eq!(x["token_stored"], true);
    assert_eq!(x["renewable"], true);
    assert_eq!(x["needs_operator"], false);
    let outbox = accounts
        .iter()
        .find(|a| a["account"] == "unicef-outbox")
        .unwrap();
    assert_eq!(outbox["credentials"], "outbox");
    let warnings = json["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["account"] == "oim-facebook"),
        "{json}"
    );
    let table = berrah_cmd(dir.path(), &key_hex)
        .args(["accounts", "list"])
        .output()
        .unwrap();
    // The authorization URL carries random state and challenge: left out.
    let printed: String = printed
        .lines()
        .filter(|l| !l.contains("http"))
        .collect::<Vec<_>>()
        .join("\n");
    let all = format!(
        "{}{}{}{}{printed}{stderr}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&table.stdout),
        String::from_utf8_lossy(&table.stderr),
    );
    assert!(String::from_utf8_lossy(&table.stdout).contains("oim-facebook"));
    assert!(!all.contains("EAAG-secret-page-token"), "{all}");
    assert!(
        !all.contains("at-") && !all.contains("rt-"),
        "no fake token printed: {all}"
    );

    // Logout removes the tokens; a second logout says there is none.
    let out = berrah_cmd(dir.path(), &key_hex)
        .args(["accounts", "logout", "oim-facebook"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = berrah_cmd(dir.path(), &key_hex)
        .args(["accounts", "logout", "oim-facebook"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no stored token"));

    // Without a key, login refuses clearly.
    let out = berrah_cmd(dir.path(), &key_hex)
        .env_remove("BERRAH_TOKEN_KEY")
        .args([
            "accounts",
            "login",
            "oim-facebook",
            "--from-env",
            "PAGE_TOKEN",
        ])
        .env("PAGE_TOKEN", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BERRAH_TOKEN_KEY"));

    // An unknown account lists the known ones.
    let out = berrah_cmd(dir.path(), &key_hex)
        .args(["accounts", "logout", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn a_rejected_token_is_renewed_once_even_before_expiry() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let key = Arc::new(TokenKey::generate());
    let cfg = account("linkedin", &fake);
    do_login(store.as_ref(), &key, "oim-li", &cfg)
        .await
        .unwrap();
    let clock = ManualClock::new(t0() + SignedDuration::from_secs(60));
    let a = creds("oim-li", &cfg, store.clone(), &key, clock.clone());
    let b = creds("oim-li", &cfg, store.clone(), &key, clock.clone());
    let first = a.secret().await.unwrap();
    // Two publications got 401 with the same token: one refresh.
    let (ra, rb) = tokio::join!(a.renew_rejected(&first), b.renew_rejected(&first));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_ne!(ra.expose_secret(), first.expose_secret());
    assert_eq!(ra.expose_secret(), rb.expose_secret());
    assert_eq!(fake.token_requests("refresh_token"), 1);
    // A platform refusal right after a revocation: the refresh is refused too.
    fake.revoke_all_refresh_tokens();
    let err = a.renew_rejected(&ra).await.unwrap_err();
    assert!(matches!(err, AuthError::NeedsLogin { .. }), "{err}");
    // Fixed secrets: the default gives the same secret back (nothing better).
    let fixed = berrah::auth::StaticCredentials(SecretString::from("s".to_string()));
    let again = fixed
        .renew_rejected(&fixed.secret().await.unwrap())
        .await
        .unwrap();
    assert_eq!(again.expose_secret(), "s");
}

#[tokio::test]
async fn a_missing_client_variable_names_the_variable_and_keeps_a_valid_token() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let key = Arc::new(TokenKey::generate());
    let cfg = account("x", &fake);
    do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
    let mut broken = cfg.clone();
    broken.options.insert(
        "client_id_env".into(),
        toml::Value::String("BERRAH_TEST_SURELY_UNSET_CLIENT_ID".into()),
    );
    // Inside the margin but not expired: the old token still serves.
    let clock = ManualClock::new(t0() + SignedDuration::from_secs(7200 - 60));
    let c = creds("oim-x", &broken, store.clone(), &key, clock.clone());
    assert!(c.secret().await.is_ok());
    clock.set(t0() + SignedDuration::from_secs(7300));
    let err = c.secret().await.unwrap_err();
    assert!(matches!(err, AuthError::Config { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("BERRAH_TEST_SURELY_UNSET_CLIENT_ID"),
        "{err}"
    );
    assert!(!store.get("oim-x").await.unwrap().unwrap().needs_operator);
}

/// Returns a stale record for the first `stale_reads` reads: what an instance
/// that read the row just before another instance's refresh sees.
struct StaleReads {
    inner: Arc<dyn TokenStore>,
    stale: TokenRecord,
    stale_reads: Mutex<u32>,
}

#[async_trait]
impl TokenStore for StaleReads {
    async fn get(&self, a: &str) -> Result<Option<TokenRecord>, TokenStoreError> {
        {
            let mut n = self.stale_reads.lock().unwrap();
            if *n > 0 {
                *n -= 1;
                return Ok(Some(self.stale.clone()));
            }
        }
        self.inner.get(a).await
    }
    async fn put(&self, r: &TokenRecord) -> Result<(), TokenStoreError> {
        self.inner.put(r).await
    }
    async fn replace(&self, r: &TokenRecord, b: &[u8]) -> Result<bool, TokenStoreError> {
        self.inner.replace(r, b).await
    }
    async fn mark_needs_operator(
        &self,
        a: &str,
        why: &str,
        now: Timestamp,
    ) -> Result<(), TokenStoreError> {
        self.inner.mark_needs_operator(a, why, now).await
    }
    async fn delete(&self, a: &str) -> Result<bool, TokenStoreError> {
        self.inner.delete(a).await
    }
    async fn list(&self) -> Result<Vec<TokenRecord>, TokenStoreError> {
        self.inner.list().await
    }
}

#[tokio::test]
async fn another_instance_rotating_first_does_not_flag_the_account() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in stores("two_instances", &dir).await {
        let fake = FakeOAuth::start(fake_config()).await.unwrap();
        let key = Arc::new(TokenKey::generate());
        let cfg = account("x", &fake);
        do_login(store.as_ref(), &key, "oim-x", &cfg).await.unwrap();
        let stale = store.get("oim-x").await.unwrap().unwrap();
        let clock = ManualClock::new(t0() + SignedDuration::from_secs(7300));
        // Instance A refreshes: the refresh token rotates.
        let a = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
        let from_a = a.secret().await.unwrap();
        // Instance B had read the row before A's write: its refresh with the
        // spent token is refused, it re-reads and uses A's pair.
        let b_store: Arc<dyn TokenStore> = Arc::new(StaleReads {
            inner: store.clone(),
            stale,
            stale_reads: Mutex::new(2),
        });
        let b = creds("oim-x", &cfg, b_store, &key, clock.clone());
        let from_b = b.secret().await.unwrap();
        assert_eq!(from_a.expose_secret(), from_b.expose_secret(), "{backend}");
        assert_eq!(
            fake.token_requests("refresh_token"),
            2,
            "B tried once and was refused"
        );
        assert!(
            !store.get("oim-x").await.unwrap().unwrap().needs_operator,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_ready_made_access_token_without_refresh_needs_login_when_expired() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let key = Arc::new(TokenKey::generate());
    let cfg = account("x", &fake);
    login::save_secret(
        store.as_ref(),
        &key,
        "oim-x",
        berrah::config::PlatformKind::X,
        SecretString::from("ready-made".to_string()),
        Some(t0() + SignedDuration::from_secs(3600)),
        t0(),
    )
    .await
    .unwrap();
    let clock = ManualClock::new(t0());
    let c = creds("oim-x", &cfg, store.clone(), &key, clock.clone());
    assert_eq!(c.secret().await.unwrap().expose_secret(), "ready-made");
    clock.set(t0() + SignedDuration::from_secs(3601));
    let err = c.secret().await.unwrap_err();
    assert!(matches!(err, AuthError::NeedsLogin { .. }), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(fake.token_requests("refresh_token"), 0);
}

/// A key file readable by its owner only (others are refused).
fn private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test]
async fn the_daemon_refuses_to_start_without_the_key_once_tokens_exist() {
    let dir = tempfile::tempdir().unwrap();
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let store = berrah::store::Store::connect(&url).await.unwrap();
    std::fs::write(dir.path().join("key"), "cd".repeat(32)).unwrap();
    private(&dir.path().join("key"));
    // Nothing stored: no key needed.
    let none = berrah::auth::sources::daemon_key(
        &store,
        Some("env:BERRAH_TEST_SURELY_UNSET_KEY_VAR"),
        dir.path(),
    )
    .await;
    assert!(none.is_err(), "a configured but missing key is an error");
    let key = berrah::auth::sources::daemon_key(&store, Some("file:key"), dir.path())
        .await
        .unwrap()
        .unwrap();
    let tokens = SqlTokenStore::from_store(&store);
    login::save_secret(
        &tokens,
        &key,
        "oim-telegram",
        berrah::config::PlatformKind::Telegram,
        SecretString::from("123:bot-token".to_string()),
        None,
        t0(),
    )
    .await
    .unwrap();
    std::fs::write(dir.path().join("other"), "ef".repeat(32)).unwrap();
    private(&dir.path().join("other"));
    let err = berrah::auth::sources::daemon_key(&store, Some("file:other"), dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, KeyCheckError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("oim-telegram"));
    assert!(!err.to_string().contains("bot-token"));
    std::fs::write(dir.path().join("short"), "ef".repeat(16)).unwrap();
    private(&dir.path().join("short"));
    let err = berrah::auth::sources::daemon_key(&store, Some("file:short"), dir.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("32 bytes"), "{err}");
}

#[tokio::test]
async fn login_on_a_fixed_redirect_port_when_configured() {
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    let store = MemoryTokenStore::new();
    let key = TokenKey::generate();
    let mut cfg = account("linkedin", &fake);
    // A free port, found by binding and releasing it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cfg.options.insert(
        "redirect_port".into(),
        toml::Value::Integer(i64::from(port)),
    );
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    let visit = browser();
    login::oauth_login(
        &store,
        &key,
        "oim-li",
        &cfg,
        Duration::from_secs(30),
        t0,
        |url| {
            *seen2.lock().unwrap() = url.to_string();
            visit(url)
        },
    )
    .await
    .unwrap();
    let url = url::Url::parse(&seen.lock().unwrap()).unwrap();
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .to_string();
    assert_eq!(redirect, format!("http://127.0.0.1:{port}/callback"));
    cfg.options
        .insert("redirect_port".into(), toml::Value::String("x".into()));
    let err = do_login(&store, &key, "oim-li", &cfg).await.unwrap_err();
    assert!(err.to_string().contains("redirect_port"), "{err}");
}

#[tokio::test]
async fn a_mastodon_instance_from_base_url_with_a_never_expiring_token() {
    let fake = FakeOAuth::start(FakeOAuthConfig {
        access_ttl: None,
        issue_refresh: false,
        ..fake_config()
    })
    .await
    .unwrap();
    let cfg: AccountConfig = toml::from_str(&format!(
        r#"
platform = "mastodon"
base_url = "{}"
credentials = "store"
[options]
client_id_env = "CARGO_PKG_NAME"
client_secret_env = "CARGO_PKG_VERSION"
"#,
        fake.base_url()
    ))
    .unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let key = Arc::new(TokenKey::generate());
    let summary = do_login(store.as_ref(), &key, "unhcr-masto", &cfg)
        .await
        .unwrap();
    assert_eq!(summary.access_expires_at, None);
    assert!(!summary.has_refresh_token);
    let exchange = fake
        .requests()
        .into_iter()
        .find(|r| r.grant_type.as_deref() == Some("authorization_code"))
        .unwrap();
    assert!(
        !exchange.basic_auth,
        "Mastodon takes the client in the form body"
    );
    assert!(exchange.pkce_verified);
    // Years later, still the same token, never a refresh.
    let clock = ManualClock::new(t0() + SignedDuration::from_hours(24 * 365 * 3));
    let c = creds("unhcr-masto", &cfg, store.clone(), &key, clock);
    let s = c.secret().await.unwrap();
    assert!(fake.access_token_issued(s.expose_secret()));
    assert_eq!(fake.token_requests("refresh_token"), 0);
    let warnings = berrah::auth::sources::stored_expiry_warnings(store.as_ref(), t0())
        .await
        .unwrap();
    assert!(warnings.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_puts_the_accounts_held_posts_back_in_the_queue() {
    use berrah::plan::{Content, Occurrence};
    use berrah::store::{EntryState, Store};
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeOAuth::start(fake_config()).await.unwrap();
    write_config(dir.path(), &fake);
    let url = berrah::store::testing::sqlite_url(&dir.path().join("data").join("berrah.db"));
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let store = Store::connect(&url).await.unwrap();
    let due = t0() + SignedDuration::from_hours(24);
    let occurrence = Occurrence {
        id: "o-held-1".into(),
        key: "b7al/p/oim-facebook/fr/0".into(),
        campaign: "b7al".into(),
        capsule: None,
        post: "p".into(),
        account: "oim-facebook".into(),
        platform: berrah::config::PlatformKind::Facebook,
        language: "fr".into(),
        due,
        local: "2026-11-24T11:00:00+01:00".into(),
        timezone: "Africa/Casablanca".into(),
        tzdb: "2026f".into(),
        not_after: due + SignedDuration::from_hours(24),
        series: None,
        paused: false,
        source: "campaigns/b7al.toml".into(),
        content: Content {
            text: "Migrants #B7al_b7al".into(),
            ..Content::default()
        },
    };
    store
        .sync_campaign("b7al", &[occurrence], t0())
        .await
        .unwrap();
    assert_eq!(
        store
            .hold_account("oim-facebook", "needs `berrah accounts login oim-facebook`")
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.get("o-held-1").await.unwrap().state, EntryState::Held);

    let out = berrah_cmd(dir.path(), &"ab".repeat(32))
        .args([
            "accounts",
            "login",
            "oim-facebook",
            "--from-env",
            "PAGE_TOKEN",
        ])
        .env("PAGE_TOKEN", "EAAG-page-token")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 held post(s)"), "{stdout}");
    assert_eq!(
        store.get("o-held-1").await.unwrap().state,
        EntryState::Scheduled
    );
}

/// The daemon warns in its log, at start, about a stored token that expires
/// within 14 days and that berrah cannot renew (a Facebook Page token),
/// naming the account and the command to run, never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_logs_tokens_that_expire_soon() {
    use berrah::auth::tokens::TokenSet;
    use berrah::auth::{SqlTokenStore, TokenRecord};
    use berrah::config::PlatformKind;

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.oim-facebook]\nplatform = \"facebook\"\nhandle = \"123456\"\ncredentials = \"store\"\n",
    )
    .unwrap();
    let key_hex = "cd".repeat(32);
    let key = TokenKey::from_bytes([0xcd; 32]);
    let url = berrah::store::testing::sqlite_url(&dir.path().join("data/berrah.db"));
    let store = berrah::store::Store::connect(&url).await.unwrap();
    let now = Timestamp::now();
    let tokens = TokenSet::new(SecretString::from("EAAG-page-token-secret"), None);
    let record = TokenRecord::seal(
        &key,
        "oim-facebook",
        PlatformKind::Facebook,
        &tokens,
        Some(now + SignedDuration::from_hours(5 * 24)),
        None,
        now,
    );
    SqlTokenStore::from_store(&store)
        .put(&record)
        .await
        .unwrap();
    store.close().await;

    let log = dir.path().join("daemon.log");
    let mut child = berrah_cmd(dir.path(), &key_hex)
        .args(["run", "--no-watch"])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::options().append(true).open(&log).unwrap())
        .spawn()
        .unwrap();
    let mut text = String::new();
    for _ in 0..300 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("cannot renew it") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(
        text.contains("oim-facebook") && text.contains("cannot renew it"),
        "{text}"
    );
    assert!(
        text.contains("berrah accounts login oim-facebook"),
        "{text}"
    );
    assert!(!text.contains("EAAG-page-token-secret"), "{text}");
    assert!(status.success(), "{status:?}\n{text}");
}

/// `accounts` reads berrah.toml as every command does: without one it says
/// how to make one; a broken one is reported at its line and column.
#[test]
fn cli_accounts_without_or_with_a_broken_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = berrah_cmd(dir.path(), &"ab".repeat(32));
    cmd.env_remove("BERRAH_CONFIG");
    let out = cmd
        .args(["accounts", "login", "oim-x", "--from-env", "T"])
        .env("T", "secret")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no account `oim-x`: there is no configuration file (`berrah.toml`)"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.oim-x]\nplatform = \"x\"\nhandle = \n",
    )
    .unwrap();
    let out = berrah_cmd(dir.path(), &"ab".repeat(32))
        .args(["accounts", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("berrah.toml:3:"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}
