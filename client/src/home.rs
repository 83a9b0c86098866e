//! Where the client keeps its files: one directory per user (`CODITECT_LICENSE_HOME`, else the OS
//! config dir's `coditect-license`), and in it one directory per service deployment, so signing in
//! to a test server never touches the production sign-in.
//!
//! ```text
//! <home>/<server key>/server.txt        the URL the directory belongs to (for a person reading it)
//! <home>/<server key>/credentials.json  the sign-in: refresh token (0600)
//! <home>/<server key>/seat.json         this machine's seat: session, lease, latest trusted time (0600)
//! <home>/<server key>/jwks.json         the pinned lease keys
//! ```
//!
//! Every file is written whole (a temporary file renamed over the old one), so a crash or a second
//! process never reads half a file, and private files are created with mode 0600 on Unix before
//! any byte is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The variable naming the client's home directory (tests, several profiles on one machine).
pub const HOME_VAR: &str = "CODITECT_LICENSE_HOME";

/// The client's directory for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

/// The client's directory for one service deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDir {
    dir: PathBuf,
    url: String,
}

/// A file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", path.display())]
pub struct HomeError {
    /// What was being done.
    pub action: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// Why it failed.
    #[source]
    pub source: std::io::Error,
}

impl Home {
    /// `CODITECT_LICENSE_HOME`, else `<OS config dir>/coditect-license`.
    pub fn locate() -> Result<Self, HomeError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Home::locate`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, HomeError> {
        if let Some(root) = lookup(HOME_VAR).filter(|v| !v.trim().is_empty()) {
            return Ok(Self::at(root));
        }
        let config = dirs::config_dir().ok_or_else(|| HomeError {
            action: "find the configuration directory",
            path: PathBuf::from("~"),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("this system names no configuration directory; set {HOME_VAR}"),
            ),
        })?;
        Ok(Self::at(config.join("coditect-license")))
    }

    /// The home at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the deployment at `server_url` (created when first written to).
    pub fn server(&self, server_url: &str) -> ServerDir {
        let url = normalized_url(server_url);
        let digest = Sha256::digest(url.as_bytes());
        let key: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(&url)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(48)
            .collect::<String>();
        ServerDir {
            dir: self.root.join(format!("{host}-{key}")),
            url,
        }
    }
}

/// The URL as the client uses it: no trailing slash.
pub fn normalized_url(server_url: &str) -> String {
    server_url.trim().trim_end_matches('/').to_owned()
}

impl ServerDir {
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The deployment's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The sign-in file.
    pub fn credentials_path(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }

    /// This machine's seat and the latest trusted time.
    pub fn seat_path(&self) -> PathBuf {
        self.dir.join("seat.json")
    }

    /// The pinned lease keys.
    pub fn jwks_path(&self) -> PathBuf {
        self.dir.join("jwks.json")
    }

    /// The lock that serialises read-modify-write of `seat.json` between processes.
    pub fn seat_lock_path(&self) -> PathBuf {
        self.dir.join("seat.lock")
    }

    /// Creates the directory (mode 0700 on Unix) and its `server.txt`.
    pub fn create(&self) -> Result<(), HomeError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir).map_err(|source| HomeError {
            action: "create",
            path: self.dir.clone(),
            source,
        })?;
        let marker = self.dir.join("server.txt");
        if !marker.exists() {
            write_whole(&marker, format!("{}\n", self.url).as_bytes(), false)?;
        }
        Ok(())
    }

    /// Reads `path`; `None` when it does not exist.
    pub fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, HomeError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(HomeError {
                action: "read",
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Replaces `path` with `bytes`, readable by this user only (0600 on Unix).
    pub fn write_private(&self, path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
        self.create()?;
        write_whole(path, bytes, true)
    }

    /// Replaces `path` with `bytes` (public data such as the pinned keys).
    pub fn write_public(&self, path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
        self.create()?;
        write_whole(path, bytes, false)
    }

    /// Removes `path`; nothing when it does not exist.
    pub fn remove(&self, path: &Path) -> Result<(), HomeError> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(HomeError {
                action: "remove",
                path: path.to_owned(),
                source,
            }),
        }
    }
}

/// Writes `bytes` to a fresh temporary file beside `path` (0600 from its creation when
/// `private`), flushes it, and renames it over `path`.
fn write_whole(path: &Path, bytes: &[u8], private: bool) -> Result<(), HomeError> {
    let error = |action, source| HomeError {
        action,
        path: path.to_owned(),
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(
        ".{file_name}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if private { 0o600 } else { 0o644 });
    #[cfg(not(unix))]
    let _ = private;
    let result = options
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(source) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(error("write", source));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> Home {
        Home::at(std::env::temp_dir().join(format!("coditect-home-{}", uuid::Uuid::new_v4())))
    }

    #[test]
    fn the_home_variable_wins_over_the_os_config_dir() {
        let home = Home::from_lookup(|name| (name == HOME_VAR).then(|| "/tmp/elsewhere".into()))
            .expect("a home");
        assert_eq!(home.root(), Path::new("/tmp/elsewhere"));
    }

    #[test]
    fn each_deployment_gets_its_own_directory_whatever_the_trailing_slash() {
        let home = Home::at("/h");
        let a = home.server("https://licensing.coditect.ai/");
        assert_eq!(a, home.server("https://licensing.coditect.ai"));
        assert_ne!(a.dir(), home.server("http://127.0.0.1:8080").dir());
        let dir = a.dir().display().to_string();
        assert!(dir.starts_with("/h/licensing.coditect.ai-"), "{dir}");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_readable_by_their_owner_only_also_when_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let home = scratch();
        let server = home.server("http://127.0.0.1:1");
        let path = server.credentials_path();
        server.write_private(&path, b"first").expect("written");
        server.write_private(&path, b"second").expect("replaced");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(server.dir())
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(
            server.read(&path).expect("read").as_deref(),
            Some(&b"second"[..])
        );
        let leftovers: Vec<_> = std::fs::read_dir(server.dir())
            .expect("listed")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file remains");
        let _ = std::fs::remove_dir_all(home.root());
    }

    #[test]
    fn a_missing_file_reads_as_none_and_removing_it_twice_is_fine() {
        let home = scratch();
        let server = home.server("http://127.0.0.1:1");
        assert!(server.read(&server.seat_path()).expect("read").is_none());
        server
            .remove(&server.seat_path())
            .expect("nothing to remove");
    }
}
