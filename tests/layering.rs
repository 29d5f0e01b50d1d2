//! The modules of `src/` import one way (see `src/lib.rs`): no import cycle, and the modules
//! that serve the others import none of the layers above them. Read from the source text:
//! every `crate::name` path and every name in a `use crate::{...}` list, outside comments and
//! `#[cfg(test)]` modules, with the crate root's re-exports (`crate::Client`, ...) resolved to
//! the module that defines them. The files of `src/simulator/` are read the same way through
//! `super::`, and import one way too. The CLI's modules (`cli/src/`) are held to the same: no
//! cycle, and none reaches back into `main.rs`.

use std::collections::{BTreeMap, BTreeSet};

/// The modules every other module may lean on, and which lean on no layer above them.
const SERVING: &[&str] = &["auth", "backoff", "duration", "enums", "error", "redacted"];
/// The layers, lowest first: each may import those before it, never one after it.
const LAYERS: &[&str] = &["operation", "transport", "retry", "client", "wait"];

/// Module name → the source of every file in it.
fn sources() -> BTreeMap<String, String> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::<String, String>::new();
    let mut files = vec![];
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap() {
                files.push(inner.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    for path in files {
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        modules.entry(module).or_default().push_str(&text);
    }
    modules
}

/// The code of `text` without comments and without its `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The names `code` takes through `prefix` (`crate::` for the crate root): `crate::a::..`,
/// and `a`, `b` in `use crate::{a::.., b}`.
fn imports(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(list) = rest.strip_prefix('{') {
            // The top-level items of the list (nested braces belong to an item).
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in list.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.insert(ident(list[start..i].trim()).to_owned());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(ident(list[start..i].trim()).to_owned());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.insert(ident(rest).to_owned());
        }
    }
    names.remove("");
    names
}

/// Name → the module it comes from, for each `pub use module::{A, B}` / `pub use module::A`
/// of `root`.
fn reexports(root: &str) -> BTreeMap<String, String> {
    let mut reexports = BTreeMap::<String, String>::new();
    for statement in root.split(';') {
        let Some(rest) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = ident(item.trim());
            if !name.is_empty() {
                reexports.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    reexports
}

/// Module → the modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = sources();
    let root = code(&modules.remove("lib").expect("src/lib.rs"));
    let mut reexports = reexports(&root);
    reexports.insert("types".into(), "generated".into());
    modules
        .iter()
        .map(|(module, text)| {
            let deps = imports(&code(text), "crate::")
                .into_iter()
                .map(|name| reexports.get(&name).cloned().unwrap_or(name))
                .filter(|dep| dep != module)
                .collect();
            (module.clone(), deps)
        })
        .collect()
}

/// File of `src/simulator/` → the sibling files it imports through `super::`, with the
/// re-exports of `mod.rs` resolved to the file that defines them. `mod.rs`, the public face
/// that every file may lean on, is left out, as the crate root is above.
fn simulator_graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/simulator");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        files.insert(name, code(&std::fs::read_to_string(&path).unwrap()));
    }
    let root = files.remove("mod").expect("src/simulator/mod.rs");
    let reexports = reexports(&root);
    files
        .iter()
        .map(|(file, text)| {
            let deps = imports(text, "super::")
                .into_iter()
                .map(|name| reexports.get(&name).cloned().unwrap_or(name))
                .filter(|dep| dep != file && files.contains_key(dep))
                .collect();
            (file.clone(), deps)
        })
        .collect()
}

/// Every import cycle of `graph`, as `a -> b -> a`.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        let last = path.last().unwrap().clone();
        for dep in graph.get(&last).into_iter().flatten() {
            if let Some(at) = path.iter().position(|m| m == dep) {
                cycles.push(format!("{} -> {dep}", path[at..].join(" -> ")));
            } else {
                path.push(dep.clone());
                visit(graph, path, cycles);
                path.pop();
            }
        }
    }
    let mut cycles = Vec::new();
    for module in graph.keys() {
        visit(graph, &mut vec![module.clone()], &mut cycles);
    }
    cycles
}

#[test]
fn the_reading_of_imports_finds_lists_paths_and_reexports() {
    let found = imports(
        "use crate::{a::{b, c}, d, Error};\nlet x = crate::e::f();",
        "crate::",
    );
    assert_eq!(
        found,
        ["Error", "a", "d", "e"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let graph = graph();
    assert!(graph["wait"].contains("client"), "{:?}", graph["wait"]);
    assert!(graph["transport"].contains("operation"));
    assert!(graph["client"].contains("transport"));

    let simulator = simulator_graph();
    assert!(simulator["server"].contains("faults"), "{simulator:?}");
    assert!(simulator["server"].contains("handlers"), "{simulator:?}");
    // `state` names `Fault` through the re-export in `mod.rs`.
    assert!(simulator["state"].contains("faults"), "{simulator:?}");
    let cycle = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(cycles(&cycle), ["a -> b -> a", "b -> a -> b"]);
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let cycles = cycles(&graph());
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn the_simulator_files_import_one_way() {
    let cycles = cycles(&simulator_graph());
    assert!(
        cycles.is_empty(),
        "import cycles in src/simulator/: {cycles:#?}"
    );
}

/// Module of `cli/src/` → the modules it imports. `main.rs` declares them all; a `crate::`
/// name that is not a module is an item of `main.rs`, so it counts as importing `main`.
fn cli_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cli/src");
    let mut texts = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let module = path.file_stem().unwrap().to_string_lossy().into_owned();
            texts.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
    texts
        .iter()
        .map(|(module, text)| {
            let deps = imports(&code(text), "crate::")
                .into_iter()
                .map(|name| {
                    if texts.contains_key(&name) {
                        name
                    } else {
                        "main".to_owned()
                    }
                })
                .filter(|dep| dep != module)
                .collect();
            (module.clone(), deps)
        })
        .collect()
}

#[test]
fn the_cli_modules_import_one_way() {
    let graph = cli_graph();
    assert!(graph["run"].contains("tasks"), "{:?}", graph["run"]);
    assert!(graph["deployments"].contains("context"));
    let into_main: Vec<_> = graph
        .iter()
        .filter(|(module, deps)| *module != "main" && deps.contains("main"))
        .map(|(module, _)| module)
        .collect();
    assert!(
        into_main.is_empty(),
        "{into_main:?} import items of main.rs; move what they share to a module"
    );
    let cycles = cycles(&graph);
    assert!(cycles.is_empty(), "import cycles in cli/src: {cycles:#?}");
}

#[test]
fn the_layers_import_downwards_only() {
    let graph = graph();
    for serving in SERVING {
        let above: Vec<_> = graph[*serving]
            .iter()
            .filter(|dep| LAYERS.contains(&dep.as_str()))
            .collect();
        assert!(above.is_empty(), "{serving} imports the layers {above:?}");
    }
    for (level, layer) in LAYERS.iter().enumerate() {
        let higher: Vec<_> = graph[*layer]
            .iter()
            .filter(|dep| LAYERS[level + 1..].contains(&dep.as_str()))
            .collect();
        assert!(
            higher.is_empty(),
            "{layer} imports the higher layers {higher:?}"
        );
    }
}
