//! International days: the shipped list (`src/calendar/international_days.toml`,
//! embedded in the binary) and a campaign's own `[[days]]`.
//!
//! A day has a rule that gives its date in any year: a fixed month and day
//! (most UN days), the n-th weekday of a month (World Habitat Day, the first
//! Monday of October), or a single explicit date (a campaign's own event).
//! Weeks and periods (World Interfaith Harmony Week, the 16 Days of Activism)
//! are days with a `length`: their date is their first day.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use jiff::civil::{self, Weekday};
use serde::Deserialize;

use super::tz::{UnknownZone, zone_in};
use super::tzdb::Tzdb;
use crate::campaign::model::CustomDay;

/// The shipped calendar's source, embedded at build time.
const SHIPPED: &str = include_str!("international_days.toml");

/// How a day's date is found in a given year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayRule {
    /// The same month and day every year (e.g. 18 December).
    Fixed { month: i8, day: i8 },
    /// The `nth` (1-5, or -1 for the last) `weekday` of `month`.
    NthWeekday {
        month: i8,
        nth: i8,
        weekday: Weekday,
    },
    /// One date only (a campaign's own event).
    Once(civil::Date),
}

/// One international day or week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub slug: String,
    pub rule: DayRule,
    /// Length in days: 1 for a day, 7 for a week.
    pub length: u16,
    /// Names per language (`fr`, `ar`, `en`).
    pub names: BTreeMap<String, String>,
    /// The UN resolution or other source that proclaimed it.
    pub source: Option<String>,
    /// A campaign's own day rather than a shipped one.
    pub custom: bool,
}

impl Day {
    /// Its (first) date in `year`, or `None` when the rule has no date that
    /// year (29 February in a common year, a one-off date in another year).
    pub fn date_in(&self, year: i16) -> Option<civil::Date> {
        match self.rule {
            DayRule::Fixed { month, day } => civil::Date::new(year, month, day).ok(),
            DayRule::NthWeekday {
                month,
                nth,
                weekday,
            } => civil::Date::new(year, month, 1)
                .ok()?
                .nth_weekday_of_month(nth, weekday)
                .ok(),
            DayRule::Once(date) => (date.year() == year).then_some(date),
        }
    }

    /// Its name in `lang`, else in English, else its slug.
    pub fn name(&self, lang: &str) -> &str {
        self.names
            .get(lang)
            .or_else(|| self.names.get("en"))
            .map_or(self.slug.as_str(), String::as_str)
    }

    /// The rule in words, for `berrah days`.
    pub fn describe_rule(&self) -> String {
        let base = match &self.rule {
            DayRule::Fixed { month, day } => format!("{day} {}", month_name(*month)),
            DayRule::NthWeekday {
                month,
                nth,
                weekday,
            } => format!(
                "{} {weekday:?} of {}",
                match nth {
                    1 => "first",
                    2 => "second",
                    3 => "third",
                    4 => "fourth",
                    5 => "fifth",
                    _ => "last",
                },
                month_name(*month)
            ),
            DayRule::Once(date) => date.to_string(),
        };
        if self.length > 1 {
            format!("{base}, {} days", self.length)
        } else {
            base
        }
    }
}

/// The English name of month `m` (1 to 12), `?` for any other number.
pub fn month_name(m: i8) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES
        .get(usize::try_from(m - 1).unwrap_or(usize::MAX))
        .copied()
        .unwrap_or("?")
}

/// The file format of `src/calendar/international_days.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippedFile {
    day: Vec<ShippedDay>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippedDay {
    slug: String,
    month: i8,
    day: Option<i8>,
    nth: Option<i8>,
    weekday: Option<String>,
    #[serde(default = "one")]
    length: u16,
    source: Option<String>,
    names: BTreeMap<String, String>,
}

fn one() -> u16 {
    1
}

fn weekday_from_name(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// Parses the shipped list; an error names the faulty entry.
fn parse_shipped(source: &str) -> Result<Vec<Day>, String> {
    let file: ShippedFile = toml::from_str(source).map_err(|e| e.to_string())?;
    file.day
        .into_iter()
        .map(|d| {
            let rule = match (d.day, d.nth, d.weekday.as_deref()) {
                (Some(day), None, None) => DayRule::Fixed {
                    month: d.month,
                    day,
                },
                (None, Some(nth), Some(w)) => DayRule::NthWeekday {
                    month: d.month,
                    nth,
                    weekday: weekday_from_name(w)
                        .ok_or_else(|| format!("{}: unknown weekday `{w}`", d.slug))?,
                },
                _ => return Err(format!("{}: give `day`, or `nth` and `weekday`", d.slug)),
            };
            Ok(Day {
                slug: d.slug,
                rule,
                length: d.length.max(1),
                names: d.names,
                source: d.source,
                custom: false,
            })
        })
        .collect()
}

fn shipped_days() -> &'static Arc<Vec<Day>> {
    static DAYS: OnceLock<Arc<Vec<Day>>> = OnceLock::new();
    DAYS.get_or_init(|| {
        // Invariant: the embedded file is part of the source tree and a unit
        // test (`shipped_calendar_parses`) parses it, so it cannot fail here.
        Arc::new(parse_shipped(SHIPPED).expect("src/calendar/international_days.toml is valid"))
    })
}

/// The international days berrah knows: the shipped list plus a campaign's own.
///
/// Cloning is cheap (the shipped list is shared). A campaign's own day with
/// the slug of a shipped one takes its place for that campaign.
///
/// A calendar also carries the time-zone database that dates are read with
/// (the bundled one unless [`Calendar::with_tzdb`] says otherwise).
#[derive(Debug, Clone)]
pub struct Calendar {
    shipped: Arc<Vec<Day>>,
    custom: Vec<Day>,
    tzdb: Arc<Tzdb>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar::shipped()
    }
}

impl Calendar {
    /// The shipped calendar of UN international days (parsed once per process).
    pub fn shipped() -> Calendar {
        Calendar {
            shipped: Arc::clone(shipped_days()),
            custom: Vec::new(),
            tzdb: Tzdb::bundled(),
        }
    }

    /// This calendar, reading times with `tzdb`.
    pub fn with_tzdb(mut self, tzdb: Arc<Tzdb>) -> Calendar {
        self.tzdb = tzdb;
        self
    }

    /// The time-zone database this calendar reads times with.
    pub fn tzdb(&self) -> &Arc<Tzdb> {
        &self.tzdb
    }

    /// The zone named `name` in this calendar's database.
    pub fn zone(&self, name: &str) -> Result<jiff::tz::TimeZone, UnknownZone> {
        zone_in(&self.tzdb, name)
    }

    /// This calendar plus a campaign's `[[days]]`. Entries without a usable
    /// rule (neither `month` and `day` nor `date`) are left out: validation
    /// reports them, and an anchor on them is then an unknown day.
    pub fn with_custom(&self, days: &[CustomDay]) -> Calendar {
        let mut custom = self.custom.clone();
        for d in days {
            let rule = match (d.month, d.day, &d.date) {
                (_, _, Some(date)) => DayRule::Once(date.get_ref().0),
                (Some(month), Some(day), None) => DayRule::Fixed {
                    month: i8::try_from(month).unwrap_or(0),
                    day: i8::try_from(day).unwrap_or(0),
                },
                _ => continue,
            };
            let slug = d.slug.get_ref().clone();
            custom.retain(|c: &Day| c.slug != slug);
            custom.push(Day {
                slug,
                rule,
                length: 1,
                names: d
                    .names
                    .iter()
                    .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                    .collect(),
                source: None,
                custom: true,
            });
        }
        Calendar {
            shipped: Arc::clone(&self.shipped),
            custom,
            tzdb: Arc::clone(&self.tzdb),
        }
    }

    /// Every day: the campaign's own first, then the shipped ones in calendar order.
    pub fn days(&self) -> impl Iterator<Item = &Day> {
        self.custom.iter().chain(
            self.shipped
                .iter()
                .filter(|d| !self.custom.iter().any(|c| c.slug == d.slug)),
        )
    }

    pub fn get(&self, slug: &str) -> Option<&Day> {
        self.custom
            .iter()
            .find(|d| d.slug == slug)
            .or_else(|| self.shipped.iter().find(|d| d.slug == slug))
    }

    /// The (first) date of `slug` in `year`; `None` for an unknown slug or a
    /// day that has no date that year.
    pub fn date_in(&self, slug: &str, year: i16) -> Option<civil::Date> {
        self.get(slug)?.date_in(year)
    }

    /// The slug closest to a mistyped one ("did you mean"), also matching an
    /// English, French or Arabic name written instead of the slug.
    pub fn suggest(&self, input: &str) -> Option<&str> {
        let lowered = input.trim().to_lowercase();
        if let Some(d) = self
            .days()
            .find(|d| d.names.values().any(|n| n.to_lowercase() == lowered))
        {
            return Some(d.slug.as_str());
        }
        let normalized = lowered.replace([' ', '_'], "-");
        if let Some(d) = self.days().find(|d| d.slug == normalized) {
            return Some(d.slug.as_str());
        }
        super::closest(&normalized, self.days().map(|d| d.slug.as_str())).or_else(|| {
            // "refugee-day" → "refugees": a slug contained in the input or the reverse.
            self.days()
                .filter(|d| d.slug.len() >= 4)
                .find(|d| normalized.contains(&d.slug) || d.slug.contains(&normalized))
                .map(|d| d.slug.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i16, m: i8, day: i8) -> civil::Date {
        civil::date(y, m, day)
    }

    #[test]
    fn shipped_calendar_parses() {
        let days = parse_shipped(SHIPPED).unwrap();
        assert!(days.len() >= 40, "{}", days.len());
        for day in &days {
            for lang in ["fr", "ar", "en"] {
                assert!(day.names.contains_key(lang), "{} lacks {lang}", day.slug);
            }
            assert!(day.source.is_some(), "{} lacks a source", day.slug);
            assert!(day.date_in(2027).is_some(), "{}", day.slug);
        }
        let mut slugs: Vec<_> = days.iter().map(|d| &d.slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), days.len(), "duplicate slugs");
    }

    #[test]
    fn the_days_these_campaigns_use() {
        let c = Calendar::shipped();
        // Expected dates written by hand from the UN's list of observances.
        let expected = [
            ("migrants", 12, 18),
            ("education", 1, 24),
            ("children", 11, 20),
            ("refugees", 6, 20),
            ("living-together-in-peace", 5, 16),
            ("human-fraternity", 2, 4),
            ("mother-language", 2, 21),
            ("racial-discrimination", 3, 21),
            ("youth", 8, 12),
            ("human-rights", 12, 10),
            ("tolerance", 11, 16),
            ("girl-child", 10, 11),
            ("humanitarian", 8, 19),
            ("women", 3, 8),
            ("peace", 9, 21),
            ("literacy", 9, 8),
            ("families", 5, 15),
            ("cultural-diversity", 5, 21),
            ("interfaith-harmony-week", 2, 1),
        ];
        for (slug, m, day) in expected {
            assert_eq!(c.date_in(slug, 2027), Some(d(2027, m, day)), "{slug}");
        }
        assert_eq!(c.get("interfaith-harmony-week").unwrap().length, 7);
        assert_eq!(
            c.get("migrants").unwrap().name("ar"),
            "اليوم الدولي للمهاجرين"
        );
        assert_eq!(
            c.get("children").unwrap().name("fr"),
            "Journée mondiale de l'enfance"
        );
    }

    #[test]
    fn nth_weekday_rule() {
        let c = Calendar::shipped();
        // First Mondays of October, from a printed calendar.
        assert_eq!(c.date_in("habitat", 2026), Some(d(2026, 10, 5)));
        assert_eq!(c.date_in("habitat", 2027), Some(d(2027, 10, 4)));
    }

    #[test]
    fn custom_days_and_suggestions() {
        let file: crate::campaign::CampaignFile = toml::from_str(
            r#"
[campaign]
id = "x"
title = "x"
timezone = "Africa/Casablanca"
start = 2026-01-01
end = 2026-12-31

[[days]]
slug = "amal-premiere"
date = 2026-12-01
names = { fr = "Avant-première" }

[[days]]
slug = "leap"
month = 2
day = 29
"#,
        )
        .unwrap();
        let c = Calendar::shipped().with_custom(&file.days);
        assert_eq!(c.date_in("amal-premiere", 2026), Some(d(2026, 12, 1)));
        assert_eq!(c.date_in("amal-premiere", 2027), None);
        assert_eq!(c.date_in("leap", 2027), None);
        assert_eq!(c.date_in("leap", 2028), Some(d(2028, 2, 29)));
        assert_eq!(c.suggest("migrant"), Some("migrants"));
        assert_eq!(c.suggest("International Migrants Day"), Some("migrants"));
        assert_eq!(c.suggest("human rights"), Some("human-rights"));
        assert_eq!(c.suggest("amal-premier"), Some("amal-premiere"));
        assert_eq!(c.suggest("zzzzzzzzzzzz"), None);
        // The shipped calendar is not changed by a campaign's days.
        assert!(Calendar::shipped().get("amal-premiere").is_none());
    }
}
