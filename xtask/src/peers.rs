//! `cargo xtask bench --peers`: fetches and builds the peers the benchmark
//! compares pidkit with, without changing the machine's configuration.
//!
//! Everything goes under one cache directory (`$PIDKIT_PEERS_DIR`, else
//! `$XDG_CACHE_HOME/pidkit/peers`, else `~/.cache/pidkit/peers`):
//!
//! - Go ≥ 1.23: the `go` on `PATH` if it is new enough, else
//!   `golang-1.24-go` and `golang-1.24-src` from Debian trixie, downloaded
//!   with apt-get through a private sources list, state and cache
//!   (`apt/`), and unpacked with `dpkg-deb -x` (`go/`); nothing is
//!   installed and the system's apt state is not touched. The Go peer
//!   (`bench/peers/go`) is built with a private GOCACHE and GOPATH.
//! - psutil: `python3 -m venv venv` and `pip install psutil` from PyPI.
//! - util-linux 2.42's `getino` and `waitpid` for the `PID:inode` interop
//!   tests of `cargo xtask test`: `util-linux`, `util-linux-extra` and
//!   `libc6` from Debian sid, fetched and unpacked the same way
//!   (`apt-util-linux/`, `util-linux/`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::{self, Cmd};

/// The Debian release and packages Go comes from.
const GO_SOURCE: &str = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main";
const GO_PACKAGES: [&str; 2] = ["golang-1.24-go", "golang-1.24-src"];
/// Where the packages put the Go tree, below the unpack directory.
const GO_ROOT: &str = "usr/lib/go-1.24";

/// The cache directory of the peers.
pub(crate) fn cache_dir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("PIDKIT_PEERS_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("pidkit").join("peers"));
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache").join("pidkit").join("peers"))
        .ok_or_else(|| "neither PIDKIT_PEERS_DIR, XDG_CACHE_HOME nor HOME is set".into())
}

fn run(cmd: Cmd, what: &str) -> Result<(), String> {
    println!("$ {}", cmd.display());
    let out = exec::run(&cmd);
    if out.finish.success() {
        Ok(())
    } else {
        Err(format!("{what}: {}", out.finish.describe()))
    }
}

fn mkdirs(dirs: &[&Path]) -> Result<(), String> {
    for d in dirs {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    Ok(())
}

/// `go1.24.4` -> (1, 24).
pub(crate) fn go_version(text: &str) -> Option<(u32, u32)> {
    let v = text.trim().strip_prefix("go")?;
    let mut it = v.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// A `go` binary of version 1.23 or newer: `PATH`'s, the cached one, or one
/// fetched now.
fn go_binary(cache: &Path) -> Result<PathBuf, String> {
    let new_enough = |go: &str| {
        exec::output_of(go, &["env", "GOVERSION"], Duration::from_secs(60))
            .and_then(|v| go_version(&v))
            .is_some_and(|v| v >= (1, 23))
    };
    if new_enough("go") {
        return Ok(PathBuf::from("go"));
    }
    let cached = cache.join("go").join(GO_ROOT).join("bin").join("go");
    if new_enough(&cached.to_string_lossy()) {
        return Ok(cached);
    }
    fetch_go(cache)?;
    if new_enough(&cached.to_string_lossy()) {
        Ok(cached)
    } else {
        Err(format!("{} does not run after unpacking", cached.display()))
    }
}

/// Downloads Go from Debian with a private apt configuration and unpacks it.
fn fetch_go(cache: &Path) -> Result<(), String> {
    fetch_debs(
        &cache.join("apt"),
        GO_SOURCE,
        &GO_PACKAGES,
        &cache.join("go"),
    )
}

/// Downloads `packages` from the apt `source` line with a private sources
/// list, state and cache under `apt` (the machine's apt state is not
/// touched, nothing is installed), and unpacks them with `dpkg-deb -x`
/// into a fresh `root`.
pub(crate) fn fetch_debs(
    apt: &Path,
    source: &str,
    packages: &[&str],
    root: &Path,
) -> Result<(), String> {
    let (etc, state, acache, debs) = (
        apt.join("etc"),
        apt.join("state"),
        apt.join("cache"),
        apt.join("debs"),
    );
    mkdirs(&[
        &etc,
        &state.join("lists").join("partial"),
        &acache.join("archives").join("partial"),
        &debs,
    ])?;
    let sources = etc.join("sources.list");
    let status = apt.join("status");
    let write = |p: &Path, text: &str| {
        std::fs::write(p, text).map_err(|e| format!("writing {}: {e}", p.display()))
    };
    write(&sources, &format!("{source}\n"))?;
    write(&status, "")?;
    let apt_get = || {
        Cmd::new("apt-get")
            .arg("-q")
            .arg("-o")
            .arg(format!("Dir::Etc::SourceList={}", sources.display()))
            .args(["-o", "Dir::Etc::SourceParts=/nonexistent"])
            .arg("-o")
            .arg(format!("Dir::State={}", state.display()))
            .arg("-o")
            .arg(format!("Dir::State::status={}", status.display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", acache.display()))
            .args(["-o", "Debug::NoLocking=1"])
            // Root downloads into a directory `_apt` cannot write.
            .args(["-o", "APT::Sandbox::User=root"])
    };
    run(
        apt_get().arg("update").timeout(Duration::from_secs(600)),
        "apt-get update (private sources list)",
    )?;
    // `download` writes into the current directory; old downloads go first
    // so that only these versions are unpacked.
    if let Ok(entries) = std::fs::read_dir(&debs) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    run(
        apt_get()
            .arg("download")
            .args(packages)
            .current_dir(&debs)
            .timeout(Duration::from_secs(900)),
        "apt-get download",
    )?;
    let _ = std::fs::remove_dir_all(root);
    mkdirs(&[root])?;
    let mut debs_found: Vec<PathBuf> = std::fs::read_dir(&debs)
        .map_err(|e| format!("reading {}: {e}", debs.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    debs_found.sort();
    if debs_found.len() != packages.len() {
        return Err(format!(
            "expected {} .deb files in {}, found {}",
            packages.len(),
            debs.display(),
            debs_found.len()
        ));
    }
    for deb in debs_found {
        run(
            Cmd::new("dpkg-deb")
                .arg("-x")
                .arg(&deb)
                .arg(root)
                .timeout(Duration::from_secs(600)),
            "dpkg-deb -x",
        )?;
    }
    Ok(())
}

/// The Debian release and packages util-linux 2.42's `getino` and
/// `waitpid` come from (they need only the C library, which comes along so
/// that they run through its own loader whatever the host's is).
const UTIL_LINUX_SOURCE: &str = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main";
const UTIL_LINUX_PACKAGES: [&str; 3] = ["util-linux", "util-linux-extra", "libc6"];

/// Debian sid's `getino` and `waitpid` (util-linux 2.42+) unpacked under
/// `<cache>/util-linux`, fetched if not there yet; returns that root (the
/// tests find it in `PIDKIT_UTIL_LINUX_ROOT`).
pub(crate) fn util_linux_root(cache: &Path) -> Result<PathBuf, String> {
    let root = cache.join("util-linux");
    let ready = |root: &Path| {
        [
            "usr/bin/getino",
            "usr/bin/waitpid",
            "usr/lib64/ld-linux-x86-64.so.2",
        ]
        .iter()
        .all(|p| root.join(p).exists())
    };
    if !ready(&root) {
        fetch_debs(
            &cache.join("apt-util-linux"),
            UTIL_LINUX_SOURCE,
            &UTIL_LINUX_PACKAGES,
            &root,
        )?;
    }
    if ready(&root) {
        Ok(root)
    } else {
        Err(format!(
            "{} has no getino, waitpid and loader after unpacking",
            root.display()
        ))
    }
}

/// Fetches Go if needed and builds the Go peer; returns the binary.
pub(crate) fn go_peer(workspace: &Path, cache: &Path) -> Result<PathBuf, String> {
    let go = go_binary(cache)?;
    let bin = cache.join("bin").join("pidkit-go-peer");
    mkdirs(&[&cache.join("bin")])?;
    run(
        Cmd::new(&go)
            .args(["build", "-trimpath", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(workspace.join("bench").join("peers").join("go"))
            .env("GOTOOLCHAIN", "local")
            .env("GOTELEMETRY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0")
            .env("GOCACHE", cache.join("gocache"))
            .env("GOPATH", cache.join("gopath"))
            .timeout(Duration::from_secs(900)),
        "building the Go peer",
    )?;
    Ok(bin)
}

/// A virtualenv with psutil; returns its python.
pub(crate) fn psutil_python(cache: &Path) -> Result<PathBuf, String> {
    let venv = cache.join("venv");
    let python = venv.join("bin").join("python");
    let has_psutil = || {
        exec::output_of(
            &python.to_string_lossy(),
            &["-c", "import psutil; print(psutil.__version__)"],
            Duration::from_secs(60),
        )
        .is_some()
    };
    if has_psutil() {
        return Ok(python);
    }
    mkdirs(&[cache])?;
    run(
        Cmd::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .timeout(Duration::from_secs(300)),
        "python3 -m venv",
    )?;
    run(
        Cmd::new(venv.join("bin").join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "psutil",
            ])
            .timeout(Duration::from_secs(900)),
        "pip install psutil",
    )?;
    if has_psutil() {
        Ok(python)
    } else {
        Err(format!("{} cannot import psutil", python.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions() {
        assert_eq!(go_version("go1.24.4\n"), Some((1, 24)));
        assert_eq!(go_version("go1.23"), Some((1, 23)));
        assert_eq!(go_version("go1.22.1"), Some((1, 22)));
        assert_eq!(go_version("devel go1.25"), None);
        assert_eq!(go_version(""), None);
        assert!(go_version("go1.22.9").unwrap() < (1, 23));
    }
}
