//! One way to say why a connection failed. The errors of reqwest, hyper and kube show only their
//! outermost layer ("error sending request", "client error (Connect)"); the cause an operator
//! can act on — a certificate that was rejected, a handshake the server broke off — sits deeper
//! in the chain. [`describe`] walks the whole chain and says "TLS handshake failed" first when
//! the failure is TLS, so a Sovereign's state or a CLI error names it.

use std::error::Error;

/// The error and every distinct cause under it, joined with ": ", led by "TLS handshake failed"
/// when any layer is about TLS.
pub fn describe(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        // Layers often repeat their cause in their own text; keep what is new.
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let joined = parts.join(": ");
    if is_tls(&joined) {
        format!("TLS handshake failed: {joined}")
    } else {
        joined
    }
}

fn is_tls(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "ssl"]
        .iter()
        .any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_whole_chain_is_said_and_tls_is_named() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let text = describe(&Outer(inner));
        assert_eq!(
            text,
            "TLS handshake failed: client error (Connect): invalid peer certificate: UnknownIssuer"
        );
        let plain = describe(&Outer(std::io::Error::other("connection refused")));
        assert_eq!(plain, "client error (Connect): connection refused");
    }
}
