//! The examples in the docs are real: they parse and validate.

use costctl_core::config::Config;
use costctl_core::spec::EphemeralSpec;
use std::path::PathBuf;

/// The first ```json block of a doc under `docs/`.
fn first_json_block(doc: &str) -> String {
    json_block_after(doc, "")
}

/// The first ```json block of a doc under `docs/` after the line `heading`.
fn json_block_after(doc: &str, heading: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let from = text.find(heading).expect("the heading");
    let start = from + text[from..].find("```json\n").expect("a json block") + "```json\n".len();
    let len = text[start..].find("```").expect("end of the json block");
    text[start..start + len].to_string()
}

#[test]
fn config_doc_example_is_valid() {
    let c = Config::from_json(&first_json_block("config.md")).unwrap();
    assert_eq!(c.stacks.len(), 2);
}

#[test]
fn ephemeral_spec_doc_example_is_valid() {
    let s = EphemeralSpec::from_json(&first_json_block("ephemeral-spec.md")).unwrap();
    assert_eq!(s.load_balancers[0].listeners.len(), 2);
}

#[test]
fn network_spec_doc_example_is_valid() {
    let s = EphemeralSpec::from_json(&json_block_after(
        "ephemeral-spec.md",
        "## Network: NAT gateways and interface endpoints",
    ))
    .unwrap();
    assert_eq!(s.nat_gateways[0].routes.len(), 2);
    assert!(s.vpc_endpoints[0].policy.is_some());
    assert!(s.load_balancers.is_empty());
}
