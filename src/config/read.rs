//! Reading and checking `berrah.toml`: TOML errors with `path:line:col`,
//! and what TOML cannot see (account ids, credential sources that must not
//! be secrets, base URLs, languages, the database URL, durations). Used by
//! every command (through `cli::context`) and by the daemon when the file
//! changes.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Config, PlatformKind};
use crate::campaign::load;
use crate::campaign::validate::is_valid_lang;
use crate::diag::{Diagnostic, Report};

/// Reads and checks `berrah.toml`. `Ok(None)`: the default file is absent.
pub fn read_config(path: &Path, explicit: bool) -> Result<Option<Config>, Report> {
    let (config, report) = read_config_partial(path, explicit);
    if report.has_errors() {
        return Err(report);
    }
    Ok(config)
}

/// [`read_config`] for `berrah check`: the file's errors, and still the part
/// of it that is valid, so that one mistake in `berrah.toml` does not hide
/// the campaigns' own. The valid part is the file without the accounts that
/// have errors (and with the default for a daemon setting that has one);
/// `None` when the file is absent, unreadable or not TOML.
pub fn read_config_partial(path: &Path, explicit: bool) -> (Option<Config>, Report) {
    let mut report = Report::default();
    if !path.exists() {
        if explicit {
            report.push(
                Diagnostic::error(path, None, "the configuration file does not exist").with_help(
                    "create it, or leave out `--config` (and BERRAH_CONFIG) to run without accounts",
                ),
            );
        }
        return (None, report);
    }
    let source = match load::read_source(path) {
        Ok(s) => s,
        Err(u) => {
            if let Some(shown) = u.shown {
                report.add_source(path, shown);
            }
            report.push(*u.diagnostic);
            return (None, report);
        }
    };
    let parsed = if source.trim().is_empty() {
        Ok(Config::default())
    } else {
        toml::from_str::<Config>(&source).map_err(|e| load::from_toml_error(path, &source, &e))
    };
    let mut config = match parsed {
        Ok(c) => c,
        Err(d) => {
            report.push(mask_secret(&source, d));
            report.add_source(path, source);
            return (None, report);
        }
    };
    let problems = check_config(path, &source, &config);
    if problems.iter().any(Diagnostic::is_error) {
        // Keep what is valid: the accounts without errors, the daemon
        // settings without errors.
        let (valid, broken): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut config.accounts)
                .into_iter()
                .partition(|(id, acc)| {
                    !check_account(path, &source, id, acc)
                        .iter()
                        .any(Diagnostic::is_error)
                });
        config.accounts = valid;
        config.broken_accounts = broken.into_keys().collect();
        config.alerts = crate::alerts::config::valid(path, &source, &config.alerts);
        let defaults = super::DaemonConfig::default();
        let daemon = &mut config.daemon;
        if daemon
            .token_key
            .as_deref()
            .is_some_and(|k| !is_key_source(k))
        {
            daemon.token_key = None;
        }
        if daemon
            .database
            .as_deref()
            .is_some_and(|d| !is_database_url(d))
        {
            daemon.database = None;
        }
        if crate::plan::parse_duration(&daemon.expires_after).is_err() {
            daemon.expires_after = defaults.expires_after;
        }
        report.extend(problems.into_iter().map(|d| mask_secret(&source, d)));
        report.add_source(path, source);
    }
    (Some(config), report)
}

/// A diagnostic on a line that may hold a secret (`credentials = ...`,
/// `token_key = ...`, or a key named like one: `credential`, `token`,
/// `secret`, `password`, `api_key`) points at that line's value and never
/// shows it: someone may have pasted a token there. Whatever the problem
/// (not a source, a typo in the key, a TOML syntax error), the value is
/// neither in the message nor in the snippet.
fn mask_secret(source: &str, d: Diagnostic) -> Diagnostic {
    let Some(span) = &d.span else { return d };
    let at = span.start.min(source.len());
    let Some(line_start) = source.get(..at).map(|b| b.rfind('\n').map_or(0, |i| i + 1)) else {
        return d;
    };
    let line_end = source[line_start..]
        .find('\n')
        .map_or(source.len(), |i| line_start + i);
    let line = &source[line_start..line_end];
    let Some(eq) = line.find('=') else { return d };
    let key = line[..eq]
        .trim()
        .rsplit('.')
        .next()
        .unwrap_or("")
        .trim_matches(['"', '\'', ' ']);
    let k = key.to_ascii_lowercase();
    let secret_like = ["cred", "token", "secret", "pass", "key"]
        .iter()
        .any(|w| k.contains(w));
    if !secret_like {
        return d;
    }
    let after = &line[eq + 1..];
    let from = line_start + eq + 1 + (after.len() - after.trim_start().len());
    let mut d = Diagnostic {
        span: Some(from..line_end.max(from)),
        ..d
    }
    .masked();
    // A TOML error may quote the value (`invalid type: integer `123...``).
    let value = source[from..line_end].trim();
    if value.len() >= 4 && d.message.contains(value.trim_matches('"')) {
        d.message = format!(
            "`{key}` cannot be read here; it must be a text in double quotes saying where the secret is"
        );
    }
    d
}

/// The byte span of `[accounts.<id>]` (or of the id) in the source, for
/// pointing at an account whose fields are not spanned.
fn account_span(source: &str, id: &str) -> Option<std::ops::Range<usize>> {
    for needle in [
        format!("[accounts.{id}]"),
        format!("[accounts.\"{id}\"]"),
        format!("{id} ="),
    ] {
        if let Some(i) = source.find(&needle) {
            return Some(i..i + needle.len());
        }
    }
    None
}

/// The byte span of the value of `key` in the table that starts at
/// `table` (an account's header), when it is written there on a line of
/// its own (`key = "value"`).
fn value_span(
    source: &str,
    table: Option<&std::ops::Range<usize>>,
    key: &str,
) -> Option<std::ops::Range<usize>> {
    let start = table?.end;
    let mut at = start;
    for line in source[start..].split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            break;
        }
        let indent = line.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix(key)
            && let Some(eq) = rest.find('=')
            && rest[..eq].trim().is_empty()
        {
            let after = &rest[eq + 1..];
            let lead = after.len() - after.trim_start().len();
            let from = at + indent + key.len() + eq + 1 + lead;
            return Some(from..from + after.trim().len());
        }
        at += line.len();
    }
    None
}

/// What TOML cannot see in `berrah.toml`.
pub fn check_config(path: &Path, source: &str, config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (id, acc) in &config.accounts {
        out.extend(check_account(path, source, id, acc));
    }
    out.extend(check_daemon(path, source, config));
    out.extend(crate::alerts::config::check(path, source, &config.alerts));
    out
}

/// `token_key` says where the key is: `env:VAR` or `file:PATH`.
fn is_key_source(key: &str) -> bool {
    matches!(key.split_once(':'), Some(("env", v)) | Some(("file", v)) if !v.is_empty())
}

fn is_database_url(db: &str) -> bool {
    db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// What TOML cannot see in one account.
fn check_account(
    path: &Path,
    source: &str,
    id: &str,
    acc: &super::AccountConfig,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at = account_span(source, id);
    if !crate::campaign::validate::is_valid_id(id) {
        out.push(
            Diagnostic::error(
                path,
                at.clone(),
                format!("account id `{id}` may only have lowercase letters, digits and `-`"),
            )
            .with_help("write it like `oim-maroc-facebook`"),
        );
    }
    if let Some(cred) = &acc.credentials {
        let v = cred.get_ref();
        let ok = match v.split_once(':') {
            Some(("env", var)) => !var.is_empty(),
            Some(("file", p)) => !p.is_empty(),
            _ => v == "store",
        };
        if !ok {
            // Never echo the value: someone may have pasted a token here.
            out.push(
                    Diagnostic::error(
                        path,
                        Some(cred.span()),
                        format!("the credentials of account `{id}` must say where the secret is, not be the secret"),
                    )
                    .with_help(
                        "write `credentials = \"env:VARIABLE\"`, `\"file:path/to/token\"` or `\"store\"` (after `berrah accounts login`); if a token was written here, revoke it",
                    ),
                );
        }
    }
    if matches!(acc.platform, PlatformKind::Mastodon | PlatformKind::Webhook) {
        match acc.base_url.as_deref() {
            None => out.push(
                Diagnostic::error(
                    path,
                    at.clone(),
                    format!("account `{id}` ({}) needs a `base_url`", acc.platform),
                )
                .with_help(if acc.platform == PlatformKind::Mastodon {
                    "add `base_url = \"https://mastodon.social\"` (the account's instance)"
                } else {
                    "add `base_url = \"https://example.org/hook\"` (where the webhook posts)"
                }),
            ),
            Some(u) if url::Url::parse(u).is_err() => out.push(
                Diagnostic::error(
                    path,
                    value_span(source, at.as_ref(), "base_url").or(at.clone()),
                    format!("`{u}` is not a URL"),
                )
                .with_help("write it as `https://host/path`"),
            ),
            _ => {}
        }
    } else if let Some(u) = acc.base_url.as_deref()
        && url::Url::parse(u).is_err()
    {
        out.push(
            Diagnostic::error(
                path,
                value_span(source, at.as_ref(), "base_url").or(at.clone()),
                format!("`{u}` is not a URL"),
            )
            .with_help("write it as `https://host/path`"),
        );
    }
    if acc.dedupe_by_delivery && acc.platform != PlatformKind::Webhook {
        out.push(
            Diagnostic::error(
                path,
                value_span(source, at.as_ref(), "dedupe_by_delivery").or(at.clone()),
                format!(
                    "`dedupe_by_delivery` is for webhook accounts; account `{id}` is {}",
                    acc.platform
                ),
            )
            .with_help("remove it: this platform's own answers decide what is sent again"),
        );
    }
    if acc.credentials.is_some()
        && let Some(u) = acc.base_url.as_deref()
        && url::Url::parse(u).is_ok_and(|u| crate::http::cleartext(&u))
    {
        out.push(
            Diagnostic::error(
                path,
                value_span(source, at.as_ref(), "base_url").or(at.clone()),
                format!(
                    "account `{id}` sends its credentials to `{u}` in clear: `http://` is \
                         only allowed on this machine (127.0.0.1, ::1, localhost)"
                ),
            )
            .with_help("write its `https://` address"),
        );
    }
    for l in acc.languages.iter().flatten() {
        if !is_valid_lang(l) {
            out.push(
                Diagnostic::error(
                    path,
                    at.clone(),
                    format!("account `{id}`: `{l}` is not a language code"),
                )
                .with_help("write lowercase codes such as \"fr\", \"ar\" or \"en\""),
            );
        }
    }
    out
}

/// What TOML cannot see in the `[daemon]` table.
fn check_daemon(path: &Path, source: &str, config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(key) = &config.daemon.token_key
        && !is_key_source(key)
    {
        out.push(
            Diagnostic::error(path, source.find("token_key").map(|i| i..i + 9), "`token_key` must say where the key is, not be the key")
                .with_help("write `token_key = \"env:BERRAH_TOKEN_KEY\"` or `\"file:/etc/berrah/token.key\"`; if a key was written here, make a new one"),
        );
    }
    if let Some(db) = &config.daemon.database
        && !is_database_url(db)
    {
        out.push(
            Diagnostic::error(
                path,
                source.find("database").map(|i| i..i + 8),
                "`database` must be a `sqlite://` or `postgres://` URL",
            )
            .with_help(
                "write `database = \"sqlite://data/berrah.db\"` or `\"postgres://user@host/db\"`",
            ),
        );
    }
    if let Some(token) = &config.console.token
        && let Err(e) = crate::console::security::token_source(token)
    {
        let at = source
            .find("[console]")
            .and_then(|c| source[c..].find("token").map(|i| c + i..c + i + 5));
        out.push(Diagnostic::error(path, at, e.to_string()).with_help(
            "write `token = \"env:BERRAH_CONSOLE_TOKEN\"` or `\"file:/etc/berrah/console.token\"`; \
                 if a token was written here, make a new one",
        ));
    }
    if let Some(listen) = &config.daemon.listen
        && let Err(e) = crate::observe::listener::parse_address(listen)
    {
        out.push(Diagnostic::error(
            path,
            source.find("listen").map(|i| i..i + 6),
            e.to_string(),
        ));
    }
    if crate::plan::parse_duration(&config.daemon.expires_after).is_err() {
        out.push(
            Diagnostic::error(
                path,
                source.find("expires_after").map(|i| i..i + 13),
                format!("`{}` is not a duration", config.daemon.expires_after),
            )
            .with_help("write a duration such as \"24h\" or \"2 days\""),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("berrah.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn missing_default_is_empty_but_explicit_missing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("berrah.toml");
        assert!(read_config(&p, false).unwrap().is_none());
        let r = read_config(&p, true).unwrap_err();
        assert!(r.render().contains("does not exist"));
    }

    #[test]
    fn toml_errors_have_path_line_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[accounts.a]\nplatfrom = \"x\"\n");
        let out = read_config(&p, true).unwrap_err().render();
        assert!(
            out.contains("berrah.toml:2:1: error: unknown key `platfrom`"),
            "{out}"
        );
        assert!(out.contains("did you mean `platform`?"), "{out}");
        let p = write(dir.path(), "[accounts.a]\nplatform = \"mastodn\"\n");
        let out = read_config(&p, true).unwrap_err().render();
        assert!(
            out.contains("berrah.toml:2:12: error: `mastodn` is not one of the allowed values"),
            "{out}"
        );
        assert!(out.contains("did you mean `mastodon`?"), "{out}");
    }

    #[test]
    fn semantic_checks_never_echo_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[daemon]\ntoken_key = \"hunter2\"\ndatabase = \"mysql://x\"\n\
             [accounts.m]\nplatform = \"mastodon\"\ncredentials = \"sk-SECRET123\"\n\
             [accounts.w]\nplatform = \"webhook\"\nbase_url = \"https://h.example/x\"\nlanguages = [\"FR\"]\n",
        );
        let out = read_config(&p, true).unwrap_err().render();
        assert!(out.contains("needs a `base_url`"), "{out}");
        assert!(out.contains("must say where the secret is"), "{out}");
        assert!(out.contains("`FR` is not a language code"), "{out}");
        assert!(
            out.contains("`token_key` must say where the key is"),
            "{out}"
        );
        assert!(out.contains("`database` must be a `sqlite://`"), "{out}");
        // Neither the message, nor the line shown, nor the caret line give
        // the value away (the line used to be shown as it was).
        assert!(!out.contains("SECRET"), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(
            out.contains("6 | credentials = ********\n  |               ^^^^^^^^\n"),
            "{out}"
        );
        assert!(out.contains("2 | token_key = ********\n"), "{out}");
    }

    #[test]
    fn the_valid_part_of_a_config_with_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[daemon]\nexpires_after = \"soon\"\ndatabase = \"mysql://x\"\n\
             [accounts.good]\nplatform = \"x\"\n\
             [accounts.bad]\nplatform = \"mastodon\"\n",
        );
        let (config, report) = read_config_partial(&p, true);
        let config = config.unwrap();
        assert_eq!(config.accounts.keys().collect::<Vec<_>>(), ["good"]);
        assert_eq!(config.daemon.expires_after, "24h");
        assert_eq!(config.daemon.database, None);
        assert_eq!(
            report.count(crate::diag::Severity::Error),
            3,
            "{}",
            report.render()
        );
        assert!(read_config(&p, true).is_err());
    }

    #[test]
    fn toml_errors_on_a_secret_line_never_echo_it() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "[accounts.m]\nplatform = \"x\"\ncredentials = sk-SECRET123\n",
            "[accounts.m]\nplatform = \"x\"\ncredentials = 123456789\n",
            "[accounts.m]\nplatform = \"x\"\ncredentail = \"sk-SECRET123\"\n",
            "[daemon]\ntoken_key = [\"SECRET123\"]\n",
        ] {
            let p = write(dir.path(), text);
            let out = read_config(&p, true).unwrap_err().render();
            assert!(out.contains("error:"), "{out}");
            assert!(!out.contains("SECRET"), "{out}");
            assert!(!out.contains("123456789"), "{out}");
            assert!(out.contains("********"), "{out}");
        }
    }

    #[test]
    fn credentials_never_go_in_clear_except_on_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[accounts.w]\nplatform = \"webhook\"\ncredentials = \"env:K\"\n\
             base_url = \"http://hooks.example.org/berrah\"\n\
             [accounts.m]\nplatform = \"mastodon\"\nbase_url = \"http://127.0.0.1:4000\"\n\
             credentials = \"env:M\"\n\
             [accounts.o]\nplatform = \"webhook\"\nbase_url = \"http://relay.example.org/\"\n",
        );
        let out = read_config(&p, true).unwrap_err().render();
        assert!(
            out.contains("berrah.toml:4:12: error: account `w` sends its credentials to"),
            "{out}"
        );
        assert!(out.contains("write its `https://` address"), "{out}");
        // Loopback, and an account without credentials (the outbox), are fine.
        assert_eq!(out.matches("in clear").count(), 1, "{out}");
    }
}
