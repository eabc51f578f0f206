//! Whole process trees: [`Monitor::start_tree`], [`Tree`], [`TreeOptions`],
//! [`Mechanism`].
//!
//! A tree is everything a started process starts, however it detaches
//! (`setsid`, double forks, `setpgid`). Two mechanisms hold it:
//!
//! - [`Mechanism::Cgroup`]: the root gets a cgroup v2 of its own, which it
//!   joins between fork and exec, so nothing it starts is ever outside it.
//!   The kernel kills the whole cgroup at once (`cgroup.kill`, 5.14+) and
//!   says when it is empty (`cgroup.events` "populated 0", watched with
//!   inotify as the kernel's cgroup-v2 document describes).
//! - [`Mechanism::Subreaper`], the fallback where no cgroup v2 can be made:
//!   the program becomes a child subreaper (`PR_SET_CHILD_SUBREAPER`), the
//!   root leads a process group of its own, and members are found in
//!   `/proc`: the root's group, the root's descendants, and orphans the
//!   kernel re-parented to the program. See [`Mechanism::Subreaper`] for
//!   what it cannot see.

mod cgroup;
mod subreaper;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pidkit_pidfd::PidFd;
use pidkit_pidhandle::{PidHandle, Signal};

use crate::error::Error;
use crate::monitor::Monitor;
use crate::process::Process;

use self::cgroup::CgroupTree;
use self::subreaper::SubreaperTree;

/// How long [`Tree::kill_tree`] with `SIGKILL` keeps signalling members one
/// by one (where `cgroup.kill` is missing, and in the subreaper fallback)
/// before it reports members that remain.
const KILL_DEADLINE: Duration = Duration::from_secs(30);

/// Shortest and longest pause between two scans where the kernel gives no
/// notice (one-by-one `SIGKILL`, the subreaper fallback).
const POLL_MIN: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(50);

/// How a [`Tree`] holds its processes: [`Tree::mechanism`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// A cgroup v2 of the tree's own. Every process the root starts is in
    /// it, whatever it does, unless it has the privilege to move itself into
    /// another cgroup (write access to `cgroup.procs` of a common ancestor,
    /// which root has). `SIGKILL` reaches the whole tree at once through
    /// `cgroup.kill` on Linux 5.14+; before that, and for other signals,
    /// each member listed in `cgroup.procs` is signalled through a pidfd.
    /// The end of the tree is the kernel's notification, not a poll.
    Cgroup,
    /// The fallback: the program is made a child subreaper
    /// (`PR_SET_CHILD_SUBREAPER`, which applies to the whole program, not to
    /// one tree, and stays set), the root leads a new process group, and the
    /// members are found by scanning `/proc`: the root's process group, the
    /// root's descendants, processes seen as members before, and orphans
    /// the kernel re-parented to the program (the tree reaps those).
    ///
    /// What it cannot see: a process that left the group and whose parent
    /// is alive but was never seen as a member (for example a grandchild
    /// that calls `setsid` while its parent, itself outside the group, still
    /// runs); a process that a member started and that escaped between two
    /// scans; and an orphan re-parented to the program that leads its own
    /// process group (`setsid` in a process whose parent had already died)
    /// unless it was seen before, because the program's own group leaders
    /// ([`Monitor::start_group`]) look the same. Orphans in a group other
    /// than the program's own count as members of every subreaper tree of
    /// the program. The end of the tree is found by polling (1 ms doubling
    /// to 50 ms). A recycled group id can make a stranger look like a member
    /// only after the whole group and its leader are gone. Members are
    /// pinned by pidfds: where the kernel or a seccomp filter refuses them,
    /// `wait_tree`, `kill_tree` and `tree_members` fail with an
    /// [`Error::Io`] naming the member while any member lives.
    Subreaper,
}

/// How [`Monitor::start_tree`] makes a tree: where its cgroup goes, and
/// which mechanism to use.
///
/// ```
/// use pidkit_monitor::{Mechanism, TreeOptions};
///
/// let defaults = TreeOptions::new();
/// let fallback = TreeOptions::new().mechanism(Mechanism::Subreaper);
/// let placed = TreeOptions::new().parent("/sys/fs/cgroup/workers");
/// # let _ = (defaults, fallback, placed);
/// ```
#[derive(Clone, Debug, Default)]
pub struct TreeOptions {
    parent: Option<PathBuf>,
    mechanism: Option<Mechanism>,
}

impl TreeOptions {
    /// The defaults: a cgroup v2 under the program's own cgroup where one
    /// can be made, else the subreaper fallback.
    pub fn new() -> TreeOptions {
        TreeOptions::default()
    }

    /// The cgroup v2 directory under which the tree's cgroup is created
    /// (as `pidkit-<pid>-<n>`). Default: the program's own cgroup v2
    /// directory, found from `/proc/self/cgroup` under the cgroup2 mount
    /// named in `/proc/self/mountinfo`. No controller is needed in it: the
    /// tree uses only `cgroup.procs`, `cgroup.kill` and `cgroup.events`.
    pub fn parent(mut self, dir: impl Into<PathBuf>) -> TreeOptions {
        self.parent = Some(dir.into());
        self
    }

    /// Uses `mechanism` and nothing else: [`Mechanism::Cgroup`] fails with
    /// [`Error::TreeUnavailable`] where no cgroup can be made,
    /// [`Mechanism::Subreaper`] skips the cgroup (to test or measure the
    /// fallback). Default: the cgroup where possible, else the fallback,
    /// with the reason in [`Tree::fallback_reason`].
    pub fn mechanism(mut self, mechanism: Mechanism) -> TreeOptions {
        self.mechanism = Some(mechanism);
        self
    }
}

/// A process tree: a root process started by [`Monitor::start_tree`] and
/// everything it starts, or a tree adopted by [`Monitor::adopt_tree`].
///
/// Dropping a `Tree` kills nothing; it removes the tree's cgroup if the
/// tree is empty by then.
///
/// Members are pinned through pidfds: where pidfds are unusable
/// ([`Backend::ThreadPerChild`](crate::Backend::ThreadPerChild)),
/// [`Tree::tree_members`], signals other than `SIGKILL`, `SIGKILL` before
/// `cgroup.kill` (5.14) and the whole subreaper fallback fail with
/// [`Error::Io`]; a cgroup tree is still killed with `SIGKILL` and waited
/// for.
#[derive(Debug)]
pub struct Tree {
    root: Option<Process>,
    imp: Imp,
    fallback_reason: Option<String>,
}

#[derive(Debug)]
enum Imp {
    Cgroup(CgroupTree),
    Subreaper(SubreaperTree),
}

impl Monitor {
    /// Starts `cmd` as the root of a process tree (see [`Mechanism`]).
    ///
    /// With a cgroup, a new cgroup is made under the parent of `options`
    /// and `cmd` is set to join it before it runs the program
    /// (`pidkit_pidfd::low_level::join_cgroup_before_exec`); `cmd` keeps
    /// that setting, so spawning it again adds to the same tree. In the
    /// fallback, `cmd` is set to lead a new process group, as by
    /// [`Monitor::start_group`]. Otherwise exactly [`Monitor::start`].
    ///
    /// ```
    /// use pidkit_monitor::{Monitor, Signal, TreeOptions};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "setsid sleep 1000 & sleep 1000"]);
    /// let tree = Monitor::global().start_tree(&mut cmd, &TreeOptions::new())?;
    /// println!("{:?} ({:?})", tree.mechanism(), tree.fallback_reason());
    /// tree.kill_tree(Signal::KILL)?;
    /// tree.wait_tree()?; // the shell and the detached sleep are gone
    /// assert!(tree.tree_members()?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::TreeUnavailable`] when [`Mechanism::Cgroup`] was asked for
    /// and cannot be had; [`Error::Cgroup`] when the cgroup cannot be made
    /// for another reason than a refusal (out of descriptors, ...); the
    /// errors of [`Monitor::start`] (the cgroup is removed again).
    pub fn start_tree(&self, cmd: &mut Command, options: &TreeOptions) -> Result<Tree, Error> {
        let mut fallback_reason = None;
        if options.mechanism != Some(Mechanism::Subreaper) {
            match CgroupTree::create(options.parent.as_deref()) {
                Ok((cg, procs)) => {
                    pidkit_pidfd::low_level::join_cgroup_before_exec(cmd, procs);
                    return match self.start(cmd) {
                        Ok(root) => Ok(Tree {
                            root: Some(root),
                            imp: Imp::Cgroup(cg),
                            fallback_reason: None,
                        }),
                        Err(e) => {
                            let _ = cg.remove();
                            Err(e)
                        }
                    };
                }
                Err(cgroup::CreateError::Refused(reason)) => {
                    if options.mechanism == Some(Mechanism::Cgroup) {
                        return Err(Error::TreeUnavailable { reason });
                    }
                    fallback_reason = Some(reason);
                }
                Err(cgroup::CreateError::Failed(e)) => return Err(e),
            }
        }
        let sub = SubreaperTree::prepare()?;
        let root = self.start_group(cmd)?;
        Ok(Tree {
            imp: Imp::Subreaper(sub.with_root(root.pid())),
            root: Some(root),
            fallback_reason: fallback_reason
                .or_else(|| Some("the subreaper fallback was asked for".into())),
        })
    }

    /// Takes up a tree again from its cgroup directory, as recorded from
    /// [`Tree::cgroup`] (by a supervisor before it restarted, next to the
    /// root's [`Process::identity`]; adopt the root itself with
    /// [`Monitor::adopt`]). The adopted tree has no [`Tree::root`]; killing,
    /// waiting and listing work as for the original.
    ///
    /// Only cgroup trees can be adopted: a subreaper tree's orphans belong
    /// to the program that was the subreaper.
    ///
    /// ```
    /// use pidkit_monitor::{Mechanism, Monitor, Signal, TreeOptions};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = Monitor::global();
    /// let tree = m.start_tree(Command::new("sleep").arg("1000"), &TreeOptions::new())?;
    /// if let Some(dir) = tree.cgroup() {
    ///     let again = m.adopt_tree(dir)?;
    ///     assert_eq!(again.tree_members()?.len(), 1);
    ///     again.kill_tree(Signal::KILL)?;
    ///     again.wait_tree()?;
    /// }
    /// # tree.kill_tree(Signal::KILL)?;
    /// tree.wait_tree()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Cgroup`] naming the path when it is not a cgroup v2
    /// directory or cannot be read.
    pub fn adopt_tree(&self, cgroup: impl AsRef<Path>) -> Result<Tree, Error> {
        Ok(Tree {
            root: None,
            imp: Imp::Cgroup(CgroupTree::adopt(cgroup.as_ref())?),
            fallback_reason: None,
        })
    }
}

impl Tree {
    /// The root process, as started (`None` for an adopted tree).
    pub fn root(&self) -> Option<&Process> {
        self.root.as_ref()
    }

    /// Which mechanism holds the tree.
    ///
    /// ```
    /// use pidkit_monitor::{Mechanism, Monitor, TreeOptions};
    /// use std::process::Command;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = TreeOptions::new().mechanism(Mechanism::Subreaper);
    /// let tree = Monitor::global().start_tree(&mut Command::new("true"), &options)?;
    /// assert_eq!(tree.mechanism(), Mechanism::Subreaper);
    /// assert!(tree.fallback_reason().is_some());
    /// tree.wait_tree()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn mechanism(&self) -> Mechanism {
        match self.imp {
            Imp::Cgroup(_) => Mechanism::Cgroup,
            Imp::Subreaper(_) => Mechanism::Subreaper,
        }
    }

    /// Why the tree is not on a cgroup: the refusal met (naming the path),
    /// or that the fallback was asked for. `None` for a cgroup tree.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The tree's cgroup v2 directory (`None` in the fallback): record it
    /// to take the tree up again with [`Monitor::adopt_tree`].
    pub fn cgroup(&self) -> Option<&Path> {
        match &self.imp {
            Imp::Cgroup(cg) => Some(cg.dir()),
            Imp::Subreaper(_) => None,
        }
    }

    /// Sends `signal` to every process of the tree.
    ///
    /// - Cgroup, `SIGKILL`, Linux 5.14+: one write to `cgroup.kill`; the
    ///   kernel kills every member, also those being forked meanwhile.
    /// - Otherwise each member is signalled through a pidfd opened for it
    ///   and checked to be a member after opening, so that a recycled PID is
    ///   never signalled. `SIGKILL` is repeated until no member is left
    ///   (for at most 30 s, then an [`Error::Io`] says how many remain);
    ///   other signals reach the members there are at the moment of the
    ///   call, once each.
    ///
    /// An empty tree is not an error.
    pub fn kill_tree(&self, signal: Signal) -> Result<(), Error> {
        let deadline = Instant::now() + KILL_DEADLINE;
        match &self.imp {
            Imp::Cgroup(cg) => cg.kill(signal, deadline),
            Imp::Subreaper(sub) => sub.kill(signal, deadline),
        }
    }

    /// Waits until no process of the tree is left, then removes the tree's
    /// cgroup. The root's status is [`Process::wait`]'s (the monitor reaps
    /// the root; the subreaper fallback reaps the orphans).
    ///
    /// Cgroup: sleeps on inotify until `cgroup.events` says
    /// "populated 0". Fallback: polls `/proc` (see [`Mechanism::Subreaper`]).
    pub fn wait_tree(&self) -> Result<(), Error> {
        self.wait_until(None).map(drop)
    }

    /// [`Tree::wait_tree`] for at most `timeout`: true once the tree is
    /// empty, false if time ran out first.
    pub fn wait_tree_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let empty = match &self.imp {
            Imp::Cgroup(cg) => cg.wait(deadline)?,
            Imp::Subreaper(sub) => sub.wait(deadline)?,
        };
        if empty {
            self.finish()?;
        }
        Ok(empty)
    }

    /// Once the tree is empty: the cgroup is removed.
    fn finish(&self) -> Result<(), Error> {
        match &self.imp {
            Imp::Cgroup(cg) => cg.remove(),
            Imp::Subreaper(_) => Ok(()),
        }
    }

    /// The live processes of the tree, each as a [`PidHandle`] pinned to it
    /// (opened from its PID, then checked to still be a member, so that no
    /// recycled PID is listed). Processes that exit meanwhile are left out.
    pub fn tree_members(&self) -> Result<Vec<PidHandle>, Error> {
        let found = match &self.imp {
            Imp::Cgroup(cg) => cg.members()?,
            Imp::Subreaper(sub) => sub.members()?,
        };
        found
            .into_iter()
            .map(|(pid, fd)| PidHandle::from_pidfd(pid, fd).map_err(|e| e.into_error().into()))
            .collect()
    }

    /// [`Tree::wait_tree`] in tokio's reactor, no thread per waiter.
    ///
    /// Cancel-safe: dropping the future loses nothing (each await owns its
    /// inotify descriptor, set up before the check it guards, so no
    /// notification falls between); await again to go on. In the subreaper
    /// fallback it polls on a timerfd.
    #[cfg(feature = "tokio")]
    pub async fn wait_tree_async(&self) -> Result<(), Error> {
        match &self.imp {
            Imp::Cgroup(cg) => cg.wait_async().await?,
            Imp::Subreaper(sub) => sub.wait_async().await?,
        }
        self.finish()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if let Imp::Cgroup(cg) = &self.imp {
            if matches!(cg.populated(), Ok(false)) {
                let _ = cg.remove();
            }
        }
    }
}

/// A pidfd for `pid` if it is alive and `is_member` holds for it after the
/// pidfd was opened: the pidfd pins the process, so a check that passes
/// while the pidfd's process is still alive was made on that process.
fn pinned_member(
    pid: u32,
    is_member: impl FnOnce(u32) -> Result<bool, Error>,
) -> Result<Option<PidFd>, Error> {
    let fd = match PidFd::open(pid) {
        Ok(fd) => fd,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(crate::error::io_context(
                format!("opening a pidfd for tree member {pid}"),
                e,
            ));
        }
    };
    if !is_member(pid)? {
        return Ok(None);
    }
    match fd.has_exited() {
        Ok(false) => Ok(Some(fd)),
        Ok(true) => Ok(None),
        Err(e) => Err(crate::error::io_context(
            format!("checking tree member {pid}"),
            e,
        )),
    }
}

/// Signals a pinned member through its pidfd; gone is not an error.
fn signal_member(pid: u32, fd: &PidFd, signal: Signal) -> Result<(), Error> {
    match fd.kill(signal) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Error::PermissionDenied { pid })
        }
        Err(e) => Err(crate::error::io_context(
            format!("signalling tree member {pid}"),
            e,
        )),
    }
}
