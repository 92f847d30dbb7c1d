//! The posts of a file, with the capsule each sits in: what both passes walk.

use std::collections::HashMap;

use crate::campaign::LoadedCampaign;
use crate::campaign::model::{Capsule, Media, Post};

/// A post with where it sits in the file.
pub struct PostRef<'a> {
    pub capsule: Option<&'a Capsule>,
    pub post: &'a Post,
}

impl PostRef<'_> {
    /// The TOML table path of the post, for help messages: `capsules.posts` or `posts`.
    pub fn table(&self) -> &'static str {
        if self.capsule.is_some() {
            "capsules.posts"
        } else {
            "posts"
        }
    }

    /// The post's media: its own, else its capsule's.
    pub fn media(&self) -> &[Media] {
        match (&self.post.media, self.capsule) {
            (Some(m), _) => m,
            (None, Some(c)) => &c.media,
            (None, None) => &[],
        }
    }
}

/// Every post of the file, capsule posts first.
pub fn posts(c: &LoadedCampaign) -> Vec<PostRef<'_>> {
    let mut out: Vec<PostRef<'_>> = c
        .file
        .capsules
        .iter()
        .flat_map(|cap| {
            cap.posts.iter().map(move |post| PostRef {
                capsule: Some(cap),
                post,
            })
        })
        .collect();
    out.extend(c.file.posts.iter().map(|post| PostRef {
        capsule: None,
        post,
    }));
    out
}

/// The posts of a file by (capsule id, post id), to find the post an
/// occurrence comes from without a scan per occurrence.
pub(super) fn post_index(c: &LoadedCampaign) -> HashMap<(Option<&str>, &str), PostRef<'_>> {
    posts(c)
        .into_iter()
        .map(|p| {
            (
                (
                    p.capsule.map(|cap| cap.id.get_ref().as_str()),
                    p.post.id.get_ref().as_str(),
                ),
                p,
            )
        })
        .collect()
}
