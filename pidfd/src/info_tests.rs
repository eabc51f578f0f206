//! The decoder against every published layout and size, and the fdinfo
//! parser against real samples and a reference.

use std::os::fd::AsFd;

use super::*;
use crate::sys::{PIDFD_INFO_SIZE_VER1, PIDFD_INFO_SIZE_VER2, PIDFD_INFO_SIZE_VER3};
use proptest::prelude::*;

/// The `struct pidfd_info` layouts the kernel headers have published, as
/// a kernel of each generation fills them in. Offsets are from the
/// headers: VER0 from the 6.13 and 6.15 `include/uapi/linux/pidfd.h`
/// (`exit_code` at 60 was `__spare0` before 6.15), VER1 from 6.16
/// (`coredump_mask`, `__spare1`), VER2 from the first kernels with
/// `PIDFD_INFO_SUPPORTED_MASK` (`coredump_signal`, `supported_mask` at
/// 72) and VER3 from Debian sid's `linux-libc-dev` 7.2.13
/// (`coredump_code`, `coredump_pad`, `supported_mask` at 80).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    Ver0Spare,
    Ver0Exit,
    Ver1,
    Ver2,
    Ver3,
}

const KERNELS: [Kernel; 5] = [
    Kernel::Ver0Spare,
    Kernel::Ver0Exit,
    Kernel::Ver1,
    Kernel::Ver2,
    Kernel::Ver3,
];

/// Every size a request can carry: the published ones, and a future
/// larger one.
const SIZES: [usize; 5] = [
    PIDFD_INFO_SIZE_VER0,
    PIDFD_INFO_SIZE_VER1,
    PIDFD_INFO_SIZE_VER2,
    PIDFD_INFO_SIZE_VER3,
    96,
];

impl Kernel {
    fn size(self) -> usize {
        match self {
            Kernel::Ver0Spare | Kernel::Ver0Exit => PIDFD_INFO_SIZE_VER0,
            Kernel::Ver1 => PIDFD_INFO_SIZE_VER1,
            Kernel::Ver2 => PIDFD_INFO_SIZE_VER2,
            Kernel::Ver3 => PIDFD_INFO_SIZE_VER3,
        }
    }

    /// The mask bits this kernel knows (its `PIDFD_INFO_SUPPORTED`).
    fn known(self) -> u64 {
        let base = PIDFD_INFO_PID | PIDFD_INFO_CREDS | PIDFD_INFO_CGROUPID;
        match self {
            Kernel::Ver0Spare => base,
            Kernel::Ver0Exit => base | PIDFD_INFO_EXIT,
            Kernel::Ver1 => base | PIDFD_INFO_EXIT | PIDFD_INFO_COREDUMP,
            Kernel::Ver2 => {
                base | PIDFD_INFO_EXIT
                    | PIDFD_INFO_COREDUMP
                    | PIDFD_INFO_SUPPORTED_MASK
                    | PIDFD_INFO_COREDUMP_SIGNAL
            }
            Kernel::Ver3 => {
                base | PIDFD_INFO_EXIT
                    | PIDFD_INFO_COREDUMP
                    | PIDFD_INFO_SUPPORTED_MASK
                    | PIDFD_INFO_COREDUMP_SIGNAL
                    | PIDFD_INFO_COREDUMP_CODE
            }
        }
    }

    /// Where this kernel keeps the field of `bit` (offset of a 4- or
    /// 8-byte field), if it has it.
    fn offset(self, bit: u64) -> Option<(usize, usize)> {
        if self.known() & bit == 0 {
            return None;
        }
        Some(match bit {
            PIDFD_INFO_EXIT => (60, 4),
            PIDFD_INFO_COREDUMP => (64, 4),
            PIDFD_INFO_COREDUMP_SIGNAL => (68, 4),
            PIDFD_INFO_COREDUMP_CODE => (72, 4),
            PIDFD_INFO_SUPPORTED_MASK if self == Kernel::Ver2 => (72, 8),
            PIDFD_INFO_SUPPORTED_MASK => (80, 8),
            _ => return None,
        })
    }
}

/// What a process looks like to the simulated kernel.
#[derive(Clone, Copy, Debug)]
struct Facts {
    pid: u32,
    ppid: u32,
    ruid: u32,
    euid: u32,
    cgroupid: u64,
    exit_code: i32,
    coredump_mask: u32,
    coredump_signal: u32,
    coredump_code: u32,
    /// Bits a later kernel of the VER3 layout may add to its supported mask.
    future_bits: u64,
}

/// What `kernel` writes into a buffer of `usize` bytes for a request of
/// `want` about a reaped process with `facts`, following `pidfd_info()`
/// in fs/pidfs.c: it fills a zeroed struct of its own size and copies
/// `min(its size, usize)` bytes, zeroing the rest of the caller's buffer
/// (`copy_struct_to_user`). The mask bits it sets do not depend on
/// `usize`.
fn kernel_answer(kernel: Kernel, facts: &Facts, want: u64, usize: usize) -> (Vec<u8>, u64) {
    let mut k = vec![0u8; kernel.size()];
    let put32 =
        |k: &mut Vec<u8>, off: usize, v: u32| k[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    let mut mask = PIDFD_INFO_PID | PIDFD_INFO_CREDS | PIDFD_INFO_CGROUPID;
    k[8..16].copy_from_slice(&facts.cgroupid.to_ne_bytes());
    put32(&mut k, 16, facts.pid);
    put32(&mut k, 20, facts.pid);
    put32(&mut k, 24, facts.ppid);
    put32(&mut k, 28, facts.ruid);
    put32(&mut k, 36, facts.euid);
    let known = kernel.known();
    if want & known & PIDFD_INFO_EXIT != 0 {
        mask |= PIDFD_INFO_EXIT;
        put32(&mut k, 60, facts.exit_code as u32);
    }
    if want & known & PIDFD_INFO_COREDUMP != 0 {
        mask |= PIDFD_INFO_COREDUMP;
        put32(&mut k, 64, facts.coredump_mask);
        if let Some((off, _)) = kernel.offset(PIDFD_INFO_COREDUMP_SIGNAL) {
            mask |= PIDFD_INFO_COREDUMP_SIGNAL;
            put32(&mut k, off, facts.coredump_signal);
        }
        if let Some((off, _)) = kernel.offset(PIDFD_INFO_COREDUMP_CODE) {
            mask |= PIDFD_INFO_COREDUMP_CODE;
            put32(&mut k, off, facts.coredump_code);
        }
    }
    let supported = if kernel == Kernel::Ver3 {
        known | facts.future_bits
    } else {
        known
    };
    if want & known & PIDFD_INFO_SUPPORTED_MASK != 0 {
        mask |= PIDFD_INFO_SUPPORTED_MASK;
        let (off, _) = kernel.offset(PIDFD_INFO_SUPPORTED_MASK).unwrap();
        k[off..off + 8].copy_from_slice(&supported.to_ne_bytes());
    }
    k[0..8].copy_from_slice(&mask.to_ne_bytes());
    let mut user = vec![0u8; usize];
    let n = usize.min(k.len());
    user[..n].copy_from_slice(&k[..n]);
    (user, supported)
}

/// The decoder's answer for every kernel layout and every request size
/// holds exactly the fields that kernel has, set and fitted into the
/// buffer, with the values it wrote; never a field from another layout's
/// offset.
fn check_all_layouts(facts: &Facts, want: u64) -> Result<(), TestCaseError> {
    for kernel in KERNELS {
        for usize in SIZES {
            let (buf, supported) = kernel_answer(kernel, facts, want, usize);
            let (raw, layout) = decode_info(&buf)
                .map_err(|e| TestCaseError::fail(format!("{kernel:?}/{usize}: {e}")))?;
            let fits = |bit: u64| {
                want & bit != 0
                    && kernel
                        .offset(bit)
                        .is_some_and(|(off, len)| off + len <= usize)
            };
            let ctx = format!("{kernel:?} answering {usize} bytes for {want:#x}: {raw:?}");
            let core = want & PIDFD_INFO_COREDUMP != 0;
            let core_field =
                |bit: u64, end: usize| core && kernel.offset(bit).is_some() && usize >= end;
            // Every field as that kernel wrote it, or absent; the mask
            // and tgid are not part of the check.
            let expected = RawInfo {
                mask: raw.mask,
                tgid: raw.tgid,
                pid: Some(facts.pid),
                ppid: Some(facts.ppid),
                ruid: Some(facts.ruid),
                euid: Some(facts.euid),
                cgroupid: Some(facts.cgroupid),
                exit_code: fits(PIDFD_INFO_EXIT).then_some(facts.exit_code),
                coredump_mask: fits(PIDFD_INFO_COREDUMP).then_some(facts.coredump_mask),
                coredump_signal: core_field(PIDFD_INFO_COREDUMP_SIGNAL, 72)
                    .then_some(facts.coredump_signal),
                coredump_code: core_field(PIDFD_INFO_COREDUMP_CODE, 76)
                    .then_some(facts.coredump_code),
                supported_mask: fits(PIDFD_INFO_SUPPORTED_MASK).then_some(supported),
            };
            prop_assert_eq!(raw, expected, "{}", ctx);
            if raw.supported_mask.is_some() {
                let expected = if kernel == Kernel::Ver2 {
                    Layout::Ver2
                } else {
                    Layout::Ver3
                };
                prop_assert_eq!(layout, expected, "{}", ctx);
            }
        }
    }
    Ok(())
}

fn facts() -> impl Strategy<Value = Facts> {
    (
        (
            1u32..=0x3fff_ffff,
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
        ),
        (
            any::<i32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            prop::collection::vec(8u32..64, 0..3),
        ),
    )
        .prop_map(
            |((pid, ppid, ruid, euid, cgroupid), (exit_code, cm, cs, cc, future))| Facts {
                pid,
                ppid,
                ruid,
                euid,
                cgroupid,
                exit_code,
                coredump_mask: cm,
                coredump_signal: cs,
                coredump_code: cc,
                future_bits: future.iter().fold(0, |m, b| m | 1u64 << b),
            },
        )
}

/// The cases that once misread: a VER3 kernel's `coredump_code` where a
/// VER2 kernel keeps `supported_mask`, with values whose bits look like
/// a mask, and every request size.
#[test]
fn every_layout_and_size_decodes_exactly() {
    let all = (1u64 << 8) - 1;
    for code in [0u32, 0x20, 0x80, 0xa0, u32::MAX, 0xffff_fffa] {
        let f = Facts {
            pid: 4242,
            ppid: 1,
            ruid: 1000,
            euid: 0,
            cgroupid: 0x1234_5678_9abc,
            exit_code: 0x83,
            coredump_mask: CoreDump::DUMPED | CoreDump::USER,
            coredump_signal: 3,
            coredump_code: code,
            future_bits: 1 << 9,
        };
        for want in [
            PIDFD_INFO_PID,
            PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK,
            PIDFD_INFO_EXIT | PIDFD_INFO_COREDUMP,
            all,
        ] {
            check_all_layouts(&f, want).unwrap();
        }
    }
}

#[test]
fn short_and_contradictory_answers_are_errors() {
    assert!(decode_info(&[0u8; 63]).is_err());
    assert!(decode_info(&[]).is_err());
    // Claims a supported mask, but the word at 80 lacks its own bit.
    let mut b = vec![0u8; 88];
    b[..8].copy_from_slice(&(PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK).to_ne_bytes());
    b[80..88].copy_from_slice(&PIDFD_INFO_PID.to_ne_bytes());
    let e = decode_info(&b).unwrap_err();
    assert!(e.contains("offset 80"), "{e}");
    // Claims one, and neither place holds one.
    b[80..88].copy_from_slice(&0u64.to_ne_bytes());
    b[72..80].copy_from_slice(&7u64.to_ne_bytes());
    assert!(decode_info(&b).is_err());
}

/// The kernel of this machine, asked through the real ioctl, answers in
/// a layout the decoder recognises, with our own pid.
#[test]
fn this_kernel_answers_in_a_known_layout() {
    let support = crate::probe();
    if !support.usable() {
        // pidfds refused (seccomp sandbox, or hidden): nothing to ask.
        assert!(crate::PidFd::open(std::process::id()).is_err());
        return;
    }
    if !support.get_info {
        // Before 6.13 (or hidden): the ioctl is not used at all.
        let me = crate::PidFd::open(std::process::id()).unwrap();
        assert_eq!(me.info().unwrap().source, InfoSource::FdInfo);
        return;
    }
    let me = crate::PidFd::open(std::process::id()).unwrap();
    let (buf, len) =
        crate::sys::pidfd_get_info(me.as_fd(), PIDFD_INFO_PID | PIDFD_INFO_SUPPORTED_MASK).unwrap();
    let (raw, layout) = decode_info(&buf.0[..len]).unwrap();
    assert_eq!(raw.pid, Some(std::process::id()));
    match raw.supported_mask {
        Some(m) => {
            assert_ne!(layout, Layout::Unknown);
            assert_ne!(m & PIDFD_INFO_SUPPORTED_MASK, 0, "{m:#x}");
            assert_eq!(support.info_supported_mask, Some(m));
        }
        None => assert_eq!(support.info_supported_mask, None),
    }
}

#[test]
fn parses_kernel_output() {
    let text = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t4242\nNSpid:\t4242\t7\n";
    assert_eq!(
        parse_fdinfo(text),
        Some(FdInfoPid {
            pid: 4242,
            ns_pids: vec![4242, 7]
        })
    );
    assert_eq!(parse_fdinfo("Pid:\t-1\n").unwrap().pid, -1);
    assert_eq!(parse_fdinfo("Pid:\t0\n").unwrap().pid, 0);
    assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02\n"), None);
    assert_eq!(parse_fdinfo("Pid:\tabc\n"), None);
    assert_eq!(parse_fdinfo("Pid:\t-7\n"), None);
    assert_eq!(parse_fdinfo("Pid:\t99999999999\n"), None);
    assert_eq!(parse_fdinfo(""), None);
}

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/fdinfo");

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}/{name}")).unwrap()
}

/// The corpus holds real `/proc/self/fdinfo` texts, captured on Linux
/// 6.18; each parses as what it was captured from.
#[test]
fn real_samples_parse_as_captured() {
    let live = parse_fdinfo(&sample("pidfd_self.txt")).unwrap();
    assert!(live.pid > 0 && live.ns_pids == vec![live.pid], "{live:?}");
    let nonblock = parse_fdinfo(&sample("pidfd_nonblock.txt")).unwrap();
    assert!(nonblock.pid > 0);
    let reaped = parse_fdinfo(&sample("pidfd_reaped.txt")).unwrap();
    assert_eq!((reaped.pid, reaped.ns_pids), (-1, vec![-1]));
    let outside = parse_fdinfo(&sample("pidfd_outside_our_pidns.txt")).unwrap();
    assert_eq!((outside.pid, outside.ns_pids), (0, vec![0]));
    let nested = parse_fdinfo(&sample("pidfd_child_pidns.txt")).unwrap();
    assert_eq!(nested.ns_pids.len(), 2);
    assert_eq!(nested.ns_pids[0], nested.pid);
    assert_eq!(nested.ns_pids[1], 1);
    for not_a_pidfd in [
        "regular_file.txt",
        "pipe.txt",
        "eventfd.txt",
        "flocked_file.txt",
    ] {
        assert_eq!(parse_fdinfo(&sample(not_a_pidfd)), None, "{not_a_pidfd}");
    }
}

/// A reference reading of fdinfo text, written apart from
/// [`parse_fdinfo`]: the lines are split by hand, and every `Pid:` and
/// `NSpid:` line must hold numbers; the last of each counts.
fn reference(text: &str) -> Option<(i64, Vec<i64>)> {
    let mut pid = None;
    let mut ns_pids = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        rest = next;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (key, value) = match line.find(':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => continue,
        };
        match key {
            "Pid" => pid = Some(value.trim().parse::<i64>().ok()?),
            "NSpid" => {
                let mut all = Vec::new();
                for v in value.split_whitespace() {
                    all.push(v.parse::<i64>().ok()?);
                }
                ns_pids = all;
            }
            _ => {}
        }
    }
    let pid = pid?;
    (-1..=i64::from(i32::MAX))
        .contains(&pid)
        .then_some((pid, ns_pids))
}

/// Fuzz target: real fdinfo texts, mutated, and arbitrary bytes. Never a
/// panic; an accepted text has a `Pid:` in `-1..=i32::MAX` and reads the
/// same as the reference.
#[test]
fn fuzz_fdinfo() {
    let tokens: &[&[u8]] = &[
        b"Pid:",
        b"NSpid:",
        b"Pid:\t",
        b"\t",
        b"\n",
        b" ",
        b"-",
        b"+",
        b"\r",
        b":",
        b"pos:\t0\n",
        b"flags:\t02000002\n",
        "\u{3000}".as_bytes(),
        "\u{a0}".as_bytes(),
        b"\0",
    ];
    testkit::fuzz::target("pidfd/fdinfo", CORPUS, tokens, |input| {
        let text = input.lossy();
        let parsed = parse_fdinfo(&text);
        if let Some(p) = &parsed {
            prop_assert!(p.pid >= -1 && p.pid <= i64::from(i32::MAX), "{p:?}");
        }
        prop_assert_eq!(
            parsed.map(|p| (p.pid, p.ns_pids)),
            reference(&text),
            "{:?}",
            text
        );
        Ok(())
    });
}

proptest! {
    #[test]
    fn any_facts_decode_exactly_in_every_layout(f in facts(), want in 0u64..256) {
        check_all_layouts(&f, want)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        if let Ok((raw, _)) = decode_info(&bytes) {
            prop_assert!(bytes.len() >= 64);
            if let Some(m) = raw.supported_mask {
                prop_assert_ne!(m & PIDFD_INFO_SUPPORTED_MASK, 0);
            }
        }
    }

    #[test]
    fn round_trips_any_valid_pid(pid in -1i64..=i64::from(i32::MAX), pos in 0u64..1000, extra in "[a-z_]{1,8}:\t[0-9]{1,5}") {
        let text = format!("pos:\t{pos}\n{extra}\nPid:\t{pid}\nNSpid:\t{pid}\n");
        let parsed = parse_fdinfo(&text).unwrap();
        prop_assert_eq!(parsed.pid, pid);
        prop_assert_eq!(parsed.ns_pids, vec![pid]);
    }

    #[test]
    fn never_panics_and_bounds_pid(text in "(?s).{0,200}") {
        if let Some(p) = parse_fdinfo(&text) {
            prop_assert!(p.pid >= -1 && p.pid <= i64::from(i32::MAX));
        }
    }

    #[test]
    fn mutated_pid_lines_are_rejected_or_exact(prefix in "[ \t]{0,2}", junk in "[^0-9\n-]{1,4}") {
        let text = format!("Pid:{prefix}12{junk}3\n");
        prop_assert_eq!(parse_fdinfo(&text), None);
    }
}
