//! `PidHandle::wait_exited_async` (feature `tokio`, enabled for the test
//! suite by the crate's dev-dependency on itself): children and non-children,
//! restored handles, both runtime flavours, many waiters on one pidfd,
//! cancellation, and the fallback without pidfds under seccomp.

#![allow(
    clippy::unwrap_used,
    reason = "a failed step must fail the test loudly"
)]

use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pidkit_pidhandle::{Error, ExitedFuture, PidHandle, Signal, State};
use testkit::{ChildGuard, Isolation, SeccompMode, watchdog};
use tokio::runtime::{Builder, Runtime};

/// Time limit of every test (and of every isolated re-run).
const LIMIT: Duration = Duration::from_secs(120);

fn runtimes() -> [Runtime; 2] {
    [
        Builder::new_current_thread().enable_all().build().unwrap(),
        Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    ]
}

/// Lets `rt` run once, then polls `f` once from inside it.
fn drive_and_poll<F: Future + Unpin>(rt: &Runtime, f: &mut F) -> Poll<F::Output> {
    rt.block_on(async {
        tokio::task::yield_now().await;
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
    })
}

/// What must hold on either path (pidfd or /proc) and runtime flavour.
fn body(rt: &Runtime) {
    // Our child, awaited through a handle restored from text.
    let child = ChildGuard::spawn(Command::new("sleep").arg("1000").stdin(Stdio::null()));
    let text = PidHandle::from_child(child.child()).unwrap().to_string();
    let restored: PidHandle = text.parse().unwrap();
    assert_eq!(
        restored.pidfd().is_some(),
        pidkit_pidhandle::probe().usable()
    );
    let mut f = restored.wait_exited_async();
    assert!(drive_and_poll(rt, &mut f).is_pending());
    // Cancelled while registered: nothing changes.
    drop(f);
    assert_eq!(restored.state().unwrap(), State::Running);
    let mut f = restored.wait_exited_async();
    assert!(drive_and_poll(rt, &mut f).is_pending());
    restored.kill(Signal::TERM).unwrap();
    rt.block_on(f).unwrap();
    assert_eq!(restored.state().unwrap(), State::Exited);
    // Again, after the exit: ready at once; and after the reap.
    rt.block_on(restored.wait_exited_async()).unwrap();
    assert_eq!(child.wait().signal_or_code(), 15);
    rt.block_on(restored.wait_exited_async()).unwrap();
    assert_eq!(restored.state().unwrap(), State::Gone);

    // Not our child: a shell's background sleep, restored from text.
    let (sh, gpid) = testkit::grandchild("wait $!");
    let h: PidHandle = PidHandle::new(gpid).unwrap().to_string().parse().unwrap();
    // Many waiters on one shared handle, one on a handle of its own, and one
    // whose handle was closed and dropped after the future was made.
    let h = std::sync::Arc::new(h);
    let shared: Vec<_> = (0..20).map(|_| std::sync::Arc::clone(&h)).collect();
    let own = h.try_clone().unwrap();
    let mut short = h.try_clone().unwrap();
    let outliving = short.wait_exited_async();
    short.close().unwrap();
    drop(short);
    let exited = rt.block_on(async {
        let mut tasks: Vec<_> = shared
            .iter()
            .map(|c| tokio::spawn(c.wait_exited_async()))
            .collect();
        tasks.push(tokio::spawn(own.wait_exited_async()));
        tasks.push(tokio::spawn(outliving));
        tokio::task::yield_now().await;
        h.kill(Signal::KILL).unwrap();
        let mut n = 0;
        for t in tasks {
            t.await.unwrap().unwrap();
            n += 1;
        }
        n
    });
    assert_eq!(exited, 22);
    assert_ne!(h.state().unwrap(), State::Running);
    // The shell reaped it.
    assert_eq!(sh.wait().code(), Some(128 + 9));
    assert_eq!(h.state().unwrap(), State::Gone);

    // A closed handle is an error; one whose process was reaped is ready.
    let mut closed = h.try_clone().unwrap();
    closed.close().unwrap();
    assert!(matches!(
        rt.block_on(closed.wait_exited_async()),
        Err(Error::Closed)
    ));
    let done = testkit::sh("exit 0");
    let gone = PidHandle::from_child(done.child()).unwrap();
    assert!(done.wait().success());
    rt.block_on(gone.wait_exited_async()).unwrap();
    assert_eq!(gone.state().unwrap(), State::Gone);
}

trait SignalOrCode {
    fn signal_or_code(&self) -> i32;
}

impl SignalOrCode for std::process::ExitStatus {
    fn signal_or_code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.signal().or(self.code()).unwrap()
    }
}

#[test]
fn wait_exited_async_on_both_runtime_flavours() {
    let _w = watchdog("handle_async", LIMIT);
    for rt in runtimes() {
        body(&rt);
    }
}

fn seccomp_body() {
    let _w = watchdog("handle_async_seccomp", LIMIT);
    assert!(!pidkit_pidhandle::probe().usable());
    for rt in runtimes() {
        body(&rt);
    }
}

testkit::isolated_tests!(seccomp_body, LIMIT;
    wait_exited_async_under_seccomp_enosys: Isolation::Seccomp(SeccompMode::Enosys),
    wait_exited_async_under_seccomp_eperm: Isolation::Seccomp(SeccompMode::Eperm),
);

#[test]
fn future_is_static_send_and_unpin_and_errs_outside_a_runtime() {
    fn check<T: Send + Unpin + 'static>(_: &T) {}
    let _w = watchdog("handle_async_static", LIMIT);
    let child = ChildGuard::spawn(Command::new("sleep").arg("1000").stdin(Stdio::null()));
    let h = PidHandle::from_child(child.child()).unwrap();
    let mut f: ExitedFuture = h.wait_exited_async();
    check(&f);
    if pidkit_pidhandle::probe().usable() {
        let Poll::Ready(Err(err)) = Pin::new(&mut f).poll(&mut Context::from_waker(Waker::noop()))
        else {
            panic!("expected an error outside a runtime");
        };
        let msg = err.to_string();
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert!(msg.contains(&child.id().to_string()), "{msg}");
        assert!(
            cause
                .as_deref()
                .is_some_and(|c| c.contains("Tokio") || c.contains("tokio")),
            "{msg}: {cause:?}"
        );
    }
}

/// A waiter made while the fd table is full: with a pidfd, it cannot take
/// its duplicate, and its first poll says so, naming the pid, while the
/// handle and later waiters are unaffected; in the fallback it needs no
/// descriptor and completes once the process exits.
fn full_table_body() {
    let _w = watchdog("handle_async_emfile", LIMIT);
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let child = ChildGuard::spawn(Command::new("sleep").arg("1000").stdin(Stdio::null()));
    let pid = child.id();
    let h = PidHandle::from_child(child.child()).unwrap();
    let full = testkit::fill_fd_table();
    let early = h.wait_exited_async();
    drop(full);
    if h.pidfd().is_some() {
        let err = rt.block_on(early).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(testkit::is_emfile(&err), "{err:?}");
        assert!(err.to_string().contains(&pid.to_string()), "{err}");
        h.kill(Signal::KILL).unwrap();
        rt.block_on(h.wait_exited_async()).unwrap();
    } else {
        h.kill(Signal::KILL).unwrap();
        rt.block_on(early).unwrap();
    }
    assert_ne!(h.state().unwrap(), State::Running);
    assert_eq!(child.wait().signal_or_code(), 9);
}

testkit::isolated_tests!(full_table_body, LIMIT;
    a_waiter_made_with_a_full_fd_table: Isolation::Process,
    a_waiter_made_with_a_full_fd_table_fallback: Isolation::Seccomp(SeccompMode::Enosys),
);
