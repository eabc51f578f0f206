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

/// Names a README may put in backticks that are not pidkit's: std and
/// common traits, and other projects' types it compares against. A
/// CamelCase name in backticks that is neither an item of the crate (or of
/// the pidkit crates it builds on) nor listed here fails
/// [`readmes_name_only_items_that_exist`].
const FOREIGN_NAMES: [&str; 10] = [
    "Clone",
    "OwnedFd",
    "Display",
    "FromStr",
    "Debug",
    "Drop",
    "Send",
    "Sync",
    "PIDHandle",
    "PidRef",
];

/// What a crate's sources declare: public types, traits and re-exported
/// names (`types`), and, per type, what may follow `Type::` (`members`:
/// public and trait functions, public constants and fields, enum variants).
#[derive(Default)]
struct Declared {
    types: BTreeSet<String>,
    members: BTreeSet<(String, String)>,
}

/// The first identifier of `s`.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// `s` without `<...>` generics.
fn strip_generics(s: &str) -> String {
    let mut depth = 0;
    s.chars()
        .filter(|&c| {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => return depth == 0,
            }
            false
        })
        .collect()
}

/// The type an `impl` header (the line, generics and all) adds to, and
/// whether it is a trait's impl (whose functions are all public).
fn impl_target(header: &str) -> (String, bool) {
    let header = strip_generics(header.trim_start().trim_start_matches("impl"));
    let (ty, is_trait) = match header.split_once(" for ") {
        Some((_, ty)) => (ty.to_owned(), true),
        None => (header, false),
    };
    let last = ty.trim().rsplit("::").next().unwrap_or("").to_owned();
    (ident(&last).to_owned(), is_trait)
}

/// What a block at the top level of a file declares into.
enum Body {
    /// `impl Type` (`true`: `impl Trait for Type`) or `pub trait Type`.
    Impl(String, bool),
    Enum(String),
    Struct(String),
}

/// Adds what one source file declares. Line based, on code only (every
/// block in question opens and closes at the same indentation, as rustfmt
/// writes them).
fn declare(code: &str, d: &mut Declared) {
    let mut body: Option<(usize, Body)> = None;
    for line in code.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some((at, b)) = &body {
            if indent == *at && trimmed.starts_with('}') {
                body = None;
                continue;
            }
            if indent > *at {
                let (owner, name) = match b {
                    Body::Enum(e) if !trimmed.starts_with('#') && indent == at + 4 => {
                        (e, ident(trimmed))
                    }
                    Body::Impl(t, all_public) => {
                        let f = trimmed
                            .strip_prefix("pub ")
                            .or(if *all_public { Some(trimmed) } else { None })
                            .unwrap_or("");
                        let f = f
                            .trim_start_matches("const ")
                            .trim_start_matches("async ")
                            .trim_start_matches("unsafe ");
                        (t, f.strip_prefix("fn ").map(ident).unwrap_or(""))
                    }
                    Body::Struct(t) => (
                        t,
                        trimmed
                            .strip_prefix("pub ")
                            .and_then(|f| f.split_once(':'))
                            .map(|(f, _)| f)
                            .filter(|f| ident(f) == *f)
                            .unwrap_or(""),
                    ),
                    Body::Enum(_) => continue,
                };
                if !name.is_empty() {
                    d.members.insert((owner.clone(), name.to_owned()));
                }
                continue;
            }
        }
        if trimmed.starts_with("impl") && !trimmed.starts_with("impl_") {
            if line.trim_end().ends_with('{') {
                let (ty, is_trait) = impl_target(line.trim_end().trim_end_matches('{'));
                body = Some((indent, Body::Impl(ty, is_trait)));
            }
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("pub ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let name = ident(words.get(1).unwrap_or(&"")).to_owned();
        let opens = line.trim_end().ends_with('{');
        match words.first().copied() {
            Some("struct" | "type" | "union") => {
                d.types.insert(name.clone());
                if opens {
                    body = Some((indent, Body::Struct(name)));
                }
            }
            Some("enum") => {
                d.types.insert(name.clone());
                if opens {
                    body = Some((indent, Body::Enum(name)));
                }
            }
            Some("trait") => {
                d.types.insert(name.clone());
                if opens {
                    body = Some((indent, Body::Impl(name, true)));
                }
            }
            Some("use") => {
                // `pub use a::{B, C as D};`, `pub use a::B;`, `pub use a;`
                for part in rest[3..].split([',', '{', '}', ';', ' ', ':']) {
                    let name = ident(part);
                    if !name.is_empty() {
                        d.types.insert(name.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
}

/// The pidkit crates `member` builds on (its `pidkit-*` dependencies, and
/// theirs), itself included.
fn with_pidkit_deps(member: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![member.to_owned()];
    while let Some(m) = todo.pop() {
        if !out.insert(m.clone()) {
            continue;
        }
        let manifest = read(&root().join(&m).join("Cargo.toml"));
        let deps = manifest
            .split("\n[dependencies]")
            .nth(1)
            .map(|s| s.split("\n[").next().unwrap_or(""))
            .unwrap_or("");
        for line in deps.lines() {
            if let Some(dep) = line.trim().strip_prefix("pidkit-") {
                todo.push(ident(dep).to_owned());
            }
        }
    }
    out
}

/// The spans a README puts in backticks, with their line numbers.
fn backticked(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && !span.is_empty() {
                out.push((n + 1, span.to_owned()));
            }
        }
    }
    out
}

/// Checks one backticked span of `member`'s README against what its crates
/// declare: a path `Type::member` (a crate prefix `pidkit_x::` is dropped;
/// a path that starts in lowercase, like `io::ErrorKind`, is not pidkit's)
/// or a bare CamelCase name. Anything else (syscalls, shell, prose) is not
/// an item and passes.
fn check_span(member: &str, span: &str, d: &Declared) -> Option<String> {
    let span = match span.strip_prefix("pidkit_") {
        Some(rest) => rest.split_once("::").map_or(span, |(_, path)| path),
        None => span,
    };
    let head = ident(span);
    let camel = head.starts_with(|c: char| c.is_ascii_uppercase())
        && head.chars().any(|c| c.is_ascii_lowercase());
    if !camel {
        return None;
    }
    let rest = &span[head.len()..];
    let Some(path) = rest.strip_prefix("::") else {
        // A bare name: a type or variant of the crate, or a known foreign one. A name
        // followed by anything but call or field syntax is prose.
        // A bare variant (`Gone` for `Error::Gone`) counts as well.
        let known = d.types.contains(head) || d.members.iter().any(|(_, m)| m == head);
        let item_like = rest.is_empty() || rest.starts_with(['(', ' ']);
        return (item_like && !known && !FOREIGN_NAMES.contains(&head)).then(|| {
            format!("`{span}`: no public item `{head}` in {member} or the pidkit crates it uses (a foreign name goes in FOREIGN_NAMES)")
        });
    };
    let name = ident(path);
    if !d.types.contains(head) {
        return Some(format!(
            "`{span}`: no public type `{head}` in {member} or the pidkit crates it uses"
        ));
    }
    (!d.members.contains(&(head.to_owned(), name.to_owned()))).then(|| {
        format!("`{span}`: `{head}` has no public fn, constant, variant or field `{name}`")
    })
}

#[test]
fn readme_spans_are_checked_as_items() {
    let mut d = Declared::default();
    declare(
        &code_only(
            "pub struct Handle;\nimpl Handle {\n    pub fn restore() {}\n    pub const fn pid() {}\n}\n\
             pub enum Error {\n    Gone { pid: u32 },\n    #[doc(hidden)]\n    Closed,\n}\n\
             pub trait Watch {\n    fn start(&self);\n}\npub use inner::{Signal, Other as Renamed};\n",
        ),
        &mut d,
    );
    for ok in [
        "Handle::restore",
        "Handle::pid()",
        "Error::Gone { pid }",
        "Error::Closed",
        "Watch::start",
        "Signal",
        "Renamed",
        "Clone",
        "pidkit_x::Handle::restore",
        "io::ErrorKind::NotFound",
        "kill(2)",
        "PIDFD_INFO_EXIT",
        "Display for",
    ] {
        assert_eq!(check_span("x", ok, &d), None, "{ok}");
    }
    for bad in [
        "Handle::open",
        "Gadget::restore",
        "Gadget",
        "Error::Missing",
        "Handle::start",
    ] {
        assert!(check_span("x", bad, &d).is_some(), "{bad}");
    }
    assert_eq!(
        backticked("a `A::b` and `c`\n```\n`Not::this`\n```\n`D`"),
        [(1, "A::b".into()), (1, "c".into()), (5, "D".into())]
    );
}

#[test]
fn readmes_name_only_items_that_exist() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for m in publishable() {
        let readme = root().join(&m).join("README.md");
        if !readme.is_file() {
            continue;
        }
        let mut d = Declared::default();
        for c in with_pidkit_deps(&m) {
            let mut files = Vec::new();
            collect_rs(&root().join(&c).join("src"), &mut files);
            for f in files {
                declare(&code_only(&read(&f)), &mut d);
            }
        }
        for (line, span) in backticked(&read(&readme)) {
            checked += 1;
            if let Some(p) = check_span(&m, &span, &d) {
                problems.push(format!("{m}/README.md:{line}: {p}"));
            }
        }
    }
    assert!(
        checked > 100,
        "tidy: only {checked} backticked spans in the READMEs"
    );
    fail_if_any("README names that are no item of the crate", &problems);
}

/// The public items of `src` (`pub fn`, `struct`, `enum`, `trait`, `const`,
/// `type`, `static`; not `pub(crate)` or re-exports) whose own doc comment,
/// the `///` and `#[..]` lines right above them, has no code block: their
/// 1-based line numbers and names.
fn items_without_examples(src: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix("pub ") else {
            continue;
        };
        // `const fn`, `unsafe fn`, `async fn` are functions (a bare `const`
        // is a constant).
        let mut rest = rest;
        for qualifier in ["const ", "unsafe ", "async "] {
            if let Some(r) = rest.strip_prefix(qualifier) {
                if r.starts_with("fn ") || r.starts_with("unsafe ") || r.starts_with("async ") {
                    rest = r;
                }
            }
        }
        let Some((kind, after)) = rest.split_once(' ') else {
            continue;
        };
        if !matches!(
            kind,
            "fn" | "struct" | "enum" | "trait" | "const" | "type" | "static"
        ) {
            continue;
        }
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let has_example = lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let l = l.trim_start();
                l.starts_with("///") || l.starts_with("#[")
            })
            .any(|l| l.contains("```"));
        if !has_example {
            out.push((i + 1, name));
        }
    }
    out
}

#[test]
fn items_without_examples_are_found() {
    let src = "/// Has one.\n///\n/// ```\n/// x();\n/// ```\n#[inline]\npub fn x() {}\n\
               /// None.\npub const fn y() {}\npub(crate) fn z() {}\n    /// Nor here.\n    pub const K: u8 = 1;\n";
    assert_eq!(
        items_without_examples(src),
        [(9, "y".to_owned()), (12, "K".to_owned())]
    );
}

#[test]
fn every_public_item_has_an_example() {
    let mut problems = Vec::new();
    for member in publishable() {
        let mut files = Vec::new();
        collect_rs(&root().join(&member).join("src"), &mut files);
        files.sort();
        for f in files {
            for (line, name) in items_without_examples(&read(&f)) {
                problems.push(format!("{}:{line}: `{name}` has no example", rel(&f)));
            }
        }
    }
    fail_if_any("public items without a doc example", &problems);
}
