//! The caller drains the child's pipes itself, then waits.
//!
//! A child that writes more than a pipe holds (64 KiB on Linux) blocks until
//! someone reads; `wait` does not read for you (go-runc's monitor did not
//! either). Take the pipes out of the `Process`, drain them on threads, and
//! wait: the exit comes once the child has written everything and exited.
//!
//! `cargo run -p pidkit-monitor --example drain`

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::thread;

use pidkit_monitor::Monitor;

fn main() -> io::Result<()> {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        // 200,000 lines on stdout (well over a pipe's capacity), a note on
        // stderr, exit code 3.
        "seq 1 200000; echo 'done counting' >&2; exit 3",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut process = Monitor::global().start(&mut cmd)?;

    // One thread per pipe, so neither can fill up while we read the other.
    let stdout = process.stdout().expect("stdout was piped");
    let stderr = process.stderr().expect("stderr was piped");
    let out_reader = thread::spawn(move || -> io::Result<(usize, String)> {
        let mut lines = 0;
        let mut last = String::new();
        for line in BufReader::new(stdout).lines() {
            last = line?;
            lines += 1;
        }
        Ok((lines, last))
    });
    let err_reader = thread::spawn(move || -> io::Result<String> {
        let mut text = String::new();
        BufReader::new(stderr).read_to_string(&mut text)?;
        Ok(text)
    });

    // Meanwhile, wait. The monitor reaps the child; the readers see EOF.
    let exit = process.wait()?;
    let (lines, last) = out_reader.join().expect("stdout reader panicked")?;
    let note = err_reader.join().expect("stderr reader panicked")?;

    println!("{exit} at {:?}", exit.timestamp);
    println!("stdout: {lines} lines, the last one {last:?}");
    println!("stderr: {:?}", note.trim_end());
    assert_eq!((lines, exit.code()), (200_000, 3));
    Ok(())
}
