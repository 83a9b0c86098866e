//! Which machine this is: the fingerprint acquire sends, and the hostname shown to admins.
//!
//! The fingerprint is `v1:` followed by the SHA-256 (hex) of a product salt and the OS machine id
//! (`/etc/machine-id` or the D-Bus id on Linux, `IOPlatformUUID` on macOS, `MachineGuid` on
//! Windows, through machine-uid). It is stable across reboots, the same for the CLI and the Python
//! package, and the raw id never leaves the machine. `CODITECT_FINGERPRINT` overrides it for
//! containers that share one machine id and CI runners: a value already in the wire format (16 to
//! 128 hex digits, optionally after `vN:`) is sent as it is, anything else is hashed the same way.

use sha2::{Digest, Sha256};

use crate::http::ClientError;

/// The variable overriding the fingerprint.
pub const FINGERPRINT_VAR: &str = "CODITECT_FINGERPRINT";

/// The salt that makes our hash of a machine id differ from any other product's.
const SALT: &[u8] = b"coditect-license machine fingerprint v1\0";

/// This machine's fingerprint.
pub fn fingerprint() -> Result<String, ClientError> {
    fingerprint_from(
        |name| std::env::var(name).ok(),
        || machine_uid::get().map_err(|e| e.to_string()),
    )
}

/// The fingerprint, reading variables through `lookup` and the machine id through `machine_id`.
pub fn fingerprint_from(
    lookup: impl Fn(&str) -> Option<String>,
    machine_id: impl FnOnce() -> Result<String, String>,
) -> Result<String, ClientError> {
    if let Some(chosen) = lookup(FINGERPRINT_VAR).filter(|v| !v.trim().is_empty()) {
        let chosen = chosen.trim();
        if is_wire_fingerprint(chosen) {
            return Ok(chosen.to_ascii_lowercase());
        }
        return Ok(hashed(chosen));
    }
    let id = machine_id().map_err(|e| {
        ClientError::Protocol(format!(
            "this machine has no readable machine id ({e}); set {FINGERPRINT_VAR} to a stable \
             name for it"
        ))
    })?;
    let id = id.trim();
    if id.is_empty() {
        return Err(ClientError::Protocol(format!(
            "this machine's machine id is empty; set {FINGERPRINT_VAR} to a stable name for it"
        )));
    }
    Ok(hashed(id))
}

/// `v1:` + SHA-256 of the salt and `id`.
fn hashed(id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(SALT);
    hasher.update(id.as_bytes());
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1:{digest}")
}

/// Whether `value` is what acquire accepts as it is: 16 to 128 hex digits, optionally after a
/// version prefix such as `v1:`.
fn is_wire_fingerprint(value: &str) -> bool {
    let hex = match value.split_once(':') {
        Some((version, hex)) => {
            let mut chars = version.chars();
            if !(matches!(chars.next(), Some('v' | 'V'))
                && chars.next().is_some_and(|c| c.is_ascii_digit())
                && chars.next().is_none())
            {
                return false;
            }
            hex
        }
        None => value,
    };
    (16..=128).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// This machine's name for the holders list: printable, at most 255 characters, `unknown` when
/// the system names none.
pub fn hostname() -> String {
    printable_hostname(&gethostname::gethostname().to_string_lossy())
}

/// `raw` as acquire accepts a hostname: control and bidirectional-override characters dropped,
/// trimmed, at most 255 characters.
pub fn printable_hostname(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(255)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "unknown".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Characters that reorder text when displayed (a hostname could otherwise spoof another).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE_ID: &str = "4c4c4544003510528035b4c04f4a4d32";

    fn no_vars(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_same_machine_id_always_gives_the_same_fingerprint_and_never_the_id_itself() {
        let first = fingerprint_from(no_vars, || Ok(MACHINE_ID.into())).expect("a fingerprint");
        let again = fingerprint_from(no_vars, || Ok(format!("{MACHINE_ID}\n"))).expect("again");
        assert_eq!(first, again, "stable, also with the file's newline");
        assert!(first.starts_with("v1:") && first.len() == 3 + 64, "{first}");
        assert!(!first.contains(MACHINE_ID));
        assert!(is_wire_fingerprint(&first), "acquire accepts it");
        let other = fingerprint_from(no_vars, || Ok("another-machine".into())).expect("other");
        assert_ne!(first, other);
    }

    #[test]
    fn the_fingerprint_is_the_salted_hash_not_the_plain_one() {
        let plain: String = Sha256::digest(MACHINE_ID.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let ours = fingerprint_from(no_vars, || Ok(MACHINE_ID.into())).expect("a fingerprint");
        assert_ne!(ours, format!("v1:{plain}"));
    }

    #[test]
    fn the_variable_overrides_the_machine_id() {
        let wire = |name: &str| (name == FINGERPRINT_VAR).then(|| "V1:ABCDEF0123456789".into());
        let chosen = fingerprint_from(wire, || Err("never read".into())).expect("the override");
        assert_eq!(chosen, "v1:abcdef0123456789", "sent as it is, lower-cased");

        let named = |name: &str| (name == FINGERPRINT_VAR).then(|| "ci-runner-7".into());
        let hashed_name = fingerprint_from(named, || Err("never read".into())).expect("hashed");
        assert_eq!(hashed_name, hashed("ci-runner-7"));
        assert!(is_wire_fingerprint(&hashed_name));
    }

    #[test]
    fn a_machine_without_an_id_is_told_how_to_name_itself() {
        let error = fingerprint_from(no_vars, || Err("no /etc/machine-id".into()))
            .expect_err("no fingerprint");
        assert!(error.to_string().contains(FINGERPRINT_VAR), "{error}");
        assert!(fingerprint_from(no_vars, || Ok("  \n".into())).is_err());
    }

    #[test]
    fn hostnames_lose_control_and_reordering_characters_and_are_bounded() {
        assert_eq!(printable_hostname("ana-laptop\n"), "ana-laptop");
        assert_eq!(printable_hostname("evil\u{202e}pot.exe"), "evilpot.exe");
        assert_eq!(printable_hostname("\u{7}\u{0}"), "unknown");
        assert_eq!(printable_hostname(&"h".repeat(300)).chars().count(), 255);
        assert!(!hostname().is_empty());
    }

    #[test]
    fn only_hex_of_a_plausible_length_passes_as_a_wire_fingerprint() {
        assert!(is_wire_fingerprint("0123456789abcdef"));
        assert!(!is_wire_fingerprint("0123456789abcde"), "too short");
        assert!(!is_wire_fingerprint(&"a".repeat(129)), "too long");
        assert!(!is_wire_fingerprint("x1:0123456789abcdef"));
        assert!(!is_wire_fingerprint("v12:0123456789abcdef"));
        assert!(!is_wire_fingerprint("0123456789abcdeg"));
    }
}
