//! Reports: the run's results turned into files people and CI systems
//! read. Each format is one file behind one trait (results in, bytes out);
//! formats never touch the disk themselves, `write_all` does.

pub mod charts;
pub mod html;
mod junit;
mod markdown;
pub mod rows;
mod text;

use std::path::Path;

use crate::rundata::RunData;

pub use html::Html;
pub use junit::Junit;
pub use markdown::Markdown;
pub use text::Text;

/// One report format.
pub trait Format {
    /// The file it is written to, in the run folder.
    fn file_name(&self) -> &'static str;
    /// The file's bytes.
    fn render(&self, run: &RunData) -> Vec<u8>;
}

/// Every format written into a run folder, in the order they are written.
/// ([`Text`] is printed on the terminal, not written.)
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

/// Text made safe inside HTML elements and attributes.
pub fn esc(text: &str) -> String {
    escape(text, "&#39;", true)
}

/// Text made safe inside XML attributes and elements. XML 1.0 has no
/// place for control characters but tab and line ends, so they are left
/// out.
pub fn xml_escape(text: &str) -> String {
    escape(text, "&apos;", false)
}

fn escape(text: &str, apostrophe: &str, keep_controls: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c if !keep_controls && (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A measured value in its unit, as people read it.
pub fn value(v: Option<f64>, unit: &str) -> String {
    let Some(v) = v else { return "–".into() };
    match unit {
        "us" => crate::human::ms(v.round() as u64),
        "ratio" => format!("{:.2}%", v * 100.0),
        "per_s" => format!("{v:.2}/s"),
        "s" => format!("{v:.0}s"),
        "burn" => format!("{v:.1}x"),
        "bool" => (if v >= 1.0 { "holds" } else { "broken" }).into(),
        _ => format!("{v:.0}"),
    }
}
