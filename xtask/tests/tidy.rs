//! Tidy: checks ARCHITECTURE.md's workspace invariants mechanically over the
//! repository's sources (as rust-analyzer's `tidy.rs` does), so a change that
//! breaks one fails the normal test suite with the file and line to fix.
//!
//! The checks read files only; they build nothing and run no other program.
//! Comments and string literals are blanked before code is searched, so doc
//! text about `unsafe` or a lint name like `unsafe_code` is not code.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The only files that may contain `unsafe` code (ARCHITECTURE.md: pidfd's
/// private `sys` module, and the unpublished bench's floor module).
const UNSAFE_ALLOWED: [&str; 2] = ["pidfd/src/sys.rs", "bench/src/floor.rs"];

/// Crate roots that `deny` instead of `forbid` `unsafe_code`, because one
/// module of theirs has an `allow` (the files of [`UNSAFE_ALLOWED`]).
const DENY_NOT_FORBID: [&str; 2] = ["pidfd/src/lib.rs", "bench/src/main.rs"];

/// The root license files that `license.workspace = true` refers to.
const LICENSE_FILES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

/// Directories of a member whose `.rs` files are checked.
const SOURCE_DIRS: [&str; 4] = ["src", "tests", "benches", "examples"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// A path relative to the workspace root, with `/` separators.
fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The workspace members, from the `members = [...]` list of the root Cargo.toml.
fn members() -> Vec<String> {
    let manifest = read(&root().join("Cargo.toml"));
    let start = manifest
        .find("members")
        .expect("the root Cargo.toml has a members list");
    let list = &manifest[start..];
    let list = &list[list.find('[').expect("members = [")..=list.find(']').expect("]")];
    let members: Vec<String> = list
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(
        members.len() >= 6,
        "Cargo.toml: found only {members:?} as members"
    );
    members
}

/// Members that may be published (their Cargo.toml does not say `publish = false`).
fn publishable() -> Vec<String> {
    members()
        .into_iter()
        .filter(|m| {
            !read(&root().join(m).join("Cargo.toml"))
                .lines()
                .any(|l| l.replace(' ', "") == "publish=false")
        })
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file under `src/`, `tests/`, `benches/` and `examples/` of every member.
fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for m in members() {
        for d in SOURCE_DIRS {
            collect_rs(&root().join(&m).join(d), &mut out);
        }
    }
    out.sort();
    assert!(out.len() > 20, "found only {} source files", out.len());
    out
}

/// `src` with every comment and every string or char literal replaced by
/// spaces (newlines kept, so line numbers stay right).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r"..." or r#"..."#; `r#ident` (a raw identifier) is code.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let closes = |k: usize| {
                b.get(k) == Some(&'"') && (1..=hashes).all(|h| b.get(k + h) == Some(&'#'))
            };
            while j < b.len() && !closes(j) {
                j += 1;
            }
            let end = (j + 1 + hashes).min(b.len());
            out.extend(b[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                if b[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            let end = (j + 1).min(b.len());
            out.extend(b[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            let end = if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                Some(j + 1)
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    let end = end.min(b.len());
                    out.extend(b[i..end].iter().map(|&c| blank(c)));
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether `line` contains `word` delimited by non-identifier characters.
fn has_word(line: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(word).any(|(at, _)| {
        !line[..at].chars().next_back().is_some_and(is_ident)
            && !line[at + word.len()..].chars().next().is_some_and(is_ident)
    })
}

fn fail_if_any(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "tidy: {what} ({} problem(s)):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn code_only_blanks_comments_and_literals_but_not_code() {
    let src = "// unsafe\nlet s = \"unsafe\"; /* unsafe /* nested */ unsafe */ unsafe {}\n\
               let r = r#\"unsafe \"quoted\"\"#; let c = '\"'; fn f<'a>(x: &'a u8) {}\n\
               let e = \"\\\" unsafe\"; unsafe fn g() {}\n";
    let code = code_only(src);
    assert_eq!(code.lines().count(), src.lines().count());
    let found: Vec<usize> = code
        .lines()
        .enumerate()
        .filter(|(_, l)| has_word(l, "unsafe"))
        .map(|(n, _)| n + 1)
        .collect();
    assert_eq!(found, [2, 4], "{code}");
    assert!(code.contains("fn f<'a>(x: &'a u8)"), "{code}");
    assert!(!has_word("#![forbid(unsafe_code)]", "unsafe"));
    assert!(!has_word("deny(unsafe_op_in_unsafe_fn)", "unsafe"));
}

#[test]
fn unsafe_only_in_the_allowed_modules() {
    let mut problems = Vec::new();
    let mut seen_allowed = BTreeSet::new();
    for path in sources() {
        let name = rel(&path);
        let code = code_only(&read(&path));
        for (n, line) in code.lines().enumerate() {
            if has_word(line, "unsafe") {
                if UNSAFE_ALLOWED.contains(&name.as_str()) {
                    seen_allowed.insert(name.clone());
                } else {
                    problems.push(format!(
                        "{name}:{}: `unsafe` outside {UNSAFE_ALLOWED:?}",
                        n + 1
                    ));
                }
            }
        }
    }
    fail_if_any("unsafe code outside its modules", &problems);
    // The check must see the code it allows, or it checks nothing.
    assert_eq!(
        seen_allowed.len(),
        UNSAFE_ALLOWED.len(),
        "tidy: no `unsafe` found in some of {UNSAFE_ALLOWED:?}: is the lexer broken, or the allowlist stale?"
    );
}

#[test]
fn every_crate_root_forbids_unsafe_code() {
    let mut problems = Vec::new();
    let mut roots = Vec::new();
    for m in members() {
        let src = root().join(&m).join("src");
        for f in ["lib.rs", "main.rs"] {
            if src.join(f).is_file() {
                roots.push(src.join(f));
            }
        }
        if let Ok(bins) = fs::read_dir(src.join("bin")) {
            roots.extend(
                bins.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "rs")),
            );
        }
    }
    assert!(roots.len() >= 8, "found only {roots:?}");
    for path in roots {
        let name = rel(&path);
        let code = code_only(&read(&path)).replace(' ', "");
        let (want, why) = if DENY_NOT_FORBID.contains(&name.as_str()) {
            (
                "#![deny(unsafe_code)]",
                "the one unsafe module's crate denies it",
            )
        } else {
            ("#![forbid(unsafe_code)]", "every other crate forbids it")
        };
        if !code.contains(want) {
            problems.push(format!("{name}:1: no `{want}` ({why})"));
        }
    }
    fail_if_any("crate roots without their unsafe_code lint", &problems);
}

/// The words a `pub` item's signature starts with (`pub(crate)` and other
/// restricted visibilities are not public).
fn is_public_item(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("pub ") || (t.starts_with("impl") && t.contains(" for "))
}

/// The names a file imports from rustix (`use rustix::a::{B, C as D}` gives
/// `B` and `D`), so unqualified uses in public signatures are caught too.
fn rustix_imports(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_use = false;
    let mut stmt = String::new();
    for line in code.lines() {
        let t = line.trim();
        if t.starts_with("use rustix::") || t.starts_with("pub(crate) use rustix::") {
            in_use = true;
            stmt.clear();
        }
        if in_use {
            stmt.push_str(t);
            stmt.push(' ');
            if t.contains(';') {
                in_use = false;
                let body = stmt.trim_end_matches([' ', ';']);
                let body = body.replace(['{', '}'], ",");
                for part in body.split(',') {
                    let part = part.trim();
                    let name = match part.split_once(" as ") {
                        Some((_, alias)) => alias.trim(),
                        None => part.rsplit("::").next().unwrap_or(""),
                    };
                    if !name.is_empty() && name != "self" && name != "*" {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
    }
    names
}

#[test]
fn rustix_imports_are_found() {
    let code =
        "use rustix::io::Errno;\nuse rustix::process::{Pid, WaitId as W,\n    WaitOptions};\n";
    let names: Vec<String> = rustix_imports(code).into_iter().collect();
    assert_eq!(names, ["Errno", "Pid", "W", "WaitOptions"]);
}

#[test]
fn no_rustix_type_in_public_signatures() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for m in publishable() {
        let mut files = Vec::new();
        collect_rs(&root().join(&m).join("src"), &mut files);
        for path in files {
            let name = rel(&path);
            let code = code_only(&read(&path));
            let imported = rustix_imports(&code);
            // A signature runs from its `pub` line to the `{` or `;` that ends it.
            let mut open: Option<usize> = None;
            for (n, line) in code.lines().enumerate() {
                if open.is_none() && is_public_item(line) {
                    open = Some(n);
                }
                let Some(start) = open else { continue };
                checked += 1;
                let hit = line.contains("rustix::") || imported.iter().any(|t| has_word(line, t));
                if hit {
                    problems.push(format!(
                        "{name}:{}: a public signature (from line {}) names a rustix type: {}",
                        n + 1,
                        start + 1,
                        line.trim()
                    ));
                }
                // A field (`pub x: T,`) ends on its own line; an item at its
                // body or its `;`.
                let field_end = n == start && line.trim_end().ends_with(',');
                if field_end || line.contains('{') || line.contains(';') {
                    open = None;
                }
            }
        }
    }
    assert!(
        checked > 100,
        "tidy: only {checked} public signature lines seen"
    );
    fail_if_any("rustix types in public signatures", &problems);
}

#[test]
fn every_source_file_opens_with_a_module_doc_line() {
    let mut problems = Vec::new();
    for path in sources() {
        let text = read(&path);
        let first = text.lines().next().unwrap_or("");
        if !first.starts_with("//!") {
            problems.push(format!(
                "{}:1: does not open with a `//!` line saying what the file is (found {first:?})",
                rel(&path)
            ));
        }
    }
    fail_if_any("source files without a leading `//!` line", &problems);
}

#[test]
fn every_publishable_crate_has_readme_changelog_and_license() {
    let mut problems = Vec::new();
    let crates = publishable();
    assert!(crates.len() >= 5, "tidy: only {crates:?} are publishable");
    for f in LICENSE_FILES {
        if !root().join(f).is_file() {
            problems.push(format!("{f}:1: missing at the workspace root"));
        }
    }
    for m in &crates {
        for f in ["README.md", "CHANGELOG.md"] {
            if !root().join(m).join(f).is_file() {
                problems.push(format!(
                    "{m}/{f}:1: missing (every published crate has one)"
                ));
            }
        }
        let manifest = read(&root().join(m).join("Cargo.toml"));
        if !manifest
            .lines()
            .any(|l| l.replace(' ', "") == "license.workspace=true")
        {
            problems.push(format!(
                "{m}/Cargo.toml:1: no `license.workspace = true` (the workspace's MIT OR Apache-2.0)"
            ));
        }
    }
    fail_if_any("publishable crates missing files", &problems);
}

/// The step names of `TEST_STEPS` in xtask/src/tasks.rs, with their lines.
fn test_steps() -> Vec<(usize, String)> {
    let text = read(&root().join("xtask/src/tasks.rs"));
    let start = text
        .lines()
        .position(|l| l.contains("const TEST_STEPS"))
        .expect("xtask/src/tasks.rs defines TEST_STEPS");
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate().skip(start + 1) {
        if line.trim_start().starts_with("];") {
            break;
        }
        let t = line.trim();
        if t.starts_with("//") {
            continue;
        }
        steps.extend(
            t.split('"')
                .skip(1)
                .step_by(2)
                .map(|s| (n + 1, s.to_owned())),
        );
    }
    assert!(steps.len() >= 9, "tidy: TEST_STEPS has only {steps:?}");
    steps
}

#[test]
fn xtask_help_lists_every_test_step() {
    let main = read(&root().join("xtask/src/main.rs"));
    let usage_start = main
        .find("const USAGE")
        .expect("xtask/src/main.rs defines USAGE");
    let usage = &main[usage_start..];
    let usage = &usage[..usage.find("\";").expect("USAGE ends with \";")];
    let mut problems = Vec::new();
    for (line, step) in test_steps() {
        if !usage.contains(&format!("`{step}`")) {
            problems.push(format!(
                "xtask/src/tasks.rs:{line}: step `{step}` is not in the help (USAGE in xtask/src/main.rs)"
            ));
        }
    }
    fail_if_any(
        "xtask test steps missing from `cargo xtask help`",
        &problems,
    );
}
