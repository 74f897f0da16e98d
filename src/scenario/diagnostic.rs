//! Problems found in a scenario file, and how they are shown: each names
//! the place in the document (a path such as `journeys.buy.steps[2]`), the
//! line and column where that place is written, what is wrong, and where
//! possible how to fix it. Checks produce problems; only the caller decides
//! whether to print them.

use std::fmt;

/// One step of a path into the document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A place in the document, from its top level down.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Path {
        Path(Vec::new())
    }

    pub fn key(&self, key: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_string()));
        p
    }

    pub fn index(&self, index: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(index));
        p
    }

    /// Builds a path from dotted keys: `at(&["load", "phases"])`.
    pub fn at(keys: &[&str]) -> Path {
        Path(keys.iter().map(|k| Seg::Key(k.to_string())).collect())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn parent(&self) -> Option<Path> {
        let mut p = self.clone();
        p.0.pop().map(|_| p)
    }

    /// The last key of the path, if it ends with one.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if k.contains(['.', '[', ']', ' ']) || k.is_empty() => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "{k:?}")?;
                }
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A line and column, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Which part of a mapping entry a problem points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The key (an unknown key; something missing inside the value).
    Key,
    /// The value (a wrong type or value).
    Value,
}

/// One thing wrong (or doubtful) in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub path: Path,
    pub anchor: Anchor,
    pub message: String,
    pub hint: Option<String>,
    /// Filled in from the source map when the path can be found there.
    pub pos: Option<Pos>,
    /// The `--set PATH=VALUE` that put the value there: the problem is
    /// shown at the flag, not in the file.
    pub flag: Option<Box<str>>,
}

impl Problem {
    pub fn error(path: Path, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Error,
            path,
            anchor: Anchor::Value,
            message: message.into(),
            hint: None,
            pos: None,
            flag: None,
        }
    }

    pub fn warning(path: Path, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(path, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    pub fn hint_opt(mut self, hint: Option<String>) -> Problem {
        self.hint = hint;
        self
    }

    pub fn at_key(mut self) -> Problem {
        self.anchor = Anchor::Key;
        self
    }

    pub fn at_pos(mut self, pos: Pos) -> Problem {
        self.pos = Some(pos);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:column: error: path: message`, then an indented hint.
    /// A problem an override caused reads `--set PATH=VALUE: error: ...`.
    pub fn render(&self, file: &str) -> String {
        let mut out = match &self.flag {
            Some(flag) => format!("--set {flag}"),
            None => String::from(file),
        };
        if let (Some(pos), None) = (self.pos, &self.flag) {
            out += &format!(":{}:{}", pos.line, pos.column);
        }
        out += match self.severity {
            Severity::Error => ": error: ",
            Severity::Warning => ": warning: ",
        };
        if !self.path.is_root() {
            out += &format!("{}: ", self.path);
        }
        out += &self.message;
        if let Some(hint) = &self.hint {
            out += &format!("\n    hint: {hint}");
        }
        out
    }
}

/// The closest of `candidates` to `word`, if one is close enough to be
/// what was meant.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = if candidate.eq_ignore_ascii_case(word) {
            1.0
        } else {
            strsim::jaro_winkler(&word.to_ascii_lowercase(), &candidate.to_ascii_lowercase())
        };
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?` for the closest candidate, if any.
pub fn suggestion<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Lists choices as `` `a`, `b` or `c` ``.
pub fn one_of<S: AsRef<str>>(choices: &[S]) -> String {
    let mut quoted: Vec<String> = Vec::new();
    for c in choices {
        let q = format!("`{}`", c.as_ref());
        if !quoted.contains(&q) {
            quoted.push(q);
        }
    }
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_the_document() {
        let p = Path::at(&["journeys", "buy", "steps"])
            .index(2)
            .key("capture");
        assert_eq!(p.to_string(), "journeys.buy.steps[2].capture");
        assert_eq!(Path::root().to_string(), "(top level)");
        assert_eq!(Path::at(&["mix", "a.b"]).to_string(), "mix.\"a.b\"");
    }

    #[test]
    fn suggestions_pick_close_words_only() {
        let keys = ["from", "to", "rate", "duration", "name"];
        assert_eq!(did_you_mean("duraton", keys), Some("duration"));
        assert_eq!(did_you_mean("Rate", keys), Some("rate"));
        assert_eq!(did_you_mean("banana", keys), None);
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(one_of(&["a", "a"]), "`a`");
    }

    #[test]
    fn render_puts_position_path_and_hint() {
        let p = Problem::error(Path::at(&["load"]), "missing key `phases`")
            .with_hint("add a list of phases")
            .at_pos(Pos { line: 3, column: 1 });
        assert_eq!(
            p.render("s.yaml"),
            "s.yaml:3:1: error: load: missing key `phases`\n    hint: add a list of phases"
        );
    }
}
