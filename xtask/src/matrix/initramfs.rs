//! The kernel-matrix guests' initramfs: a `newc` cpio archive (the format the
//! kernel unpacks, `Documentation/driver-api/early-userspace/buffer-format.rst`)
//! holding the static guest init as `/init`, the kernel's own modules it needs
//! (decompressed, so `finit_module` takes them on any kernel) and their load
//! order. Written here rather than with cpio(1), which machines often lack.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A module ready for the initramfs: its name and its uncompressed image.
#[derive(Debug)]
pub(crate) struct Module {
    pub(crate) name: String,
    pub(crate) image: Vec<u8>,
}

/// Module names compare with `-` and `_` alike, as modprobe does.
fn norm(name: &str) -> String {
    name.replace('-', "_")
}

/// The module file's name without its `.ko[.xz|.zst|.gz]` ending.
fn module_name(file: &str) -> Option<&str> {
    let stem = file
        .strip_suffix(".ko")
        .or_else(|| file.strip_suffix(".ko.xz"))
        .or_else(|| file.strip_suffix(".ko.zst"))
        .or_else(|| file.strip_suffix(".ko.gz"))?;
    Some(stem)
}

fn index(dir: &Path, into: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            index(&path, into);
        } else if let Some(name) = module_name(&e.file_name().to_string_lossy()) {
            into.insert(norm(name), path);
        }
    }
}

fn decompress(path: &Path) -> Result<Vec<u8>, String> {
    let s = path.to_string_lossy();
    let tool = if s.ends_with(".xz") {
        "xz"
    } else if s.ends_with(".zst") {
        "zstd"
    } else if s.ends_with(".gz") {
        "gzip"
    } else {
        return fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    };
    let out = std::process::Command::new(tool)
        .args(["-dc"])
        .arg(path)
        .output()
        .map_err(|e| format!("{tool} -dc {}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!("{tool} -dc {}: {}", path.display(), out.status));
    }
    Ok(out.stdout)
}

/// The `depends=` field of a module's `.modinfo` section.
pub(crate) fn depends(image: &[u8]) -> Vec<String> {
    let key = b"depends=";
    let Some(at) = image.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    // Only a field that starts a string of the section (after a NUL) counts.
    if at > 0 && image[at - 1] != 0 {
        return depends(&image[at + key.len()..]);
    }
    let rest = &image[at + key.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(norm)
        .collect()
}

/// `wanted` and everything they depend on, in an order the kernel can load
/// them (dependencies first). Names not found among the kernel's module files
/// are built in and need no loading.
pub(crate) fn guest_modules(release_dir: &Path, wanted: &[&str]) -> Result<Vec<Module>, String> {
    let mut files = BTreeMap::new();
    index(&release_dir.join("kernel"), &mut files);
    if files.is_empty() {
        return Err(format!("no modules under {}", release_dir.display()));
    }
    let mut done: Vec<Module> = Vec::new();
    let mut visiting = Vec::new();
    fn visit(
        name: &str,
        files: &BTreeMap<String, PathBuf>,
        done: &mut Vec<Module>,
        visiting: &mut Vec<String>,
    ) -> Result<(), String> {
        if done.iter().any(|m| m.name == name) || visiting.iter().any(|v| v == name) {
            return Ok(());
        }
        let Some(path) = files.get(name) else {
            return Ok(()); // built into the kernel
        };
        visiting.push(name.to_owned());
        let image = decompress(path)?;
        for dep in depends(&image) {
            visit(&dep, files, done, visiting)?;
        }
        visiting.pop();
        done.push(Module {
            name: name.to_owned(),
            image,
        });
        Ok(())
    }
    for w in wanted {
        visit(&norm(w), &files, &mut done, &mut visiting)?;
    }
    Ok(done)
}

/// One `newc` entry.
fn entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) {
    let header = format!(
        "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{mtime:08x}{size:08x}{dmaj:08x}{dmin:08x}{rmaj:08x}{rmin:08x}{namesize:08x}{check:08x}",
        uid = 0,
        gid = 0,
        nlink = if mode & 0o040000 != 0 { 2 } else { 1 },
        mtime = 0,
        size = data.len(),
        dmaj = 0,
        dmin = 0,
        rmaj = rdev.0,
        rmin = rdev.1,
        namesize = name.len() + 1,
        check = 0,
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// The archive's bytes: directories, `/dev/console`, `/init`, the modules and
/// `/modules.order`.
pub(crate) fn archive(init: &[u8], modules: &[Module]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ino = 1;
    let mut next = || {
        ino += 1;
        ino
    };
    for dir in ["dev", "proc", "sys", "newroot", "modules"] {
        entry(&mut out, next(), dir, 0o040755, &[], (0, 0));
    }
    entry(&mut out, next(), "dev/console", 0o020600, &[], (5, 1));
    entry(&mut out, next(), "init", 0o100755, init, (0, 0));
    let mut order = String::new();
    for m in modules {
        let file = format!("{}.ko", m.name);
        entry(
            &mut out,
            next(),
            &format!("modules/{file}"),
            0o100644,
            &m.image,
            (0, 0),
        );
        order.push_str(&file);
        order.push('\n');
    }
    entry(
        &mut out,
        next(),
        "modules.order",
        0o100644,
        order.as_bytes(),
        (0, 0),
    );
    entry(&mut out, 0, "TRAILER!!!", 0, &[], (0, 0));
    while out.len() % 512 != 0 {
        out.push(0);
    }
    out
}

/// Writes the initramfs for `modules` with the init binary at `init`.
pub(crate) fn write(path: &Path, init: &Path, modules: &[Module]) -> Result<(), String> {
    let init = fs::read(init).map_err(|e| format!("{}: {e}", init.display()))?;
    fs::write(path, archive(&init, modules)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_field() {
        let image =
            b"\x7fELF junk depends=x\0more\0license=GPL\0depends=virtio,virtio_ring\0name=x\0";
        assert_eq!(depends(image), ["virtio", "virtio_ring"]);
        assert!(depends(b"\0depends=\0").is_empty());
        assert!(depends(b"nothing here").is_empty());
        assert_eq!(depends(b"\0depends=a-b\0"), ["a_b"]);
    }

    #[test]
    fn names() {
        assert_eq!(module_name("9p.ko.xz"), Some("9p"));
        assert_eq!(module_name("virtio_pci.ko"), Some("virtio_pci"));
        assert_eq!(module_name("9pnet.ko.zst"), Some("9pnet"));
        assert_eq!(module_name("README"), None);
    }

    #[test]
    fn newc_layout() {
        let a = archive(
            b"ELF",
            &[Module {
                name: "m".into(),
                image: vec![1, 2, 3],
            }],
        );
        assert_eq!(a.len() % 512, 0);
        assert!(a.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("init\0"));
        assert!(text.contains("modules/m.ko\0"));
        assert!(text.contains("TRAILER!!!\0"));
        // Every header is 110 bytes and starts 4-byte aligned.
        for (i, _) in text.match_indices("070701") {
            assert_eq!(i % 4, 0);
        }
    }
}
