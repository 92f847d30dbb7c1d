//! "Did you mean ...?": the closest known name to a misspelt one.

/// Levenshtein distance in characters (so that accents and Arabic count once).
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a typo
/// (at most a third of the word's length, at least 1, at most 3 edits), or
/// if one contains the other (`hashtag` → `hashtags`).
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let len = word.chars().count();
    let max = (len / 3).clamp(1, 3);
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= max || (len >= 3 && (c.contains(word) || word.contains(*c))))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `help` text: "did you mean `x`?".
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The IANA zone of a place named the way people name it (a city or a
/// country, in French, English or Arabic, accents or not), for
/// `timezone = "Casablanca"` or `"Maroc"`.
pub fn zone_of_place(name: &str) -> Option<&'static str> {
    let plain = super::explain::strip_accents(&name.trim().to_lowercase()).replace(['_', '-'], " ");
    let plain = plain
        .rsplit('/')
        .next()
        .unwrap_or(&plain)
        .trim()
        .to_string();
    Some(match plain.as_str() {
        "casablanca"
        | "casa"
        | "rabat"
        | "marrakech"
        | "marrakesh"
        | "fes"
        | "fez"
        | "tanger"
        | "tangier"
        | "tangiers"
        | "agadir"
        | "oujda"
        | "meknes"
        | "tetouan"
        | "kenitra"
        | "nador"
        | "maroc"
        | "morocco"
        | "المغرب"
        | "الرباط"
        | "الدار البيضاء" => "Africa/Casablanca",
        "laayoune" | "el aaiun" | "dakhla" => "Africa/El_Aaiun",
        "paris" | "france" | "lyon" | "marseille" => "Europe/Paris",
        "geneve" | "geneva" | "genf" | "berne" | "bern" | "zurich" | "suisse" | "switzerland" => {
            "Europe/Zurich"
        }
        "tunis" | "tunisie" | "tunisia" | "تونس" => "Africa/Tunis",
        "alger" | "algiers" | "algerie" | "algeria" | "الجزائر" => "Africa/Algiers",
        "dakar" | "senegal" => "Africa/Dakar",
        "nouakchott" | "mauritanie" | "mauritania" => "Africa/Nouakchott",
        "bamako" | "mali" => "Africa/Bamako",
        "niamey" | "niger" => "Africa/Niamey",
        "abidjan" | "cote d'ivoire" | "ivory coast" => "Africa/Abidjan",
        "le caire" | "caire" | "cairo" | "egypte" | "egypt" => "Africa/Cairo",
        "tripoli" | "libye" | "libya" => "Africa/Tripoli",
        "bruxelles" | "brussels" | "belgique" | "belgium" => "Europe/Brussels",
        "madrid" | "espagne" | "spain" => "Europe/Madrid",
        "rome" | "italie" | "italy" => "Europe/Rome",
        "londres" | "london" | "royaume uni" | "uk" => "Europe/London",
        "berlin" | "allemagne" | "germany" => "Europe/Berlin",
        "lisbonne" | "lisbon" | "portugal" => "Europe/Lisbon",
        "amman" | "jordanie" | "jordan" => "Asia/Amman",
        "beyrouth" | "beirut" | "liban" | "lebanon" => "Asia/Beirut",
        "nairobi" | "kenya" => "Africa/Nairobi",
        "new york" | "newyork" => "America/New_York",
        _ => return None,
    })
}

/// Whether a zone name is a UTC offset or a fixed-offset zone (`+01:00`,
/// `UTC+1`, `GMT`, `Etc/GMT-1`, `CET`) rather than a place.
pub fn is_offset(name: &str) -> bool {
    let n = name.trim().to_uppercase();
    let n = n.strip_prefix("ETC/").unwrap_or(&n);
    if n.starts_with('+') || n.starts_with('-') {
        return true;
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(rest) = n.strip_prefix(prefix) {
            let rest = rest.trim();
            return rest.is_empty() && prefix == "GMT"
                || rest.starts_with('+')
                || rest.starts_with('-')
                || (prefix == "GMT" && rest == "0");
        }
    }
    matches!(
        n,
        "CET" | "WET" | "EET" | "MET" | "CEST" | "WEST" | "EST" | "MST" | "HST"
    )
}

/// The help line for a `timezone` that is not a zone name: the IANA zone of
/// a place named (`Casablanca` → `Africa/Casablanca`); for an offset, the
/// zone of the place (never `Etc/GMT±N`, whose sign is inverted); else the
/// closest known name.
pub fn zone_help(name: &str, closest: Option<&str>) -> String {
    if let Some(z) = zone_of_place(name) {
        return format!("write the IANA zone of that place: `{z}`");
    }
    if is_offset(name) {
        return "a UTC offset is not a place, and places change offset (Morocco during Ramadan, Europe in summer): write the IANA zone of the place, such as `Africa/Casablanca` for Morocco, `Europe/Paris` or `Africa/Tunis`".into();
    }
    match closest.filter(|z| !z.starts_with("Etc/")) {
        Some(z) => format!("did you mean `{z}`?"),
        None => "write an IANA zone name such as `Africa/Casablanca` or `Europe/Paris`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_found() {
        assert_eq!(distance("hashtag", "hashtags"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(closest("hashtag", ["hashtags", "title"]), Some("hashtags"));
        assert_eq!(closest("timzone", ["timezone", "title"]), Some("timezone"));
        assert_eq!(
            closest("oim-maroc-facebok", ["oim-maroc-facebook", "unhcr-x"]),
            Some("oim-maroc-facebook")
        );
        assert_eq!(closest("twitter", ["x", "mastodon"]), None);
        assert_eq!(closest("zzz", ["alpha", "beta"]), None);
        assert_eq!(closest("", ["a"]), Some("a"));
    }

    #[test]
    fn places_and_offsets_get_the_zone_of_the_place() {
        assert_eq!(zone_of_place("Casablanca"), Some("Africa/Casablanca"));
        assert_eq!(zone_of_place("Genève"), Some("Europe/Zurich"));
        assert_eq!(zone_of_place("Maroc"), Some("Africa/Casablanca"));
        assert_eq!(zone_of_place("Europe/Rabat"), Some("Africa/Casablanca"));
        for offset in [
            "+01:00",
            "UTC+1",
            "GMT",
            "GMT+1",
            "Etc/GMT-1",
            "utc-01:00",
            "CET",
        ] {
            assert!(is_offset(offset), "{offset}");
            let help = zone_help(offset, Some("Etc/GMT-1"));
            assert!(help.contains("`Africa/Casablanca`"), "{help}");
            assert!(!help.contains("Etc/"), "{help}");
        }
        assert!(!is_offset("UTC"));
        assert!(!is_offset("Africa/Casablanca"));
        assert_eq!(
            zone_help("Tunis", None),
            "write the IANA zone of that place: `Africa/Tunis`"
        );
        assert_eq!(
            zone_help("Africa/Casablance", Some("Africa/Casablanca")),
            "did you mean `Africa/Casablanca`?"
        );
    }
}
