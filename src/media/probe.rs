//! Sniffing and measuring media files: type, size, dimensions, duration, codec.
//!
//! A file's real type comes from its first bytes (`infer`), never from its
//! extension: a `.mp4` that is really a WebM, or a `.jpg` that is a PNG, is
//! refused by some platforms at publishing time, and `berrah check` should say
//! so first. Images are measured from their header (`imagesize`), MP4/MOV
//! videos from their `moov` box (`mp4`), always through a buffered reader:
//! a 2 GB video is never read into memory.
//!
//! [`accepts`] holds each platform's accepted types and limits (from
//! `docs/platforms/<name>.md`).

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::open::{MediaError, MediaReader, OpenedMedia, open_regular};

use crate::config::PlatformKind;

/// What a media file is, as far as platforms care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Other,
}

/// A measured media file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    pub size: u64,
    /// The sniffed MIME type (`image/jpeg`, `video/mp4`, ...).
    pub mime: String,
    /// The sniffed type's usual extension (`jpg`, `mp4`, ...).
    pub extension: String,
    pub kind: MediaKind,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Video duration in seconds.
    pub duration: Option<f64>,
    /// Video codec (`avc1` = H.264, `hev1` = H.265, `vp09`), when known.
    pub video_codec: Option<String>,
    /// Whether a video has an audio track.
    pub has_audio: Option<bool>,
}

impl MediaInfo {
    /// Width divided by height.
    pub fn aspect_ratio(&self) -> Option<f64> {
        match (self.width, self.height) {
            (Some(w), Some(h)) if h > 0 => Some(f64::from(w) / f64::from(h)),
            _ => None,
        }
    }

    fn pixels(&self) -> Option<u64> {
        Some(u64::from(self.width?) * u64::from(self.height?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Open(#[from] MediaError),
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` is empty")]
    Empty(PathBuf),
    #[error(
        "`{0}` is not an image or a video berrah recognises (its first bytes match no known type)"
    )]
    UnknownType(PathBuf),
    /// A file whose bytes are not a media file at all, whatever its name
    /// says: a web page saved by a failed download, a PDF, a document.
    #[error("`{}` is really {what}, not an image or a video (whatever its name says)", path.display())]
    Disguised {
        path: PathBuf,
        what: &'static str,
        fix: &'static str,
    },
    #[error("`{path}` looks like {mime} but cannot be read as one: {reason}")]
    Corrupt {
        path: PathBuf,
        mime: String,
        reason: String,
    },
}

impl ProbeError {
    /// What to do about it, in a help line.
    pub fn help(&self) -> &'static str {
        match self {
            ProbeError::Disguised { fix, .. } => fix,
            ProbeError::Empty(_) => {
                "the file is empty: copy or download it again, or export it again from its source"
            }
            _ => "replace it with a JPEG or PNG image or an MP4 video",
        }
    }
}

/// What a file that is no media file really is, from its first bytes, with
/// the real fix: a web page (a download that failed and saved the error
/// page), a PDF or an office document, plain text.
pub fn disguise(head: &[u8]) -> Option<(&'static str, &'static str)> {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start: Vec<u8> = text
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(512)
        .map(u8::to_ascii_lowercase)
        .collect();
    let has = |needle: &[u8]| start.windows(needle.len()).any(|w| w == needle);
    if start.starts_with(b"<!doctype html")
        || start.starts_with(b"<html")
        || has(b"<head")
        || has(b"<body")
    {
        return Some((
            "a web page (HTML), as saved when a download fails or a page is saved instead of its image",
            "download the file again (open the image itself, then \"Save image as\"), and check that it opens as a picture",
        ));
    }
    if start.starts_with(b"<svg") || (start.starts_with(b"<?xml") && has(b"<svg")) {
        return Some((
            "an SVG drawing",
            "export it as a PNG or JPEG image (platforms do not accept SVG)",
        ));
    }
    if start.starts_with(b"%pdf") {
        return Some((
            "a PDF document",
            "export the page as a JPEG or PNG image (in most PDF readers: Export → Image)",
        ));
    }
    if start.starts_with(b"pk\x03\x04")
        && (has(b"word/") || has(b"ppt/") || has(b"[content_types].xml"))
    {
        return Some((
            "an office document (Word or PowerPoint)",
            "export the image or the slide as a JPEG or PNG image, or the video as MP4",
        ));
    }
    if start.starts_with(b"{") && (has(b"\"error") || has(b"\"message")) {
        return Some((
            "an error message from a web server (JSON)",
            "download the file again, and check that it opens as a picture or a video",
        ));
    }
    None
}

/// Sniffs and measures one file, opened by path (regular files only, a
/// FIFO never blocks). For `berrah check`; publishing probes the handle it
/// opened beneath the campaign's folder with [`probe_opened`].
pub fn probe(path: &Path) -> Result<MediaInfo, ProbeError> {
    let opened = open_regular(path).map_err(|e| match e {
        MediaError::Missing { .. } => ProbeError::Io {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        },
        e => ProbeError::Open(e),
    })?;
    probe_opened(&opened)
}

/// Sniffs and measures an opened file, reading only from its handle.
pub fn probe_opened(opened: &OpenedMedia) -> Result<MediaInfo, ProbeError> {
    let path = opened.path.as_path();
    let io = |source| ProbeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = opened.size;
    if size == 0 {
        return Err(ProbeError::Empty(path.to_path_buf()));
    }
    let mut head = Vec::with_capacity(8192);
    opened
        .reader()
        .take(8192)
        .read_to_end(&mut head)
        .map_err(io)?;
    if let Some((what, fix)) = disguise(&head) {
        return Err(ProbeError::Disguised {
            path: path.to_path_buf(),
            what,
            fix,
        });
    }
    let Some(kind) = infer::get(&head) else {
        return Err(ProbeError::UnknownType(path.to_path_buf()));
    };
    let mime = kind.mime_type().to_string();
    let mut info = MediaInfo {
        size,
        mime: mime.clone(),
        extension: kind.extension().to_string(),
        kind: match kind.matcher_type() {
            infer::MatcherType::Image => MediaKind::Image,
            infer::MatcherType::Video => MediaKind::Video,
            _ => MediaKind::Other,
        },
        width: None,
        height: None,
        duration: None,
        video_codec: None,
        has_audio: None,
    };
    let corrupt = |reason: String| ProbeError::Corrupt {
        path: path.to_path_buf(),
        mime: mime.clone(),
        reason,
    };
    match info.kind {
        MediaKind::Image => {
            match imagesize::reader_size(BufReader::new(opened.reader())) {
                Ok(dim) => {
                    info.width = u32::try_from(dim.width).ok();
                    info.height = u32::try_from(dim.height).ok();
                }
                // A format imagesize does not know (e.g. some HEIC): keep the type.
                Err(imagesize::ImageError::NotSupported) => {}
                Err(e) => return Err(corrupt(e.to_string())),
            }
        }
        MediaKind::Video if matches!(info.mime.as_str(), "video/mp4" | "video/quicktime") => {
            measure_mp4(opened.reader(), size, &mut info).map_err(corrupt)?;
        }
        _ => {}
    }
    Ok(info)
}

/// The most metadata (`ftyp`, `moov`, `moof` and `emsg` boxes together) read
/// from one MP4/MOV. A `moov` grows with the number of samples: about 10 MiB
/// for a 4-hour 60 fps video with its sound, some 30 MiB for YouTube's
/// 12-hour longest; anything larger is refused rather than read.
pub const MP4_METADATA_LIMIT: u64 = 64 * 1024 * 1024;

/// Container boxes whose children are boxes (ISO/IEC 14496-12).
const MP4_CONTAINERS: [&[u8; 4]; 12] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"edts", b"udta", b"mvex", b"moof",
    b"traf", b"ilst",
];

/// The top-level boxes the mp4 crate parses; it skips every other one.
const MP4_PARSED: [&[u8; 4]; 4] = [b"ftyp", b"moov", b"moof", b"emsg"];

/// Walks the box tree of an MP4/MOV's metadata and checks that every box's
/// size is at least its header and stays inside its parent. The mp4 crate is
/// not hardened against hostile input (a box that does not advance makes it
/// loop), so it only ever sees metadata that passes this walk.
fn mp4_boxes_are_sane(bytes: &[u8], depth: u32) -> bool {
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < 8 {
            // QuickTime may end a list of user-data boxes with a zero word.
            return rest.iter().all(|b| *b == 0);
        }
        let size32 = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        let kind: &[u8] = &rest[4..8];
        let (size, header) = match size32 {
            // "To the end of the file" only means something at the top: the
            // mp4 crate reads it inside a box as a box that does not advance.
            0 if depth > 0 => return false,
            0 => (rest.len() as u64, 8u64),
            1 => {
                if rest.len() < 16 {
                    return false;
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[8..16]);
                (u64::from_be_bytes(b), 16u64)
            }
            n => (n, 8u64),
        };
        if size < header || size > rest.len() as u64 {
            return false;
        }
        let (size, header) = (size as usize, header as usize);
        let inside = &rest[header..size];
        if depth < 16
            && MP4_CONTAINERS.iter().any(|c| &c[..] == kind)
            && !mp4_boxes_are_sane(inside, depth + 1)
        {
            return false;
        }
        // `meta` holds boxes after its version and flags (ISO) or right away
        // (QuickTime): the mp4 crate reads both, and trusts its children's sizes.
        if depth < 16 && kind == b"meta" {
            let children = match inside.get(..4) {
                Some([0, 0, 0, 0]) => &inside[4..],
                _ => inside,
            };
            if !mp4_boxes_are_sane(children, depth + 1) {
                return false;
            }
        }
        at += size;
    }
    true
}

/// Walks the top-level boxes of a file by their headers alone (media data
/// is never read), then reads the boxes the mp4 crate parses (`ftyp`,
/// `moov`, fragments' `moof`) into one buffer of at most
/// [`MP4_METADATA_LIMIT`]. `Ok(None)`: a box size is wrong.
fn mp4_metadata(file: &mut MediaReader, size: u64) -> Result<Option<Vec<u8>>, String> {
    use std::io::{Seek, SeekFrom};
    let io = |e: std::io::Error| e.to_string();
    let mut wanted = Vec::new();
    let mut total = 0u64;
    let mut at = 0u64;
    while at < size {
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        let mut head = [0u8; 16];
        let n = size.saturating_sub(at).min(16) as usize;
        if n < 8 {
            return Ok(None);
        }
        file.read_exact(&mut head[..n]).map_err(io)?;
        let size32 = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let (len, header) = match size32 {
            0 => (size - at, 8),
            1 if n >= 16 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&head[8..16]);
                (u64::from_be_bytes(b), 16)
            }
            1 => return Ok(None),
            l => (l, 8),
        };
        if len < header || len > size - at {
            return Ok(None);
        }
        if MP4_PARSED.iter().any(|k| k[..] == head[4..8]) {
            total += len;
            if total > MP4_METADATA_LIMIT {
                return Err(format!(
                    "its metadata (the `moov` box) is larger than {} MiB, more than any \
                     platform's longest video needs: export it again",
                    MP4_METADATA_LIMIT / (1024 * 1024)
                ));
            }
            wanted.push((at, len));
        }
        at += len;
    }
    let mut buf = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for (at, len) in wanted {
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        let before = buf.len();
        file.take(len).read_to_end(&mut buf).map_err(io)?;
        if (buf.len() - before) as u64 != len {
            return Err("it changed while it was read".to_string());
        }
    }
    Ok(mp4_boxes_are_sane(&buf, 0).then_some(buf))
}

/// An in-memory reader that refuses to go on after reading (or seeking
/// over) `fuel` bytes: a parser caught in a loop over the bytes it was given
/// fails instead of running on.
struct Metered<'a> {
    inner: std::io::Cursor<&'a [u8]>,
    fuel: u64,
}

impl Metered<'_> {
    fn burn(&mut self, n: u64) -> std::io::Result<()> {
        // A loop reads at least a box header (8 bytes) per turn, so fuel
        // spent on reads alone ends it; a seek costs one.
        self.fuel = self.fuel.checked_sub(n.max(1)).ok_or_else(|| {
            std::io::Error::other("the parser went over the metadata more often than it needs")
        })?;
        Ok(())
    }
}

impl Read for Metered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.burn(buf.len() as u64)?;
        self.inner.read(buf)
    }
}

impl std::io::Seek for Metered<'_> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.burn(1)?;
        self.inner.seek(pos)
    }
}

fn measure_mp4(mut file: MediaReader, size: u64, info: &mut MediaInfo) -> Result<(), String> {
    let Some(metadata) = mp4_metadata(&mut file, size)? else {
        return Err("its box structure is malformed (a box size is wrong)".to_string());
    };
    // The mp4 crate is not hardened against hostile input: it parses only the
    // metadata read above (bounded, its box sizes checked), through a reader
    // whose fuel runs out if it loops, and a panic in it is caught. So the
    // parse ends, on this thread, in time bounded by the metadata's size.
    let len = metadata.len() as u64;
    let reader = Metered {
        inner: std::io::Cursor::new(&metadata[..]),
        fuel: len.saturating_mul(8).saturating_add(1024 * 1024),
    };
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        mp4::Mp4Reader::read_header(reader, len)
            .map(|r| {
                let duration = r.duration().as_secs_f64();
                let mut video = None;
                let mut audio = false;
                for track in r.tracks().values() {
                    match track.track_type() {
                        Ok(mp4::TrackType::Video) if video.is_none() => {
                            let codec = track.box_type().ok().map(|b| b.to_string());
                            video =
                                Some((u32::from(track.width()), u32::from(track.height()), codec));
                        }
                        Ok(mp4::TrackType::Audio) => audio = true,
                        _ => {}
                    }
                }
                (duration, video, audio)
            })
            .map_err(|e| e.to_string())
    }));
    match parsed {
        Ok(Ok((duration, video, audio))) => {
            info.duration = Some(duration);
            info.has_audio = Some(audio);
            let Some((w, h, codec)) = video else {
                return Err("it has no video track".to_string());
            };
            info.width = Some(w);
            info.height = Some(h);
            info.video_codec = codec;
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err("its structure is malformed".to_string()),
    }
}

/// Type, size, duration and shape limits of one platform for one kind of media.
struct Rule {
    mimes: &'static [&'static str],
    max_bytes: u64,
    /// Duration range in seconds (videos).
    duration: Option<(f64, f64)>,
    /// Aspect ratio range, width / height.
    aspect: Option<(f64, f64)>,
    max_pixels: Option<u64>,
}

const MB: u64 = 1_000_000;
const MIB: u64 = 1024 * 1024;

fn rules(platform: PlatformKind, kind: MediaKind) -> Option<Rule> {
    use PlatformKind as P;
    let image = |mimes, max_bytes| Rule {
        mimes,
        max_bytes,
        duration: None,
        aspect: None,
        max_pixels: None,
    };
    let video = |mimes, max_bytes, min: f64, max: f64| Rule {
        mimes,
        max_bytes,
        duration: Some((min, max)),
        aspect: None,
        max_pixels: None,
    };
    const MP4_MOV: &[&str] = &["video/mp4", "video/quicktime"];
    match (platform, kind) {
        (P::X, MediaKind::Image) => Some(image(
            &["image/jpeg", "image/png", "image/gif", "image/webp"],
            5 * MB,
        )),
        (P::X, MediaKind::Video) => Some(Rule {
            aspect: Some((1.0 / 3.0, 3.0)),
            ..video(
                &["video/mp4", "video/quicktime", "video/webm"],
                512 * MB,
                0.5,
                140.0,
            )
        }),
        (P::Bluesky, MediaKind::Image) => Some(image(
            &["image/jpeg", "image/png", "image/webp", "image/gif"],
            1_000_000,
        )),
        (P::Bluesky, MediaKind::Video) => Some(video(&["video/mp4"], 300_000_000, 0.0, 180.0)),
        (P::Mastodon, MediaKind::Image) => Some(image(
            &[
                "image/jpeg",
                "image/png",
                "image/gif",
                "image/webp",
                "image/heic",
                "image/heif",
                "image/avif",
            ],
            16 * MIB,
        )),
        (P::Mastodon, MediaKind::Video) => Some(video(
            &["video/mp4", "video/quicktime", "video/webm"],
            99 * MIB,
            0.0,
            f64::INFINITY,
        )),
        (P::Facebook, MediaKind::Image) => Some(image(
            &[
                "image/jpeg",
                "image/png",
                "image/gif",
                "image/bmp",
                "image/tiff",
            ],
            10 * MB,
        )),
        (P::Facebook, MediaKind::Video) => Some(video(MP4_MOV, 10_000 * MB, 0.0, 4.0 * 3600.0)),
        (P::Instagram, MediaKind::Image) => Some(Rule {
            aspect: Some((4.0 / 5.0, 1.91)),
            ..image(&["image/jpeg"], 8 * MB)
        }),
        (P::Instagram, MediaKind::Video) => Some(video(MP4_MOV, 300 * MB, 3.0, 15.0 * 60.0)),
        (P::Linkedin, MediaKind::Image) => Some(Rule {
            max_pixels: Some(36_152_319),
            ..image(&["image/jpeg", "image/png", "image/gif"], 36_152_320 * 4)
        }),
        (P::Linkedin, MediaKind::Video) => Some(video(&["video/mp4"], 500 * MB, 3.0, 30.0 * 60.0)),
        (P::Youtube, MediaKind::Video) => Some(video(
            &[
                "video/mp4",
                "video/quicktime",
                "video/webm",
                "video/x-msvideo",
                "video/x-matroska",
            ],
            256 * 1024 * MIB,
            0.0,
            f64::INFINITY,
        )),
        (P::Telegram, MediaKind::Image) => Some(Rule {
            aspect: Some((1.0 / 20.0, 20.0)),
            ..image(&["image/jpeg", "image/png", "image/webp"], 10 * MB)
        }),
        (P::Telegram, MediaKind::Video) => Some(video(MP4_MOV, 50 * MB, 0.0, f64::INFINITY)),
        _ => None,
    }
}

pub fn human_size(bytes: u64) -> String {
    if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else {
        format!("{:.0} kB", bytes as f64 / 1000.0)
    }
}

/// Whether `platform` accepts this file; the error says why not, in words a
/// comms team can act on.
pub fn accepts(platform: PlatformKind, info: &MediaInfo) -> Result<(), String> {
    if platform == PlatformKind::Webhook {
        return Ok(());
    }
    let name = crate::text::limits::platform_title(platform);
    let what = match info.kind {
        MediaKind::Image => "images",
        MediaKind::Video => "videos",
        MediaKind::Other => "this kind of file",
    };
    let Some(rule) = rules(platform, info.kind) else {
        return Err(format!(
            "{name} does not accept {what} (this file is {})",
            info.mime
        ));
    };
    if !rule.mimes.contains(&info.mime.as_str()) {
        return Err(format!(
            "{name} does not accept {} files (accepted: {}); convert the file",
            info.mime,
            rule.mimes.join(", ")
        ));
    }
    if info.size > rule.max_bytes {
        return Err(format!(
            "the file is {}, over {name}'s limit of {} for {what}",
            human_size(info.size),
            human_size(rule.max_bytes)
        ));
    }
    if let (Some((min, max)), Some(d)) = (rule.duration, info.duration) {
        if d < min {
            return Err(format!(
                "the video lasts {d:.1} s; {name} needs at least {min} s"
            ));
        }
        if d > max {
            return Err(format!(
                "the video lasts {d:.0} s, over {name}'s limit of {max:.0} s; cut a shorter version"
            ));
        }
    }
    if let (Some((min, max)), Some(r)) = (rule.aspect, info.aspect_ratio())
        && (r < min - 0.005 || r > max + 0.005)
    {
        return Err(format!(
            "its aspect ratio is {r:.2}:1, outside what {name} accepts ({min:.2}:1 to {max:.2}:1); crop it"
        ));
    }
    if let (Some(max), Some(px)) = (rule.max_pixels, info.pixels())
        && px > max
    {
        return Err(format!(
            "it has {px} pixels, over {name}'s limit of {max}; scale it down"
        ));
    }
    Ok(())
}

/// Whether `platform` takes these files together in one post: how many
/// images, whether a video may come with anything else.
pub fn accepts_set(platform: PlatformKind, infos: &[MediaInfo]) -> Result<(), String> {
    let name = crate::text::limits::platform_title(platform);
    let images = infos.iter().filter(|i| i.kind == MediaKind::Image).count();
    let videos = infos.iter().filter(|i| i.kind == MediaKind::Video).count();
    let (max_images, video_alone) = match platform {
        PlatformKind::X | PlatformKind::Bluesky | PlatformKind::Mastodon => (4, true),
        PlatformKind::Linkedin => (20, true),
        PlatformKind::Instagram | PlatformKind::Telegram => (10, false),
        PlatformKind::Facebook => (10, true),
        PlatformKind::Youtube => (0, true),
        PlatformKind::Webhook => return Ok(()),
    };
    if videos > 1 && video_alone {
        return Err(format!(
            "{name} takes one video per post, this post has {videos}"
        ));
    }
    if videos > 0 && images > 0 && video_alone {
        return Err(format!("{name} cannot mix a video and images in one post"));
    }
    if platform == PlatformKind::Youtube {
        return Ok(());
    }
    if images + if video_alone { 0 } else { videos } > max_images.max(1) {
        return Err(format!(
            "{name} takes at most {max_images} images per post, this post has {}",
            images + if video_alone { 0 } else { videos }
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PNG header (signature + IHDR) of the given size: enough for sniffing and measuring.
    pub fn png(width: u32, height: u32) -> Vec<u8> {
        let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        v.extend_from_slice(&13u32.to_be_bytes());
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&[8, 6, 0, 0, 0]);
        v.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked by the sniffers)
        v.extend_from_slice(&0u32.to_be_bytes());
        v.extend_from_slice(b"IEND");
        v.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        v
    }

    /// A baseline JPEG header (SOI, APP0, SOF0) of the given size.
    pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        v.extend_from_slice(b"JFIF\0");
        v.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
        v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 8]);
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    /// A real MP4 written with the mp4 crate: one H.264 video track of
    /// `seconds` seconds (one sample per second), optionally an AAC track.
    pub fn mp4(width: u16, height: u16, seconds: u32, with_audio: bool) -> Vec<u8> {
        use mp4::{
            AacConfig, AvcConfig, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer, TrackConfig,
            TrackType,
        };
        let config = Mp4Config {
            major_brand: "isom".parse().unwrap(),
            minor_version: 512,
            compatible_brands: vec!["isom".parse().unwrap(), "avc1".parse().unwrap()],
            timescale: 1000,
        };
        let mut w = Mp4Writer::write_start(std::io::Cursor::new(Vec::new()), &config).unwrap();
        w.add_track(&TrackConfig {
            track_type: TrackType::Video,
            timescale: 1000,
            language: "und".to_string(),
            media_conf: MediaConfig::AvcConfig(AvcConfig {
                width,
                height,
                seq_param_set: vec![0x67, 0x64, 0x00, 0x1F, 0xAC],
                pic_param_set: vec![0x68, 0xEE, 0x3C, 0x80],
            }),
        })
        .unwrap();
        if with_audio {
            w.add_track(&TrackConfig {
                track_type: TrackType::Audio,
                timescale: 1000,
                language: "und".to_string(),
                media_conf: MediaConfig::AacConfig(AacConfig::default()),
            })
            .unwrap();
        }
        for i in 0..seconds {
            let sample = Mp4Sample {
                start_time: u64::from(i) * 1000,
                duration: 1000,
                rendering_offset: 0,
                is_sync: true,
                bytes: vec![0u8; 16].into(),
            };
            w.write_sample(1, &sample).unwrap();
            if with_audio {
                w.write_sample(2, &sample).unwrap();
            }
        }
        w.write_end().unwrap();
        w.into_writer().into_inner()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn images_are_sniffed_and_measured() {
        let dir = tempfile::tempdir().unwrap();
        let info = probe(&write(dir.path(), "a.png", &png(1080, 1350))).unwrap();
        assert_eq!(
            (info.mime.as_str(), info.kind, info.width, info.height),
            ("image/png", MediaKind::Image, Some(1080), Some(1350))
        );
        let info = probe(&write(dir.path(), "b.jpg", &jpeg(1200, 628))).unwrap();
        assert_eq!(info.mime, "image/jpeg");
        assert_eq!((info.width, info.height), (Some(1200), Some(628)));
        assert!((info.aspect_ratio().unwrap() - 1.91).abs() < 0.01);
    }

    #[test]
    fn the_content_wins_over_the_extension() {
        let dir = tempfile::tempdir().unwrap();
        let info = probe(&write(dir.path(), "photo.jpg", &png(10, 10))).unwrap();
        assert_eq!(info.mime, "image/png");
        // Instagram takes JPEG only: the misnamed PNG is refused.
        let e = accepts(PlatformKind::Instagram, &info).unwrap_err();
        assert!(e.contains("image/png"), "{e}");
    }

    #[test]
    fn videos_have_duration_dimensions_codec_and_audio() {
        let dir = tempfile::tempdir().unwrap();
        let info = probe(&write(dir.path(), "v.mp4", &mp4(1080, 1920, 5, true))).unwrap();
        assert_eq!(info.kind, MediaKind::Video);
        assert_eq!(info.mime, "video/mp4");
        assert_eq!((info.width, info.height), (Some(1080), Some(1920)));
        assert!((info.duration.unwrap() - 5.0).abs() < 0.01, "{info:?}");
        assert_eq!(info.video_codec.as_deref(), Some("avc1"));
        assert_eq!(info.has_audio, Some(true));
        let silent = probe(&write(dir.path(), "s.mp4", &mp4(640, 360, 2, false))).unwrap();
        assert_eq!(silent.has_audio, Some(false));
    }

    /// Where a box type first appears in `bytes` (its name, after the size).
    fn find(bytes: &[u8], kind: &[u8; 4]) -> usize {
        bytes.windows(4).position(|w| w == kind).unwrap()
    }

    #[test]
    fn a_huge_moov_is_refused_without_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let real = mp4(320, 240, 2, false);
        let ftyp_len = u32::from_be_bytes(real[0..4].try_into().unwrap()) as usize;
        // An ftyp, then a moov that says it is 65 MiB: a sparse file, so the
        // test writes (and berrah reads) only the headers.
        let moov_len: u32 = 65 * 1024 * 1024;
        let mut head = real[..ftyp_len].to_vec();
        head.extend_from_slice(&moov_len.to_be_bytes());
        head.extend_from_slice(b"moov");
        let path = write(dir.path(), "huge.mp4", &head);
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(ftyp_len as u64 + u64::from(moov_len)).unwrap();
        drop(file);
        let started = std::time::Instant::now();
        let err = probe(&path).unwrap_err().to_string();
        assert!(err.contains("larger than 64 MiB"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_parse_that_would_loop_ends_on_this_thread() {
        // A data reference whose first entry has size 0 and that claims four
        // billion entries: box sizes the walk checks are all fine, but the
        // mp4 crate would read the same header again and again.
        let mut bytes = mp4(320, 240, 2, false);
        let dref = find(&bytes, b"dref");
        bytes[dref + 8..dref + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        bytes[dref + 12..dref + 16].copy_from_slice(&0u32.to_be_bytes());
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "loop.mp4", &bytes);
        let started = std::time::Instant::now();
        let err = probe(&path).unwrap_err().to_string();
        assert!(err.contains("more often than it needs"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn broken_empty_and_unknown_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            probe(&write(dir.path(), "e.png", b"")),
            Err(ProbeError::Empty(_))
        ));
        assert!(matches!(
            probe(&write(dir.path(), "t.png", b"hello, not an image")),
            Err(ProbeError::UnknownType(_))
        ));
        let page = b"\n<!DOCTYPE html><html><head><title>404</title></head></html>";
        let err = probe(&write(dir.path(), "photo.jpg", page)).unwrap_err();
        assert!(
            err.to_string().contains("is really a web page (HTML)"),
            "{err}"
        );
        assert!(
            err.help().starts_with("download the file again"),
            "{}",
            err.help()
        );
        assert!(matches!(
            probe(&write(dir.path(), "a.jpg", b"%PDF-1.7\n")),
            Err(ProbeError::Disguised {
                what: "a PDF document",
                ..
            })
        ));
        let mut cut = mp4(320, 240, 3, false);
        cut.truncate(cut.len() / 2);
        let mut junk = mp4(320, 240, 3, false);
        let n = junk.len();
        for b in &mut junk[40..n] {
            *b = 0xFF;
        }
        for bytes in [cut, junk] {
            let r = probe(&write(dir.path(), "x.mp4", &bytes));
            if let Ok(info) = r {
                assert_eq!(info.kind, MediaKind::Video);
            }
        }
        assert!(matches!(
            probe(&dir.path().join("missing.png")),
            Err(ProbeError::Io { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]
        /// Whatever follows a real MP4's first bytes, probing returns, never panics.
        #[test]
        fn corrupt_videos_never_panic(cut in 0usize..2000, noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), at in 0usize..2000) {
            let dir = tempfile::tempdir().unwrap();
            let mut bytes = mp4(320, 240, 2, true);
            let at = at.min(bytes.len());
            let end = (at + noise.len()).min(bytes.len());
            bytes[at..end].copy_from_slice(&noise[..end - at]);
            bytes.truncate(cut.max(16).min(bytes.len()));
            let _ = probe(&write(dir.path(), "v.mp4", &bytes));
        }
    }

    fn video(seconds: f64, size: u64) -> MediaInfo {
        MediaInfo {
            size,
            mime: "video/mp4".into(),
            extension: "mp4".into(),
            kind: MediaKind::Video,
            width: Some(1920),
            height: Some(1080),
            duration: Some(seconds),
            video_codec: Some("avc1".into()),
            has_audio: Some(true),
        }
    }

    #[test]
    fn platform_limits() {
        assert!(accepts(PlatformKind::X, &video(120.0, 10 * MB)).is_ok());
        let e = accepts(PlatformKind::X, &video(141.0, 10 * MB)).unwrap_err();
        assert!(e.contains("140"), "{e}");
        assert!(accepts(PlatformKind::Instagram, &video(2.0, MB)).is_err());
        assert!(accepts(PlatformKind::Telegram, &video(10.0, 51 * MB)).is_err());
        assert!(accepts(PlatformKind::Youtube, &video(3600.0, 2000 * MB)).is_ok());
        let mut img = video(0.0, 2 * MB);
        img.kind = MediaKind::Image;
        img.mime = "image/jpeg".into();
        img.duration = None;
        let e = accepts(PlatformKind::Bluesky, &img).unwrap_err();
        assert!(e.contains("2.0 MB"), "{e}");
        assert!(accepts(PlatformKind::Youtube, &img).is_err());
        // Instagram: 2:1 is wider than 1.91:1.
        img.width = Some(2000);
        img.height = Some(1000);
        assert!(
            accepts(PlatformKind::Instagram, &img)
                .unwrap_err()
                .contains("aspect")
        );
        assert!(accepts(PlatformKind::Webhook, &img).is_ok());
        // Sets: four images on X, not five; no video with images.
        let four = vec![img.clone(); 4];
        assert!(accepts_set(PlatformKind::X, &four).is_ok());
        let mut five = four.clone();
        five.push(img.clone());
        assert!(
            accepts_set(PlatformKind::X, &five)
                .unwrap_err()
                .contains("at most 4")
        );
        assert!(accepts_set(PlatformKind::Instagram, &five).is_ok());
        let mixed = vec![img, video(10.0, MB)];
        assert!(
            accepts_set(PlatformKind::Mastodon, &mixed)
                .unwrap_err()
                .contains("mix")
        );
        assert!(accepts_set(PlatformKind::Telegram, &mixed).is_ok());
    }
}
