//! The steps on a lock file that every operation shares: the `flock`
//! calls, the positional read of the content, and the checks around `open`
//! (what a failed open means, planted files, the parent directory).

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use camino::Utf8Path;
use fs4::fs_std::FileExt as Flock;
use rustix::io::Errno;

use crate::error::{Error, Op, classify};
use crate::held::FileId;

/// Bytes read by the first (and, for small files, only) positional read.
const FIRST_READ: usize = 128;

/// [`Error::ProtectedBySticky`] if a file of `owner_uid` at `path` lies in a
/// sticky world-writable directory that belongs to someone else: a file
/// anyone may have planted there (the rule of `fs.protected_regular`).
fn planted(path: &Utf8Path, owner_uid: u32) -> Option<Error> {
    let dir = std::fs::metadata(parent_dir(path)).ok()?;
    let sticky_world_writable = dir.mode() & 0o1002 == 0o1002;
    (sticky_world_writable && owner_uid != dir.uid()).then(|| Error::ProtectedBySticky {
        path: path.to_owned(),
        owner_uid,
    })
}

/// Classifies a failed `open`, looking at the file system where the errno alone
/// is ambiguous. Only runs on the error path.
pub(crate) fn open_error(path: &Utf8Path, creating: bool, source: io::Error) -> Error {
    let errno = Errno::from_io_error(&source);
    // O_NOFOLLOW reports a symlink in the last component as ELOOP; a loop
    // further up the path gives the same errno, so look. With O_CREAT, a
    // symlink of another user in a sticky world-writable directory gives
    // EACCES instead (the kernel's sticky check refuses any such symlink).
    let maybe_symlink = errno == Some(Errno::LOOP) || (creating && errno == Some(Errno::ACCESS));
    if maybe_symlink && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Error::Symlink {
            path: path.to_owned(),
        };
    }
    if creating && source.kind() == io::ErrorKind::NotFound {
        return Error::MissingParent {
            path: path.to_owned(),
        };
    }
    if creating && errno == Some(Errno::ACCESS) {
        // What `fs.protected_regular` refuses: the owner is the file's at the path.
        let planted = std::fs::symlink_metadata(path)
            .ok()
            .and_then(|file| planted(path, file.uid()));
        if let Some(error) = planted {
            return error;
        }
    }
    classify(path, Op::Open, source)
}

/// Refuses, after the open and before the lock, a regular file that someone
/// else may have planted in a sticky world-writable directory (see
/// [`Error::ProtectedBySticky`]): what the kernel refuses when
/// `fs.protected_regular` is set, refused here when it is not. The owner is
/// taken from the open file itself, so a swap of the path in between changes
/// nothing; a file of the caller's own is never refused (one fstat).
/// Returns the file's identity, from the same fstat.
pub(crate) fn refuse_planted(file: &File, path: &Utf8Path) -> Result<FileId, Error> {
    let meta = file.metadata().map_err(|e| classify(path, Op::Open, e))?;
    let id = FileId::of(&meta);
    if meta.uid() == rustix::process::geteuid().as_raw() || !meta.file_type().is_file() {
        return Ok(id);
    }
    match planted(path, meta.uid()) {
        Some(error) => Err(error),
        None => Ok(id),
    }
}

/// The identity of an open lock file (one fstat); a failure counts as a
/// failed read of it.
pub(crate) fn file_id(file: &File, path: &Utf8Path) -> Result<FileId, Error> {
    file.metadata()
        .map(|meta| FileId::of(&meta))
        .map_err(|e| classify(path, Op::Read, e))
}

/// The directory that holds `path`'s entry: `.` for a bare file name.
pub(crate) fn parent_dir(path: &Utf8Path) -> &Utf8Path {
    match path.parent() {
        Some(p) if !p.as_str().is_empty() => p,
        _ => Utf8Path::new("."),
    }
}

// The `flock` calls go through fs4 by their trait path: since Rust 1.89 `File`
// has inherent `try_lock_shared` and `unlock` methods (with other signatures)
// that method syntax would pick instead, and the crate's MSRV is older.

/// Takes `flock(LOCK_EX | LOCK_NB)`; `Ok(false)` when someone else holds a
/// lock.
pub(crate) fn try_lock(file: &File, path: &Utf8Path) -> Result<bool, Error> {
    Flock::try_lock_exclusive(file).map_err(|e| classify(path, Op::Lock, e))
}

/// `flock(LOCK_UN)`.
pub(crate) fn unlock(file: &File, path: &Utf8Path) -> Result<(), Error> {
    Flock::unlock(file).map_err(|e| classify(path, Op::Unlock, e))
}

/// Reads the whole file with positional reads from offset 0.
///
/// For content shorter than [`FIRST_READ`] bytes this is a single `pread(2)`
/// into a stack buffer: a regular file returns fewer bytes than asked for only
/// at its end. Longer content doubles the buffer and reads on from where the
/// last read stopped. The bytes are returned as they are: a lock file's
/// content is whatever its holder wrote.
pub(crate) fn read_content(file: &File, path: &Utf8Path) -> Result<Vec<u8>, Error> {
    let read_at = |buf: &mut [u8], offset: usize| loop {
        match file.read_at(buf, offset as u64) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other.map_err(|e| classify(path, Op::Read, e)),
        }
    };
    let mut first = [0u8; FIRST_READ];
    let n = read_at(&mut first, 0)?;
    Ok(if n < FIRST_READ {
        first[..n].to_vec()
    } else {
        let mut buf = first.to_vec();
        let mut filled = n;
        loop {
            buf.resize(buf.len() * 2, 0);
            let n = read_at(&mut buf[filled..], filled)?;
            filled += n;
            if n == 0 || filled < buf.len() {
                break;
            }
        }
        buf.truncate(filled);
        buf
    })
}

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;

    use super::*;

    #[test]
    fn parent_of_bare_name_is_dot() {
        assert_eq!(parent_dir(Utf8Path::new("x.lock")), Utf8Path::new("."));
        assert_eq!(parent_dir(Utf8Path::new("/x.lock")), Utf8Path::new("/"));
        assert_eq!(
            parent_dir(Utf8Path::new("a/b/x.lock")),
            Utf8Path::new("a/b")
        );
    }

    /// The classification behind [`Error::ProtectedBySticky`]: the kernel only
    /// refuses when `fs.protected_regular` is set, which a test must not change
    /// for the whole machine, so the detection is checked on its own.
    #[test]
    fn planted_is_a_foreign_file_in_a_sticky_world_writable_dir() {
        use std::os::unix::fs::PermissionsExt;
        if !testkit::require(testkit::is_root(), "root, to own the directory as uid 0") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let sticky = dir.path().join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        let path = Utf8PathBuf::try_from(sticky.join("a.lock")).unwrap();
        let mode = |m| std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(m));

        mode(0o777).unwrap();
        assert!(planted(&path, 65534).is_none(), "not sticky");
        mode(0o1755).unwrap();
        assert!(planted(&path, 65534).is_none(), "not world-writable");
        mode(0o1777).unwrap();
        assert!(
            planted(&path, 0).is_none(),
            "owned by the directory's owner"
        );
        let err = planted(&path, 65534).unwrap();
        assert!(
            matches!(&err, Error::ProtectedBySticky { path: p, owner_uid: 65534 } if *p == path),
            "{err:?}"
        );
        assert!(err.to_string().starts_with(&format!(
            "cannot open lock file {path}: it belongs to uid 65534"
        )));
    }
}
