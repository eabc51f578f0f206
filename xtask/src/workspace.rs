//! Facts about the workspace and the toolchain that the tasks need: the host
//! triple, whether cargo-nextest is installed, the target directory and which
//! packages are published.

use std::path::PathBuf;
use std::time::Duration;

use crate::exec::output_of;
use serde_json::Value;

const PROBE_LIMIT: Duration = Duration::from_secs(120);

/// True under CI (`CI=true` or `CI=1`, as CI services and `.ci/run` set it).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// True when `CARGO_NET_OFFLINE` asks cargo not to use the network.
pub(crate) fn offline() -> bool {
    std::env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true" || v == "1")
}

/// The host target triple, from the `host:` line of `rustc -vV` (`$RUSTC` if set).
pub(crate) fn host_triple() -> Result<String, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let text =
        output_of(&rustc, &["-vV"], PROBE_LIMIT).ok_or_else(|| format!("`{rustc} -vV` failed"))?;
    parse_host(&text).ok_or_else(|| format!("no `host:` line in `{rustc} -vV` output"))
}

fn parse_host(rustc_vv: &str) -> Option<String> {
    rustc_vv
        .lines()
        .find_map(|l| l.strip_prefix("host:"))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The environment variable that sets cargo's target runner for `triple`:
/// `CARGO_TARGET_<TRIPLE>_RUNNER`, the triple upper-cased with `-` and `.` as `_`.
pub(crate) fn runner_env_var(triple: &str) -> String {
    let t: String = triple
        .chars()
        .map(|c| {
            if c == '-' || c == '.' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    format!("CARGO_TARGET_{t}_RUNNER")
}

/// The installed cargo-nextest's version line, if `cargo nextest --version` works.
pub(crate) fn nextest_version() -> Option<String> {
    let out = output_of("cargo", &["nextest", "--version"], PROBE_LIMIT)?;
    out.lines().next().map(|l| l.trim().to_owned())
}

/// What `cargo metadata --no-deps` says about the workspace.
#[derive(Debug)]
pub(crate) struct Metadata {
    /// The target directory (honours `CARGO_TARGET_DIR` and cargo config).
    pub(crate) target_dir: PathBuf,
    /// Members that may be published (`publish` not `false`), sorted.
    pub(crate) publishable: Vec<String>,
    /// Members with `publish = false`, sorted.
    pub(crate) unpublished: Vec<String>,
}

/// Runs `cargo metadata --no-deps --format-version 1` and reads it.
pub(crate) fn metadata() -> Result<Metadata, String> {
    let text = output_of(
        "cargo",
        &["metadata", "--no-deps", "--format-version", "1"],
        PROBE_LIMIT,
    )
    .ok_or("`cargo metadata --no-deps` failed (is every Cargo.toml valid?)")?;
    parse_metadata(&text)
}

fn parse_metadata(text: &str) -> Result<Metadata, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("cargo metadata: {e}"))?;
    let target_dir = doc
        .get("target_directory")
        .and_then(Value::as_str)
        .ok_or("cargo metadata: no target_directory")?;
    let packages = doc
        .get("packages")
        .and_then(Value::as_array)
        .ok_or("cargo metadata: no packages")?;
    let mut publishable = Vec::new();
    let mut unpublished = Vec::new();
    for p in packages {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or("cargo metadata: unnamed package")?;
        // `publish`: null = any registry; [] = publish = false; [names] = those registries.
        match p.get("publish") {
            Some(Value::Array(regs)) if regs.is_empty() => unpublished.push(name.to_owned()),
            _ => publishable.push(name.to_owned()),
        }
    }
    publishable.sort();
    unpublished.sort();
    Ok(Metadata {
        target_dir: PathBuf::from(target_dir),
        publishable,
        unpublished,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_line() {
        let vv = "rustc 1.95.0 (x 2026-01-01)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\n";
        assert_eq!(parse_host(vv).as_deref(), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(parse_host("rustc 1.0\n"), None);
        assert_eq!(
            runner_env_var("x86_64-unknown-linux-gnu"),
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER"
        );
        assert_eq!(
            runner_env_var("thumbv7m.x-y"),
            "CARGO_TARGET_THUMBV7M_X_Y_RUNNER"
        );
    }

    #[test]
    fn publish_flags() {
        let text = r#"{"packages":[{"name":"b","publish":null},{"name":"xtask","publish":[]},
            {"name":"a","publish":["crates-io"]}],"target_directory":"/w/target"}"#;
        let m = parse_metadata(text).unwrap();
        assert_eq!(m.publishable, ["a", "b"]);
        assert_eq!(m.unpublished, ["xtask"]);
        assert_eq!(m.target_dir, PathBuf::from("/w/target"));
    }

    #[test]
    fn malformed_metadata_is_an_error_naming_what_is_missing() {
        for (bad, says) in [
            ("", "cargo metadata: EOF"),
            ("{\"packages\":[]}", "no target_directory"),
            ("{\"target_directory\":\"/t\"}", "no packages"),
            (
                "{\"target_directory\":\"/t\",\"packages\":[{\"publish\":null}]}",
                "unnamed package",
            ),
        ] {
            let e = parse_metadata(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?} gave {e:?}, wanted {says:?}");
        }
    }

    #[test]
    fn real_workspace_metadata() {
        let m = metadata().unwrap();
        assert!(m.unpublished.iter().any(|p| p == "xtask"), "{m:?}");
        assert!(
            !m.publishable
                .iter()
                .any(|p| p == "xtask" || p == "pidkit-testkit"),
            "{m:?}"
        );
    }
}
