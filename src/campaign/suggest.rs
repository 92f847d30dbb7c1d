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
}
