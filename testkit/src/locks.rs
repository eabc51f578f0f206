//! Which `flock`s a process holds, read from `/proc/<pid>/fdinfo` without
//! any pidkit code, so that lock tests can check the library against the
//! kernel's own account.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The inode number of the file at `path` (panics if it cannot be read).
fn inode(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .ino()
}

/// True if process `pid` has a descriptor that holds a `flock` on the file
/// at `path` (per the `lock:` lines of `/proc/<pid>/fdinfo`).
pub fn process_holds_flock(pid: u32, path: impl AsRef<Path>) -> bool {
    let ino = inode(path.as_ref());
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path()).is_ok_and(|info| {
            info.lines().any(|l| {
                l.starts_with("lock:")
                    && l.contains("FLOCK")
                    && l.split_whitespace()
                        .any(|f| f.rsplit(':').next() == Some(&ino.to_string()))
            })
        })
    })
}

/// The modes (`"READ"` for `LOCK_SH`, `"WRITE"` for `LOCK_EX`) of the
/// `flock`s on `lock:` lines of an fdinfo file that are about inode `ino`
/// (any inode if `None`).
fn flock_modes_in(info: &str, ino: Option<u64>) -> Vec<&'static str> {
    info.lines()
        .filter(|l| l.starts_with("lock:") && l.contains("FLOCK"))
        .filter(|l| {
            ino.is_none_or(|ino| {
                l.split_whitespace()
                    .any(|f| f.rsplit(':').next() == Some(&ino.to_string()))
            })
        })
        .filter_map(|l| {
            if l.contains(" WRITE ") {
                Some("WRITE")
            } else if l.contains(" READ ") {
                Some("READ")
            } else {
                None
            }
        })
        .collect()
}

/// The mode of the `flock` held through `file`'s open file description
/// (`"READ"` for shared, `"WRITE"` for exclusive), per `/proc/self/fdinfo`.
pub fn fd_lock(file: &std::fs::File) -> Option<&'static str> {
    use std::os::unix::io::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap();
    let modes = flock_modes_in(&info, None);
    assert!(modes.len() <= 1, "{info}");
    modes.first().copied()
}

/// The modes of the `flock`s that process `pid`'s descriptors hold on the
/// file at `path`, one per descriptor, sorted.
pub fn flock_modes(pid: u32, path: impl AsRef<Path>) -> Vec<&'static str> {
    let ino = inode(path.as_ref());
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    let mut modes: Vec<&'static str> = entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .flat_map(|info| flock_modes_in(&info, Some(ino)))
        .collect();
    modes.sort_unstable();
    modes
}
