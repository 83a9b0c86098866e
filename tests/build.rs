//! Which real-backend tests this build can run, as cfgs the tests are ignored by.
//!
//! A real-backend test that cannot run here is marked `#[ignore]` at build time, so the runner's
//! summary counts it (`N ignored`) and names why (`ignored, REDIS_URL is not set`), instead of a
//! test that passes having done nothing. One that reaches a missing backend without its mark fails
//! and says which mark to add (`integration_tests::backends::backend_url`). CI sets every variable
//! and installs every tool, and `.ci/test-suite` fails a run whose summary reports an ignored test.
//!
//! | cfg                 | set when                                                     |
//! |---------------------|--------------------------------------------------------------|
//! | `real_postgres`     | `DATABASE_URL` is set                                        |
//! | `real_redis`        | `REDIS_URL` is set                                           |
//! | `firebase_emulator` | `FIREBASE_AUTH_EMULATOR_HOST` is set                         |
//! | `redis_tools`       | `redis-server` and `redis-cli` are on PATH (Redis Cluster)   |
//! | `redis_tls_tools`   | `redis-server` and `openssl` are on PATH (Redis over TLS)    |
//! | `browser_driver`    | `tests/browser/node_modules` (`npm ci`) and `/usr/bin/chromium` |

use std::path::PathBuf;

fn main() {
    for (var, cfg) in [
        ("DATABASE_URL", "real_postgres"),
        ("REDIS_URL", "real_redis"),
        ("FIREBASE_AUTH_EMULATOR_HOST", "firebase_emulator"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var(var).is_ok_and(|value| !value.trim().is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-changed=build.rs");
    for (tools, cfg) in [
        (&["redis-server", "redis-cli"][..], "redis_tools"),
        (&["redis-server", "openssl"][..], "redis_tls_tools"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if tools.iter().all(|tool| on_path(tool)) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rustc-check-cfg=cfg(browser_driver)");
    if browser_driver() {
        println!("cargo::rustc-cfg=browser_driver");
    }
}

/// Whether the browser sign-in driver can run: playwright-core installed by `npm ci` in
/// `tests/browser`, and Debian's Chromium.
fn browser_driver() -> bool {
    let installed = PathBuf::from("browser/node_modules/.package-lock.json");
    let driver = if installed.is_file() {
        println!("cargo::rerun-if-changed={}", installed.display());
        true
    } else {
        // Small without node_modules: `npm ci` changes it, and so reruns this script.
        println!("cargo::rerun-if-changed=browser");
        false
    };
    let chromium = PathBuf::from("/usr/bin/chromium");
    if chromium.exists() {
        println!("cargo::rerun-if-changed={}", chromium.display());
    } else {
        println!("cargo::rerun-if-changed=/usr/bin");
    }
    driver && chromium.exists()
}

/// Whether `tool` is a file in a PATH directory. Cargo reruns this script when the found file
/// changes, or, for a missing tool, when a PATH directory does (a package installed into it).
fn on_path(tool: &str) -> bool {
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    match dirs
        .iter()
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
    {
        Some(found) => {
            println!("cargo::rerun-if-changed={}", found.display());
            true
        }
        None => {
            for dir in dirs.iter().filter(|dir| dir.is_dir()) {
                println!("cargo::rerun-if-changed={}", dir.display());
            }
            false
        }
    }
}
