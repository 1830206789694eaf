//! The rules `src/lib.rs` states for the Markdown pages, checked on every
//! page: the doctests prove each Rust block compiles; these prove it
//! compiles *with what the page tells a reader to write*.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A fenced block: its info string (`rust,no_run`), its lines, and the
/// line number of the opening fence.
struct Block {
    info: String,
    lines: Vec<String>,
    line: usize,
}

struct Page {
    name: String,
    text: String,
    blocks: Vec<Block>,
}

impl Page {
    fn language(block: &Block) -> &str {
        block.info.split(',').next().unwrap_or("").trim()
    }

    fn blocks_in<'a>(&'a self, language: &'a str) -> impl Iterator<Item = &'a Block> {
        self.blocks
            .iter()
            .filter(move |b| Self::language(b) == language)
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// README.md and every docs/*.md, by their path from the repository root.
fn pages() -> Vec<Page> {
    let mut names = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(root().join(&name))
                .unwrap_or_else(|e| panic!("reading {name}: {e}"));
            let blocks = blocks(&text);
            Page { name, text, blocks }
        })
        .collect()
}

/// Fenced blocks opened by ``` at the start of a line.
fn blocks(text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_owned(),
                    lines: Vec::new(),
                    line: i + 1,
                });
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                found.extend(open.take());
            }
            (Some(block), _) => block.lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code fence");
    found
}

#[test]
fn every_page_is_compiled() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    for page in pages() {
        let include = format!("include_str!(\"../../../{}\")", page.name);
        assert!(
            lib.contains(&include),
            "{} is not included in crates/apiauth-docs/src/lib.rs, so its snippets are not compiled",
            page.name
        );
    }
}

#[test]
fn every_fence_names_its_language() {
    const KNOWN: &[&str] = &["rust", "text", "sh", "console", "toml", "json"];
    for page in pages() {
        for block in &page.blocks {
            let language = Page::language(block);
            assert!(
                KNOWN.contains(&language),
                "{}:{}: fence language `{language}` (a bare fence is compiled as Rust; name one of {KNOWN:?})",
                page.name,
                block.line
            );
        }
    }
}

#[test]
fn hidden_lines_hide_no_imports() {
    for page in pages() {
        for block in page.blocks_in("rust") {
            for line in &block.lines {
                let t = line.trim_start();
                let hidden = t == "#" || t.starts_with("# ");
                assert!(
                    !(hidden && t.contains("use ")),
                    "{}:{}: a hidden line imports something the reader needs: `{line}`",
                    page.name,
                    block.line
                );
            }
        }
    }
}

/// The dependency names a page's ```toml blocks declare, `-` read as `_`.
fn declared(page: &Page) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for block in page.blocks_in("toml") {
        let mut in_deps = false;
        for line in &block.lines {
            let t = line.trim();
            if t.starts_with('[') {
                in_deps = t.ends_with("dependencies]");
                continue;
            }
            if !in_deps || t.starts_with('#') {
                continue;
            }
            if let Some((name, _)) = t.split_once('=') {
                names.insert(name.trim().replace('-', "_"));
            }
        }
    }
    names
}

/// Rust source with string literals and comments blanked out.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == 'r' && matches!(chars.get(i + 1), Some('#') | Some('"')) {
            // A raw string: r"…" or r#"…"#.
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let rest: String = chars[j + 1..].iter().collect();
                let end = rest.find(&close).map_or(chars.len(), |e| {
                    j + 1 + rest[..e].chars().count() + close.chars().count()
                });
                out.push_str("\"\"");
                i = end;
                continue;
            }
        }
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Crates a Rust block names: the first segment of every path
/// (`auth_core::…`, `#[tokio::main]`), minus std and names the block
/// brings into scope itself (`use auth_emulator::demo;` then `demo::…`).
fn crates_used(block: &Block) -> BTreeSet<String> {
    const NOT_CRATES: &[&str] = &[
        "std", "core", "alloc", "self", "super", "crate", "u8", "u16", "u32", "u64", "u128",
        "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64", "bool", "char", "str",
    ];
    let source: String = block
        .lines
        .iter()
        .map(|l| {
            let t = l.trim_start();
            // Hidden lines are compiled too.
            t.strip_prefix("# ")
                .or_else(|| (t == "#").then_some(""))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let code = code_only(&source);
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';

    // Names imported by `use` statements (every identifier after the first).
    let mut local = BTreeSet::new();
    for statement in code.split(';') {
        let s = statement.trim_start();
        let Some(tree) = s.strip_prefix("use ") else {
            continue;
        };
        for name in tree.split(|c: char| !ident(c)).skip(1) {
            if !name.is_empty() {
                local.insert(name.to_owned());
            }
        }
    }
    for line in code.lines() {
        if let Some(name) = line.trim_start().strip_prefix("mod ") {
            local.insert(
                name.split(|c: char| !ident(c))
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            );
        }
    }

    let mut used = BTreeSet::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && ident(bytes[i]) {
            i += 1;
        }
        let name: String = bytes[start..i].iter().collect();
        let is_path = bytes.get(i) == Some(&':') && bytes.get(i + 1) == Some(&':');
        let lower = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if is_path && lower && !NOT_CRATES.contains(&name.as_str()) && !local.contains(&name) {
            used.insert(name);
        }
    }
    used
}

#[test]
fn rust_blocks_use_only_crates_the_page_shows() {
    let mut checked = 0;
    for page in pages() {
        let declared = declared(&page);
        for block in page.blocks_in("rust") {
            checked += 1;
            for name in crates_used(block) {
                assert!(
                    declared.contains(&name),
                    "{}:{}: the block uses `{name}`, which no ```toml block of the page declares (it has {declared:?})",
                    page.name,
                    block.line
                );
            }
        }
    }
    assert!(checked >= 10, "only {checked} Rust blocks found");
}

#[test]
fn workspace_crates_are_path_or_git_dependencies() {
    let workspace: Vec<String> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for page in pages() {
        for block in page.blocks_in("toml") {
            for line in &block.lines {
                let Some((name, spec)) = line.split_once('=') else {
                    continue;
                };
                if workspace.contains(&name.trim().to_owned()) {
                    assert!(
                        spec.contains("path =") || spec.contains("git ="),
                        "{}:{}: `{}` is not on crates.io; show a path or git dependency",
                        page.name,
                        block.line,
                        line.trim()
                    );
                }
            }
        }
    }
}

/// Sanity checks of the checker itself.
#[test]
fn the_crate_finder_sees_paths_and_skips_strings_and_imports() {
    let block = Block {
        info: "rust".into(),
        lines: [
            "use auth_emulator::{demo, Emulator};",
            "#[tokio::main]",
            "async fn main() {",
            "    let u = \"https://x.example/a::b\"; // reqwest::Client in a comment",
            "    let r = r#\"{\"serde_json::x\":1}\"#;",
            "    let id = demo::OAUTH2_CLIENT_ID;",
            "    let req = http::Request::get(u);",
            "    let v = std::env::var(\"X\"); let m = u64::MAX;",
            "}",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        line: 1,
    };
    let used: Vec<String> = crates_used(&block).into_iter().collect();
    assert_eq!(used, ["auth_emulator", "http", "tokio"]);
}

#[test]
fn performance_prose_quotes_its_table() {
    let page = pages()
        .into_iter()
        .find(|p| p.name == "docs/performance.md")
        .expect("docs/performance.md");
    let table = page
        .text
        .split("<!-- bench:start -->")
        .nth(1)
        .and_then(|t| t.split("<!-- bench:end -->").next())
        .expect("the bench table markers");
    let prose = page
        .text
        .split("## Reading the results")
        .nth(1)
        .expect("a `Reading the results` section");
    // Every decimal figure (`1.16`, `339.92`): the prose may round nothing
    // and invent nothing.
    let chars: Vec<char> = prose.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && (chars[i - 1].is_ascii_digit())) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
        let figure: String = chars[start..i].iter().collect();
        let figure = figure.trim_end_matches('.');
        if figure.contains('.') {
            assert!(
                table.contains(figure),
                "docs/performance.md: the prose quotes {figure}, which its results table does not show"
            );
        }
    }
}
