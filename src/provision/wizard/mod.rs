//! The 7-step wizard of contract §4: fields, defaults, validation, cascades, the POST body.
//!
//! Pure library, no terminal code and no network: live checks (`credentials/validate`,
//! `subdomains/check`, `registrar/{r}/validate`, `sshkey/generate`) are *requested* by the wizard as
//! [`checks::CheckRequest`]s; the caller debounces, performs them with its HTTP client and hands the
//! HTTP answer back. That keeps the TUI and the headless code on the same rules.

pub mod api_error;
pub mod catalog;
pub mod checks;
pub mod components;
pub mod request;
pub mod rules;
pub mod step;
