//! The meaning check of `books:` and of the objectives on it: sources of
//! a kind that answers the way a counter or record asks (SQL or a JSON
//! path), names that exist, a reconciled id bound by the step it names,
//! and bounds that can be judged. Nothing here connects: `surge validate
//! --connect` does that through [`crate::books`].

use super::super::books::{Books, BooksSource, Expr};
use super::super::diagnostic::{Path, suggestion};
use super::super::model::{BooksObjective, ReconcileObjective};
use super::super::template::Template;
use super::Checker;

impl Checker<'_> {
    pub(super) fn books(&mut self) {
        let Some(books) = &self.file.books else {
            return;
        };
        let path = Path::at(&["books"]);
        for (name, source) in &books.sources {
            self.books_source(source, &path.key("sources").key(name));
        }
        for (name, c) in &books.counters {
            let p = path.key("counters").key(name);
            self.counter_name(name, &p);
            let shape = [("query", c.query.is_some())];
            let http = [("path", c.path.is_some()), ("value", c.value.is_some())];
            self.books_query(books, &c.source, &shape, &http, c.path.as_deref(), &p);
        }
        for (name, r) in &books.records {
            let p = path.key("records").key(name);
            let shape = [("query", r.query.is_some())];
            let http = [("path", r.path.is_some()), ("values", r.values.is_some())];
            self.books_query(books, &r.source, &shape, &http, r.path.as_deref(), &p);
        }
        let mut names = std::collections::HashSet::new();
        for (i, r) in books.reconcile.iter().enumerate() {
            let p = path.key("reconcile").index(i);
            if !names.insert(r.name.as_str()) {
                self.error(
                    p.key("name"),
                    format!("another reconciliation is already named `{}`", r.name),
                );
            }
            self.selector(Some(&r.ours.step), None, None, &p.key("ours"));
            self.reconciled_capture(&r.ours.step, &r.ours.capture, &p.key("ours"));
            if !books.records.contains_key(&r.theirs) {
                self.error(
                    p.key("theirs"),
                    format!("no record is named `{}`", r.theirs),
                )
                .hint = suggestion(&r.theirs, books.records.keys().map(String::as_str))
                    .or_else(|| Some("define it under `books.records`".into()));
            }
        }
        if books.every.0 < std::time::Duration::from_millis(100) {
            self.error(path.key("every"), "read counters at most every 100ms");
        }
        if books.timeout.0.is_zero() {
            self.error(path.key("timeout"), "a query's timeout must be above 0s");
        }
    }

    fn books_source(&mut self, source: &BooksSource, path: &Path) {
        let (dsn, schemes): (&Template, &[&str]) = match source {
            BooksSource::Postgres(t) => (t, &["postgres://", "postgresql://"]),
            BooksSource::Mysql(t) => (t, &["mysql://", "mariadb://"]),
            BooksSource::Sqlite(file) => {
                if file.trim().is_empty() {
                    self.error(path.key("sqlite"), "name the database file");
                }
                return;
            }
            BooksSource::Http(h) => {
                let p = path.key("http").key("url");
                if let Some(var) = h.url.vars().find(|v| *v != "target") {
                    self.error(
                        p,
                        format!(
                            "`{{{var}}}` has no value here: a books URL knows only `{{target}}`"
                        ),
                    );
                    return;
                }
                let url = h
                    .url
                    .render(&|_| Some("http://target".into()))
                    .unwrap_or_default();
                let http = url.starts_with("http://") || url.starts_with("https://");
                if !http && !h.url.has_secret() {
                    self.error(p, format!("`{url}` is not an http:// or https:// URL"))
                        .hint = Some("write `url: \"{target}\"` for the run's target".into());
                }
                return;
            }
        };
        let p = path.key(source.kind());
        if dsn.vars().next().is_some() {
            self.error(
                p,
                "a database URL takes no `{variables}`; write secrets as `${ENV}`",
            );
            return;
        }
        let text = dsn.render(&|_| None).unwrap_or_default();
        // An unset `${ENV}` is reported where templates are read.
        if !text.is_empty() && !schemes.iter().any(|s| text.starts_with(s)) {
            let shown = if dsn.has_secret() {
                "the URL".to_string()
            } else {
                format!("`{text}`")
            };
            self.error(p, format!("{shown} is not a {} URL", source.kind()))
                .hint = Some(format!("start it with `{}`", schemes[0]));
        }
    }

    fn counter_name(&mut self, name: &str, path: &Path) {
        let ident = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !ident {
            self.error(
                path.clone(),
                format!("counter `{name}` must be a name of letters, digits and `_`, so objectives can do arithmetic on it"),
            );
        }
    }

    /// A counter's or record's fields suit its source's kind.
    fn books_query(
        &mut self,
        books: &Books,
        source: &str,
        sql: &[(&str, bool)],
        http: &[(&str, bool)],
        url_path: Option<&str>,
        path: &Path,
    ) {
        let Some(kind) = books.sources.get(source) else {
            self.error(
                path.key("source"),
                format!("no books source is named `{source}`"),
            )
            .hint = suggestion(source, books.sources.keys().map(String::as_str))
                .or_else(|| Some("define it under `books.sources`".into()));
            return;
        };
        let (wanted, unwanted) = if kind.is_sql() {
            (sql, http)
        } else {
            (http, sql)
        };
        for (field, given) in wanted {
            if !given {
                self.error(
                    path.key(field),
                    format!("a {} source needs `{field}`", kind.kind()),
                );
            }
        }
        for (field, given) in unwanted {
            if *given {
                self.error(
                    path.key(field),
                    format!("`{field}` does not apply to a {} source", kind.kind()),
                )
                .hint = Some(
                    if kind.is_sql() {
                        "an SQL source reads `query:`"
                    } else {
                        "an http source reads `path:` and a JSON path"
                    }
                    .into(),
                );
            }
        }
        if let Some(p) = url_path
            && !p.starts_with('/')
        {
            self.error(path.key("path"), format!("`{p}` must start with `/`"));
        }
    }

    /// `capture` holds a value when `step` completes: a journey variable,
    /// or a capture of that step or an earlier one.
    fn reconciled_capture(&mut self, step: &super::StepRef, capture: &str, path: &Path) {
        let Some(journey) = self.file.journeys.get(&step.journey) else {
            return;
        };
        let Some(at) = journey
            .steps
            .iter()
            .position(|s| s.name.as_str() == step.step)
        else {
            return;
        };
        let bound = journey.vars.contains_key(capture)
            || journey.steps[..=at]
                .iter()
                .any(|s| s.capture.contains_key(capture));
        if !bound {
            let known = journey
                .vars
                .keys()
                .chain(journey.steps[..=at].iter().flat_map(|s| s.capture.keys()));
            self.error(
                path.key("capture"),
                format!(
                    "no step of `{}` up to `{}` captures `{capture}`",
                    step.journey, step.step
                ),
            )
            .hint = suggestion(capture, known.map(String::as_str))
                .or_else(|| Some("capture the id in that step or an earlier one".into()));
        }
    }

    pub(super) fn reconcile_objective(&mut self, o: &ReconcileObjective, path: &Path) {
        let names: Vec<&str> = self
            .file
            .books
            .iter()
            .flat_map(|b| b.reconcile.iter().map(|r| r.name.as_str()))
            .collect();
        if !names.contains(&o.name.as_str()) {
            self.error(
                path.key("name"),
                format!("no `books.reconcile` entry is named `{}`", o.name),
            )
            .hint = suggestion(&o.name, names.iter().copied());
        }
        if o.missing_at_most.is_none() && o.extra_at_most.is_none() {
            self.error(
                path.clone(),
                "give a bound: `missing_at_most` (ours, not theirs) or `extra_at_most` (theirs, not ours)",
            );
        }
    }

    pub(super) fn books_objective(&mut self, o: &BooksObjective, path: &Path) {
        let counters: Vec<&str> = self
            .file
            .books
            .iter()
            .flat_map(|b| b.counters.keys().map(String::as_str))
            .collect();
        let used: Vec<(String, Path)> = match (&o.counter, &o.expr) {
            (Some(c), None) => vec![(c.clone(), path.key("counter"))],
            (None, Some(e)) => match Expr::parse(e) {
                Ok(expr) => expr
                    .counters()
                    .into_iter()
                    .map(|c| (c.to_string(), path.key("expr")))
                    .collect(),
                Err(why) => {
                    self.error(path.key("expr"), why);
                    Vec::new()
                }
            },
            _ => {
                self.error(path.clone(), "choose one of `counter` and `expr`");
                Vec::new()
            }
        };
        if self.file.books.is_none() {
            self.error(
                path.clone(),
                "a books objective needs a `books:` section that defines its counters",
            );
            return;
        }
        for (c, p) in used {
            if !counters.contains(&c.as_str()) {
                self.error(p, format!("no counter is named `{c}` in `books.counters`"))
                    .hint = suggestion(&c, counters.iter().copied());
            }
        }
        let bounds = [o.at_most, o.at_least, o.delta_at_most, o.delta_at_least];
        if bounds.iter().all(Option::is_none) {
            self.error(
                path.clone(),
                "give a bound: `at_most`, `at_least`, `delta_at_most` or `delta_at_least`",
            );
        }
        if bounds.iter().flatten().any(|b| !b.is_finite()) {
            self.error(path.clone(), "a bound must be a finite number");
        }
    }
}
