//! The one HTTP client configuration every platform uses.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// Installs rustls' ring crypto provider once per process (reqwest is built
/// without a provider of its own, to avoid a C toolchain for aws-lc).
pub fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        // Err means another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with berrah's defaults: a user agent, connect and request
/// timeouts, and no redirects (an API answer that redirects is an error to
/// report, and following redirects with a bearer token is a leak risk).
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("berrah/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
}

/// A client with [`client_builder`]'s defaults.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}
