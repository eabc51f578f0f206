//! Temporary directories for the files a test makes, removed when dropped.

use camino::Utf8PathBuf;

/// A fresh temporary directory and the UTF-8 path of a file `name` inside it
/// (not created). Keep the directory alive as long as the path is used.
pub fn temp_lock(name: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::try_from(dir.path().join(name)).unwrap();
    (dir, path)
}
