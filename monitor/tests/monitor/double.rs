//! `ProcessMonitor` is implementable outside the crate: a test double that
//! runs nothing and answers with scripted exits, used by code written
//! against the trait, next to the real `Monitor` through the same code.

use std::collections::HashMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use pidkit_monitor::{Error, Exit, Monitor, ProcessMonitor};
use testkit::watchdog;

const LIMIT: Duration = Duration::from_secs(60);

/// A double: "starts" a command by recording its program, and answers
/// `wait` with the exit code scripted for that program; unknown programs
/// fail to start, as a missing binary does.
struct Scripted {
    codes: HashMap<String, i32>,
    started: Mutex<Vec<String>>,
}

/// What the double hands out for a started command.
struct FakeProcess {
    pid: u32,
    program: String,
}

impl ProcessMonitor for Scripted {
    type Process = FakeProcess;

    fn start(&self, cmd: &mut Command) -> Result<FakeProcess, Error> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        if !self.codes.contains_key(&program) {
            // The monitor's own error type: its variants are public.
            return Err(Error::Spawn {
                source: io::Error::new(io::ErrorKind::NotFound, "no script for it"),
                program,
            });
        }
        let mut started = self.started.lock().unwrap();
        started.push(program.clone());
        Ok(FakeProcess {
            pid: 1000 + started.len() as u32,
            program,
        })
    }

    fn start_locked(&self, cmd: &mut Command) -> Result<FakeProcess, Error> {
        self.start(cmd)
    }

    fn wait(&self, process: &FakeProcess) -> Result<Exit, Error> {
        let code = self.codes[&process.program];
        Ok(Exit {
            timestamp: SystemTime::UNIX_EPOCH,
            pid: process.pid,
            status: ExitStatus::from_raw(code << 8),
        })
    }
}

/// Code under test, written against the trait: runs each command in turn and
/// stops at the first that fails, returning the exit codes seen.
fn run_until_failure<M: ProcessMonitor>(m: &M, cmds: &mut [Command]) -> Result<Vec<i32>, Error> {
    let mut codes = Vec::new();
    for cmd in cmds {
        let p = m.start_locked(cmd)?;
        let code = m.wait(&p)?.code();
        codes.push(code);
        if code != 0 {
            break;
        }
    }
    Ok(codes)
}

#[test]
fn a_test_double_implements_the_trait() {
    let _w = watchdog("double", LIMIT);
    let double = Scripted {
        codes: HashMap::from([
            ("ok".to_owned(), 0),
            ("fails".to_owned(), 3),
            ("never".to_owned(), 0),
        ]),
        started: Mutex::new(Vec::new()),
    };
    let mut cmds = [
        Command::new("ok"),
        Command::new("fails"),
        Command::new("never"),
    ];
    assert_eq!(run_until_failure(&double, &mut cmds).unwrap(), [0, 3]);
    assert_eq!(*double.started.lock().unwrap(), ["ok", "fails"]);
    let err = run_until_failure(&double, &mut [Command::new("missing")]).unwrap_err();
    assert!(matches!(&err, Error::Spawn { program, .. } if program == "missing"));
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    // The same code against the real monitor and real processes.
    let mut cmds = [
        Command::new("true"),
        Command::new("false"),
        Command::new("true"),
    ];
    assert_eq!(
        run_until_failure(Monitor::global(), &mut cmds).unwrap(),
        [0, 1]
    );
}
