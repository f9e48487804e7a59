//! The typed-back rule every destructive run shares (purge, Phase-0 apply, drill; the CLI's
//! `--confirm` and the cockpit's confirm field): the operator types the Sovereign's FQDN exactly.
//! A near miss (case, a missing label) is refused, never corrected.

/// `Ok` when `typed` is exactly `fqdn`; otherwise what is wrong, in the operator's words.
pub fn typed_back(typed: &str, fqdn: &str) -> Result<(), String> {
    if typed.is_empty() {
        return Err(format!("type {fqdn} to confirm"));
    }
    if typed != fqdn {
        return Err(format!("typed FQDN {typed:?} does not match {fqdn}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::typed_back;

    #[test]
    fn only_the_exact_fqdn_confirms() {
        let f = "omantel.omani.works";
        assert!(typed_back("", f).is_err_and(|r| r.contains("type")));
        assert!(typed_back("omantel.omani.work", f).is_err_and(|r| r.contains("match")));
        assert!(typed_back("OMANTEL.omani.works", f).is_err());
        assert!(typed_back("omantel.omani.works.", f).is_err());
        assert_eq!(typed_back(f, f), Ok(()));
    }
}
