//! Posting budgets: the planned publications of an account on a local day or
//! in a month, against its `budget` in berrah.toml, per file and across the
//! files that share the account.

use std::collections::BTreeMap;

use crate::campaign::{Context, LoadedCampaign};
use crate::diag::Diagnostic;
use crate::plan::Occurrence;

/// The occurrences that use a budget: paused ones are held, never
/// published, and an account without a budget is not counted at all.
fn counted<'o>(
    occurrences: &'o [Occurrence],
    ctx: &Context<'_>,
) -> impl Iterator<Item = &'o Occurrence> {
    let accounts = &ctx.config.accounts;
    occurrences
        .iter()
        .filter(move |o| !o.paused && accounts.get(&o.account).is_some_and(|a| a.budget.is_some()))
}

/// Warns when the planned occurrences on an account exceed its budget on a
/// local day or in a month (the daemon would hold the extra ones).
pub(super) fn check_budgets(
    c: &LoadedCampaign,
    occurrences: &[Occurrence],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    let mut per_day: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut per_month: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for o in counted(occurrences, ctx) {
        let (Some(day), Some(month)) = (o.local.get(..10), o.local.get(..7)) else {
            continue;
        };
        *per_day.entry((o.account.as_str(), day)).or_default() += 1;
        *per_month.entry((o.account.as_str(), month)).or_default() += 1;
    }
    let at = Some(c.file.campaign.id.span());
    let mut out = Vec::new();
    for (counts, what) in [(&per_day, "day"), (&per_month, "month")] {
        for ((account, when), n) in counts {
            let Some(budget) = ctx.config.accounts.get(*account).and_then(|a| a.budget) else {
                continue;
            };
            let limit = if what == "day" {
                budget.per_day
            } else {
                budget.per_month
            };
            if let Some(limit) = limit
                && *n > limit as usize
            {
                out.push(
                    Diagnostic::warning(
                        &c.path,
                        at.clone(),
                        format!(
                            "account `{account}` has {n} publications planned on {when}, over its budget of {limit} per {what}; the extra ones will be held"
                        ),
                    )
                    .with_help(format!(
                        "spread the posts over more {what}s, or raise `budget.per_{what}` of `[accounts.{account}]` in berrah.toml"
                    )),
                );
            }
        }
    }
    out
}

/// How many unpaused occurrences of one campaign fall on each (account,
/// `"day"` or `"month"`, local day or month): all that
/// [`check_shared_budgets`] needs of a campaign, without its occurrences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetCounts(BTreeMap<(String, &'static str, String), usize>);

impl BudgetCounts {
    /// Counts `occurrences` (paused ones are held, never published: they
    /// use no budget) on the accounts that have a budget.
    pub fn of(occurrences: &[Occurrence], ctx: &Context<'_>) -> Self {
        let mut counts: BTreeMap<(&str, &'static str, &str), usize> = BTreeMap::new();
        for o in counted(occurrences, ctx) {
            let (Some(day), Some(month)) = (o.local.get(..10), o.local.get(..7)) else {
                continue;
            };
            for (what, when) in [("day", day), ("month", month)] {
                *counts.entry((o.account.as_str(), what, when)).or_default() += 1;
            }
        }
        BudgetCounts(
            counts
                .into_iter()
                .map(|((a, what, when), n)| ((a.to_string(), what, when.to_string()), n))
                .collect(),
        )
    }
}

/// Budgets are per account, and accounts are shared between campaigns (an
/// agency's page carries several): warns when the campaigns *together*
/// exceed an account's budget on a day or in a month while none does alone
/// (that case is reported per file by [`check_occurrences`](super::check_occurrences)). The warning
/// goes on the last file that contributes.
pub fn check_shared_budgets(
    campaigns: &[(&LoadedCampaign, &[Occurrence])],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    let counts: Vec<BudgetCounts> = campaigns
        .iter()
        .map(|(_, occs)| BudgetCounts::of(occs, ctx))
        .collect();
    let with: Vec<(&LoadedCampaign, &BudgetCounts)> = campaigns
        .iter()
        .zip(&counts)
        .map(|((c, _), n)| (*c, n))
        .collect();
    check_shared_budget_counts(&with, ctx)
}

/// [`check_shared_budgets`] from each campaign's [`BudgetCounts`].
pub fn check_shared_budget_counts(
    campaigns: &[(&LoadedCampaign, &BudgetCounts)],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    // (account, period) → per campaign index, count
    let mut counts: BTreeMap<(&str, &str, &str), BTreeMap<usize, usize>> = BTreeMap::new();
    for (i, (_, per_campaign)) in campaigns.iter().enumerate() {
        for ((account, what, when), n) in &per_campaign.0 {
            *counts
                .entry((account.as_str(), what, when.as_str()))
                .or_default()
                .entry(i)
                .or_default() += n;
        }
    }
    let mut out = Vec::new();
    for ((account, what, when), per) in counts {
        let Some(budget) = ctx.config.accounts.get(account).and_then(|a| a.budget) else {
            continue;
        };
        let Some(limit) = (if what == "day" {
            budget.per_day
        } else {
            budget.per_month
        }) else {
            continue;
        };
        let limit = limit as usize;
        let total: usize = per.values().sum();
        if per.len() < 2 || total <= limit || per.values().any(|n| *n > limit) {
            continue;
        }
        let names: Vec<&str> = per.keys().map(|i| campaigns[*i].0.id()).collect();
        let Some(last) = per.keys().next_back().map(|i| campaigns[*i].0) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                &last.path,
                Some(last.file.campaign.id.span()),
                format!(
                    "account `{account}` has {total} publications planned on {when} by campaigns {}, over its budget of {limit} per {what}; the extra ones will be held",
                    names.join(", ")
                ),
            )
            .with_help(format!(
                "move some posts to other {what}s, or raise `budget.per_{what}` of `[accounts.{account}]` in berrah.toml"
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::campaign::validate::check_occurrences;
    use crate::campaign::validate::fixtures::{CONFIG, head, messages, occurrence, run};
    use crate::config::{Config, PlatformKind};

    #[test]
    fn budgets_and_instagram_hashtags() {
        let dir = tempfile::tempdir().unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ncron = \"0 10 * * *\"\ntext = {{ fr = \"a\", ar = \"b\" }}\n",
            head("\"masto\"")
        );
        let (c, _) = run(dir.path(), &src);
        let config: Config = toml::from_str(CONFIG).unwrap();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let occs = [
            occurrence(
                "p",
                "masto",
                PlatformKind::Mastodon,
                "fr",
                "2026-12-18T10:00:00+01:00",
                "a",
            ),
            occurrence(
                "p",
                "masto",
                PlatformKind::Mastodon,
                "ar",
                "2026-12-18T10:00:00+01:00",
                "b",
            ),
            occurrence(
                "p",
                "masto",
                PlatformKind::Mastodon,
                "fr",
                "2026-12-19T10:00:00+01:00",
                "a",
            ),
        ];
        let m = messages(&check_occurrences(&c, &occs, &ctx));
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(
            m[0].starts_with("warning: account `masto` has 2 publications planned on 2026-12-18"),
            "{m:?}"
        );
        assert!(
            m[1].contains("3 publications planned on 2026-12, over its budget of 2 per month"),
            "{m:?}"
        );
        let long = "y".repeat(120);
        let yt = occurrence(
            "p",
            "yt",
            PlatformKind::Youtube,
            "fr",
            "2026-12-18T10:00:00+01:00",
            &long,
        );
        let m = messages(&check_occurrences(&c, &[yt.clone(), yt], &ctx));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("warning: post `p` has no YouTube title in `fr`"),
            "{m:?}"
        );
        let tags: String = (0..31).map(|i| format!(" #t{i}")).collect();
        let occ = occurrence(
            "p",
            "ig",
            PlatformKind::Instagram,
            "fr",
            "2026-12-18T10:00:00+01:00",
            &tags,
        );
        let m = messages(&check_occurrences(&c, &[occ], &ctx));
        assert!(
            m[0].contains("has 31 hashtags; Instagram allows 30"),
            "{m:?}"
        );
    }
}
