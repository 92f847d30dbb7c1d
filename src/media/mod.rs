//! Media: sniffing and measuring files, and remembering what was uploaded.
