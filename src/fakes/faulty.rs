//! A receiving server with fault injection (slow answers, 429, 5xx, dropped connections after the request is read), for the daemon's crash, shutdown and benchmark tests.
