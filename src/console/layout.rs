//! The page shell every console page shares: the document head, the
//! navigation, the language switch and the stylesheet.
//!
//! Links are relative to [`Page::root`] (`/` when the daemon serves the
//! console, `../` and so on in the static pages of `berrah preview`, which
//! must open from a folder without a server).

use maud::{DOCTYPE, Markup, html};

use super::i18n::Lang;

/// The console's one stylesheet, served as `console.css` beside the pages
/// (`console.css` holds the calendar's and the shared rules, `board.css` the
/// board's).
pub const STYLESHEET: &str = concat!(include_str!("console.css"), include_str!("board.css"));

/// The file name of the stylesheet, relative to the root.
pub const STYLESHEET_NAME: &str = "console.css";

/// The part of the console a page belongs to, marked in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Calendar,
    Board,
}

/// What the shell needs to know of a page.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// The interface language.
    pub lang: Lang,
    /// The page's title (after "berrah · " in the window's title).
    pub title: &'a str,
    pub section: Section,
    /// The prefix that leads from this page to the console's root: `/` when
    /// served, a relative `../` chain in static pages.
    pub root: &'a str,
    /// Whether the board exists (the daemon serves the console); the static
    /// pages have only the calendar, and their navigation links to files
    /// (`index.html`, `fr/index.html`) rather than to routes.
    pub board: bool,
    /// This same page in each interface language, for the switch.
    pub alternates: Vec<(Lang, String)>,
}

/// The whole HTML document: shell around `body`.
pub fn page(p: &Page<'_>, body: Markup) -> Markup {
    let lang = p.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) dir="ltr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { "berrah · " (p.title) }
                link rel="stylesheet" href={ (p.root) (STYLESHEET_NAME) };
            }
            body {
                header.top {
                    nav aria-label=(lang.pick("Navigation principale", "Main navigation")) {
                        @let (home, calendar) = if p.board {
                            (p.root.to_string(), format!("{}calendar", p.root))
                        } else {
                            (format!("{}index.html", p.root), format!("{}{}/index.html", p.root, lang.code()))
                        };
                        a.brand href=(home) { "berrah" }
                        a href=(calendar)
                          aria-current=[(p.section == Section::Calendar).then_some("page")] {
                            (lang.pick("Calendrier", "Calendar"))
                        }
                        @if p.board {
                            a href={ (p.root) "board" }
                              aria-current=[(p.section == Section::Board).then_some("page")] {
                                (lang.pick("Tableau de bord", "Board"))
                            }
                        }
                    }
                    @if !p.alternates.is_empty() {
                        ul.langs aria-label=(lang.pick("Langue de l'interface", "Interface language")) {
                            @for (other, href) in &p.alternates {
                                li {
                                    @if *other == lang {
                                        span aria-current="true" lang=(other.code()) { (other.name()) }
                                    } @else {
                                        a href=(href) lang=(other.code()) hreflang=(other.code()) { (other.name()) }
                                    }
                                }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_marks_the_section_and_the_language() {
        let p = Page {
            lang: Lang::En,
            title: "December 2026",
            section: Section::Calendar,
            root: "/",
            board: true,
            alternates: vec![(Lang::Fr, "?lang=fr".into()), (Lang::En, "?lang=en".into())],
        };
        let html = page(&p, html! { p { "<b>" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\""));
        assert!(html.contains("<a href=\"/calendar\" aria-current=\"page\">Calendar</a>"));
        assert!(html.contains("<a href=\"/board\">Board</a>"));
        assert!(html.contains("<a href=\"?lang=fr\" lang=\"fr\" hreflang=\"fr\">Français</a>"));
        assert!(html.contains("&lt;b&gt;"), "content is escaped");
    }
}
