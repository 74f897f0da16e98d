//! The JSON Schema printed by `surge schema` is what editors check files
//! against; here an independent validator (the `jsonschema` crate) checks
//! that it accepts every shipped scenario and refuses what surge refuses.

mod common;

use common::{shipped_scenarios, surge};

fn printed_schema() -> serde_json::Value {
    let out = surge().arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).expect("surge schema prints JSON")
}

/// A scenario as an editor's validator sees it: YAML with merge keys
/// applied, as JSON.
fn as_json(yaml: &str) -> serde_json::Value {
    let mut value: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    value.apply_merge().unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn schema_is_draft_2020_12_with_an_id() {
    let schema = printed_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(
        schema["$id"]
            .as_str()
            .unwrap()
            .ends_with("scenario-v1.json")
    );
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn schema_accepts_every_shipped_scenario() {
    let validator = jsonschema::validator_for(&printed_schema()).expect("a valid schema");
    for file in shipped_scenarios() {
        let doc = as_json(&std::fs::read_to_string(&file).unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn schema_refuses_unknown_keys_and_bad_units() {
    let validator = jsonschema::validator_for(&printed_schema()).unwrap();
    let smoke = std::fs::read_to_string(common::repo("scenarios/smoke.yaml")).unwrap();
    let mut doc = as_json(&smoke);
    assert!(validator.is_valid(&doc));
    doc["sede"] = 3.into();
    assert!(
        !validator.is_valid(&doc),
        "an unknown top-level key must be refused"
    );

    let mut doc = as_json(&smoke);
    doc["load"]["phases"][0]["rmap_to"] = "3/s".into();
    assert!(
        !validator.is_valid(&doc),
        "an unknown nested key must be refused"
    );

    let mut doc = as_json(&smoke);
    doc["load"]["phases"][1]["duration"] = "15 seconds".into();
    assert!(
        !validator.is_valid(&doc),
        "a malformed duration must be refused"
    );
}

#[test]
fn committed_schema_matches_the_binary() {
    let committed = std::fs::read_to_string(common::repo("docs/scenario.schema.json"))
        .expect("docs/scenario.schema.json is committed for editors");
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert!(
        committed == printed_schema(),
        "docs/scenario.schema.json is stale; regenerate it with `cargo run -- schema > docs/scenario.schema.json`"
    );
}
