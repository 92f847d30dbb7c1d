//! Encryption of stored tokens at rest: AES-256-GCM.
//!
//! Each write draws a fresh random 96-bit nonce (never reused with the same
//! key: 2^-32 collision odds only after ~2^32 writes, far beyond what an
//! account's tokens see), and binds the ciphertext to its account id as
//! associated data, so a blob copied onto another account's row does not
//! decrypt. A wrong key or an altered blob fails the GCM tag check and gives a
//! [`CryptoError`], never garbage.
//!
//! Blob layout: `version (1 byte, = 1) || nonce (12 bytes) || ciphertext+tag`.
//!
//! The key (32 bytes, written as hex or base64) comes from `daemon.token_key`
//! (`env:VAR` or `file:PATH`) or else the `BERRAH_TOKEN_KEY` variable, which
//! holds the key itself.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretBox};

/// The variable holding the key itself when `daemon.token_key` is not set.
pub const KEY_ENV: &str = "BERRAH_TOKEN_KEY";

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The 256-bit key that encrypts stored tokens. Its `Debug` shows nothing of it.
pub struct TokenKey(SecretBox<[u8; 32]>);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

impl Clone for TokenKey {
    fn clone(&self) -> Self {
        TokenKey::from_bytes(*self.0.expose_secret())
    }
}

/// Why a key could not be loaded, or a blob not decrypted. Messages name
/// variables and files, never a key or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "no token key: set `daemon.token_key` in berrah.toml (`env:VAR` or `file:PATH`) or the {KEY_ENV} variable \
         (32 bytes as 64 hex digits or base64; e.g. `openssl rand -hex 32`)"
    )]
    NoKey,
    #[error("token key: the environment variable `{0}` is not set")]
    MissingVar(String),
    #[error("token key: cannot read `{path}`: {why}")]
    File { path: String, why: String },
    #[error(
        "token key: `{path}` is readable by other users (mode {mode:o}); like ssh with a private key, berrah refuses it: run `chmod 600 {path}` (and make sure it belongs to the user berrah runs as)"
    )]
    KeyFileOpen { path: String, mode: u32 },
    #[error(
        "token key from {source_name}: expected 32 bytes written as 64 hex digits or base64, found something else ({len} characters)"
    )]
    BadKey { source_name: String, len: usize },
    #[error("`daemon.token_key` must be `env:VAR` or `file:PATH`, found `{0}`")]
    BadSource(String),
    #[error(
        "cannot decrypt the stored token: the token key is not the one it was encrypted with, or the stored data was altered"
    )]
    Decrypt,
    #[error("the stored token is not in a format this berrah knows (version or length)")]
    Format,
}

/// Reads a key file, refusing one that group or others may read (checked
/// on the opened handle, which the key is then read from). Opened
/// non-blocking, so a FIFO in its place cannot hang the start.
fn read_key_file(path: &Path) -> Result<String, CryptoError> {
    use std::io::Read;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let shown = path.display().to_string();
    let fail = |e: std::io::Error| CryptoError::File {
        path: shown.clone(),
        why: e.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        return Err(CryptoError::File {
            path: shown,
            why: "not a regular file".into(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::KeyFileOpen { path: shown, mode });
    }
    let mut text = String::new();
    // A key is 64 characters; a few KiB is already far more than one.
    (&mut file)
        .take(4096)
        .read_to_string(&mut text)
        .map_err(fail)?;
    Ok(text)
}

impl TokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> TokenKey {
        TokenKey(SecretBox::new(Box::new(bytes)))
    }

    /// A fresh random key (tests, and `berrah accounts key` style setup).
    pub fn generate() -> TokenKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        TokenKey::from_bytes(bytes)
    }

    /// Parses 32 bytes written as 64 hex digits or base64 (standard or
    /// URL-safe, padded or not). Surrounding whitespace is ignored.
    /// `source_name` says where the text came from, for the error.
    pub fn parse(text: &str, source_name: &str) -> Result<TokenKey, CryptoError> {
        let text = text.trim();
        let bad = || CryptoError::BadKey {
            source_name: source_name.to_string(),
            len: text.chars().count(),
        };
        let decoded: Vec<u8> = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| bad())?
        } else {
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|e| e.decode(text).ok())
                .ok_or_else(bad)?
        };
        let bytes: [u8; 32] = decoded.try_into().map_err(|_| bad())?;
        Ok(TokenKey::from_bytes(bytes))
    }

    /// Loads the key from `daemon.token_key` (`env:VAR` / `file:PATH`, a
    /// relative path being relative to `base_dir`, the folder of
    /// berrah.toml), else from [`KEY_ENV`]. `Ok(None)` when neither is set.
    pub fn load(config: Option<&str>, base_dir: &Path) -> Result<Option<TokenKey>, CryptoError> {
        match config.map(str::trim) {
            Some(source) => {
                if let Some(var) = source.strip_prefix("env:") {
                    let value =
                        std::env::var(var).map_err(|_| CryptoError::MissingVar(var.to_string()))?;
                    TokenKey::parse(&value, &format!("${var}")).map(Some)
                } else if let Some(path) = source.strip_prefix("file:") {
                    let full = base_dir.join(path);
                    let text = read_key_file(&full)?;
                    TokenKey::parse(&text, &full.display().to_string()).map(Some)
                } else {
                    Err(CryptoError::BadSource(source.to_string()))
                }
            }
            None => match std::env::var(KEY_ENV) {
                Ok(value) => TokenKey::parse(&value, &format!("${KEY_ENV}")).map(Some),
                Err(_) => Ok(None),
            },
        }
    }

    /// Like [`TokenKey::load`], but a missing key is an error.
    pub fn require(config: Option<&str>, base_dir: &Path) -> Result<TokenKey, CryptoError> {
        TokenKey::load(config, base_dir)?.ok_or(CryptoError::NoKey)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(
            self.0.expose_secret(),
        ))
    }

    /// Encrypts `plaintext` for `account` with a fresh random nonce.
    pub fn seal(&self, account: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: account.as_bytes(),
        };
        // AES-GCM encryption fails only for messages over ~64 GiB; a token
        // blob is a few kilobytes, so this branch is unreachable in practice
        // and falls back to an empty ciphertext that will fail to open.
        let ciphertext = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        blob.push(VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob
    }

    /// Decrypts a blob written by [`TokenKey::seal`] for the same account.
    pub fn open(&self, account: &str, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        // 16 bytes: the GCM tag.
        if blob.len() < 1 + NONCE_LEN + 16 || blob[0] != VERSION {
            return Err(CryptoError::Format);
        }
        let (nonce, ciphertext) = blob[1..].split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: account.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonce() {
        let key = TokenKey::generate();
        let a = key.seal("acct", b"hello");
        let b = key.seal("acct", b"hello");
        assert_ne!(a, b, "each write draws a new nonce");
        assert_eq!(key.open("acct", &a).unwrap(), b"hello");
        assert_eq!(key.open("acct", &b).unwrap(), b"hello");
    }

    #[test]
    fn wrong_key_wrong_account_and_tampering_fail_cleanly() {
        let key = TokenKey::generate();
        let blob = key.seal("acct", b"secret-value");
        assert_eq!(
            TokenKey::generate().open("acct", &blob),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(key.open("other", &blob), Err(CryptoError::Decrypt));
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(key.open("acct", &tampered), Err(CryptoError::Decrypt));
        assert_eq!(key.open("acct", &blob[..10]), Err(CryptoError::Format));
        let mut v2 = blob;
        v2[0] = 2;
        assert_eq!(key.open("acct", &v2), Err(CryptoError::Format));
    }

    #[test]
    fn parses_hex_and_base64_and_rejects_other_lengths() {
        let hex_key = "00".repeat(32);
        assert!(TokenKey::parse(&hex_key, "t").is_ok());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(TokenKey::parse(&format!("  {b64}\n"), "t").is_ok());
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let err = TokenKey::parse(&short, "$K").unwrap_err();
        assert!(matches!(err, CryptoError::BadKey { .. }));
        assert!(!err.to_string().contains(&short), "never echo the key");
        assert!(TokenKey::parse("not a key", "t").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_plaintext_round_trips_and_any_bit_flip_is_detected(
            account in "[a-z0-9-]{1,40}",
            plaintext in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            flip in proptest::num::usize::ANY,
        ) {
            let key = TokenKey::from_bytes([42; 32]);
            let blob = key.seal(&account, &plaintext);
            proptest::prop_assert_eq!(key.open(&account, &blob).unwrap(), plaintext);
            let mut tampered = blob.clone();
            let i = flip % tampered.len();
            tampered[i] ^= 0x80;
            proptest::prop_assert!(key.open(&account, &tampered).is_err());
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = TokenKey::from_bytes([0xAB; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.to_lowercase().contains("abab"));
    }

    #[test]
    fn load_from_file_and_bad_source() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k");
        std::fs::write(&k, "11".repeat(32)).unwrap();
        std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            TokenKey::load(Some("file:k"), dir.path())
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            TokenKey::load(Some("file:missing"), dir.path()),
            Err(CryptoError::File { .. })
        ));
        assert!(matches!(
            TokenKey::load(Some("plain"), dir.path()),
            Err(CryptoError::BadSource(_))
        ));
        assert!(matches!(
            TokenKey::load(Some("env:BERRAH_TEST_SURELY_UNSET_VAR"), dir.path()),
            Err(CryptoError::MissingVar(_))
        ));
    }

    #[test]
    fn a_key_file_others_may_read_is_refused_with_the_chmod_to_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k");
        std::fs::write(&k, "11".repeat(32)).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&k, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = TokenKey::load(Some("file:k"), dir.path()).unwrap_err();
            assert!(
                matches!(err, CryptoError::KeyFileOpen { mode: m, .. } if m == mode),
                "{mode:o}: {err:?}"
            );
            let shown = err.to_string();
            assert!(
                shown.contains(&format!("chmod 600 {}", k.display())) && !shown.contains("1111"),
                "{shown}"
            );
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&k, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(
                TokenKey::load(Some("file:k"), dir.path())
                    .unwrap()
                    .is_some()
            );
        }
        // A FIFO in its place is refused at once, never waited on.
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(matches!(
            TokenKey::load(Some("file:fifo"), dir.path()),
            Err(CryptoError::File { .. })
        ));
    }
}
