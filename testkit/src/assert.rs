//! Assertions over the tested crates' own types, written as macros: testkit
//! cannot depend on those crates (a crate's tests would then see two copies
//! of each of its types), so each macro expands in the test that names the
//! crate, with that test's types.

/// Asserts that `$result` is `Err(pidkit_pidhandle::Error::Gone { pid })`
/// for the PID `$pid`. Expands in a crate that depends on `pidkit_pidhandle`.
#[macro_export]
macro_rules! assert_gone_error {
    ($result:expr, $pid:expr $(,)?) => {{
        let pid: u32 = $pid;
        match $result {
            Err(pidkit_pidhandle::Error::Gone { pid: p }) if p == pid => {}
            other => panic!("expected Gone for pid {pid}, got {other:?}"),
        }
    }};
}

/// Asserts that a `pidkit_pidhandle::PidHandle` is gone for good: its
/// state, its liveness, and signals 0 and `SIGKILL` (both `Gone` naming its
/// PID). Expands in a crate that depends on `pidkit_pidhandle`.
#[macro_export]
macro_rules! assert_handle_gone {
    ($handle:expr $(,)?) => {{
        let h: &pidkit_pidhandle::PidHandle = $handle;
        assert_eq!(h.state().unwrap(), pidkit_pidhandle::State::Gone, "{h:?}");
        assert!(!h.is_alive().unwrap(), "{h:?}");
        $crate::assert_gone_error!(h.kill(pidkit_pidhandle::Signal::ZERO), h.pid());
        $crate::assert_gone_error!(h.kill(pidkit_pidhandle::Signal::KILL), h.pid());
    }};
}

/// Asserts that `$error` (of the crate's error type `$ty`) converts to an
/// `io::Error` of kind `$kind` with the same message, and that the typed
/// error can be had back from it (`get_ref` + `downcast_ref`): the
/// conversion every pidkit error type promises.
#[macro_export]
macro_rules! assert_into_io {
    ($ty:ty, $error:expr, $kind:expr $(,)?) => {{
        let error: $ty = $error;
        let text = error.to_string();
        let io: std::io::Error = error.into();
        assert_eq!(io.kind(), $kind, "{text}");
        assert_eq!(io.to_string(), text);
        assert!(
            io.get_ref().and_then(|e| e.downcast_ref::<$ty>()).is_some(),
            "{text}"
        );
    }};
}
