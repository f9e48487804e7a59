//! The seven steps (`WizardPage.tsx` `STEPS`) and why Next can be disabled.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Org,
    Topology,
    Provider,
    Credentials,
    Components,
    Domain,
    Review,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Org,
        Step::Topology,
        Step::Provider,
        Step::Credentials,
        Step::Components,
        Step::Domain,
        Step::Review,
    ];

    /// 1-based number shown in the step indicator.
    pub fn number(self) -> usize {
        self.index() + 1
    }

    pub fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Org => "Organisation",
            Step::Topology => "Topology",
            Step::Provider => "Provider",
            Step::Credentials => "Credentials",
            Step::Components => "Components",
            Step::Domain => "Domain",
            Step::Review => "Review",
        }
    }

    pub fn next(self) -> Option<Step> {
        Step::ALL.get(self.index() + 1).copied()
    }

    pub fn prev(self) -> Option<Step> {
        self.index().checked_sub(1).map(|i| Step::ALL[i])
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Why Next (or Provision, on Review) is disabled: the first blocking problem, and which field it
/// concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub step: Step,
    pub field: Option<String>,
    pub message: String,
}

impl Reason {
    pub fn new(step: Step, field: Option<&str>, message: impl Into<String>) -> Self {
        Reason {
            step,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {field}: {}", self.step, self.message),
            None => write!(f, "{}: {}", self.step, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_navigation() {
        assert_eq!(Step::Org.number(), 1);
        assert_eq!(Step::Review.number(), 7);
        assert_eq!(Step::Org.prev(), None);
        assert_eq!(Step::Review.next(), None);
        assert_eq!(Step::Credentials.next(), Some(Step::Components));
        assert_eq!(Step::Components.prev(), Some(Step::Credentials));
        let mut s = Step::Org;
        let mut seen = vec![s];
        while let Some(n) = s.next() {
            seen.push(n);
            s = n;
        }
        assert_eq!(seen, Step::ALL);
    }
}
