//! The JSON Schema of the scenario format, derived from `model` by
//! schemars. `surge schema` prints it for editors, and `structure` checks
//! files against the very same value, so the two cannot drift apart.

use std::sync::OnceLock;

use super::model::{ScenarioFile, TwinConfig};

/// Where the published schema says it lives (its `$id`); editors only use
/// it as a name.
pub const SCHEMA_ID: &str = "https://surge.invalid/schema/scenario-v1.json";

/// Gives a generated schema its `$id`, and puts the header first so the
/// file reads top-down (for `summary.json`'s schema too).
pub fn with_id(schema: &mut serde_json::Value, id: &str) {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("$id".into(), id.into());
        let mut ordered = serde_json::Map::new();
        for key in ["$schema", "$id", "title", "description"] {
            if let Some(v) = obj.remove(key) {
                ordered.insert(key.into(), v);
            }
        }
        ordered.append(obj);
        *obj = ordered;
    }
}

/// The schema, built once per process.
pub fn json_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = schemars::schema_for!(ScenarioFile).to_value();
        with_id(&mut schema, SCHEMA_ID);
        schema
    })
}

/// The schema of a twin configuration on its own (`surge twin --config`).
pub fn twin_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(TwinConfig).to_value())
}
