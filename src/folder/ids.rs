//! `ids.csv` and `reconcile.csv`: our side of the books'
//! reconciliations (journey, arrival, step, capture, value, time: the id
//! an applicant held when it completed a step a `books.reconcile` names)
//! and every id a reconciliation found on one side only (reconcile, side,
//! id). The runner appends the first as it goes; the books write the
//! second after the settle.

use std::path::Path;

/// Our side, in the run folder.
pub const FILE: &str = "ids.csv";
/// Its columns.
pub const HEADER: [&str; 6] = ["journey", "arrival", "step", "capture", "value", "time_s"];
/// Every id on one side only, per reconciliation.
pub const DIFFERENCES: &str = "reconcile.csv";

/// The values of `dir/ids.csv` of `journey.step`'s `capture`, in order,
/// each once. No file: no ids.
pub fn read(dir: &Path, step: &str, capture: &str) -> Result<Vec<String>, String> {
    let path = dir.join(FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut r = csv::Reader::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for row in r.records() {
        let row = row.map_err(|e| format!("{}: {e}", path.display()))?;
        let (Some(j), Some(s), Some(c), Some(v)) = (row.get(0), row.get(2), row.get(3), row.get(4))
        else {
            continue;
        };
        if step.split_once('.') == Some((j, s)) && c == capture && seen.insert(v.to_string()) {
            out.push(v.to_string());
        }
    }
    Ok(out)
}

/// Appends reconciliation `name`'s differences to `dir/reconcile.csv`
/// (reconcile, side, id): `missing` ours not theirs, `extra` theirs not
/// ours.
pub fn write_differences(
    dir: &Path,
    name: &str,
    missing: &[String],
    extra: &[String],
) -> std::io::Result<()> {
    let path = dir.join(DIFFERENCES);
    let new = !path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let mut w = csv::Writer::from_writer(file);
    if new {
        w.write_record(["reconcile", "side", "id"])?;
    }
    for (side, ids) in [("missing", missing), ("extra", extra)] {
        for id in ids {
            w.write_record([name, side, id])?;
        }
    }
    w.flush()
}
