//! `surge import`: the user's own platform brought in. `access_log` reads
//! last year's deadline from the platform's access logs and writes it as a
//! scenario's load; `har` turns a browser's recording of the platform into
//! a journey whose dynamic values are captured, not replayed. What both
//! share is here: how the files they write are named and written whole.

pub mod access_log;
pub mod har;

use std::path::{Path, PathBuf};

/// Writes `text` to a temporary file beside `path`, then renames it over
/// `path`: a Ctrl-C or a full disk never leaves half a scenario (and
/// `--out BASE.yaml` never loses BASE).
pub fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `eve.yaml` → `eve`: what the files written beside it are named after.
pub fn stem(out: &Path) -> String {
    out.file_stem()
        .map_or("import".into(), |s| s.to_string_lossy().into_owned())
}

/// `eve.yaml` → `eve.EXT` beside it.
pub fn sibling(out: &Path, ext: &str) -> PathBuf {
    out.with_file_name(format!("{}.{ext}", stem(out)))
}

/// A name for what is written to `path`, from its stem: `eve 2025.yaml`
/// → `eve-2025`.
pub fn scenario_name(path: &Path) -> String {
    let name: String = stem(path)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(['-', '_']).to_string();
    if name.is_empty() {
        "imported".into()
    } else {
        name
    }
}

/// `1 poll`, `3 polls`.
pub fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}
