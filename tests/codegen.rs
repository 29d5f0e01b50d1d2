//! The generation side of "a new endpoint in the spec is callable at once": `build/codegen.rs`
//! (what `build.rs` runs) on `openapi.yaml` with one operation added, as a maintainer would
//! add it, and on specs that break its rules. `.ci/run` also builds a copy of the crate with
//! that spec and calls the new endpoint from an outside crate (`tests/new-endpoint`).

#[path = "../build/codegen.rs"]
#[allow(dead_code)]
mod codegen;

use serde_json::{json, Value};

const SPEC: &str = include_str!("../openapi.yaml");

/// `openapi.yaml` with `edit` applied to it as JSON.
fn spec_with(edit: impl FnOnce(&mut Value)) -> openapiv3::OpenAPI {
    let mut spec: Value = serde_norway::from_str(SPEC).expect("openapi.yaml parses");
    edit(&mut spec);
    let text = serde_norway::to_string(&spec).expect("serializes");
    codegen::parse(&text).expect("still an OpenAPI document")
}

/// `code` with every run of white space made one space, to look for generated lines
/// whatever their formatting.
fn compact(code: &str) -> String {
    code.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What `build.rs` generates for `spec`: the models, then the wiring read against them.
fn wire(spec: &openapiv3::OpenAPI) -> Result<String, String> {
    let types = codegen::types(spec)?;
    codegen::operations_code(spec, &types)
}

/// The endpoint of issue #11's walk-through: `POST /agents/deployments/logs/read`.
fn add_logs_endpoint(spec: &mut Value) {
    spec["paths"]["/agents/deployments/logs/read"] = json!({
        "post": {
            "tags": ["Deployments"],
            "summary": "Read the logs of an agent deployment.",
            "operationId": "readAgentDeploymentLogs",
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/ReadAgentDeploymentLogsRequest"
                }}}
            },
            "responses": {
                "200": {
                    "description": "The logs.",
                    "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/AgentDeploymentLogsResponse"
                    }}}
                },
                "401": {"$ref": "#/components/responses/UnauthorizedErrorResponse"}
            }
        }
    });
    let schemas = &mut spec["components"]["schemas"];
    schemas["ReadAgentDeploymentLogsRequest"] = json!({
        "type": "object",
        "required": ["deploymentId"],
        "properties": {"deploymentId": {"type": "string"}}
    });
    schemas["AgentDeploymentLogsResponse"] = json!({
        "type": "object",
        "properties": {
            "logs": {"type": "array", "items": {"type": "string"}},
            "success": {"type": "boolean"},
            "errors": {"type": "array", "items": {"type": "string"}}
        }
    });
}

#[test]
fn the_specs_operations_are_read_with_their_kind() {
    let operations = codegen::operations(&codegen::parse(SPEC).unwrap()).unwrap();
    assert_eq!(operations.len(), 18);
    let read = operations
        .iter()
        .find(|op| op.id == "readAgentTask")
        .unwrap();
    assert_eq!(
        (
            read.path.as_str(),
            read.request.as_str(),
            read.response.as_str(),
            read.idempotent
        ),
        (
            "/agents/tasks/read",
            "ReadAgentTaskRequest",
            "AgentTaskResponse",
            true
        )
    );
    let create = operations
        .iter()
        .find(|op| op.id == "createAgentDeployment")
        .unwrap();
    assert!(!create.idempotent, "an unmarked operation is a write");
}

#[test]
fn an_operation_added_to_the_spec_gets_its_whole_wiring() {
    let spec = spec_with(add_logs_endpoint);
    let code = wire(&spec).expect("generates");
    syn::parse_file(&code).expect("the generated wiring is Rust");
    let flat = compact(&code);
    for expected in [
        "impl Operation for crate::types::ReadAgentDeploymentLogsRequest {",
        "const ID: &'static str = \"readAgentDeploymentLogs\";",
        "const PATH: &'static str = \"/agents/deployments/logs/read\";",
        // Not marked x-idempotent: a write, never resent once it may have arrived.
        "const KIND: OperationKind = OperationKind::Write; type Response = crate::types::AgentDeploymentLogsResponse;",
        "impl sealed::Sealed for crate::types::ReadAgentDeploymentLogsRequest {}",
        "impl Envelope for crate::types::AgentDeploymentLogsResponse {",
        "OperationInfo { id: \"readAgentDeploymentLogs\", path: \"/agents/deployments/logs/read\", kind: OperationKind::Write, request: \"ReadAgentDeploymentLogsRequest\", response: \"AgentDeploymentLogsResponse\" }",
        // In the list `for_each_operation!` hands to generic code (the fuzz entry point).
        "crate::types::ReadAgentDeploymentLogsRequest,",
    ] {
        assert!(flat.contains(expected), "missing `{expected}` in:\n{code}");
    }
    // The envelope is generated once per response type, however many operations share it.
    assert_eq!(
        flat.matches("impl Envelope for crate::types::RestResponse ")
            .count(),
        1
    );

    let types = codegen::types(&spec).expect("generates the models");
    let flat = compact(&types);
    for expected in [
        "pub struct ReadAgentDeploymentLogsRequest {",
        "pub deployment_id: ::std::string::String,",
        "pub struct AgentDeploymentLogsResponse {",
        "pub logs: ::std::vec::Vec<::std::string::String>,",
    ] {
        assert!(
            flat.contains(expected),
            "missing `{expected}` in the models"
        );
    }
    // Only the models: no client, no per-operation builders or methods.
    let file = syn::parse_file(&types).unwrap();
    assert_eq!(file.items.len(), 1, "one item, the `types` module");
    assert!(!types.contains("pub struct Client"));
}

#[test]
fn x_idempotent_marks_a_read_and_takes_only_a_boolean() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        spec["paths"]["/agents/deployments/logs/read"]["post"]["x-idempotent"] = json!(true);
    });
    let code = wire(&spec).unwrap();
    let flat = compact(&code);
    assert!(flat.contains(
        "const PATH: &'static str = \"/agents/deployments/logs/read\"; const KIND: OperationKind = OperationKind::Read;"
    ));

    let spec = spec_with(|spec| {
        spec["paths"]["/agents/tasks/read"]["post"]["x-idempotent"] = json!("yes");
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("readAgentTask") && error.contains("x-idempotent"),
        "{error}"
    );
}

#[test]
fn a_response_without_the_envelope_is_an_error_naming_it() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        spec["components"]["schemas"]["AgentDeploymentLogsResponse"] = json!({
            "type": "object",
            "properties": {"logs": {"type": "array", "items": {"type": "string"}}}
        });
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("AgentDeploymentLogsResponse")
            && error.contains("readAgentDeploymentLogs")
            && error.contains("success"),
        "{error}"
    );
}

#[test]
fn an_envelope_through_all_of_and_a_required_success_are_understood() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        spec["components"]["schemas"]["AgentDeploymentLogsResponse"] = json!({
            "allOf": [
                {"$ref": "#/components/schemas/RestResponse"},
                {"type": "object", "properties": {
                    "logs": {"type": "array", "items": {"type": "string"}}
                }}
            ]
        });
        spec["components"]["schemas"]["RestResponse"]["required"] = json!(["success"]);
    });
    let code = wire(&spec).unwrap();
    let flat = compact(&code);
    // A required `success` is a plain `bool` in the generated type.
    assert!(
        flat.contains(
            "impl Envelope for crate::types::AgentDeploymentLogsResponse { fn success(&self) -> Option<bool> { Some(self.success) }"
        ),
        "{code}"
    );
}

#[test]
fn an_operation_the_generator_cannot_wire_is_an_error_naming_it() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        spec["paths"]["/agents/deployments/logs/read"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"] = json!({"type": "object"});
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("readAgentDeploymentLogs") && error.contains("request body"),
        "{error}"
    );
}

#[test]
fn a_nullable_errors_list_is_taken_out_of_its_option() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        spec["components"]["schemas"]["AgentDeploymentLogsResponse"]["properties"]["errors"] =
            json!({"type": "array", "nullable": true, "items": {"type": "string"}});
    });
    let code = wire(&spec).unwrap();
    let flat = compact(&code);
    assert!(
        flat.contains(
            "impl Envelope for crate::types::AgentDeploymentLogsResponse { fn success(&self) -> Option<bool> { self.success } fn take_errors(&mut self) -> Vec<String> { self.errors.take().unwrap_or_default() } }"
        ),
        "{code}"
    );
}

#[test]
fn a_schema_serving_two_operations_is_refused_naming_both() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        let read = spec["paths"]["/agents/deployments/logs/read"].clone();
        let mut again = read.clone();
        again["post"]["operationId"] = json!("readAgentDeploymentLogsAgain");
        spec["paths"]["/agents/deployments/logs/again"] = again;
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("readAgentDeploymentLogs")
            && error.contains("readAgentDeploymentLogsAgain")
            && error.contains("ReadAgentDeploymentLogsRequest"),
        "{error}"
    );

    let spec = spec_with(|spec| {
        spec["paths"]["/agents/tasks/read"]["post"]["operationId"] = json!("readAgent");
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("readAgent") && error.contains("repeats"),
        "{error}"
    );
}

#[test]
fn parameters_and_methods_other_than_post_are_refused_not_dropped() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        spec["paths"]["/agents/deployments/logs/read"]["post"]["parameters"] = json!([
            {"name": "limit", "in": "query", "schema": {"type": "integer"}}
        ]);
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("/agents/deployments/logs/read") && error.contains("parameters"),
        "{error}"
    );

    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        let post = spec["paths"]["/agents/deployments/logs/read"]["post"].clone();
        let mut get = post.clone();
        get["operationId"] = json!("getAgentDeploymentLogs");
        get.as_object_mut().unwrap().remove("requestBody");
        spec["paths"]["/agents/deployments/logs/read"]["get"] = get;
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("/agents/deployments/logs/read") && error.contains("GET"),
        "{error}"
    );
}

#[test]
fn a_component_name_that_is_no_rust_type_name_is_refused_naming_it() {
    let spec = spec_with(|spec| {
        add_logs_endpoint(spec);
        let schemas = spec["components"]["schemas"].as_object_mut().unwrap();
        let request = schemas.remove("ReadAgentDeploymentLogsRequest").unwrap();
        schemas.insert("readAgentDeploymentLogsRequest".into(), request);
        spec["paths"]["/agents/deployments/logs/read"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"]["$ref"] =
            json!("#/components/schemas/readAgentDeploymentLogsRequest");
    });
    let error = wire(&spec).unwrap_err();
    assert!(
        error.contains("`readAgentDeploymentLogsRequest`")
            && error.contains("readAgentDeploymentLogs"),
        "{error}"
    );
}

/// The text of the `#[doc]` attributes among `attrs`, joined by newlines.
fn doc_text(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) => Some(text.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_builder_and_setter_carries_the_docs_of_what_it_sets() {
    let code = codegen::types(&codegen::parse(SPEC).unwrap()).unwrap();
    let file = syn::parse_file(&code).unwrap();
    let syn::Item::Mod(types) = &file.items[0] else {
        panic!("the types module comes first")
    };
    let items = &types.content.as_ref().unwrap().1;
    let model_field_docs = |model: &str, field: &str| {
        items
            .iter()
            .find_map(|item| match item {
                syn::Item::Struct(s) if s.ident == model => s
                    .fields
                    .iter()
                    .find(|f| f.ident.as_ref().is_some_and(|i| i == field))
                    .map(|f| doc_text(&f.attrs)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no field {model}::{field}"))
    };
    let builders = items
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "builder" => Some(m),
            _ => None,
        })
        .expect("a builder module");
    assert!(
        builders
            .attrs
            .iter()
            .any(|a| quote::quote!(#a).to_string() == "# [deny (missing_docs)]"),
        "missing docs in the builders fail the build"
    );
    let (mut structs, mut setters) = (0, 0);
    for item in &builders.content.as_ref().unwrap().1 {
        match item {
            syn::Item::Struct(s) => {
                let link = format!("[`{0}`](super::{0})", s.ident);
                assert!(doc_text(&s.attrs).contains(&link), "{}", s.ident);
                structs += 1;
            }
            syn::Item::Impl(block) if block.trait_.is_none() => {
                let syn::Type::Path(model) = &*block.self_ty else {
                    panic!("an impl for a named type")
                };
                let model = model.path.segments.last().unwrap().ident.to_string();
                for member in &block.items {
                    let syn::ImplItem::Fn(setter) = member else {
                        continue;
                    };
                    let field = setter.sig.ident.to_string();
                    let (docs, described) =
                        (doc_text(&setter.attrs), model_field_docs(&model, &field));
                    if described.is_empty() {
                        assert!(docs.contains(&format!("`{field}` field of")), "{docs}");
                    } else {
                        assert_eq!(docs, described, "{model}::{field}");
                    }
                    setters += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        structs > 30 && setters > 100,
        "{structs} builders, {setters} setters"
    );
    // The text is the spec's own.
    let spec: Value = serde_norway::from_str(SPEC).unwrap();
    let described = &spec["components"]["schemas"]["CreateAgentTaskRequest"]["properties"]["name"]
        ["description"];
    assert_eq!(
        model_field_docs("CreateAgentTaskRequest", "name"),
        described.as_str().unwrap()
    );
}
