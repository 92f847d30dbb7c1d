//! A fake Telegram Bot API (sendMessage, sendPhoto, sendVideo, sendMediaGroup).
