//! Tidy: ARCHITECTURE.md's workspace invariants, checked over the current
//! sources (as rust-analyzer's `tidy.rs` does) so that a change breaking one
//! fails the normal suite with the file and line to fix. It reads files only.
//! Comments and string literals are blanked before code is searched, so prose
//! about `unsafe` is not code; no check names an API of the crates.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The only files that may contain `unsafe` code: pidfd's private `sys`
/// module and the unpublished bench's floors. Their crates' roots `deny`
/// `unsafe_code` (allowing it in that module); every other root forbids it.
const UNSAFE_ALLOWED: [&str; 2] = ["pidfd/src/sys.rs", "bench/src/floor.rs"];

/// The root licence files that `license.workspace = true` refers to.
const LICENSE_FILES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

/// Names the READMEs put in backticks that are other projects' (psutil's
/// `PIDHandle`, systemd's `PidRef` and `PIDFile=`), so not in our code.
const FOREIGN_NAMES: [&str; 3] = ["PIDHandle", "PidRef", "PIDFile"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("in the workspace")
}

/// A path relative to the workspace root.
fn rel(path: &Path) -> String {
    format!("{}", path.strip_prefix(root()).unwrap_or(path).display())
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The workspace members, from the `members = [...]` list of the root Cargo.toml.
fn members() -> Vec<String> {
    let manifest = read(&root().join("Cargo.toml"));
    let list = &manifest[manifest.find("members").expect("a members list")..];
    let list = &list[..list.find(']').expect("members = [...]")];
    let quoted = list.split('"').skip(1).step_by(2);
    let members: Vec<String> = quoted.map(str::to_owned).collect();
    assert!(members.len() >= 6, "members: {members:?}");
    members
}

/// Whether `line` of a manifest says `key = value` (spaces aside).
fn says(manifest: &str, key_value: &str) -> bool {
    manifest.lines().any(|l| l.replace(' ', "") == key_value)
}

/// Members that may be published (their Cargo.toml does not say `publish = false`).
fn publishable() -> Vec<String> {
    let unpublished = |m: &String| says(&read(&root().join(m).join("Cargo.toml")), "publish=false");
    members().into_iter().filter(|m| !unpublished(m)).collect()
}

/// The `.rs` files under member `m`'s `src/`.
fn src_files(m: &str) -> Vec<PathBuf> {
    rs_files(&root().join(m).join("src"))
}

/// The `.rs` files under `dir`, sorted.
fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
        if path.is_dir() && name != "target" && !name.starts_with('.') {
            out.extend(rs_files(&path));
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every `.rs` file under `src/`, `tests/`, `benches/` and `examples/` of every member.
fn sources() -> Vec<PathBuf> {
    let dirs = |m: String| ["src", "tests", "benches", "examples"].map(|d| root().join(&m).join(d));
    members()
        .into_iter()
        .flat_map(dirs)
        .flat_map(|d| rs_files(&d))
        .collect()
}

/// `src` with every comment and string or char literal blanked (newlines kept,
/// so line numbers stay right). Block comments are taken not to nest.
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let at = |k: usize| b.get(k).copied();
    let find = |from: usize, pat: &str| {
        let pat: Vec<char> = pat.chars().collect();
        (from..b.len()).find(|&k| b[k..].starts_with(&pat))
    };
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let ident_before = i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_');
        // Where the comment or literal starting at `i` ends (`i`: none starts there).
        let end = match (b[i], at(i + 1)) {
            ('/', Some('/')) => find(i, "\n").unwrap_or(b.len()),
            ('/', Some('*')) => find(i + 2, "*/").map_or(b.len(), |k| k + 2),
            ('"', _) => {
                let mut k = i + 1;
                while k < b.len() && b[k] != '"' {
                    k += if b[k] == '\\' { 2 } else { 1 };
                }
                (k + 1).min(b.len())
            }
            // A raw string r"..." or r#"..."#; `r#ident` is code.
            ('r', Some('"' | '#')) if !ident_before => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == '#').count();
                let close = format!("\"{}", "#".repeat(hashes));
                match at(i + 1 + hashes) {
                    Some('"') => find(i + 2 + hashes, &close).map_or(b.len(), |k| k + close.len()),
                    _ => i,
                }
            }
            // A char literal ('a', '\n', '\u{1F600}'); a lifetime ('a) is code.
            ('\'', Some('\\')) => find(i + 3, "'").map_or(b.len(), |k| k + 1),
            ('\'', _) if at(i + 2) == Some('\'') => i + 3,
            _ => i,
        };
        if end == i {
            out.push(b[i]);
            i += 1;
            continue;
        }
        out.extend(b[i..end].iter().map(|&c| if c == '\n' { c } else { ' ' }));
        i = end;
    }
    out
}

/// The identifiers of `text` (runs of alphanumerics and `_` not starting with a digit).
fn idents(text: &str) -> impl Iterator<Item = &str> {
    let words = text.split(|c: char| !(c.is_alphanumeric() || c == '_'));
    words.filter(|w| w.starts_with(|c: char| c.is_alphabetic() || c == '_'))
}

fn has_word(line: &str, word: &str) -> bool {
    idents(line).any(|w| w == word)
}

fn fail_if_any(what: &str, problems: &[String]) {
    let list = problems.join("\n");
    assert!(problems.is_empty(), "tidy: {what}:\n{list}");
}

#[test]
fn code_only_blanks_comments_and_literals_but_not_code() {
    let src = "// unsafe\nlet s = \"unsafe\"; /* unsafe\n unsafe */ unsafe {}\n\
               let r = r#\"unsafe \"quoted\"\"#; let c = '\"'; fn f<'a>(x: &'a u8) {}\n\
               let e = \"\\\" unsafe\"; let q = '\\''; unsafe fn g() {}\n";
    let code = code_only(src);
    let hits: Vec<&str> = code.lines().filter(|l| has_word(l, "unsafe")).collect();
    assert_eq!(hits.len(), 2, "{code}");
    assert!(hits[1].ends_with("unsafe fn g() {}"), "{code}");
    assert!(code.contains("fn f<'a>(x: &'a u8)"), "{code}");
    assert!(!has_word("#![forbid(unsafe_code)]", "unsafe"));
}

/// `unsafe` appears in the allowed files only, and every crate root (`lib.rs`,
/// `main.rs`, `bin/*.rs`) forbids it, or denies it in a crate with such a file.
#[test]
fn unsafe_only_in_the_allowed_files() {
    let mut problems = Vec::new();
    let (mut seen, mut roots) = (BTreeSet::new(), 0);
    for path in sources() {
        let name = rel(&path);
        let code = code_only(&read(&path));
        let (member, file) = name.split_once('/').unwrap();
        let crate_root = match file.strip_prefix("src/bin/") {
            Some(bin) => !bin.contains('/'),
            None => file == "src/lib.rs" || file == "src/main.rs",
        };
        if crate_root {
            roots += 1;
            let ours = |f: &&str| f.starts_with(&format!("{member}/"));
            let denies = UNSAFE_ALLOWED.iter().any(ours);
            let lint = ["#![forbid(unsafe_code)]", "#![deny(unsafe_code)]"][usize::from(denies)];
            if !code.replace([' ', '\n'], "").contains(lint) {
                problems.push(format!("{name}:1: no `{lint}`"));
            }
        }
        let allowed = UNSAFE_ALLOWED.contains(&name.as_str());
        for (n, line) in code.lines().enumerate() {
            if has_word(line, "unsafe") && allowed {
                seen.insert(name.clone());
            } else if has_word(line, "unsafe") {
                problems.push(format!("{name}:{}: `unsafe`", n + 1));
            }
        }
    }
    fail_if_any(
        &format!("unsafe code (allowed in {UNSAFE_ALLOWED:?})"),
        &problems,
    );
    // The check must see the code it allows, or it checks nothing.
    assert!(roots >= 8, "found only {roots} crate roots");
    let all_seen = seen.len() == UNSAFE_ALLOWED.len();
    assert!(all_seen, "an allowed file has no `unsafe`: {seen:?}");
}

/// The names a file imports from rustix (`use rustix::a::{B, C as D};` gives
/// `B` and `D`), so unqualified uses in public signatures are caught too.
fn rustix_imports(code: &str) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    for stmt in code.split(';') {
        let Some((_, body)) = stmt.split_once("use rustix::") else {
            continue;
        };
        for part in body.split([',', '{', '}']).map(str::trim) {
            let name = match part.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => part.rsplit("::").next().unwrap_or(""),
            };
            if !name.is_empty() && name != "self" && name != "*" {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn no_rustix_type_in_public_signatures() {
    let imports = rustix_imports("use rustix::io::Errno;\nuse rustix::fd::{AsFd, OwnedFd as O};");
    assert_eq!(Vec::from_iter(imports), ["AsFd", "Errno", "O"]);
    let mut problems = Vec::new();
    let mut checked = 0;
    for m in publishable() {
        for path in src_files(&m) {
            let code = code_only(&read(&path));
            let imported = rustix_imports(&code);
            // A signature runs from its `pub` (or trait `impl ... for`) line to
            // the `{` or `;` that ends it; a `pub` field ends on its own line.
            let mut open: Option<usize> = None;
            for (n, line) in code.lines().enumerate() {
                let t = line.trim_start();
                let trait_impl = t.starts_with("impl") && t.contains(" for ");
                if open.is_none() && (t.starts_with("pub ") || trait_impl) {
                    open = Some(n);
                }
                let Some(start) = open else { continue };
                checked += 1;
                if line.contains("rustix::") || imported.iter().any(|t| has_word(line, t)) {
                    let at = format!("{}:{}", rel(&path), n + 1);
                    problems.push(format!("{at}: (signature from line {}) {t}", start + 1));
                }
                let field = n == start && line.trim_end().ends_with(',');
                if field || line.contains('{') || line.contains(';') {
                    open = None;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} public signature lines seen");
    fail_if_any("rustix types in public signatures", &problems);
}

/// The spans a README puts in backticks outside code blocks, with their line numbers.
fn backticked(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        fenced ^= fence;
        if !fenced && !fence {
            out.extend(line.split('`').skip(1).step_by(2).map(|s| (n + 1, s)));
        }
    }
    out
}

/// The names of ours a backticked span mentions: the segments of its leading
/// path when that is `pidkit_x::...` or starts with a CamelCase name
/// (`PidHandle::new(pid)`: `PidHandle`, `new`). Other spans (syscalls,
/// constants, std paths like `io::Error`, shell) name none.
fn named_items(span: &str) -> Vec<&str> {
    let path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let end = span.find(|c| !path_char(c)).unwrap_or(span.len());
    let mut path: Vec<&str> = span[..end].split("::").collect();
    let camel = |w: &str| w.starts_with(char::is_uppercase) && w.contains(char::is_lowercase);
    if path[0].starts_with("pidkit_") {
        path.remove(0);
    } else if !camel(path[0]) {
        return Vec::new();
    }
    path.retain(|w| idents(w).next() == Some(*w));
    path
}

#[test]
fn readme_names_are_named_in_the_code() {
    assert_eq!(named_items("pidkit_x::A::b(c)?"), ["A", "b"]);
    assert!(named_items("io::ErrorKind").is_empty() && named_items("SIGKILL").is_empty());
    let crates = publishable();
    let sources = crates.iter().flat_map(|m| src_files(m));
    let code: String = sources.map(|f| code_only(&read(&f))).collect();
    let words: BTreeSet<&str> = idents(&code).chain(FOREIGN_NAMES).collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for m in &crates {
        let readme = read(&root().join(m).join("README.md"));
        for (line, span) in backticked(&readme) {
            for name in named_items(span) {
                checked += 1;
                if !words.contains(name) {
                    problems.push(format!("{m}/README.md:{line}: `{span}`: no `{name}`"));
                }
            }
        }
    }
    assert!(checked > 30, "only {checked} names in backticks");
    fail_if_any("README names not in the code (or FOREIGN_NAMES)", &problems);
}

#[test]
fn every_publishable_crate_has_readme_changelog_and_licence() {
    let crates = publishable();
    assert!(crates.len() >= 5, "only {crates:?} are publishable");
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: String| (!ok).then(|| problems.push(what));
    for f in LICENSE_FILES {
        need(root().join(f).is_file(), format!("{f}: missing"));
    }
    for m in &crates {
        for f in ["README.md", "CHANGELOG.md", "src/lib.rs"] {
            let path = format!("{m}/{f}");
            need(root().join(&path).is_file(), path + ": missing");
        }
        let manifest = read(&root().join(m).join("Cargo.toml"));
        let licence = says(&manifest, "license.workspace=true");
        let what = format!("{m}/Cargo.toml: no `license.workspace = true`");
        need(licence, what);
    }
    fail_if_any("publishable crates missing files", &problems);
}

/// Every source file, so every crate root too, opens with its module doc.
#[test]
fn every_source_file_opens_with_a_module_doc_line() {
    let sources = sources();
    let undocumented = sources.iter().filter(|p| !read(p).starts_with("//!"));
    let problems: Vec<String> = undocumented.map(|p| format!("{}:1", rel(p))).collect();
    fail_if_any("files not opening with a `//!` line", &problems);
}

/// The value of `key = "value"` in a manifest, if a line says so.
fn manifest_value(manifest: &str, key: &str) -> Option<String> {
    manifest.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The features a manifest declares (its `[features]` table, `default` aside).
fn features(manifest: &str) -> Vec<String> {
    let Some(start) = manifest.find("\n[features]\n") else {
        return Vec::new();
    };
    let table = &manifest[start + "\n[features]\n".len()..];
    let table = &table[..table.find("\n[").unwrap_or(table.len())];
    table
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.is_empty() && k != "default")
        .collect()
}

#[test]
fn every_readme_shows_how_to_depend_on_its_crate() {
    let workspace = read(&root().join("Cargo.toml"));
    let msrv = manifest_value(&workspace, "rust-version").expect("workspace rust-version");
    let repo = manifest_value(&workspace, "repository").expect("workspace repository");
    let top = read(&root().join("README.md"));
    let mut problems = Vec::new();
    for m in publishable() {
        let package = format!("pidkit-{m}");
        let readme_path = root().join(&m).join("README.md");
        let readme = read(&readme_path);
        let wanted = [
            format!("{package} = {{ git = \"{repo}\" }}"),
            format!("{package} = {{ path = "),
            format!("{package} = \"0.1\""),
            format!("MSRV: Rust {msrv}"),
        ];
        for w in &wanted {
            if !readme.contains(w.as_str()) {
                problems.push(format!("{}: no `{w}`", rel(&readme_path)));
            }
        }
        let manifest = read(&root().join(&m).join("Cargo.toml"));
        for f in features(&manifest) {
            let line = format!("- `{f}`: ");
            if !readme.contains(&line) {
                problems.push(format!(
                    "{}: feature `{f}` not described",
                    rel(&readme_path)
                ));
            }
            let row = top
                .lines()
                .find(|l| l.starts_with(&format!("| `{package}` |")));
            if !row.is_some_and(|r| r.contains(&format!("`{f}`"))) {
                problems.push(format!(
                    "README.md: feature `{f}` of {package} not in the table"
                ));
            }
        }
    }
    if !top.contains(&format!("MSRV: Rust {msrv}")) {
        problems.push(format!("README.md: no `MSRV: Rust {msrv}`"));
    }
    fail_if_any(
        "READMEs that do not say how to depend on their crate",
        &problems,
    );
}

/// Rows of the README's feature table that are no property of a machine
/// (decoding rules, flags pidkit does not use), so not in the probe example.
const NOT_PROBED: [&str; 2] = ["struct pidfd_info", "CLONE_PIDFD_AUTOKILL"];

#[test]
fn the_probe_example_speaks_the_readme_feature_table() {
    let top = read(&root().join("README.md"));
    let section = &top[top
        .find("### Which kernel brings what")
        .expect("the feature table")..];
    let readme: Vec<String> = section
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cell = l.split('|').nth(1).unwrap_or("").replace('`', "");
            cell.split(" (").next().unwrap_or("").trim().to_owned()
        })
        .collect();
    assert!(readme.len() >= 10, "feature table rows: {readme:?}");
    let example_path = root().join("pidfd/examples/probe.rs");
    let example = read(&example_path);
    let probed: Vec<String> = example
        .split("row(")
        .skip(2)
        .filter_map(|r| r.split('"').nth(1).map(str::to_owned))
        .collect();
    let mut problems = Vec::new();
    for f in &readme {
        if !probed.contains(f) && !NOT_PROBED.iter().any(|n| f.starts_with(n)) {
            problems.push(format!(
                "{}: README row `{f}` not printed",
                rel(&example_path)
            ));
        }
    }
    for f in &probed {
        if !readme.contains(f) {
            problems.push(format!("{}: `{f}` is no README row", rel(&example_path)));
        }
    }
    fail_if_any(
        "the probe example and the README's feature table differ",
        &problems,
    );
}
