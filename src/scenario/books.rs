//! The `books:` section of the format: where the platform's own records
//! are read (a PostgreSQL, MySQL/MariaDB or SQLite database, or an HTTP
//! JSON endpoint), the counters and id lists read from them, and which of
//! them are reconciled with the ids the applicants captured. Also the
//! small arithmetic a `books` objective may state over counters
//! (`captured - credited`), parsed here so the validator and the gate read
//! it alike. Only the format and its checks live here; reading is
//! [`crate::books`]'.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::Tls;
use super::refs::{JsonPath, Name, StepRef};
use super::template::Template;
use super::units::Duration;

/// The platform's own books: counters and id lists read from its
/// database or an admin API, before, during and after the load.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Books {
    /// Where the books are read, by name.
    #[schemars(length(min = 1))]
    pub sources: IndexMap<String, BooksSource>,
    /// One number each, read before the load, every `every` during it,
    /// and after `settle`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub counters: IndexMap<String, CounterQuery>,
    /// A list of ids each, read once after `settle`, for `reconcile`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub records: IndexMap<String, RecordQuery>,
    /// The ids applicants got through a step, compared with a record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reconcile: Vec<Reconcile>,
    /// How often counters are read during the load. Default 5s.
    #[serde(default = "Books::default_every")]
    pub every: Duration,
    /// After the load, counters are read until two readings agree, at most
    /// this long (callbacks still on their way). Default 30s.
    #[serde(default = "Books::default_settle")]
    pub settle: Duration,
    /// How long one query may run (the database's statement timeout, and
    /// the HTTP request's). Default 5s.
    #[serde(default = "Books::default_timeout")]
    pub timeout: Duration,
}

impl Books {
    fn default_every() -> Duration {
        Duration(std::time::Duration::from_secs(5))
    }
    fn default_settle() -> Duration {
        Duration(std::time::Duration::from_secs(30))
    }
    fn default_timeout() -> Duration {
        Duration(std::time::Duration::from_secs(5))
    }
}

/// A place the books are read from: exactly one kind.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BooksSource {
    /// A PostgreSQL URL (`postgres://user:pass@host:5432/db`); write it
    /// as `${ENV}` so it is never in the file or any output.
    Postgres(Template),
    /// A MySQL or MariaDB URL (`mysql://user:pass@host:3306/db`).
    Mysql(Template),
    /// A SQLite database file (relative to the scenario), opened
    /// read-only.
    Sqlite(String),
    /// An HTTP JSON API (an admin endpoint of the platform).
    Http(HttpSource),
}

impl BooksSource {
    /// Whether the source answers SQL (`query:`) rather than paths.
    pub fn is_sql(&self) -> bool {
        !matches!(self, BooksSource::Http(_))
    }

    /// The kind, as messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            BooksSource::Postgres(_) => "postgres",
            BooksSource::Mysql(_) => "mysql",
            BooksSource::Sqlite(_) => "sqlite",
            BooksSource::Http(_) => "http",
        }
    }
}

/// An HTTP books source.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSource {
    /// The base URL paths are read under; `{target}` is the run's target
    /// (the in-process twin's address when the target is the twin).
    pub url: Template,
    /// Request headers (`Authorization: "Bearer ${BOOKS_TOKEN}"`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// TLS towards `url`. Default: the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

/// One number: the first column of the first row of a query, or a field
/// of an HTTP source's JSON.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterQuery {
    /// The source, by name.
    pub source: String,
    /// SQL returning one row whose first column is a number (SQL sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The path under the source's URL (HTTP sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The number in the response, as a JSON path (HTTP sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<JsonPath>,
}

/// A list of ids: the first column of every row of a query, or the
/// elements of an array in an HTTP source's JSON.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// The source, by name.
    pub source: String,
    /// SQL whose first column is the id (SQL sources). `{run_start}` is
    /// replaced by the quoted UTC time the run's books were first read
    /// (`'2026-12-07 04:00:00'`), `{run_start_epoch}` by its Unix seconds,
    /// to limit the list to the run's window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The path under the source's URL (HTTP sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// An array of ids in the response, as a JSON path (HTTP sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<JsonPath>,
}

/// Ours against theirs: ids our applicants got through a step, and a
/// record of the platform's.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    /// Names the reconciliation in objectives and reports.
    pub name: Name,
    /// Our side.
    pub ours: Ours,
    /// Their side: a record, by name.
    pub theirs: String,
}

/// The ids our applicants got through a step.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ours {
    /// The step (`JOURNEY.STEP`) an applicant completed.
    pub step: StepRef,
    /// The journey variable holding the id when it did (a capture of that
    /// step or an earlier one).
    pub capture: String,
}

/// Replaces `{run_start}` and `{run_start_epoch}` in a record's query.
pub fn run_window(query: &str, start: std::time::SystemTime) -> String {
    let epoch = start
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let at = chrono::DateTime::<chrono::Utc>::from(start).format("%Y-%m-%d %H:%M:%S");
    query
        .replace("{run_start_epoch}", &epoch.to_string())
        .replace("{run_start}", &format!("'{at}'"))
}

// ---------------------------------------------------------------- expressions

/// Arithmetic over counters: `+ - * /`, parentheses, numbers and counter
/// names.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number(f64),
    Counter(String),
    Neg(Box<Expr>),
    Op(Box<Expr>, char, Box<Expr>),
}

impl Expr {
    /// Parses `text`, or says where it stops making sense.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let tokens = tokens(text)?;
        let mut p = Parser { tokens, at: 0 };
        let e = p.sum()?;
        match p.tokens.get(p.at) {
            None => Ok(e),
            Some(t) => Err(format!("unexpected `{}` in `{text}`", t.shown())),
        }
    }

    /// The counters it reads.
    pub fn counters(&self) -> Vec<&str> {
        match self {
            Expr::Number(_) => Vec::new(),
            Expr::Counter(c) => vec![c.as_str()],
            Expr::Neg(e) => e.counters(),
            Expr::Op(a, _, b) => {
                let mut v = a.counters();
                v.extend(b.counters());
                v
            }
        }
    }

    /// Its value with `value` of each counter; `None` when a counter has
    /// none (its reading failed).
    pub fn eval(&self, value: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        Some(match self {
            Expr::Number(n) => *n,
            Expr::Counter(c) => value(c)?,
            Expr::Neg(e) => -e.eval(value)?,
            Expr::Op(a, op, b) => {
                let (a, b) = (a.eval(value)?, b.eval(value)?);
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                }
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Op(char),
}

impl Token {
    fn shown(&self) -> String {
        match self {
            Token::Number(n) => n.to_string(),
            Token::Name(n) => n.clone(),
            Token::Op(c) => c.to_string(),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if "+-*/()".contains(c) {
            out.push(Token::Op(c));
            continue;
        }
        let word = |chars: &mut std::iter::Peekable<std::str::CharIndices>,
                    ok: fn(char) -> bool| {
            let mut end = i + c.len_utf8();
            while let Some((j, d)) = chars.peek().copied() {
                if !ok(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            &text[i..end]
        };
        if c.is_ascii_digit() || c == '.' {
            let w = word(&mut chars, |d| d.is_ascii_digit() || d == '.');
            let n = w
                .parse::<f64>()
                .map_err(|_| format!("`{w}` in `{text}` is not a number"))?;
            out.push(Token::Number(n));
        } else if c.is_alphabetic() || c == '_' {
            // Counter names are identifiers, so `a-b` is a subtraction.
            let w = word(&mut chars, |d| d.is_alphanumeric() || d == '_');
            out.push(Token::Name(w.to_string()));
        } else {
            return Err(format!(
                "`{c}` in `{text}` is not allowed: write counters, numbers, + - * / and parentheses"
            ));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn peek_op(&self, ops: &str) -> Option<char> {
        match self.tokens.get(self.at) {
            Some(Token::Op(c)) if ops.contains(*c) => Some(*c),
            _ => None,
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut e = self.product()?;
        while let Some(op) = self.peek_op("+-") {
            self.at += 1;
            e = Expr::Op(Box::new(e), op, Box::new(self.product()?));
        }
        Ok(e)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while let Some(op) = self.peek_op("*/") {
            self.at += 1;
            e = Expr::Op(Box::new(e), op, Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Op('-')) => Ok(Expr::Neg(Box::new(self.unary()?))),
            Some(Token::Op('(')) => {
                let e = self.sum()?;
                match self.next() {
                    Some(Token::Op(')')) => Ok(e),
                    _ => Err("a `(` is not closed".into()),
                }
            }
            Some(Token::Number(n)) => Ok(Expr::Number(n)),
            Some(Token::Name(n)) => Ok(Expr::Counter(n)),
            Some(t) => Err(format!("unexpected `{}`", t.shown())),
            None => Err("the expression ends where a counter or number was expected".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, values: &[(&str, f64)]) -> Option<f64> {
        let e = Expr::parse(text).unwrap();
        e.eval(&|c| values.iter().find(|(n, _)| *n == c).map(|(_, v)| *v))
    }

    #[test]
    fn arithmetic_over_counters() {
        let v = [("captured", 40.0), ("credited", 37.0)];
        assert_eq!(eval("captured - credited", &v), Some(3.0));
        assert_eq!(
            eval("(captured - credited) / captured * 100", &v),
            Some(7.5)
        );
        assert_eq!(eval("-credited + 2 * 3", &v), Some(-31.0));
        assert_eq!(eval("captured - missing", &v), None);
        assert_eq!(
            Expr::parse("captured - credited").unwrap().counters(),
            ["captured", "credited"]
        );
    }

    #[test]
    fn bad_expressions_say_where() {
        assert!(Expr::parse("captured -").unwrap_err().contains("ends"));
        assert!(Expr::parse("(a - b").unwrap_err().contains("not closed"));
        assert!(Expr::parse("a ; b").unwrap_err().contains("`;`"));
        assert!(Expr::parse("a b").unwrap_err().contains("unexpected `b`"));
    }

    #[test]
    fn the_run_window_is_quoted_utc() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        assert_eq!(
            run_window("t >= {run_start} OR e >= {run_start_epoch}", at),
            "t >= '2027-01-15 08:00:00' OR e >= 1800000000"
        );
    }
}
