//! `api-surface.txt`: a compact listing of the generated public API (one line per operation,
//! type and field), committed so that a reviewer sees in the diff what a spec edit does to
//! the Rust API. This test generates it from `openapi.yaml` with `build/codegen.rs`, as
//! `build.rs` does, and fails when the committed file differs; `UPDATE_SURFACE=1` rewrites it.

#[path = "../build/codegen.rs"]
#[allow(dead_code)]
mod codegen;

use quote::ToTokens;
use syn::{Fields, Item, ItemMod, Type};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/api-surface.txt");

/// The listing of what `build.rs` generates from `openapi.yaml`.
fn generated_listing() -> String {
    let spec = codegen::parse(include_str!("../openapi.yaml")).unwrap();
    let types = codegen::types(&spec).unwrap();
    let operations = codegen::operations_code(&spec, &types).unwrap();
    listing(&format!("{types}\n{operations}")).unwrap()
}

#[test]
fn api_surface_txt_lists_the_api_generated_from_the_spec() {
    let expected = generated_listing();
    if std::env::var_os("UPDATE_SURFACE").is_some() {
        std::fs::write(FILE, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(FILE).unwrap_or_default();
    let first_difference = expected
        .lines()
        .zip(committed.lines())
        .position(|(e, c)| e != c)
        .unwrap_or(expected.lines().count().min(committed.lines().count()));
    assert!(
        committed == expected,
        "api-surface.txt is stale from line {}: run `UPDATE_SURFACE=1 cargo test --test surface` \
         and commit it\n  generated: {:?}\n  committed: {:?}",
        first_difference + 1,
        expected.lines().nth(first_difference).unwrap_or("(end)"),
        committed.lines().nth(first_difference).unwrap_or("(end)"),
    );
}

#[test]
fn the_listing_shows_operations_types_and_fields() {
    let listing = generated_listing();
    assert!(listing.contains(
        "op readAgentTask: POST /agents/tasks/read body ReadAgentTaskRequest -> AgentTaskResponse (read)\n"
    ));
    assert!(listing.contains("type AgentDeployment\n"));
    assert!(listing.contains("  AgentDeployment.status: Option<DeploymentStatus>\n"));
    assert!(listing.contains("  AgentDeployment.task_id: Option<i64>\n"));
    assert!(listing.contains(
        "op createAgentDeployment: POST /agents/deployments/create body \
         CreateAgentDeploymentRequest -> CreateAgentDeploymentResponse (write)\n"
    ));
}

/// The listing for the generated code `code`: one line per operation (id, path, body and
/// response types, read or write), per type, and per field with its Rust type.
fn listing(code: &str) -> Result<String, String> {
    let file = syn::parse_file(code).map_err(|e| format!("generated code does not parse: {e}"))?;
    let mut out = vec![
        "# The generated public API (types and operations) of quantconnect-agents, listed by"
            .to_owned(),
        "# tests/surface.rs from openapi.yaml. Do not edit: after a spec change, rewrite it with"
            .to_owned(),
        "# `UPDATE_SURFACE=1 cargo test --test surface` and commit it with the spec.".to_owned(),
        String::new(),
    ];
    let module = |name: &str| -> Option<&ItemMod> {
        file.items.iter().find_map(|item| match item {
            Item::Mod(m) if m.ident == name => Some(m),
            _ => None,
        })
    };

    // Operations: the generated `impl Operation for crate::types::Request { const ID, PATH,
    // KIND; type Response }`.
    for item in &file.items {
        let Item::Impl(imp) = item else { continue };
        let is_operation = imp
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .is_some_and(|segment| segment.ident == "Operation");
        if !is_operation {
            continue;
        }
        let request = last_ident(&imp.self_ty).unwrap_or_default();
        let (mut id, mut path, mut kind, mut response) =
            (String::new(), String::new(), String::new(), String::new());
        for item in &imp.items {
            match item {
                syn::ImplItem::Const(c) => {
                    let value = match &c.expr {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(text),
                            ..
                        }) => text.value(),
                        syn::Expr::Path(p) => p
                            .path
                            .segments
                            .last()
                            .map(|s| s.ident.to_string().to_lowercase())
                            .unwrap_or_default(),
                        _ => continue,
                    };
                    match c.ident.to_string().as_str() {
                        "ID" => id = value,
                        "PATH" => path = value,
                        "KIND" => kind = value,
                        _ => {}
                    }
                }
                syn::ImplItem::Type(t) if t.ident == "Response" => {
                    response = simplify(&t.ty);
                }
                _ => {}
            }
        }
        out.push(format!(
            "op {id}: POST {path} body {request} -> {response} ({kind})"
        ));
    }
    out.push(String::new());

    // Types: the public items of `types`, except its builder and error helpers.
    for item in module("types").map(items).unwrap_or_default() {
        match item {
            Item::Struct(s) if matches!(s.vis, syn::Visibility::Public(_)) => match &s.fields {
                Fields::Named(fields) => {
                    out.push(format!("type {}", s.ident));
                    for field in &fields.named {
                        let name = field
                            .ident
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        out.push(format!("  {}.{name}: {}", s.ident, simplify(&field.ty)));
                    }
                }
                Fields::Unnamed(fields) => {
                    let inner: Vec<_> = fields.unnamed.iter().map(|f| simplify(&f.ty)).collect();
                    out.push(format!("type {}({})", s.ident, inner.join(", ")));
                }
                Fields::Unit => out.push(format!("type {}", s.ident)),
            },
            Item::Enum(e) if matches!(e.vis, syn::Visibility::Public(_)) => {
                let variants: Vec<_> = e.variants.iter().map(|v| v.ident.to_string()).collect();
                out.push(format!("enum {} {{ {} }}", e.ident, variants.join(", ")));
            }
            _ => {}
        }
    }
    out.push(String::new());
    Ok(out.join("\n"))
}

fn items(module: &ItemMod) -> Vec<Item> {
    module
        .content
        .as_ref()
        .map(|(_, items)| items.clone())
        .unwrap_or_default()
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// A type as a short string: `::std::option::Option<::std::string::String>` → `Option<String>`.
fn simplify(ty: &Type) -> String {
    let mut text: String = ty
        .to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for prefix in [
        "::std::option::",
        "::std::string::",
        "::std::vec::",
        "::std::collections::",
        "::std::result::",
        "::serde_json::",
        "types::builder::",
        "types::",
        "crate::enums::",
        "crate::",
        "std::",
    ] {
        text = text.replace(prefix, "");
    }
    text.replace(",>", ">").replace(',', ", ")
}
