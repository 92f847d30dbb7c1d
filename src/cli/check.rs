//! `berrah check [FILE...]`: validates the configuration and every campaign
//! file (or only the files named), and
//! prints each problem as `path:line:col: error: ...` with the line, a caret
//! and what to write instead. Exit code 0 when everything is valid (warnings
//! allowed), 1 when there is any error, 2 on usage errors (clap's own).

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::GlobalArgs;
use super::context;
use crate::calendar::tzdb::Selection;
use crate::diag::{Diagnostic, Report, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CheckFormat {
    /// Compiler-style messages on stderr.
    #[default]
    Human,
    /// One JSON document on stdout (for CI and editors).
    Json,
    /// GitHub Actions workflow commands on stdout (`::error file=…,line=…,col=…::…`):
    /// each problem shows on the pull request's line.
    Github,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only these campaign files (with the configuration), not the whole folder.
    #[arg(value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    path: String,
    line: usize,
    column: usize,
    severity: Severity,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    /// The time-zone database the due times were computed with.
    #[serde(skip_serializing_if = "Option::is_none")]
    tzdb: Option<crate::calendar::tzdb::Summary>,
    files: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

fn print(report: &Report, files: usize, format: CheckFormat, tzdb: Option<&Selection>) {
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    match format {
        CheckFormat::Human => {
            let text = report.render();
            if !text.is_empty() {
                eprintln!("{text}");
            }
            if let Some(t) = tzdb {
                eprintln!("time zones: {}", t.describe());
            }
            let s = |n: usize| if n == 1 { "" } else { "s" };
            eprintln!(
                "{files} campaign file{} checked: {errors} error{}, {warnings} warning{}",
                s(files),
                s(errors),
                s(warnings)
            );
        }
        CheckFormat::Github => {
            let mut out = String::new();
            for (d, _, line, column) in report.sorted_with_positions() {
                out.push_str(&github_annotation(
                    d.severity,
                    &d.path.display().to_string(),
                    line,
                    column,
                    &d.message,
                    d.help.as_deref(),
                ));
            }
            print!("{out}");
            let s = |n: usize| if n == 1 { "" } else { "s" };
            eprintln!(
                "{files} campaign file{} checked: {errors} error{}, {warnings} warning{}",
                s(files),
                s(errors),
                s(warnings)
            );
        }
        CheckFormat::Json => {
            let diagnostics = report
                .sorted_with_positions()
                .into_iter()
                .map(|(d, _, line, column)| JsonDiagnostic {
                    path: d.path.display().to_string(),
                    line,
                    column,
                    severity: d.severity,
                    message: &d.message,
                    help: d.help.as_deref(),
                })
                .collect();
            let doc = JsonReport {
                tzdb: tzdb.map(Selection::summary),
                files,
                errors,
                warnings,
                diagnostics,
            };
            match serde_json::to_string_pretty(&doc) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: {e}"),
            }
        }
    }
}

/// One GitHub Actions workflow command: `::error file=F,line=L,col=C,title=T::MESSAGE`.
/// Data is escaped as the runner expects (`%`, CR and LF in the message;
/// also `:` and `,` in properties), so a message can never end the command
/// early or start another one.
fn github_annotation(
    severity: Severity,
    path: &str,
    line: usize,
    column: usize,
    message: &str,
    help: Option<&str>,
) -> String {
    fn data(s: &str) -> String {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    }
    fn property(s: &str) -> String {
        data(s).replace(':', "%3A").replace(',', "%2C")
    }
    let kind = match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut text = message.to_string();
    if let Some(h) = help {
        text.push_str("\nhelp: ");
        text.push_str(h);
    }
    format!(
        "::{kind} file={},line={line},col={column},title={}::{}\n",
        property(path),
        property(&format!("berrah check: {kind}")),
        data(&text)
    )
}

pub fn run(global: &GlobalArgs, args: CheckArgs) -> ExitCode {
    // A mistake in berrah.toml is reported with the campaigns' own
    // problems, not instead of them.
    let (loaded, config_report) = match context::load_for_check(global) {
        Ok(l) => l,
        Err(report) => {
            print(&report, 0, args.format, None);
            return ExitCode::from(1);
        }
    };
    // Only the diagnostics are shown: each file's occurrences and posts
    // are dropped as soon as it is checked (100,000 of them would otherwise
    // all be held).
    let (checked, mut report) = if args.files.is_empty() {
        let (checked, report) = crate::campaign::check_dir_map(
            &loaded.campaigns_dir,
            &loaded.context(),
            crate::campaign::Checked::shed,
        );
        (checked.len(), report)
    } else {
        let (checked, report) = crate::campaign::check_files(&args.files, &loaded.context());
        (checked.len(), report)
    };
    report.merge(config_report);
    // Stale or forced-old zone data is how posts go out an hour off.
    let config = loaded
        .config_path
        .clone()
        .unwrap_or_else(|| context::DEFAULT_CONFIG.into());
    for note in loaded.tzdb.notes_at(loaded.now) {
        report.push(Diagnostic::warning(config.clone(), None, note).with_help(
            "`berrah check` names the time-zone data in use; README, \"Troubleshooting\", says how to update it",
        ));
    }
    let credential_problems =
        crate::auth::sources::credential_problems(&loaded.config, &loaded.config_dir());
    if !credential_problems.is_empty()
        && report.source(&config).is_none()
        && let Ok(source) = crate::campaign::load::read_source(&config)
    {
        report.add_source(config.clone(), source);
    }
    for c in credential_problems {
        // At the account's `credentials` line (the value is a source, never
        // the secret itself).
        let span = loaded
            .config
            .accounts
            .get(&c.account)
            .and_then(|a| a.credentials.as_ref())
            .map(|cred| cred.span());
        let (problem, fix) = (c.problem.unwrap_or_default(), c.fix.unwrap_or_default());
        report.push(Diagnostic::warning(config.clone(), span, problem).with_help(fix));
    }
    print(&report, checked, args.format, Some(&loaded.tzdb));
    if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_annotations_escape_what_would_break_them() {
        let a = github_annotation(
            Severity::Error,
            "campaigns/a,b:c.toml",
            7,
            1,
            "100% wrong\n::error::injected",
            Some("write `hashtags`"),
        );
        assert_eq!(
            a,
            "::error file=campaigns/a%2Cb%3Ac.toml,line=7,col=1,title=berrah check%3A error::\
             100%25 wrong%0A::error::injected%0Ahelp: write `hashtags`\n"
        );
        assert_eq!(a.matches('\n').count(), 1, "one command, one line");
    }
}
