//! The IAM policies in `infra/modules/costctl` grant exactly the actions the engine calls.
//!
//! `costctl_core::iam::actions_for` is the engine's side: every AWS call and its IAM action. This
//! test reads the Terraform side straight from the `.tf` files (with `hcl-rs`; no Terraform, no
//! AWS) and compares the two per Lambda role, both ways:
//!
//! - *missing*: the engine calls it, no policy of that role grants it → AccessDenied at 2 a.m.;
//! - *extra*: a policy grants it, the engine never calls it → a permission nobody needs (and for
//!   the reduce-only role, maybe one that can spend money).
//!
//! How the Terraform side is read:
//! 1. Every `resource "aws_iam_role_policy"` is an attachment: the roles its `role` expression
//!    references (`aws_iam_role.full`, `aws_iam_role.reduce_only`) get the policy documents its
//!    `policy` expression references (`data.aws_iam_policy_document.NAME`).
//! 2. A document's grants are the `actions` of its `statement` blocks (and of the `content` of
//!    `dynamic "statement"` blocks: a conditional statement counts as granted), plus those of the
//!    documents named in `source_policy_documents` / `override_policy_documents`. `Deny`
//!    statements grant nothing.
//! 3. The module must stay readable by this test: `actions` are literal lists of literal strings,
//!    no wildcards, no `not_actions`, no managed-policy attachments or inline policies on the two
//!    roles. Anything else fails with a message saying what to change.
//!
//! Besides the engine's actions a role may hold the *runtime* actions Lambda itself needs
//! ([`RUNTIME_REQUIRED`], [`RUNTIME_OPTIONAL`]); they are not AWS calls of the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use costctl_core::iam::{Function, actions_for};
use hcl::{Block, Body, Expression};

/// Lambda needs these to write its logs; every role must have them.
const RUNTIME_REQUIRED: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];
/// X-Ray traces, the state table's customer managed key when configured, and the on-failure
/// destination of asynchronous invocations (Lambda sends there with the function's role).
const RUNTIME_OPTIONAL: &[&str] = &[
    "sqs:SendMessage",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
];

/// Terraform role resource name → which deployment it belongs to.
const ROLES: &[(&str, Function)] = &[
    ("full", Function::Full),
    ("reduce_only", Function::ReduceOnly),
];

#[derive(Debug, Default)]
struct PolicyDocument {
    /// Actions of the Allow statements, as written.
    actions: BTreeSet<String>,
    /// Other documents merged into this one.
    sources: Vec<String>,
}

#[derive(Debug, Default)]
struct Module {
    documents: BTreeMap<String, PolicyDocument>,
    /// Role resource name → document names attached to it.
    attachments: BTreeMap<String, BTreeSet<String>>,
    /// Everything the test cannot read with certainty.
    problems: Vec<String>,
}

fn module_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/modules/costctl")
}

fn read_module(dir: &Path) -> Module {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .tf files in {}", dir.display());

    let mut module = Module::default();
    for file in files {
        let text = fs::read_to_string(&file).expect("readable .tf file");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        add_file(&mut module, &name, &text);
    }
    module
}

fn add_file(module: &mut Module, file: &str, text: &str) {
    let body: Body = hcl::parse(text).unwrap_or_else(|e| panic!("{file}: HCL parse error: {e}"));
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        match (block.identifier(), labels.as_slice()) {
            ("data", ["aws_iam_policy_document", name]) => {
                let doc = read_document(module, file, name, block.body());
                module.documents.insert((*name).to_string(), doc);
            }
            ("resource", ["aws_iam_role_policy", name]) => {
                let role = attribute_text(block, "role");
                let policy = attribute_text(block, "policy");
                let roles = references(&role, "aws_iam_role.");
                let docs = references(&policy, "data.aws_iam_policy_document.");
                if docs.is_empty() {
                    module.problems.push(format!(
                        "{file}: aws_iam_role_policy.{name}: `policy` must reference a data.aws_iam_policy_document (found `{policy}`)"
                    ));
                }
                for role in roles {
                    module
                        .attachments
                        .entry(role)
                        .or_default()
                        .extend(docs.iter().cloned());
                }
            }
            ("resource", [kind, name])
                if kind.starts_with("aws_iam_role_polic")
                    || *kind == "aws_iam_policy_attachment" =>
            {
                // aws_iam_role_policy_attachment(s_exclusive), aws_iam_role_policies_exclusive…
                let text = block_text(block);
                for (role, _) in ROLES {
                    if references(&text, "aws_iam_role.").contains(*role) {
                        module.problems.push(format!(
                            "{file}: {kind}.{name} attaches a policy to aws_iam_role.{role} that this test cannot read; use aws_iam_role_policy with a data.aws_iam_policy_document"
                        ));
                    }
                }
            }
            ("resource", ["aws_iam_role", name])
                if ROLES.iter().any(|(r, _)| r == name) && has_own_grants(block) =>
            {
                module.problems.push(format!(
                    "{file}: aws_iam_role.{name} has inline_policy/managed_policy_arns; grant through aws_iam_role_policy instead"
                ));
            }
            _ => {}
        }
    }
}

fn read_document(module: &mut Module, file: &str, name: &str, body: &Body) -> PolicyDocument {
    let mut doc = PolicyDocument::default();
    for attr in body.attributes() {
        if matches!(
            attr.key(),
            "source_policy_documents" | "override_policy_documents"
        ) {
            let text = attr.expr().to_string();
            doc.sources
                .extend(references(&text, "data.aws_iam_policy_document."));
        }
        if matches!(attr.key(), "source_json" | "override_json") {
            module.problems.push(format!(
                "{file}: {name}: {} is not supported here",
                attr.key()
            ));
        }
    }
    for block in body.blocks() {
        let statement = match (
            block.identifier(),
            block.labels().first().map(|l| l.as_str()),
        ) {
            ("statement", _) => Some(block.body()),
            ("dynamic", Some("statement")) => block
                .body()
                .blocks()
                .find(|b| b.identifier() == "content")
                .map(Block::body),
            _ => None,
        };
        let Some(statement) = statement else { continue };
        let sid = statement
            .attributes()
            .find(|a| a.key() == "sid")
            .map(|a| a.expr().to_string())
            .unwrap_or_else(|| "(no sid)".into());
        let effect = statement
            .attributes()
            .find(|a| a.key() == "effect")
            .map(|a| a.expr().clone());
        match effect {
            None => {}
            Some(Expression::String(ref e)) if e == "Allow" => {}
            Some(Expression::String(ref e)) if e == "Deny" => continue,
            Some(other) => {
                module.problems.push(format!(
                    "{file}: {name} statement {sid}: effect must be a literal (found `{other}`)"
                ));
                continue;
            }
        }
        if statement.attributes().any(|a| a.key() == "not_actions") {
            module.problems.push(format!(
                "{file}: {name} statement {sid}: not_actions cannot be compared; list actions"
            ));
        }
        let Some(actions) = statement.attributes().find(|a| a.key() == "actions") else {
            module
                .problems
                .push(format!("{file}: {name} statement {sid}: no actions"));
            continue;
        };
        match actions.expr() {
            Expression::Array(items) => {
                for item in items {
                    match item {
                        Expression::String(action) if action.contains('*') || action.contains('?') => module
                            .problems
                            .push(format!("{file}: {name} statement {sid}: wildcard action {action} is not allowed; list the actions")),
                        Expression::String(action) => {
                            doc.actions.insert(action.clone());
                        }
                        other => module.problems.push(format!(
                            "{file}: {name} statement {sid}: actions must be literal strings (found `{other}`)"
                        )),
                    }
                }
            }
            other => module.problems.push(format!(
                "{file}: {name} statement {sid}: actions must be a literal list (found `{other}`)"
            )),
        }
    }
    doc
}

/// A role that carries grants of its own, outside `aws_iam_role_policy`.
fn has_own_grants(role: &Block) -> bool {
    role.body()
        .blocks()
        .any(|b| b.identifier() == "inline_policy")
        || role
            .body()
            .attributes()
            .any(|a| a.key() == "managed_policy_arns")
}

fn attribute_text(block: &Block, key: &str) -> String {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr().to_string())
        .unwrap_or_default()
}

fn block_text(block: &Block) -> String {
    block
        .body()
        .attributes()
        .map(|a| a.expr().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names following `prefix` in an expression's text, e.g. `full` in `aws_iam_role.full[0].id`.
fn references(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(pos) = rest.find(prefix) {
        let before_ok = pos == 0
            || !rest[..pos].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
        let after = &rest[pos + prefix.len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if before_ok && !name.is_empty() {
            names.insert(name);
        }
        rest = after;
    }
    names
}

/// Every action a role's attached documents grant, following source/override documents.
fn granted(module: &Module, role: &str) -> (BTreeSet<String>, Vec<String>) {
    let mut actions = BTreeSet::new();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = module
        .attachments
        .get(role)
        .map(|d| d.iter().cloned().collect())
        .unwrap_or_default();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        match module.documents.get(&name) {
            Some(doc) => {
                actions.extend(doc.actions.iter().cloned());
                todo.extend(doc.sources.iter().cloned());
            }
            None => problems.push(format!(
                "role {role}: data.aws_iam_policy_document.{name} is not defined in the module"
            )),
        }
    }
    (actions, problems)
}

/// The difference for one role, or None when the policy is exact. IAM action names are
/// case-insensitive, so they are compared in lower case and reported as written.
fn diff(function: Function, granted: &BTreeSet<String>) -> Option<String> {
    let lower = |s: &str| s.to_ascii_lowercase();
    let engine: BTreeMap<String, &str> = actions_for(function)
        .into_iter()
        .map(|a| (lower(a), a))
        .collect();
    let granted_lc: BTreeMap<String, &str> =
        granted.iter().map(|a| (lower(a), a.as_str())).collect();
    let runtime: BTreeSet<String> = RUNTIME_REQUIRED
        .iter()
        .chain(RUNTIME_OPTIONAL)
        .map(|a| lower(a))
        .collect();

    let missing: Vec<&str> = engine
        .iter()
        .filter(|(k, _)| !granted_lc.contains_key(*k))
        .map(|(_, v)| *v)
        .collect();
    let missing_runtime: Vec<&str> = RUNTIME_REQUIRED
        .iter()
        .filter(|a| !granted_lc.contains_key(&lower(a)))
        .copied()
        .collect();
    let extra: Vec<&str> = granted_lc
        .iter()
        .filter(|(k, _)| !engine.contains_key(*k) && !runtime.contains(*k))
        .map(|(_, v)| *v)
        .collect();
    if missing.is_empty() && extra.is_empty() && missing_runtime.is_empty() {
        return None;
    }
    let mut out = format!("{function:?} role:\n");
    for a in &missing {
        out.push_str(&format!("  - missing: {a}   (costctl_core::iam lists it; grant it in infra/modules/costctl/iam.tf)\n"));
    }
    for a in &missing_runtime {
        out.push_str(&format!(
            "  - missing: {a}   (Lambda needs it to write logs)\n"
        ));
    }
    for a in &extra {
        out.push_str(&format!("  + extra:   {a}   (granted but not in costctl_core::iam for {function:?}; remove it or add the call)\n"));
    }
    Some(out)
}

fn check(module: &Module) -> Result<(), String> {
    let mut report = String::new();
    for problem in &module.problems {
        report.push_str(&format!("unreadable: {problem}\n"));
    }
    for (role, function) in ROLES {
        if !module.attachments.contains_key(*role) {
            report.push_str(&format!(
                "no aws_iam_role_policy attaches anything to aws_iam_role.{role}\n"
            ));
            continue;
        }
        let (actions, problems) = granted(module, role);
        for p in problems {
            report.push_str(&format!("unreadable: {p}\n"));
        }
        if let Some(d) = diff(*function, &actions) {
            report.push_str(&d);
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

#[test]
fn module_policies_grant_exactly_the_engine_actions() {
    let dir = module_dir();
    let module = read_module(&dir);
    if let Err(report) = check(&module) {
        panic!(
            "IAM policies in {} do not match costctl_core::iam::actions_for:\n{report}",
            dir.display()
        );
    }
}

#[test]
fn reduce_only_role_is_attached_only_to_reduce_only_documents() {
    let module = read_module(&module_dir());
    let reduce_only = module
        .attachments
        .get("reduce_only")
        .cloned()
        .unwrap_or_default();
    assert!(
        !reduce_only.contains("full"),
        "the reduce-only role must not carry the full policy document: {reduce_only:?}"
    );
}

// The checker itself: a policy with a missing, an extra and an unreadable action must be caught.
const BROKEN: &str = r#"
data "aws_iam_policy_document" "reduce_only" {
  statement {
    actions   = ["dynamodb:GetItem", "rds:StartDBInstance", local.more]
    resources = ["*"]
  }
  statement {
    effect    = "Deny"
    actions   = ["rds:DescribeDBInstances"]
    resources = ["*"]
  }
}
data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["*"]
  }
}
resource "aws_iam_role_policy" "reduce_only" {
  role   = aws_iam_role.reduce_only[0].id
  policy = data.aws_iam_policy_document.reduce_only.json
}
resource "aws_iam_role_policy" "logs" {
  role   = aws_iam_role.reduce_only[0].id
  policy = data.aws_iam_policy_document.logs.json
}
"#;

#[test]
fn checker_reports_missing_extra_and_unreadable_actions() {
    let mut module = Module::default();
    add_file(&mut module, "broken.tf", BROKEN);
    let report = check(&module).expect_err("a broken policy must fail");
    assert!(report.contains("missing: dynamodb:PutItem"), "{report}");
    assert!(
        report.contains("missing: rds:DescribeDBInstances"),
        "a Deny statement grants nothing:\n{report}"
    );
    assert!(report.contains("extra:   rds:StartDBInstance"), "{report}");
    assert!(
        report.contains("actions must be literal strings"),
        "{report}"
    );
    assert!(
        report.contains("no aws_iam_role_policy attaches anything to aws_iam_role.full"),
        "{report}"
    );
    assert!(
        !report.contains("missing: logs:"),
        "the logs document is attached:\n{report}"
    );
}

#[test]
fn references_are_found_in_expressions() {
    let found = references(
        r#"each.key == "full" ? aws_iam_role.full[0].id : aws_iam_role.reduce_only[0].id"#,
        "aws_iam_role.",
    );
    assert_eq!(
        found,
        BTreeSet::from(["full".to_string(), "reduce_only".to_string()])
    );
}
