//! Reports checked against `testbed/schema/report.schema.json` by an
//! independent JSON Schema validator, not by our own serde types.

/// Panics with every violation when `json` does not follow the schema.
#[track_caller]
pub fn assert_valid(json: &str) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/report.schema.json"))
            .expect("the schema is JSON");
    let report: serde_json::Value = serde_json::from_str(json).expect("the report is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the report breaks testbed/schema/report.schema.json:\n{}",
        errors.join("\n")
    );
}
