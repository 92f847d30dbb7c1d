//! Sniffing and measuring media files: type, size, dimensions, duration, codec.
