//! A fake LinkedIn Posts, Images and Videos API.
