//! Operators' commands: status, retry, cancel, pause, resume.
