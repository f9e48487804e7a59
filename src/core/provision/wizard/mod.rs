//! The 7-step wizard of contract §4: fields, defaults, validation, cascades, the POST body.
//!
//! Pure library, no terminal code and no network. Live checks (`credentials/validate`,
//! `subdomains/check`, `registrar/{r}/validate`, `sshkey/generate`) are *requested* by the wizard
//! as [`CheckRequest`]s: the caller debounces edits, calls [`Wizard::due_checks`], performs each
//! request (POST [`LiveCheck::path`] with [`LiveCheck::body`]) with its own HTTP client and hands
//! the answer back through [`Wizard::complete`]. The TUI and the headless code share the rules.
//!
//! Typical flow:
//! ```no_run
//! use sovtui::provision::wizard::{Wizard, WizardConfig, Step};
//! let mut w = Wizard::new(WizardConfig::default());
//! while w.step() != Step::Review {
//!     if let Err(reason) = w.next() { eprintln!("Next disabled: {reason}"); break; }
//! }
//! let body = w.provision().map(|req| req.to_json());
//! ```

pub mod api_error;
pub mod catalog;
pub mod checks;
pub mod components;
pub mod draft;
pub mod fields;
pub mod model;
pub mod request;
pub mod rules;
pub mod step;

pub use api_error::{ApiProblem, classify_create_error};
pub use catalog::{PoolDomain, Provider, Registrar, Sku};
pub use checks::{
    Availability, CheckKind, CheckReply, CheckRequest, DEBOUNCE, LiveCheck, RegistrarStatus,
    Ticket, TokenStatus,
};
pub use components::{Change, Proposal, Selection};
pub use draft::{Draft, DraftError, default_draft_path, discard_draft, load_draft};
pub use fields::{DomainMode, RegionRow, SshMode, Topology};
pub use model::{
    Cost, Issue, ReviewRow, ReviewSection, Severity, TEXT_FIELDS, ToggleOutcome, Wizard,
    WizardConfig, WizardError, field_step,
};
pub use request::{
    DeploymentRequest, FieldError, ParseError, RegionRequest, RequestFormat, parse_request,
    validate_request,
};
pub use step::{Reason, Step};

#[cfg(test)]
mod tests;
