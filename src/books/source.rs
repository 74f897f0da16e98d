//! One books source, open: a PostgreSQL, MySQL/MariaDB or SQLite pool of
//! one lazy connection, or an HTTP client. Every SQL read runs inside a
//! read-only transaction with a statement timeout, so a query that tries
//! to write is refused by the database itself and a slow one is cut by
//! it; the whole read is also bounded here, for a server that does not
//! answer at all. Values come back as text (ids are compared as text;
//! counters parse it), whatever the column's type.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Connection, Executor, Row, TypeInfo};

use super::BooksError;
use crate::scenario::books::{BooksSource, HttpSource};
use crate::scenario::model::Tls;

/// An open source.
pub enum Source {
    Postgres(PgPool),
    Mysql(MySqlPool),
    Sqlite(SqlitePool),
    Http(Http),
}

/// An HTTP source: its base URL, headers (secrets rendered) and client.
pub struct Http {
    base: String,
    headers: reqwest::header::HeaderMap,
    client: reqwest::Client,
}

/// What opening a source needs from the run.
pub struct Opening<'a> {
    /// The run's target, for `{target}` in an HTTP source's URL.
    pub target: &'a str,
    /// The scenario's folder, for SQLite files and TLS material.
    pub base_dir: &'a std::path::Path,
    /// The target's TLS settings, the default of HTTP sources.
    pub target_tls: Option<&'a Tls>,
    pub timeout: Duration,
    /// Builds the client of an HTTP source (its URL, TLS settings and the
    /// scenario's folder): the runner's, so a source speaks TLS as the
    /// target does.
    pub client: &'a ClientFor,
}

/// How an HTTP source's client is built.
pub type ClientFor =
    dyn Fn(&str, &Tls, &std::path::Path) -> Result<(reqwest::Client, String), String>;

impl Source {
    /// Opens `spec` without connecting: a database that is down is found
    /// at the first read, as a warning, never here.
    pub fn open(name: &str, spec: &BooksSource, at: &Opening<'_>) -> Result<Source, BooksError> {
        let bad = |reason: String| BooksError::Source {
            source_name: name.to_string(),
            reason,
        };
        let dsn = |t: &crate::scenario::template::Template| {
            t.render(&|_| None)
                .map_err(|e| bad(format!("its URL cannot be rendered: {e}")))
        };
        Ok(match spec {
            BooksSource::Postgres(t) => {
                // Every transaction of the session is read-only too, so
                // a `COMMIT` inside a query cannot leave a writable one.
                let options = PgConnectOptions::from_str(&dsn(t)?)
                    .map_err(|e| bad(format!("its URL is not usable: {}", no_url(&e))))?
                    .options([("default_transaction_read_only", "on")]);
                Source::Postgres(
                    PgPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(at.timeout)
                        .connect_lazy_with(options),
                )
            }
            BooksSource::Mysql(t) => {
                let text = dsn(t)?.replacen("mariadb://", "mysql://", 1);
                let options = MySqlConnectOptions::from_str(&text)
                    .map_err(|e| bad(format!("its URL is not usable: {}", no_url(&e))))?;
                let ms = at.timeout.as_millis().max(1) as u64;
                Source::Mysql(
                    MySqlPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(at.timeout)
                        .after_connect(move |conn, _| {
                            Box::pin(async move { mysql_session(conn, ms).await })
                        })
                        .connect_lazy_with(options),
                )
            }
            BooksSource::Sqlite(file) => {
                let path = at.base_dir.join(file);
                let options = SqliteConnectOptions::new()
                    .filename(&path)
                    .read_only(true)
                    .create_if_missing(false)
                    .busy_timeout(at.timeout);
                Source::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(at.timeout)
                        .connect_lazy_with(options),
                )
            }
            BooksSource::Http(h) => Source::Http(Http::open(h, at).map_err(bad)?),
        })
    }

    /// The first column of every row `query` returns, as text (`None` for
    /// SQL NULL), read inside a read-only transaction.
    pub async fn rows(
        &self,
        query: &str,
        timeout: Duration,
    ) -> Result<Vec<Option<String>>, String> {
        let read = async {
            match self {
                Source::Postgres(pool) => postgres_rows(pool, query, timeout).await,
                Source::Mysql(pool) => mysql_rows(pool, query).await,
                Source::Sqlite(pool) => sqlite_rows(pool, query).await,
                Source::Http(_) => Err("an http source answers paths, not SQL".to_string()),
            }
        };
        // The database's own timeout should act first; this one catches a
        // server that does not answer at all.
        match tokio::time::timeout(timeout + Duration::from_secs(1), read).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no answer within {}",
                crate::scenario::units::Duration(timeout)
            )),
        }
    }

    /// The JSON document at `path` under an HTTP source's URL.
    pub async fn json(&self, path: &str, timeout: Duration) -> Result<serde_json::Value, String> {
        let Source::Http(h) = self else {
            return Err("an SQL source answers queries, not paths".to_string());
        };
        h.get(path, timeout).await
    }

    /// Closes the pools (their connections end cleanly).
    pub async fn close(&self) {
        match self {
            Source::Postgres(p) => p.close().await,
            Source::Mysql(p) => p.close().await,
            Source::Sqlite(p) => p.close().await,
            Source::Http(_) => {}
        }
    }
}

/// A connection error without the URL, which may carry a password.
fn no_url(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(c) => c.to_string(),
        e => e.to_string(),
    }
}

async fn postgres_rows(
    pool: &PgPool,
    query: &str,
    timeout: Duration,
) -> Result<Vec<Option<String>>, String> {
    let mut conn = pool.acquire().await.map_err(|e| database(&e))?;
    let mut tx = conn
        .begin_with("BEGIN READ ONLY")
        .await
        .map_err(|e| database(&e))?;
    let ms = timeout.as_millis().max(1);
    tx.execute(AssertSqlSafe(format!("SET LOCAL statement_timeout = {ms}")))
        .await
        .map_err(|e| database(&e))?;
    let rows = sqlx::query(AssertSqlSafe(query.to_string()))
        .persistent(false)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| database(&e))?;
    // Read-only: nothing to keep; dropping would roll back too.
    let _ = tx.rollback().await;
    rows.iter().map(pg_cell).collect()
}

async fn mysql_rows(pool: &MySqlPool, query: &str) -> Result<Vec<Option<String>>, String> {
    let mut conn = pool.acquire().await.map_err(|e| database(&e))?;
    let mut tx = conn
        .begin_with("START TRANSACTION READ ONLY")
        .await
        .map_err(|e| database(&e))?;
    let rows = sqlx::query(AssertSqlSafe(query.to_string()))
        .persistent(false)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| database(&e))?;
    let _ = tx.rollback().await;
    rows.iter().map(mysql_cell).collect()
}

/// The session is read-only: DDL commits the transaction it is in
/// before it runs, so `START TRANSACTION READ ONLY` alone would let a
/// `DROP TABLE` through. MariaDB bounds every statement
/// (`max_statement_time`, seconds); MySQL only reads (`max_execution_time`,
/// ms), which is all a books query may do.
async fn mysql_session(conn: &mut sqlx::MySqlConnection, ms: u64) -> Result<(), sqlx::Error> {
    conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
    let mariadb = format!("SET SESSION max_statement_time = {}", ms as f64 / 1000.0);
    if conn.execute(AssertSqlSafe(mariadb)).await.is_ok() {
        return Ok(());
    }
    let mysql = format!("SET SESSION max_execution_time = {ms}");
    conn.execute(AssertSqlSafe(mysql)).await.map(|_| ())
}

async fn sqlite_rows(pool: &SqlitePool, query: &str) -> Result<Vec<Option<String>>, String> {
    // Opened read-only: a write is refused by SQLite itself.
    let mut conn = pool.acquire().await.map_err(|e| database(&e))?;
    let rows = sqlx::query(AssertSqlSafe(query.to_string()))
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| database(&e))?;
    rows.iter().map(sqlite_cell).collect()
}

/// The database's own message, without sqlx's wrapping.
fn database(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => format!("the database says: {}", d.message()),
        sqlx::Error::PoolTimedOut => "no connection within the timeout".to_string(),
        e => no_url(e),
    }
}

/// Reads column 0 of `$row` as the first of the types that fits.
macro_rules! first_column_as_text {
    ($row:expr, $($t:ty),+) => {{
        let row = $row;
        let Some(column) = row.columns().first() else {
            return Err("the query returns no column".to_string());
        };
        $(
            if let Ok(v) = row.try_get::<Option<$t>, _>(0) {
                return Ok(v.map(|v| v.to_string()));
            }
        )+
        Err(format!(
            "its first column `{}` is of type {}, which surge does not read; cast it to text or a number in the query",
            column.name(),
            column.type_info().name()
        ))
    }};
}

fn pg_cell(row: &PgRow) -> Result<Option<String>, String> {
    first_column_as_text!(
        row,
        i64,
        i32,
        i16,
        f64,
        f32,
        sqlx::types::Decimal,
        String,
        sqlx::types::Uuid,
        bool
    )
}

fn mysql_cell(row: &MySqlRow) -> Result<Option<String>, String> {
    first_column_as_text!(
        row,
        i64,
        u64,
        i32,
        u32,
        f64,
        f32,
        sqlx::types::Decimal,
        String,
        bool
    )
}

fn sqlite_cell(row: &SqliteRow) -> Result<Option<String>, String> {
    first_column_as_text!(row, i64, f64, String, bool)
}

impl Http {
    fn open(h: &HttpSource, at: &Opening<'_>) -> Result<Http, String> {
        let base = h
            .url
            .render(&|_| Some(at.target.into()))
            .map_err(|e| e.to_string())?
            .trim_end_matches('/')
            .to_string();
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &h.headers {
            let value = value.render(&|_| None).map_err(|e| e.to_string())?;
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            let value = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| format!("the value of header `{name}` is not a header value"))?;
            headers.insert(name, value);
        }
        let none = Tls::default();
        let tls = h.tls.as_ref().or(at.target_tls).unwrap_or(&none);
        let (client, base) = (at.client)(&base, tls, at.base_dir)?;
        Ok(Http {
            client,
            base,
            headers,
        })
    }

    async fn get(&self, path: &str, timeout: Duration) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .get(&url)
            .headers(self.headers.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {}", crate::human::error_chain(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {path}: {}", crate::human::error_chain(&e)))?;
        if !status.is_success() {
            return Err(format!("GET {path} answered {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {path} is not JSON: {e}"))
    }
}
