//! The file descriptor table: counting and listing it, raising or filling
//! it up to `RLIMIT_NOFILE`, and finding an errno in an error's chain.

use std::io;

/// Raises this process's soft `RLIMIT_NOFILE` to at least `want` (capped at
/// the hard limit, which root may raise too), for a test that holds more
/// descriptors than the distributions' default soft limit of 1024 allows.
/// Returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let cur = lim.current.unwrap_or(u64::MAX);
    if cur >= want {
        return cur;
    }
    let hard = lim.maximum.unwrap_or(u64::MAX);
    if hard < want
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: Some(want),
            },
        )
        .is_ok()
    {
        return want;
    }
    let new = want.min(hard);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(new),
            maximum: lim.maximum,
        },
    )
    .expect("raising the soft RLIMIT_NOFILE");
    new
}

/// Number of open file descriptors of this process (entries of `/proc/self/fd`,
/// not counting the directory handle used to list them).
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .count()
        .saturating_sub(1)
}

/// Lists this process's open fds as `(fd, target)` pairs, for leak diagnostics.
pub fn open_fds() -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(fd) = name.parse::<i32>() {
            let target = std::fs::read_link(entry.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.push((fd, target));
        }
    }
    out
}

/// A file descriptor table filled up to a lowered `RLIMIT_NOFILE`, so that
/// every call that needs a new descriptor fails with `EMFILE`. Made by
/// [`fill_fd_table`]; dropping it closes the fillers and restores the limit.
///
/// The limit is per process: use it only in a body run by [`run_isolated`](crate::run_isolated),
/// never in a test that shares its process with others.
#[derive(Debug)]
pub struct FdTableFull {
    fillers: Vec<std::os::fd::OwnedFd>,
    saved: rustix::process::Rlimit,
}

/// Lowers the soft `RLIMIT_NOFILE` to just above the highest open descriptor
/// and opens copies of `/dev/null` (close-on-exec) until `EMFILE`.
pub fn fill_fd_table() -> FdTableFull {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let saved = getrlimit(Resource::Nofile);
    let highest = open_fds().iter().map(|(fd, _)| *fd).max().unwrap_or(2);
    let limit = u64::try_from(highest).unwrap() + 1 + 16;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: saved.maximum,
        },
    )
    .unwrap();
    let first = std::os::fd::OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
    let mut fillers = vec![first];
    loop {
        match rustix::io::fcntl_dupfd_cloexec(&fillers[0], 0) {
            Ok(fd) => fillers.push(fd),
            Err(rustix::io::Errno::MFILE) => break,
            Err(e) => panic!("filling the fd table: {e}"),
        }
    }
    FdTableFull { fillers, saved }
}

impl FdTableFull {
    /// Closes fillers until exactly `n` descriptors are free (`n` = 0: full again
    /// only if nothing else was closed meanwhile; fillers are never reopened).
    pub fn leave_free(&mut self, n: usize) {
        let mut free = self.free_slots();
        while free < n {
            assert!(self.fillers.len() > 1, "no filler left to close");
            self.fillers.pop();
            free += 1;
        }
    }

    /// How many descriptors can be opened now (counted by opening them).
    pub fn free_slots(&self) -> usize {
        let mut probes = Vec::new();
        loop {
            match rustix::io::fcntl_dupfd_cloexec(&self.fillers[0], 0) {
                Ok(fd) => probes.push(fd),
                Err(rustix::io::Errno::MFILE) => return probes.len(),
                Err(e) => panic!("counting free fds: {e}"),
            }
        }
    }

    /// How many fillers are open.
    pub fn fillers(&self) -> usize {
        self.fillers.len()
    }
}

impl Drop for FdTableFull {
    fn drop(&mut self) {
        self.fillers.clear();
        let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, self.saved);
    }
}

/// Whether an [`io::Error`] with the OS error `errno` is `e` or somewhere in
/// its chain of sources (e.g. `EMFILE` inside a crate's error).
pub fn has_errno(e: &(dyn std::error::Error + 'static), errno: i32) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(errno))
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether `EMFILE` (the descriptor table is full) is `e` or somewhere in its
/// chain of sources.
pub fn is_emfile(e: &(dyn std::error::Error + 'static)) -> bool {
    has_errno(e, libc::EMFILE)
}
