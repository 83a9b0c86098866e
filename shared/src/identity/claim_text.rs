//! The text of identity claims, bounded and cleaned before it can reach the database.
//!
//! A token's claims are attacker-controlled in emulator mode and provider-controlled otherwise, and
//! the stores refuse what they cannot hold: PostgreSQL has no NUL byte in `TEXT`, and the schema
//! bounds `firebase_uid` (128) and tenant names (200) by `length()`, which counts *characters* on
//! both PostgreSQL and SQLite. So every claim is either refused here (the token's identity is
//! unusable: `invalid_token`) or cleaned (a display name), never handed to the store raw.
//!
//! Limits, and what they count:
//! - `sub`: 1 to [`MAX_UID_BYTES`] **bytes** (Firebase uids are at most 128 characters; counting
//!   bytes is stricter and never exceeds the column's character bound).
//! - `email`: at most [`MAX_EMAIL_BYTES`] **bytes** (RFC 5321's 254 octets for a path), one `@`
//!   between a non-empty local part and domain.
//! - `name`: cut to [`MAX_NAME_CHARS`] **characters**, at a character boundary.
//!
//! No claim may hold a control character (NUL included) or a bidirectional formatting character
//! (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), which would make what an admin reads differ from
//! what is stored. Identifiers with one are refused; a display name loses them.

/// Most bytes of a `sub` (Identity Platform uid).
pub const MAX_UID_BYTES: usize = 128;
/// Most bytes of an email.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Most characters of a display name; longer names are cut.
pub const MAX_NAME_CHARS: usize = 200;

/// Whether `c` must not appear in stored text: a control character (C0, DEL, C1) or a Unicode
/// bidirectional formatting character (embeddings, overrides, isolates, marks).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` cut to at most `max` characters, at a character boundary.
pub fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Why a `sub` cannot name a user, or `None` when it can.
pub(super) fn uid_problem(sub: &str) -> Option<String> {
    if sub.is_empty() || sub.len() > MAX_UID_BYTES {
        return Some(format!(
            "sub has {} bytes (1 to {MAX_UID_BYTES} allowed)",
            sub.len()
        ));
    }
    (sub.chars().any(is_hidden) || sub.trim() != sub)
        .then(|| "sub holds control, bidi or surrounding space characters".to_owned())
}

/// The email as stored (trimmed, lower-cased); `Ok(None)` when absent or blank (a phone sign-in
/// has none); `Err` with the reason when it is not an address we can hold.
pub(super) fn email(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(email) = raw.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    if email.len() > MAX_EMAIL_BYTES {
        return Err(format!(
            "email has {} bytes (at most {MAX_EMAIL_BYTES})",
            email.len()
        ));
    }
    if email.chars().any(|c| is_hidden(c) || c.is_whitespace()) {
        return Err("email holds control, bidi or space characters".into());
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(Some(email.to_lowercase()))
        }
        _ => Err("email is not local@domain".into()),
    }
}

/// The display name as stored: hidden characters removed, whitespace trimmed, cut to
/// [`MAX_NAME_CHARS`]; `None` when nothing printable is left.
pub(super) fn display_name(raw: Option<&str>) -> Option<String> {
    let visible: String = raw?.chars().filter(|c| !is_hidden(*c)).collect();
    let name = truncate_chars(visible.trim(), MAX_NAME_CHARS).trim_end();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A short label (the sign-in provider) kept only when it is plain, short ASCII.
pub(super) fn label(raw: Option<&str>) -> Option<String> {
    raw.filter(|p| !p.is_empty() && p.len() <= 64 && p.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_name_loses_control_and_bidi_characters_and_is_cut_at_a_char_boundary() {
        assert_eq!(
            display_name(Some(" Ana\u{0}\u{202E}lisa\u{7} ")).as_deref(),
            Some("Analisa")
        );
        assert_eq!(display_name(Some("\u{202E}\u{0} ")), None);
        let long = "é".repeat(300);
        let cut = display_name(Some(&long)).expect("kept");
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn an_email_with_hidden_characters_or_without_a_domain_is_refused_and_blank_is_absent() {
        assert_eq!(email(Some(" Ana@Acme.IO ")), Ok(Some("ana@acme.io".into())));
        assert_eq!(email(Some("  ")), Ok(None));
        assert_eq!(email(None), Ok(None));
        for bad in [
            "a\u{0}@x.io",
            "a@x\u{202E}.io",
            "a b@x.io",
            "ax.io",
            "a@",
            "@x.io",
            "a@b@c",
        ] {
            assert!(email(Some(bad)).is_err(), "{bad:?} accepted");
        }
        let long = format!("a@{}", "d".repeat(MAX_EMAIL_BYTES));
        assert!(email(Some(&long)).is_err());
    }

    #[test]
    fn a_uid_is_bounded_in_bytes_and_holds_no_hidden_characters() {
        assert_eq!(uid_problem("abc"), None);
        assert!(uid_problem("").is_some());
        assert!(uid_problem(&"é".repeat(65)).is_some(), "130 bytes");
        assert!(uid_problem("a\u{0}b").is_some());
        assert!(uid_problem("a\u{202E}b").is_some());
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("ééé", 2), "éé");
        assert_eq!(truncate_chars("ab", 5), "ab");
    }
}
