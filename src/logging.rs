//! Logging to a file only (tracing-appender); nothing ever reaches the terminal.
