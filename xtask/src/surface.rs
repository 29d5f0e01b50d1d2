//! `cargo xtask surface`: a compact listing of the generated public API, committed as
//! `api-surface.txt`, so a reviewer sees in the diff what a spec edit does to the Rust API.

use quote::ToTokens;
use syn::{Fields, Item, ItemImpl, ItemMod, Type};

pub const FILE: &str = "api-surface.txt";

/// The listing for the generated code `code`: one line per operation (method, body and
/// response types), per type, and per field with its Rust type.
pub fn listing(code: &str) -> Result<String, String> {
    let file = syn::parse_file(code).map_err(|e| format!("generated code does not parse: {e}"))?;
    let mut out = vec![
        "# The generated public API (types and operations) of quantconnect-agents, listed by"
            .to_owned(),
        "# `cargo xtask surface` from openapi.yaml. Do not edit: regenerate after a spec change."
            .to_owned(),
        String::new(),
    ];
    let module = |name: &str| -> Option<&ItemMod> {
        file.items.iter().find_map(|item| match item {
            Item::Mod(m) if m.ident == name => Some(m),
            _ => None,
        })
    };

    // Operations: `impl Client { pub fn op(&self) -> builder::Op<'_> }`, and each builder's
    // body field and `send` return type.
    let builders = module("builder").map(items).unwrap_or_default();
    for item in &file.items {
        let Item::Impl(imp) = item else { continue };
        if !is_impl_of(imp, "Client") || imp.trait_.is_some() {
            continue;
        }
        for item in &imp.items {
            let syn::ImplItem::Fn(method) = item else {
                continue;
            };
            let syn::ReturnType::Type(_, ret) = &method.sig.output else {
                continue;
            };
            let Some(builder) = last_ident(ret) else {
                continue;
            };
            if !ret.to_token_stream().to_string().contains("builder") {
                continue;
            }
            let body = builder_body(&builders, &builder).unwrap_or_else(|| "-".into());
            let response = builder_response(&builders, &builder).unwrap_or_else(|| "-".into());
            let route = builder_route(&builders, &builder).unwrap_or_default();
            out.push(format!(
                "op {}: {route} body {body} -> {response}",
                method.sig.ident
            ));
        }
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

fn is_impl_of(imp: &ItemImpl, name: &str) -> bool {
    last_ident(&imp.self_ty).is_some_and(|i| i == name)
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn builder_struct<'a>(builders: &'a [Item], name: &str) -> Option<&'a syn::ItemStruct> {
    builders.iter().find_map(|item| match item {
        Item::Struct(s) if s.ident == name => Some(s),
        _ => None,
    })
}

fn builder_send<'a>(builders: &'a [Item], name: &str) -> Option<&'a syn::ImplItemFn> {
    builders.iter().find_map(|item| match item {
        Item::Impl(imp) if is_impl_of(imp, name) => imp.items.iter().find_map(|i| match i {
            syn::ImplItem::Fn(f) if f.sig.ident == "send" => Some(f),
            _ => None,
        }),
        _ => None,
    })
}

/// The body type a builder sends: its `body: Result<T, String>` field's `T`.
fn builder_body(builders: &[Item], name: &str) -> Option<String> {
    let s = builder_struct(builders, name)?;
    let field = s
        .fields
        .iter()
        .find(|f| f.ident.as_ref().is_some_and(|i| i == "body"))?;
    let text = simplify(&field.ty);
    let inner = text.strip_prefix("Result<")?.rsplit_once(", String>")?.0;
    Some(inner.to_owned())
}

/// The payload type of a builder's `send`: `Result<ResponseValue<T>, Error<E>>` → `T`.
fn builder_response(builders: &[Item], name: &str) -> Option<String> {
    let send = builder_send(builders, name)?;
    let syn::ReturnType::Type(_, ty) = &send.sig.output else {
        return None;
    };
    let text = simplify(ty);
    let inner = text
        .strip_prefix("Result<ResponseValue<")?
        .split_once(">, Error")?
        .0;
    Some(inner.to_owned())
}

/// `POST /agents/tasks/read`, from the doc comment progenitor writes on `send`.
fn builder_route(builders: &[Item], name: &str) -> Option<String> {
    let send = builder_send(builders, name)?;
    send.attrs.iter().find_map(|attr| {
        let syn::Meta::NameValue(nv) = &attr.meta else {
            return None;
        };
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(doc),
            ..
        }) = &nv.value
        else {
            return None;
        };
        let text = doc.value();
        let rest = text.trim().strip_prefix("Sends a `")?;
        let (method, rest) = rest.split_once("` request to `")?;
        let path = rest.split('`').next()?;
        Some(format!("{method} {path}"))
    })
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
        "std::",
    ] {
        text = text.replace(prefix, "");
    }
    text.replace(",>", ">").replace(',', ", ")
}
