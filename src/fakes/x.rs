//! A fake X API v2 (posts, chunked media upload), checked against X's OpenAPI description.
