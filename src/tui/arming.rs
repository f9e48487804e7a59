//! The last gate before a destructive pane (recovery, drill) runs: the cockpit armed with `:arm`
//! and the Sovereign's FQDN typed back exactly. One rule, so both panes refuse the same way.

/// Why the run may not start yet, or `None` when it may.
pub fn not_confirmed(armed: bool, typed: &str, fqdn: &str) -> Option<String> {
    if !armed {
        return Some("read-only: :arm first".into());
    }
    if typed.is_empty() {
        return Some(format!("type {fqdn} to confirm"));
    }
    if typed != fqdn {
        return Some(format!("typed FQDN {typed:?} does not match {fqdn}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_and_exact_fqdn_only() {
        let f = "omantel.omani.works";
        assert!(not_confirmed(false, f, f).is_some_and(|r| r.contains(":arm")));
        assert!(not_confirmed(true, "", f).is_some_and(|r| r.contains("type")));
        assert!(not_confirmed(true, "omantel.omani.work", f).is_some_and(|r| r.contains("match")));
        assert!(not_confirmed(true, "OMANTEL.omani.works", f).is_some());
        assert_eq!(not_confirmed(true, f, f), None);
    }
}
