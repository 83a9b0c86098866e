//! In emulator mode, where unsigned ID tokens are accepted, the `local` binary listens on loopback
//! only unless `BIND_ADDRESS` says otherwise: checked on the listening socket the kernel reports
//! for the process's port, so no traffic to another address of this machine is needed.

use integration_tests::process::{Service, built_binary, spawn_on_free_port};
use integration_tests::server::TempDir;

#[tokio::test]
async fn the_local_binary_in_emulator_mode_listens_on_loopback_only() {
    // Arrange / Act: the embedded default, nothing configured but the port and data dir.
    let (port, service, _dir) = spawn_local(&[]).await;

    // Assert
    assert_eq!(listening_addresses(port), vec!["127.0.0.1".to_owned()]);
    drop(service);
}

#[tokio::test]
async fn an_explicit_bind_address_is_used_in_emulator_mode_too() {
    // Arrange / Act
    let (port, service, _dir) = spawn_local(&[("BIND_ADDRESS", "0.0.0.0")]).await;

    // Assert
    assert_eq!(listening_addresses(port), vec!["0.0.0.0".to_owned()]);
    drop(service);
}

async fn spawn_local(vars: &[(&str, &str)]) -> (u16, Service, TempDir) {
    let binary = built_binary("local");
    let data_dir = TempDir::new();
    let (service, port) = spawn_on_free_port(|port| {
        let mut command = std::process::Command::new(&binary);
        command
            .env_clear()
            .env("PORT", port.to_string())
            .env("DATA_DIR", &data_dir.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (name, value) in vars {
            command.env(name, value);
        }
        command
    })
    .await;
    (port, service, data_dir)
}

/// The local addresses of every listening TCP socket on `port` (IPv4 and IPv6), from `/proc`.
fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for (table, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((addr, hex_port)) = local.split_once(':') else {
                continue;
            };
            // State 0A is LISTEN.
            if *state != "0A" || u16::from_str_radix(hex_port, 16).ok() != Some(port) {
                continue;
            }
            found.push(if v6 { ipv6(addr) } else { ipv4(addr) });
        }
    }
    found
}

/// `/proc/net/tcp` writes an IPv4 address as one little-endian 32-bit hex word.
fn ipv4(hex: &str) -> String {
    let word = u32::from_str_radix(hex, 16).expect("hex address");
    std::net::Ipv4Addr::from(word.swap_bytes()).to_string()
}

/// ... and an IPv6 address as four such words.
fn ipv6(hex: &str) -> String {
    let mut bytes = [0u8; 16];
    for (i, chunk) in hex.as_bytes().chunks(8).enumerate() {
        let word = u32::from_str_radix(std::str::from_utf8(chunk).expect("ascii"), 16)
            .expect("hex address");
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    std::net::Ipv6Addr::from(bytes).to_string()
}
