//! Debian's kernels for the matrix: the newest `linux-image-amd64` of a suite,
//! fetched with apt through a private sources list, state and cache (the
//! machine's apt configuration is never read or changed), cached and unpacked.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::{APT_LIMIT, Kernel};
use crate::exec::Cmd;
use crate::report::Report;

/// apt with a private sources list, state and cache under `dir`.
fn apt(dir: &Path, program: &str) -> Cmd {
    // Each of apt's directories and files, as a path under `dir`.
    let paths = [
        ("Dir::Etc::SourceList", "sources.list"),
        ("Dir::Etc::SourceParts", "parts"),
        ("Dir::Etc::Preferences", "preferences"),
        ("Dir::Etc::PreferencesParts", "parts"),
        ("Dir::State", "state"),
        ("Dir::State::status", "state/status"),
        ("Dir::Cache", "cache"),
    ];
    let mut cmd = Cmd::new(program);
    for (option, under) in paths {
        cmd = cmd
            .arg("-o")
            .arg(format!("{option}={}", dir.join(under).display()));
    }
    cmd.args(["-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"])
        .args([
            "-o",
            "APT::Architecture=amd64",
            "-o",
            "Acquire::Languages=none",
        ])
        .timeout(APT_LIMIT)
}

pub(super) fn quiet(r: &Report, cmd: Cmd) -> Result<String, String> {
    let shown = cmd.display();
    let out = r.exec(cmd.capture_stdout().capture_stderr());
    if out.finish.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "`{shown}` failed: {}: {}",
            out.finish.describe(),
            out.stderr.trim()
        ))
    }
}

/// Fetches (or finds cached) the suite's newest kernel; returns the directory
/// it is unpacked in and its version string.
pub(super) fn fetch_kernel(
    r: &Report,
    cache: &Path,
    k: Kernel,
) -> Result<(PathBuf, String), String> {
    let dir = cache.join("apt").join(k.suite);
    for sub in [
        "state/lists/partial",
        "cache/archives/partial",
        "debs",
        "parts",
    ] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let status = dir.join("state").join("status");
    if !status.exists() {
        fs::write(&status, "").map_err(|e| format!("{}: {e}", status.display()))?;
    }
    let key = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
    let mut sources = format!("deb {key} http://deb.debian.org/debian {} main\n", k.suite);
    if k.security {
        let _ = writeln!(
            sources,
            "deb {key} http://deb.debian.org/debian-security {}-security main",
            k.suite
        );
    }
    fs::write(dir.join("sources.list"), sources).map_err(|e| format!("sources.list: {e}"))?;
    quiet(r, apt(&dir, "apt-get").arg("update"))?;
    let depends = quiet(
        r,
        apt(&dir, "apt-cache").args(["depends", "linux-image-amd64"]),
    )?;
    let package = parse_image_depends(&depends).ok_or_else(|| {
        format!(
            "{}: linux-image-amd64 names no kernel image:\n{depends}",
            k.suite
        )
    })?;
    // Since 7.x the image package is a shell around linux-binary-* (the
    // kernel) and linux-modules-* (its modules): fetch those too.
    let image_deps = quiet(r, apt(&dir, "apt-cache").args(["depends", &package]))?;
    let mut packages = vec![package.clone()];
    packages.extend(parse_split_packages(&image_deps));
    let mut debs_of = Vec::new();
    let mut version = String::new();
    for (i, pkg) in packages.iter().enumerate() {
        let policy = quiet(r, apt(&dir, "apt-cache").args(["policy", pkg]))?;
        let v = policy
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate:"))
            .map(|v| v.trim().to_owned())
            .filter(|v| v != "(none)")
            .ok_or_else(|| format!("{}: no candidate for {pkg}", k.suite))?;
        if i == 0 {
            version = v.clone();
        }
        let debs = dir.join("debs");
        let deb = debs.join(format!("{pkg}_{}_amd64.deb", v.replace(':', "%3a")));
        if !deb.is_file() {
            quiet(
                r,
                apt(&dir, "apt-get")
                    .args(["download", &format!("{pkg}={v}")])
                    .current_dir(&debs),
            )?;
            if !deb.is_file() {
                return Err(format!("apt-get download left no {}", deb.display()));
            }
        }
        debs_of.push(deb);
    }
    let unpacked = cache.join("kernels").join(format!("{package}_{version}"));
    let done = unpacked.join(".unpacked");
    if !done.exists() {
        let _ = fs::remove_dir_all(&unpacked);
        fs::create_dir_all(&unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))?;
        for deb in &debs_of {
            quiet(
                r,
                Cmd::new("dpkg-deb")
                    .arg("-x")
                    .arg(deb)
                    .arg(&unpacked)
                    .timeout(APT_LIMIT),
            )?;
        }
        fs::write(&done, "").map_err(|e| format!("{}: {e}", done.display()))?;
    }
    // Remove older unpacked kernels of the same package.
    if let Ok(entries) = fs::read_dir(cache.join("kernels")) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&format!("{package}_")) && e.path() != unpacked {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok((unpacked, format!("{package} {version}")))
}

/// The packages an image package splits its kernel and modules into
/// (`linux-binary-*`, `linux-modules-*`; none before 7.x).
fn parse_split_packages(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .filter(|p| p.starts_with("linux-binary-") || p.starts_with("linux-modules-"))
        .filter(|p| !p.contains('<'))
        .map(str::to_owned)
        .collect()
}

/// The kernel image package `apt-cache depends linux-image-amd64` names.
fn parse_image_depends(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && !p.contains('<'))
        .map(str::to_owned)
}

/// Where an unpacked kernel package keeps its modules and image: the modules
/// directory of its one release, the release, and the `vmlinuz`.
pub(super) fn locate(root: &Path) -> Result<(PathBuf, String, PathBuf), String> {
    // Merged-/usr packages (trixie on) ship their modules under /usr/lib.
    let modules_root = [
        root.join("lib").join("modules"),
        root.join("usr/lib/modules"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
    .ok_or_else(|| format!("no lib/modules or usr/lib/modules in {}", root.display()))?;
    let release = fs::read_dir(&modules_root)
        .map_err(|e| format!("{}: {e}", modules_root.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .ok_or("the kernel package has no modules directory")?;
    let vmlinuz = [
        root.join("boot"),
        root.join("usr/lib/linux"),
        root.join(format!("usr/lib/modules/{release}")),
        root.join(format!("lib/modules/{release}")),
    ]
    .iter()
    .flat_map(|d| [d.join(format!("vmlinuz-{release}")), d.join("vmlinuz")])
    .find(|p| p.is_file())
    .unwrap_or_else(|| root.join("boot").join(format!("vmlinuz-{release}")));
    if !vmlinuz.is_file() {
        return Err(format!("no {}", vmlinuz.display()));
    }
    Ok((modules_root.join(&release), release, vmlinuz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_packages() {
        let text = "linux-image-7.2.13+deb14-amd64\n  PreDepends: linux-base\n |Depends: dracut\n  Depends: <linux-initramfs-tool>\n  Depends: linux-base-7.2.13+deb14-amd64\n  Depends: linux-binary-7.2.13+deb14-amd64\n  Depends: linux-modules-7.2.13+deb14-amd64\n";
        assert_eq!(
            parse_split_packages(text),
            [
                "linux-binary-7.2.13+deb14-amd64",
                "linux-modules-7.2.13+deb14-amd64"
            ]
        );
        assert!(parse_split_packages("linux-image-5.10.0-46-amd64\n  Depends: kmod\n").is_empty());
    }

    #[test]
    fn image_depends() {
        let text = "linux-image-amd64\n  Depends: linux-image-5.10.0-46-amd64\n";
        assert_eq!(
            parse_image_depends(text).as_deref(),
            Some("linux-image-5.10.0-46-amd64")
        );
        assert_eq!(parse_image_depends("linux-image-amd64\n"), None);
        let alt =
            "x\n |Depends: linux-image-7.0.1-amd64\n  Depends: linux-image-7.0.1-amd64-unsigned\n";
        assert_eq!(
            parse_image_depends(alt).as_deref(),
            Some("linux-image-7.0.1-amd64")
        );
    }
}
