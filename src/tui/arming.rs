//! The last gate before a destructive pane (recovery, drill) runs: the cockpit armed with `:arm`
//! and the Sovereign's FQDN typed back (`provision::confirm`, the rule the CLI applies too).

/// Why the run may not start yet, or `None` when it may.
pub fn not_confirmed(armed: bool, typed: &str, fqdn: &str) -> Option<String> {
    if !armed {
        return Some("read-only: :arm first".into());
    }
    crate::provision::confirm::typed_back(typed, fqdn).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_until_armed_then_the_typed_back_rule() {
        let f = "omantel.omani.works";
        assert!(not_confirmed(false, f, f).is_some_and(|r| r.contains(":arm")));
        assert!(not_confirmed(true, "omantel.omani.work", f).is_some_and(|r| r.contains("match")));
        assert_eq!(not_confirmed(true, f, f), None);
    }
}
