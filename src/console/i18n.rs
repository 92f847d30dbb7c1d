//! The console's interface language: French or English. Content (the posts'
//! texts) keeps its own language and direction whatever the interface says.
//!
//! Each page writes its words in place with [`Lang::pick`], so that a page
//! and its translations read together: `lang.pick("Calendrier", "Calendar")`.

/// The interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// Every interface language, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// The BCP 47 code, for `lang=` attributes and `?lang=`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::En => "English",
        }
    }

    /// `fr` or `en` (a region such as `fr-MA` is accepted), else `None`.
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first interface language an `Accept-Language` header asks for,
    /// by its weights (`q=`); French when it names neither.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (index, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if weight <= 0.0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((w, i, _)) => weight > w || (weight == w && index < i),
            };
            if better {
                best = Some((weight, index, lang));
            }
        }
        best.map(|(_, _, lang)| lang).unwrap_or_default()
    }

    /// The French or the English text, as the interface speaks.
    pub fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_follows_weights_and_order() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,fr;q=0.8"),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language("ar-MA, fr;q=0.7, en;q=0.5"),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language("fr;q=0.4, en;q=0.6"), Lang::En);
        assert_eq!(Lang::from_accept_language("ar, de"), Lang::Fr);
        assert_eq!(Lang::from_accept_language(""), Lang::Fr);
        assert_eq!(Lang::from_accept_language("en;q=0, fr;q=0.1"), Lang::Fr);
    }

    #[test]
    fn parse_takes_regions() {
        assert_eq!(Lang::parse("fr-MA"), Some(Lang::Fr));
        assert_eq!(Lang::parse("EN_gb"), Some(Lang::En));
        assert_eq!(Lang::parse("ar"), None);
    }
}
