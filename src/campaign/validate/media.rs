//! A post's media files: inside the campaign's folder, readable, of a kind
//! and size each of its platforms accepts, with alt text for images.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::accounts::{post_accounts, post_languages};
use super::posts::PostRef;
use super::{V, has_text, span};
use crate::campaign::model::Spanned;
use crate::campaign::suggest;
use crate::config::PlatformKind;
use crate::media::probe::{self, MediaInfo, MediaKind};
use crate::text::limits::platform_title;

impl V<'_> {
    /// Resolves a media path inside the campaign file's folder; refuses
    /// absolute paths, `..` escapes and symlinks that lead outside.
    fn resolve(&mut self, file: &Spanned<String>) -> Option<PathBuf> {
        let rel = file.get_ref();
        // `"media\ecole.jpg"`: TOML read `\e` as a special character.
        if rel.chars().any(char::is_control) {
            let written = self.c.source.get(file.span()).unwrap_or(rel);
            let inner = written.trim_matches('"');
            self.error(
                span(file),
                "this path has a backslash \\ that was read as a special character, so it names no file",
                format!(
                    "write the path with forward slashes: \"{}\"",
                    inner.replace('\\', "/")
                ),
            );
            return None;
        }
        // A bare file name (`amal.toml`) lives in the working directory.
        let dir = match self.c.dir() {
            d if d.as_os_str().is_empty() => Path::new("."),
            d => d,
        };
        let joined = dir.join(rel);
        let outside = Path::new(rel).is_absolute()
            || Path::new(rel)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if outside {
            self.error(
                span(file),
                format!("media file `{rel}` is outside the campaign's folder"),
                "put the file in the campaign's folder (or a subfolder such as `media/`) and write its path relative to it",
            );
            return None;
        }
        if let Some(real) = self.resolved.get(rel) {
            return Some(real.clone());
        }
        let real = match joined.canonicalize() {
            Ok(p) => p,
            Err(_) => {
                let folder = joined.parent().unwrap_or(dir).to_path_buf();
                let base = Path::new(rel)
                    .file_name()
                    .map(|b| b.to_string_lossy().into_owned());
                // Each folder is listed once per campaign file, however many
                // of its files are missing.
                let names = self.listings.entry(folder).or_insert_with_key(|folder| {
                    std::fs::read_dir(folder).ok().map(|rd| {
                        rd.flatten()
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                });
                let help = names
                    .as_ref()
                    .zip(base)
                    .and_then(|(names, base)| {
                        suggest::did_you_mean(&base, names.iter().map(String::as_str))
                    })
                    .unwrap_or_else(|| {
                        format!(
                            "the path is read from `{}`; check its spelling",
                            dir.display()
                        )
                    });
                self.error(
                    span(file),
                    format!("media file `{rel}` does not exist"),
                    help,
                );
                return None;
            }
        };
        let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if !real.starts_with(&root) {
            self.error(
                span(file),
                format!("media file `{rel}` is a link to a file outside the campaign's folder"),
                "copy the file into the campaign's folder instead of linking to it",
            );
            return None;
        }
        self.resolved.insert(rel.clone(), real.clone());
        Some(real)
    }

    /// The file's kind and size, or what is wrong with it and the help.
    /// Messages name the file as the campaign file writes it (`rel`),
    /// never by the path on this machine.
    fn probe(&mut self, real: &Path, rel: &str) -> Result<MediaInfo, (String, &'static str)> {
        self.probed
            .entry(real.to_path_buf())
            .or_insert_with(|| {
                probe::probe(real).map_err(|e| {
                    let shown = e.to_string().replace(&real.display().to_string(), rel);
                    (shown, e.help())
                })
            })
            .clone()
    }

    /// A file whose bytes say another kind than its name (a video named
    /// `.jpg`) is published as what its bytes are: say so. A PNG named
    /// `.jpg` is harmless and left alone.
    fn name_and_bytes(&mut self, file: &Spanned<String>, info: &MediaInfo) {
        let name = file.get_ref();
        let ext = Path::new(name)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let named_image = matches!(
            ext.as_str(),
            "jpg" | "jpeg" | "png" | "gif" | "webp" | "heic"
        );
        let named_video = matches!(ext.as_str(), "mp4" | "mov" | "m4v" | "webm");
        let really = match info.kind {
            MediaKind::Video if named_image => "a video",
            MediaKind::Image if named_video => "an image",
            MediaKind::Other => {
                self.error(
                    span(file),
                    format!("`{name}` is really {}, not an image or a video", info.mime),
                    "export it as a JPEG or PNG image, or an MP4 video",
                );
                return;
            }
            _ => return,
        };
        let stem = Path::new(name).with_extension(&info.extension);
        self.warning(
            span(file),
            format!(
                "`{name}` is really {really} ({}), though its name says otherwise: it will be published as {really}",
                info.mime
            ),
            format!(
                "if this is the file you meant, rename it `{}`; if not, export the right file again",
                stem.display()
            ),
        );
    }

    /// A link card's image: an image file of at most 1 MB (Bluesky's limit).
    pub(super) fn card_image(&mut self, image: &Spanned<String>) {
        let Some(real) = self.resolve(image) else {
            return;
        };
        match self.probe(&real, image.get_ref()) {
            Ok(i) if i.kind != MediaKind::Image => self.error(
                span(image),
                format!(
                    "the card image `{}` is {}, not an image",
                    image.get_ref(),
                    i.mime
                ),
                "use a JPEG, PNG or WebP image for the link card",
            ),
            Ok(i) if i.size > 1_000_000 => self.error(
                span(image),
                format!(
                    "the card image `{}` is {}, more than the 1 MB a link card allows",
                    image.get_ref(),
                    probe::human_size(i.size)
                ),
                "export it smaller, for example 1200×630 pixels as a JPEG",
            ),
            Ok(_) => {}
            Err((e, help)) => self.error(span(image), e, help),
        }
    }

    pub(super) fn media(&mut self, p: &PostRef<'_>) {
        let post = p.post;
        let id = post.id.get_ref();
        let media = p.media();
        let platforms: Vec<(String, PlatformKind)> = post_accounts(self.c, post)
            .iter()
            .filter_map(|a| {
                let acc = self.ctx.config.accounts.get(a.get_ref())?;
                Some((a.get_ref().clone(), acc.platform))
            })
            .collect();
        let mut infos: Vec<MediaInfo> = Vec::new();
        for m in media {
            let Some(real) = self.resolve(&m.file) else {
                continue;
            };
            let info = match self.probe(&real, m.file.get_ref()) {
                Ok(i) => i,
                Err((e, help)) => {
                    self.error(span(&m.file), e, help);
                    continue;
                }
            };
            self.name_and_bytes(&m.file, &info);
            if info.kind == MediaKind::Image
                && let Some(thumb) = &m.thumbnail
            {
                self.warning(
                    span(thumb),
                    format!(
                        "`{}` is an image: a `thumbnail` is for videos and is never used here",
                        m.file.get_ref()
                    ),
                    "remove this `thumbnail`, or move it to the video it is the cover of",
                );
            }
            for (account, platform) in &platforms {
                if let Err(why) = probe::accepts(*platform, &info) {
                    self.error(
                        span(&m.file),
                        format!(
                            "`{}` cannot go to {} (account `{account}`): {why}",
                            m.file.get_ref(),
                            platform_title(*platform)
                        ),
                        if ["limit", "over "]
                            .iter()
                            .any(|w| why.contains(w))
                        {
                            format!(
                                "export it again within {}'s limits (smaller, shorter or at a lower quality), or use another file for this post",
                                platform_title(*platform)
                            )
                        } else {
                            format!(
                                "use another file for this post, or a post of its own for {}",
                                platform_title(*platform)
                            )
                        },
                    );
                }
            }
            if info.kind == MediaKind::Image {
                let mut langs = BTreeSet::new();
                for a in post_accounts(self.c, post) {
                    let acc = self.ctx.config.accounts.get(a.get_ref());
                    langs.extend(post_languages(self.c, post, acc));
                }
                if post_accounts(self.c, post).is_empty() {
                    langs.extend(post_languages(self.c, post, None));
                }
                let missing: Vec<String> =
                    langs.into_iter().filter(|l| !has_text(&m.alt, l)).collect();
                if !missing.is_empty() {
                    self.warning(
                        span(&m.file),
                        format!(
                            "image `{}` has no alt text in {}",
                            m.file.get_ref(),
                            missing.join(", ")
                        ),
                        format!(
                            "describe the image for screen readers: `alt = {{ {} }}`",
                            missing
                                .iter()
                                .map(|l| format!("{l} = \"...\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
            if let Some(thumb) = &m.thumbnail
                && info.kind != MediaKind::Image
                && let Some(real) = self.resolve(thumb)
            {
                match self.probe(&real, thumb.get_ref()) {
                    Ok(i) if i.kind == MediaKind::Image => {}
                    Ok(i) => self.error(
                        span(thumb),
                        format!(
                            "thumbnail `{}` is {}, not an image",
                            thumb.get_ref(),
                            i.mime
                        ),
                        "use a JPEG or PNG image as thumbnail",
                    ),
                    Err((e, _)) => {
                        self.error(span(thumb), e, "use a JPEG or PNG image as thumbnail")
                    }
                }
            }
            infos.push(info);
        }
        if let Some(image) = post.card.as_ref().and_then(|c| c.image.as_ref()) {
            self.card_image(image);
        }
        let first = media.first().map(|m| m.file.span());
        let mut told = BTreeSet::new();
        for (account, platform) in &platforms {
            if let Err(why) = probe::accepts_set(*platform, &infos)
                && told.insert(*platform)
            {
                self.error(
                    first.clone(),
                    format!(
                        "post `{id}` cannot go to {} (account `{account}`): {why}",
                        platform_title(*platform)
                    ),
                    "split the media over several posts",
                );
            }
            match platform {
                PlatformKind::Instagram if media.is_empty() => self.error(
                    span(&post.id),
                    format!("post `{id}` goes to Instagram (account `{account}`) but has no image or video"),
                    "add `media = [{ file = \"media/photo.jpg\", alt = { fr = \"...\" } }]`, or remove the Instagram account from this post",
                ),
                PlatformKind::Youtube if !infos.iter().any(|i| i.kind == MediaKind::Video) && media.is_empty() => self.error(
                    span(&post.id),
                    format!("post `{id}` goes to YouTube (account `{account}`) but has no video"),
                    "add `media = [{ file = \"media/capsule.mp4\" }]`, or remove the YouTube account from this post",
                ),
                PlatformKind::Youtube if !infos.is_empty() && !infos.iter().any(|i| i.kind == MediaKind::Video) => self.error(
                    span(&post.id),
                    format!("post `{id}` goes to YouTube (account `{account}`) but its media has no video"),
                    "add an MP4 video to the post's media",
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::campaign::validate::fixtures::{head, messages, run};
    use crate::media::probe::tests::{jpeg, mp4, png};

    #[test]
    fn media_checks_sniff_and_warn_about_alt_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("media")).unwrap();
        std::fs::write(dir.path().join("media/wide.jpg"), jpeg(2000, 1000)).unwrap();
        std::fs::write(dir.path().join("media/photo.jpg"), png(1080, 1080)).unwrap();
        std::fs::write(dir.path().join("media/clip.mp4"), mp4(1080, 1920, 4, true)).unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             media = [{{ file = \"media/wide.jpg\", alt = {{ fr = \"x\" }} }}, {{ file = \"media/photo.jpg\", alt = {{ fr = \"x\", ar = \"y\" }} }}]\n\
             [[posts]]\nid = \"q\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             media = [{{ file = \"media/clip.mp4\", thumbnail = \"media/clip.mp4\" }}]\n",
            head("\"ig\", \"yt\"")
        );
        let (_, d) = run(dir.path(), &src);
        let m = messages(&d);
        // The wide JPEG: Instagram's aspect ratio; a PNG named .jpg: Instagram wants JPEG.
        assert!(
            m.iter()
                .any(|s| s.contains("wide.jpg") && s.contains("aspect ratio")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.contains("photo.jpg") && s.contains("image/png")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s == "warning: image `media/wide.jpg` has no alt text in ar"),
            "{m:?}"
        );
        // YouTube cannot take the images-only post; the thumbnail must be an image.
        assert!(
            m.iter().any(|s| s.contains("post `p` goes to YouTube")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.contains("thumbnail `media/clip.mp4` is video/mp4")),
            "{m:?}"
        );
        assert!(
            !m.iter().any(|s| s.contains("post `q` goes to YouTube")),
            "{m:?}"
        );
    }

    #[test]
    fn capsule_media_problems_are_said_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.png"), png(100, 100)).unwrap();
        let src = format!(
            "{}[[capsules]]\nid = \"c1\"\ntitle = \"t\"\nanchor = {{ date = 2026-12-18 }}\nmedia = [{{ file = \"p.png\" }}]\n\
             [[capsules.posts]]\nid = \"a\"\nat = 10:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[capsules.posts]]\nid = \"b\"\nat = 12:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n",
            head("\"fb\"")
        );
        let (_, d) = run(dir.path(), &src);
        assert_eq!(
            messages(&d),
            ["warning: image `p.png` has no alt text in ar, fr"]
        );
    }

    #[test]
    fn instagram_needs_media_and_paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("camp");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(dir.path().join("outside.png"), png(10, 10)).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("outside.png"), inner.join("link.png")).unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[posts]]\nid = \"q\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             media = [{{ file = \"link.png\" }}, {{ file = \"/etc/passwd\" }}, {{ file = \"sub/../../outside.png\" }}]\n",
            head("\"ig\"")
        );
        let (_, d) = run(&inner, &src);
        let m = messages(&d);
        assert!(
            m.iter()
                .any(|s| s.contains("post `p` goes to Instagram") && s.contains("no image")),
            "{m:?}"
        );
        #[cfg(unix)]
        assert!(
            m.iter()
                .any(|s| s.contains("`link.png` is a link to a file outside")),
            "{m:?}"
        );
        assert!(
            m.iter().any(|s| s.contains("`/etc/passwd` is outside")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.contains("`sub/../../outside.png` is outside")),
            "{m:?}"
        );
    }
}
