//! Reports: the run's results turned into files people and CI systems
//! read. Each format is one file behind one trait (results in, bytes out);
//! formats never touch the disk themselves, `write_all` does.

pub mod charts;
pub mod html;
mod junit;
mod markdown;

use std::path::Path;

use crate::rundata::RunData;

pub use html::Html;
pub use junit::Junit;
pub use markdown::Markdown;

/// One report format.
pub trait Format {
    /// The file it is written to, in the run folder.
    fn file_name(&self) -> &'static str;
    /// The file's bytes.
    fn render(&self, run: &RunData) -> Vec<u8>;
}

/// Every format, in the order they are written.
pub fn formats() -> Vec<Box<dyn Format>> {
    vec![Box::new(Html), Box::new(Markdown), Box::new(Junit)]
}

/// Writes every report of `run` into its folder.
pub fn write_all(run: &RunData) -> std::io::Result<()> {
    write_into(run, &run.dir)
}

/// Writes every report of `run` into `dir`.
pub fn write_into(run: &RunData, dir: &Path) -> std::io::Result<()> {
    for format in formats() {
        std::fs::write(dir.join(format.file_name()), format.render(run))?;
    }
    Ok(())
}

/// A latency in microseconds, as people read it.
pub fn ms(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.0}ms", us as f64 / 1000.0)
    } else {
        format!("{:.1}ms", us as f64 / 1000.0)
    }
}

/// A measured value in its unit, as people read it.
pub fn value(v: Option<f64>, unit: &str) -> String {
    let Some(v) = v else { return "–".into() };
    match unit {
        "us" => ms(v.round() as u64),
        "ratio" => format!("{:.2}%", v * 100.0),
        "per_s" => format!("{v:.2}/s"),
        "s" => format!("{v:.0}s"),
        "bool" => (if v >= 1.0 { "holds" } else { "broken" }).into(),
        _ => format!("{v:.0}"),
    }
}
