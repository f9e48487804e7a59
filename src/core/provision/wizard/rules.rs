//! Field rules shared by the interactive wizard and `validate_request`, each a hand-written
//! equivalent of the regex it cites (no regex engine needed for these shapes).
//!
//! Rule of thumb: what the web wizard rejects is an error here; what the wizard accepts but a later
//! stage (catalyst-api, the OpenTofu module) rejects is an error for a request read from a file and a
//! warning in the interactive flow, where the web wizard's own rule is the gate.

use ssh_key::{Algorithm, EcdsaCurve, HashAlg, PublicKey};

/// Minimum trimmed length of a provider token (client check and `credentials/validate`).
pub const MIN_TOKEN_LEN: usize = 64;
/// Worker-count stepper bounds (and the tofu `worker_count` validation).
pub const MAX_WORKERS: i64 = 50;

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Pool subdomain: `^[a-z]([a-z0-9-]*[a-z0-9])?$`, at most 63 characters.
pub fn check_subdomain(sub: &str) -> Result<(), String> {
    if sub.is_empty() {
        return Err("subdomain is required".into());
    }
    if sub.len() > 63 {
        return Err(format!("subdomain is {} characters; at most 63", sub.len()));
    }
    let first = sub.chars().next().unwrap_or('-');
    if !first.is_ascii_lowercase() {
        return Err("subdomain must start with a lowercase letter".into());
    }
    if let Some(bad) = sub.chars().find(|c| !is_lower_alnum(*c) && *c != '-') {
        return Err(format!(
            "subdomain may only contain a-z, 0-9 and '-' (found {bad:?})"
        ));
    }
    if sub.ends_with('-') {
        return Err("subdomain must not end with '-'".into());
    }
    Ok(())
}

/// One DNS label of a BYO domain: 1–63 of `[a-z0-9-]`, no leading or trailing hyphen.
fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("empty label (two dots in a row, or a leading/trailing dot)".into());
    }
    if label.len() > 63 {
        return Err(format!("label `{label}` is longer than 63 characters"));
    }
    if let Some(bad) = label.chars().find(|c| !is_lower_alnum(*c) && *c != '-') {
        return Err(format!("label `{label}` contains {bad:?}"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("label `{label}` must not start or end with '-'"));
    }
    Ok(())
}

/// BYO domain: at least two labels, each valid, at most 253 characters.
pub fn check_byo_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("domain is required".into());
    }
    if domain.len() > 253 {
        return Err(format!(
            "domain is {} characters; at most 253",
            domain.len()
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("domain needs at least two labels (e.g. sovereign.example.com)".into());
    }
    for l in labels {
        check_label(l)?;
    }
    Ok(())
}

/// The tofu `sovereign_fqdn` rule: `^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$` (every label starts
/// with a letter).
pub fn check_fqdn_tofu(fqdn: &str) -> Result<(), String> {
    let labels: Vec<&str> = fqdn.split('.').collect();
    if labels.len() < 2 {
        return Err("FQDN needs at least two labels".into());
    }
    for l in labels {
        let mut chars = l.chars();
        match chars.next() {
            Some(c) if c.is_ascii_lowercase() => {}
            _ => {
                return Err(format!(
                    "label `{l}` must start with a lowercase letter (OpenTofu sovereign_fqdn rule)"
                ));
            }
        }
        if let Some(bad) = chars.find(|c| !is_lower_alnum(*c) && *c != '-') {
            return Err(format!("label `{l}` contains {bad:?}"));
        }
    }
    Ok(())
}

/// Admin e-mail: `^[^\s@]+@[^\s@]+\.[^\s@]+$`.
pub fn check_email(email: &str) -> Result<(), String> {
    let msg = || "must look like name@example.com".to_string();
    if email.is_empty() {
        return Err("admin e-mail is required".into());
    }
    if email.chars().any(char::is_whitespace) {
        return Err("must not contain spaces".into());
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(msg());
    };
    if local.is_empty() || domain.contains('@') {
        return Err(msg());
    }
    // `[^\s@]+\.[^\s@]+`: some dot with at least one character on each side.
    let dotted = domain
        .char_indices()
        .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len());
    if !dotted {
        return Err(msg());
    }
    Ok(())
}

/// Client-side token check (≥ 64 characters after trimming).
pub fn check_token_length(token: &str) -> Result<(), String> {
    let n = token.trim().chars().count();
    if n == 0 {
        Err("token is required".into())
    } else if n < MIN_TOKEN_LEN {
        Err(format!(
            "token too short — {n} characters, at least {MIN_TOKEN_LEN}"
        ))
    } else {
        Ok(())
    }
}

/// A request builds one region: catalyst-api applies `regions[0]` only (contract §1.6) and so does
/// our Phase 0, so a request naming more would silently leave the others unbuilt. Refused, with
/// the regions that would be lost, rather than dropped (runbook §1.3's multi-region shape —
/// N regions × 1 cpx52, workerCount 0 — needs a provisioner that builds every region).
pub fn check_single_region<'a>(regions: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let regions: Vec<&str> = regions.into_iter().collect();
    if regions.len() <= 1 {
        return Ok(());
    }
    let shown = |r: &[&str]| {
        r.iter()
            .map(|x| if x.is_empty() { "(no region)" } else { x })
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "{} regions ({}): only regions[0] ({}) would be built — catalyst-api and Phase 0 apply \
         the first region only, so {} would silently be left out; provision one region per \
         Sovereign (choose the solo topology)",
        regions.len(),
        shown(&regions),
        shown(&regions[..1]),
        shown(&regions[1..]),
    ))
}

/// Hetzner server types the OpenTofu module accepts: `^(cx|cpx|ccx|cax)[0-9]+$`.
pub fn is_hetzner_server_type(size: &str) -> bool {
    ["cpx", "ccx", "cax", "cx"].iter().any(|p| {
        size.strip_prefix(p)
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Key types the wizard's paste field accepts.
pub const WIZARD_KEY_TYPES: [&str; 5] = [
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];
/// Key types the OpenTofu module accepts (`^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp256) `).
pub const TOFU_KEY_TYPES: [&str; 3] = ["ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256"];

/// A pasted public key that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedKey {
    pub key_type: String,
    pub fingerprint: String,
    pub comment: String,
    /// Problems that will make a later stage fail although the wizard accepts the key.
    pub warnings: Vec<String>,
}

/// Check a pasted public key: the wizard regex
/// `^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521))\s+([A-Za-z0-9+/=]+)(\s+.+)?$` with at least
/// 30 base64 characters, one line, key data that actually decodes and matches its type (what Hetzner
/// checks at `tofu apply`), and the tofu module's stricter type rule as a warning.
pub fn check_ssh_public_key(input: &str) -> Result<CheckedKey, String> {
    let key = input.trim();
    if key.is_empty() {
        return Err("SSH public key is required".into());
    }
    if key.contains('\n') || key.contains('\r') {
        return Err("paste the public key as a single unbroken line".into());
    }
    if key.starts_with("-----BEGIN") {
        return Err("that is a private key; paste the PUBLIC half (the .pub file)".into());
    }
    let mut parts = key.splitn(2, char::is_whitespace);
    let key_type = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default().trim_start();
    if !WIZARD_KEY_TYPES.contains(&key_type) {
        return Err(format!(
            "key type `{key_type}` is not one of {}",
            WIZARD_KEY_TYPES.join(", ")
        ));
    }
    let (b64, comment) = match rest.split_once(char::is_whitespace) {
        Some((b, c)) => (b, c.trim()),
        None => (rest, ""),
    };
    if b64.len() < 30 {
        return Err("key data is missing or shorter than 30 base64 characters".into());
    }
    if let Some(bad) = b64
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return Err(format!("key data contains {bad:?}, which is not base64"));
    }
    let parsed = PublicKey::from_openssh(&format!("{key_type} {b64}"))
        .map_err(|e| format!("key data does not decode as a {key_type} key ({e})"))?;
    let mut warnings = Vec::new();
    if matches!(
        parsed.algorithm(),
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP384 | EcdsaCurve::NistP521
        }
    ) {
        warnings.push(format!(
            "{key_type} keys pass the wizard but the OpenTofu module only accepts {} — tofu-plan will fail with \"invalid public key\"",
            TOFU_KEY_TYPES.join(", ")
        ));
    } else if !key[key_type.len()..].starts_with(' ') {
        warnings.push(
            "the key type must be followed by a single space for the OpenTofu module".to_string(),
        );
    }
    Ok(CheckedKey {
        key_type: key_type.to_string(),
        fingerprint: parsed.fingerprint(HashAlg::Sha256).to_string(),
        comment: comment.to_string(),
        warnings,
    })
}

/// A secret for display: never the value, only its length and last four characters.
pub fn mask_secret(secret: &str) -> String {
    let s = secret.trim();
    let n = s.chars().count();
    if n == 0 {
        return "(not set)".into();
    }
    if n < 16 {
        return "********".into();
    }
    let tail: String = s.chars().skip(n - 4).collect();
    format!("********…{tail} ({n} chars)")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Real keys made with ssh-keygen (public halves only).
    pub const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5VdO/LcEbh2a+hBchu5g0qzWAo+LXyQjq94vjuPhtC sovereign-admin@acme";
    pub const NISTP256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBONOzIGaObFthOCMUYM7uZ/DLw8/2H3T3dWav1PNR3jUOr7+HN5ILQBg84vt7MMSDeXvsebMTIcC5EluCefCMWk= x@y";
    pub const NISTP521: &str = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAHW27d2Y666+ykfbV4mtnrCLv2sdDwOWTT/AkRYmKePmHUZYYdsM+Ew+0HiURIFWn+gNpS1Ve/8sLurmap+F/KpDgBt+BbFZoFaJTUo/Sfywx287PMcBaoGoEyt4IdXYq6CZHdhBzt7UzHsDQyNdsXDiWKEFgSz3HrTclim/y3RlvyDxw== x@y";
    pub const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDDZFTMhQtCIcF5bvFT8lO0OaJd6Qc7WcRIfmKcx6YiNB3QaEpGlL9Y6ln9Ieg08mCo+rMApoEyGuD6GugN5A09xW5WQ0KFkfopxxxGscf+FYrSBRZki0Lz34oNFgHy8vs51MjnU2u63siVwloY/K1z5CqKA/pqo2Mc3Y8+AQEZJWnGbcen3z2+xQubHO9HYjx42SwuJDZigQX+D2zrSGsMHo6TjJI7RCxegg1WjObRItDwimvoTo5/rLupDcZjJ+ruEfx0GJMTOTiAYAKMywxb8CICtPzrZml3BDn1qzgEOsmuSAKn1EACsCnlEscBW7EZGpkhSWNOWEDdaar9yytz x@y";
    pub const NISTP384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBJpifxKCfAq2ZeW55PBfzswlHE6vtn3aYwkhWAlaqbelZYavoAPyA/p1vIjgro468wa2dXt6/wA4tZ5N52FL1irnVJPt5P8+knExpL9xnPlqZUD5cNmf9faZj3uJom20Lg== x@y";

    #[test]
    fn subdomain_rules() {
        for ok in ["t42", "a", "acme-prod", "x1-2"] {
            assert!(check_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "42t", "-a", "a-", "A1", "a_b", "a.b", &"a".repeat(64)] {
            assert!(check_subdomain(bad).is_err(), "{bad}");
        }
        assert!(check_subdomain(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn byo_domain_rules() {
        for ok in ["example.com", "sov.acme.co.uk", "1password.com", "a-b.io"] {
            assert!(check_byo_domain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "a..b",
            ".a.b",
            "a.b.",
            "-a.com",
            "a-.com",
            "a_b.com",
            "Acme.com",
        ] {
            assert!(check_byo_domain(bad).is_err(), "{bad}");
        }
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(long.len() > 253);
        assert!(check_byo_domain(&long).unwrap_err().contains("253"));
        assert!(check_byo_domain(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn tofu_fqdn_rule() {
        assert!(check_fqdn_tofu("t42.omani.works").is_ok());
        assert!(check_fqdn_tofu("1password.com").is_err());
        assert!(check_fqdn_tofu("works").is_err());
        assert!(check_fqdn_tofu("a.b_c").is_err());
    }

    #[test]
    fn email_rules() {
        for ok in [
            "platform@acme.io",
            "a@b.c",
            "first.last@sub.example.org",
            "a@b..c",
        ] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "platform", "a@b", "@b.c", "a@.c", "a@b.", "a b@c.d", "a@b@c.d",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_length_rule() {
        assert!(check_token_length(&"x".repeat(64)).is_ok());
        assert!(check_token_length(&format!("  {}  ", "x".repeat(63))).is_err());
        assert_eq!(check_token_length("   ").unwrap_err(), "token is required");
        assert!(
            check_token_length(&"x".repeat(10))
                .unwrap_err()
                .contains("10 characters")
        );
    }

    #[test]
    fn hetzner_server_types() {
        for ok in ["cx23", "cpx21", "ccx13", "cax11", "cx42"] {
            assert!(is_hetzner_server_type(ok), "{ok}");
        }
        for bad in ["cx", "cpx", "m6i.large", "CX22", "cx22a", "dx22", ""] {
            assert!(!is_hetzner_server_type(bad), "{bad}");
        }
    }

    #[test]
    fn ssh_keys_accepted() {
        let k = check_ssh_public_key(ED25519).unwrap();
        assert_eq!(k.key_type, "ssh-ed25519");
        assert!(k.fingerprint.starts_with("SHA256:"));
        assert_eq!(k.comment, "sovereign-admin@acme");
        assert!(k.warnings.is_empty());
        assert!(check_ssh_public_key(NISTP256).unwrap().warnings.is_empty());
        assert!(check_ssh_public_key(RSA).unwrap().warnings.is_empty());
        // Surrounding whitespace is trimmed, a missing comment is fine.
        let no_comment = ED25519.rsplit_once(' ').unwrap().0;
        assert!(check_ssh_public_key(&format!("  {no_comment}\n")).is_ok());
    }

    #[test]
    fn ssh_nistp384_passes_with_a_warning() {
        for key in [NISTP384, NISTP521] {
            let k = check_ssh_public_key(key).unwrap();
            assert_eq!(k.warnings.len(), 1);
            assert!(k.warnings[0].contains("OpenTofu"));
        }
    }

    #[test]
    fn ssh_keys_rejected() {
        let b64 = ED25519.split(' ').nth(1).unwrap();
        let cases = [
            ("", "required"),
            ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "not one of"),
            ("ssh-ed25519", "shorter than 30"),
            ("ssh-ed25519 AAAAC3Nz", "shorter than 30"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
            (
                "ssh-ed25519\nAAAAC3NzaC1lZDI1NTE5AAAAIBlnW1hgt7pkaEmMhz",
                "single",
            ),
        ];
        for (input, want) in cases {
            let err = check_ssh_public_key(input).unwrap_err();
            assert!(err.contains(want), "{input:?}: {err}");
        }
        // Truncated data (malformed key pasted, matrix row C2).
        let truncated = format!("ssh-ed25519 {}", &b64[..b64.len() - 8]);
        assert!(
            check_ssh_public_key(&truncated)
                .unwrap_err()
                .contains("does not decode")
        );
        // Type prefix that does not match the data.
        let mislabelled = format!("ssh-rsa {b64}");
        assert!(check_ssh_public_key(&mislabelled).is_err());
        let bad_char = format!("ssh-ed25519 {}!", &b64[..40]);
        assert!(
            check_ssh_public_key(&bad_char)
                .unwrap_err()
                .contains("base64")
        );
    }

    #[test]
    fn ssh_tab_separator_warns() {
        let tabbed = ED25519.replacen(' ', "\t", 1);
        let k = check_ssh_public_key(&tabbed).unwrap();
        assert_eq!(k.warnings.len(), 1);
    }

    #[test]
    fn masking() {
        let token = format!("{}wxyz", "a".repeat(60));
        let masked = mask_secret(&token);
        assert!(!masked.contains("aaaa"));
        assert!(masked.ends_with("…wxyz (64 chars)"));
        assert_eq!(mask_secret("short"), "********");
        assert_eq!(mask_secret(""), "(not set)");
    }
}
