//! The JSON Schema of the scenario format, derived from `model` by
//! schemars. `surge schema` prints it for editors, and `structure` checks
//! files against the very same value, so the two cannot drift apart.

use std::sync::OnceLock;

use super::model::{ScenarioFile, TwinConfig};

/// Where the published schema says it lives (its `$id`); editors only use
/// it as a name.
pub const SCHEMA_ID: &str = "https://surge.invalid/schema/scenario-v1.json";

/// The schema, built once per process.
pub fn json_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = schemars::schema_for!(ScenarioFile).to_value();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("$id".into(), SCHEMA_ID.into());
            // The header first, so the file reads top-down.
            let mut ordered = serde_json::Map::new();
            for key in ["$schema", "$id", "title", "description"] {
                if let Some(v) = obj.remove(key) {
                    ordered.insert(key.into(), v);
                }
            }
            ordered.append(obj);
            *obj = ordered;
        }
        schema
    })
}

/// The schema of a twin configuration on its own (`surge twin --config`).
pub fn twin_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(TwinConfig).to_value())
}
