//! The platform's books, read from real databases: a PostgreSQL cluster
//! (`initdb` and `pg_ctl`) and a MariaDB server (`mariadb-install-db` and
//! `mariadbd`) made in temporary folders and started by this binary, once
//! each, a SQLite file, and an HTTP admin API. Each sits behind a small
//! payments platform of the test's own (create an order, pay, credit a
//! moment later) with a switch that drops the credit of chosen orders:
//! the real `surge run` must name exactly the dropped orders as paid but
//! not credited, pass when none is dropped, refuse a query that writes,
//! and survive the database stopping mid-run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

use common::{free_port, interrupt_within_10s, objective, read_summary};

// ---------------------------------------------------------------- databases

/// Runs `cmd`, as the `postgres` user when the tests run as root (the
/// server refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn check(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL cluster in a temporary folder, on a loopback port.
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (bash tests/setup.sh)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql");
        let dir = tempfile::tempdir().unwrap();
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status();
        let data = dir.path().join("data");
        check(
            as_postgres(&bin.join("initdb")).arg("-D").arg(&data).args([
                "-U",
                "surge",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        );
        let pg = Postgres {
            port: free_port(),
            dir,
            bin,
        };
        pg.pg_ctl("start");
        pg
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let mut cmd = as_postgres(&self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-w", "-m", "fast", "-o", &options]);
        cmd.arg("-l").arg(self.dir.path().join("log")).arg(action);
        check(&mut cmd, &format!("pg_ctl {action}"));
    }

    fn dsn(&self) -> String {
        format!("postgres://surge@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A MariaDB server in a temporary folder, on a loopback port, that lets
/// anyone in (`--skip-grant-tables`): the test is about reading, and a
/// read-only transaction refuses writes whatever the grants.
struct Mariadb {
    /// Removed after the server is stopped.
    _dir: tempfile::TempDir,
    server: std::process::Child,
    port: u16,
}

impl Mariadb {
    fn start() -> Mariadb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        check(
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args([
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ]),
            "mariadb-install-db",
        );
        let port = free_port();
        let server = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!("--port={port}"))
            .args([
                "--user=root",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("mariadbd runs (bash tests/setup.sh installs it)");
        Mariadb {
            _dir: dir,
            server,
            port,
        }
    }

    fn dsn(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/surge", self.port)
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

// ---------------------------------------------------------------- the platform

/// The platform's database.
#[derive(Clone)]
enum Db {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

impl Db {
    /// Connects, retrying while the server starts (bounded).
    async fn connect(kind: &str, url: &str) -> Db {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let db = match kind {
                "postgres" => sqlx::PgPool::connect(url).await.map(Db::Postgres),
                "mysql" => Db::mysql(url).await.map(Db::Mysql),
                _ => sqlx::SqlitePool::connect(url).await.map(Db::Sqlite),
            };
            match db {
                Ok(db) => return db,
                Err(e) if Instant::now() > deadline => panic!("cannot reach {kind}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn mysql(url: &str) -> Result<sqlx::MySqlPool, sqlx::Error> {
        let (server, db) = url.rsplit_once('/').unwrap();
        let admin = sqlx::MySqlPool::connect(&format!("{server}/")).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE IF NOT EXISTS {db}")))
            .execute(&admin)
            .await?;
        admin.close().await;
        sqlx::MySqlPool::connect(url).await
    }

    async fn exec(&self, sql: &str, id: Option<&str>) {
        let r = match self {
            Db::Postgres(p) => {
                let q = sqlx::query(AssertSqlSafe(sql.replace('?', "$1")));
                let q = match id {
                    Some(id) => q.bind(id),
                    None => q,
                };
                q.execute(p).await.map(|_| ())
            }
            Db::Mysql(p) => {
                let q = sqlx::query(AssertSqlSafe(sql.to_string()));
                let q = match id {
                    Some(id) => q.bind(id),
                    None => q,
                };
                q.execute(p).await.map(|_| ())
            }
            Db::Sqlite(p) => {
                let q = sqlx::query(AssertSqlSafe(sql.to_string()));
                let q = match id {
                    Some(id) => q.bind(id),
                    None => q,
                };
                q.execute(p).await.map(|_| ())
            }
        };
        if let Err(e) = r {
            eprintln!("platform: {sql}: {e}");
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        let sql = || AssertSqlSafe(sql.to_string());
        match self {
            Db::Postgres(p) => sqlx::query_scalar(sql()).fetch_one(p).await,
            Db::Mysql(p) => sqlx::query_scalar(sql()).fetch_one(p).await,
            Db::Sqlite(p) => sqlx::query_scalar(sql()).fetch_one(p).await,
        }
        .unwrap_or(-1)
    }

    async fn credited(&self) -> Vec<String> {
        let sql = "SELECT order_id FROM payments WHERE state = 'credited'";
        match self {
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            Db::Mysql(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        }
        .unwrap_or_default()
    }
}

/// A payments platform: orders, payments captured at once, credits a
/// moment later, except for the orders it is told to drop.
struct Platform {
    db: Db,
    next: AtomicU64,
    paid: AtomicU64,
    /// Drop the credit of every other payment, until this many are dropped.
    drop: usize,
    /// Credit payment `n` after 50 ms plus `n % 20` times this: credits
    /// that trickle in long after the load.
    spread: Duration,
    dropped: Mutex<Vec<String>>,
}

type Shared = Arc<Platform>;

async fn order(State(p): State<Shared>) -> (StatusCode, Json<Value>) {
    let id = format!("o-{}", p.next.fetch_add(1, Ordering::SeqCst) + 1);
    p.db.exec(
        "INSERT INTO payments (order_id, state) VALUES (?, 'created')",
        Some(&id),
    )
    .await;
    (StatusCode::CREATED, Json(json!({ "order": id })))
}

async fn pay(State(p): State<Shared>, UrlPath(id): UrlPath<String>) -> Json<Value> {
    p.db.exec(
        "UPDATE payments SET state = 'captured' WHERE order_id = ?",
        Some(&id),
    )
    .await;
    let n = p.paid.fetch_add(1, Ordering::SeqCst);
    let drop = {
        let mut dropped = p.dropped.lock().unwrap();
        let drop = n % 2 == 1 && dropped.len() < p.drop;
        if drop {
            dropped.push(id.clone());
        }
        drop
    };
    if !drop {
        let delay = Duration::from_millis(50) + p.spread * (n % 20) as u32;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            p.db.exec(
                "UPDATE payments SET state = 'credited' WHERE order_id = ?",
                Some(&id),
            )
            .await;
        });
    }
    Json(json!({ "status": "captured" }))
}

async fn stats(State(p): State<Shared>) -> Json<Value> {
    let captured =
        p.db.count("SELECT count(*) FROM payments WHERE state IN ('captured', 'credited')")
            .await;
    let credited =
        p.db.count("SELECT count(*) FROM payments WHERE state = 'credited'")
            .await;
    Json(json!({ "payments": { "captured": captured, "credited": credited } }))
}

async fn credited(State(p): State<Shared>) -> Json<Value> {
    Json(json!({ "orders": p.db.credited().await }))
}

/// The platform on a loopback port, over `db` (its table made afresh).
struct Running {
    url: String,
    platform: Shared,
    runtime: tokio::runtime::Runtime,
}

fn platform(kind: &str, db_url: &str, drop: usize) -> Running {
    platform_with(kind, db_url, drop, Duration::ZERO)
}

fn platform_with(kind: &str, db_url: &str, drop: usize, spread: Duration) -> Running {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (url, platform) = runtime.block_on(async {
        let db = Db::connect(kind, db_url).await;
        db.exec("DROP TABLE IF EXISTS payments", None).await;
        db.exec(
            "CREATE TABLE payments (order_id VARCHAR(32) PRIMARY KEY, state VARCHAR(16) NOT NULL)",
            None,
        )
        .await;
        let platform = Arc::new(Platform {
            db,
            next: AtomicU64::new(0),
            paid: AtomicU64::new(0),
            drop,
            spread,
            dropped: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/orders", post(order))
            .route("/orders/{id}/pay", post(pay))
            .route("/admin/stats", get(stats))
            .route("/admin/credited", get(credited))
            .with_state(platform.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, platform)
    });
    Running {
        url,
        platform,
        runtime,
    }
}

// ---------------------------------------------------------------- scenarios

/// A scenario of about 120 buyers over 4 s against `target`, whose books
/// come from `source` (YAML of one source named `shop`) through
/// `counters` and `records` (YAML lines under each).
fn scenario(dir: &Path, target: &str, source: &str, counters: &str, records: &str) -> PathBuf {
    let body = format!(
        r#"version: 1
name: books
seed: 7
target: {{ base_url: "{target}" }}
load:
  phases: [{{ name: buy, duration: 4s, rate: 30/s }}]
  drain: 5s
journeys:
  buyer:
    channel: storefront
    steps:
      - {{ name: order, method: POST, path: /orders, expect: {{ status: 201 }}, capture: {{ order: $.order }} }}
      - {{ name: pay, method: POST, path: "/orders/{{order}}/pay" }}
books:
  sources:
    shop: {source}
  counters:
{counters}
  records:
{records}
  reconcile:
    - name: paid-credited
      ours: {{ step: buyer.pay, capture: order }}
      theirs: credited_orders
  every: 1s
  settle: 10s
objectives:
  - reconcile: {{ name: paid-credited, missing_at_most: 0 }}
  - books: {{ name: credits-grew, counter: credited, delta_at_least: 1 }}
  - books: {{ name: all-credited, expr: "captured - credited", at_most: 0, after_settle: true }}
"#
    );
    let path = dir.join("books.yaml");
    std::fs::write(&path, body).unwrap();
    path
}

const SQL_COUNTERS: &str = r#"    captured: { source: shop, query: "SELECT count(*) FROM payments WHERE state IN ('captured', 'credited')" }
    credited: { source: shop, query: "SELECT count(*) FROM payments WHERE state = 'credited'" }"#;
const SQL_RECORDS: &str = r#"    credited_orders: { source: shop, query: "SELECT order_id FROM payments WHERE state = 'credited'" }"#;

/// `surge` with the books' secret in its environment.
fn surge(dsn: &str) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin!("surge"));
    c.env("BOOKS_DSN", dsn);
    c
}

/// `surge run` of `scenario` into `out`: (exit code, stdout + stderr).
fn run(scenario: &Path, out: &Path, dsn: &str) -> (i32, String) {
    let o = surge(dsn)
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("-q")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().expect("exited"), text)
}

/// The ids `reconcile.csv` lists on `side`, sorted.
fn differences(out: &Path, side: &str) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("reconcile.csv")).unwrap_or_default();
    let mut ids: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cells = l.split(',');
            let (_, s, id) = (cells.next()?, cells.next()?, cells.next()?);
            (s == side).then(|| id.to_string())
        })
        .collect();
    ids.sort();
    ids
}

/// A run against `platform` that dropped `drop` credits: exactly those
/// ids are missing, and the objectives say so.
fn dropped_credits_are_named(p: &Running, scenario: &Path, dsn: &str, drop: usize) {
    let out = tempfile::tempdir().unwrap();
    let (code, text) = run(scenario, out.path(), dsn);
    assert!(
        out.path().join("summary.json").exists(),
        "exit {code}: {text}"
    );
    let summary = read_summary(out.path());
    let books = &summary["books"];
    let r = &books["reconcile"][0];
    let paid = p.platform.paid.load(Ordering::SeqCst);
    let mut dropped = p.platform.dropped.lock().unwrap().clone();
    dropped.sort();
    assert_eq!(dropped.len(), drop, "the platform dropped what it was told");
    assert!(
        paid >= 2 * drop as u64 + 10,
        "{paid} payments: too few for the case"
    );
    assert_eq!(r["ours_count"], paid, "{text}\n{books}");
    assert_eq!(r["missing"], drop, "{text}\n{books}");
    assert_eq!(r["extra"], 0, "{books}");
    assert_eq!(differences(out.path(), "missing"), dropped, "{text}");
    assert_eq!(
        r["missing_ids"].as_array().unwrap().len(),
        drop.min(20),
        "the summary keeps the first 20"
    );
    let credited = common::named(&books["counters"], "credited");
    assert_eq!(credited["before"], 0.0);
    assert_eq!(
        credited["after_settle"],
        (paid - drop as u64) as f64,
        "{books}"
    );
    assert_eq!(books["settled"], true, "{books}");
    let all = objective(&summary, "all-credited");
    assert_eq!(objective(&summary, "credits-grew")["judgement"], "met");
    if drop == 0 {
        assert_eq!(code, 0, "{text}");
        assert_eq!(objective(&summary, "paid-credited")["judgement"], "met");
        assert_eq!(all["judgement"], "met", "{all}");
    } else {
        assert_eq!(code, 1, "{text}");
        let rec = objective(&summary, "paid-credited");
        assert_eq!(rec["judgement"], "missed", "{rec}");
        assert_eq!(rec["measured"], drop as f64);
        assert!(rec["detail"].as_str().unwrap().contains(&dropped[0]) || drop > 20);
        assert_eq!(all["judgement"], "missed");
        assert_eq!(all["measured"], drop as f64);
        assert!(
            text.contains(&format!("ours, not theirs: {drop} (")),
            "{text}"
        );
    }
    // The secret is read, never written.
    for file in [
        "summary.json",
        "summary.md",
        "report.html",
        "books.csv",
        "scenario.yaml",
    ] {
        let body = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert!(!body.contains(dsn), "{file} shows the database URL");
    }
    assert!(!text.contains(dsn), "the terminal shows the database URL");
    // Shown with --nocapture: README's terminal comes from here.
    println!("{text}");
}

/// `validate --connect` of `scenario` with a counter whose query writes:
/// refused by the database, in its words, exit 3, the table untouched.
fn writes_are_refused(p: &Running, dir: &Path, source: &str, dsn: &str, refusal: &str) {
    let before = p
        .runtime
        .block_on(p.platform.db.count("SELECT count(*) FROM payments"));
    assert!(before > 0);
    for write in [
        "DELETE FROM payments",
        "UPDATE payments SET state = 'gone'",
        "DROP TABLE payments",
    ] {
        let counters = format!("{SQL_COUNTERS}\n    gone: {{ source: shop, query: \"{write}\" }}");
        let path = scenario(dir, &p.url, source, &counters, SQL_RECORDS);
        let o = surge(dsn)
            .args(["validate", "--connect"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{write}: {err}");
        assert!(err.contains(refusal), "{write}: {err}");
    }
    let after = p
        .runtime
        .block_on(p.platform.db.count("SELECT count(*) FROM payments"));
    assert_eq!(after, before, "a books query changed the platform's data");
}

/// Waits until `books.csv` has a reading of `stage`, within `wait`.
fn wait_for_reading(books_csv: &Path, stage: &str, wait: Duration, what: &str) {
    let deadline = Instant::now() + wait;
    let row = format!(",{stage},");
    while !std::fs::read_to_string(books_csv)
        .unwrap_or_default()
        .contains(&row)
    {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- the tests

#[test]
fn postgres_books_name_the_dropped_credits() {
    let pg = Postgres::start();
    let dsn = pg.dsn();
    let dir = tempfile::tempdir().unwrap();
    let source = r#"{ postgres: "${BOOKS_DSN}" }"#;
    for drop in [37, 0] {
        let p = platform("postgres", &dsn, drop);
        let s = scenario(dir.path(), &p.url, source, SQL_COUNTERS, SQL_RECORDS);
        dropped_credits_are_named(&p, &s, &dsn, drop);
        if drop == 0 {
            // `validate --connect` reads each query once.
            let o = surge(&dsn)
                .args(["validate", "--connect"])
                .arg(&s)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            println!("{text}");
            assert!(o.status.success(), "{text}");
            let paid = p.platform.paid.load(Ordering::SeqCst);
            assert!(
                text.contains(&format!("counter credited (shop): {paid}")),
                "{text}"
            );
            assert!(
                text.contains(&format!("record credited_orders (shop): {paid} ids")),
                "{text}"
            );
            writes_are_refused(&p, dir.path(), source, &dsn, "read-only transaction");
            // Ids of PostgreSQL's own types read as text.
            let uuids = "    credited_orders: { source: shop, query: \"SELECT gen_random_uuid() FROM payments\" }";
            let s = scenario(dir.path(), &p.url, source, SQL_COUNTERS, uuids);
            let o = surge(&dsn)
                .args(["validate", "--connect"])
                .arg(&s)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(
                text.contains(&format!("record credited_orders (shop): {paid} ids")),
                "{text}"
            );
        }
    }
    // The database stops mid-run: a warning, the objectives on it
    // unjudged, the run folder whole.
    let p = platform("postgres", &dsn, 0);
    let s = scenario(dir.path(), &p.url, source, SQL_COUNTERS, SQL_RECORDS);
    let out = tempfile::tempdir().unwrap();
    let child = surge(&dsn)
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(out.path())
        .arg("-q")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let books_csv = out.path().join("books.csv");
    wait_for_reading(
        &books_csv,
        "load",
        Duration::from_secs(30),
        "no reading during the load",
    );
    pg.pg_ctl("stop");
    let o = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("books source `shop` (postgres) could not be read"),
        "{text}"
    );
    let summary = read_summary(out.path());
    assert_eq!(summary["books"]["warnings"].as_array().unwrap().len(), 1);
    for name in ["all-credited", "paid-credited"] {
        assert_eq!(objective(&summary, name)["judgement"], "unjudged", "{name}");
    }
    for file in [
        "report.html",
        "summary.md",
        "junit.xml",
        "ids.csv",
        "steps.csv",
    ] {
        assert!(out.path().join(file).exists(), "{file} is missing");
    }
}

#[test]
fn mariadb_books_name_the_dropped_credits() {
    let db = Mariadb::start();
    let dsn = db.dsn();
    let dir = tempfile::tempdir().unwrap();
    let source = r#"{ mysql: "${BOOKS_DSN}" }"#;
    for drop in [37, 0] {
        let p = platform("mysql", &dsn, drop);
        let s = scenario(dir.path(), &p.url, source, SQL_COUNTERS, SQL_RECORDS);
        dropped_credits_are_named(&p, &s, &dsn, drop);
        if drop == 0 {
            writes_are_refused(&p, dir.path(), source, &dsn, "READ ONLY transaction");
        }
    }
}

#[test]
fn sqlite_books_name_the_dropped_credits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let source = "{ sqlite: shop.db }";
    for drop in [37, 0] {
        let p = platform("sqlite", &url, drop);
        let s = scenario(dir.path(), &p.url, source, SQL_COUNTERS, SQL_RECORDS);
        dropped_credits_are_named(&p, &s, "unused", drop);
        if drop == 0 {
            writes_are_refused(&p, dir.path(), source, "unused", "readonly database");
        }
    }
}

/// Ctrl-C while credits are still trickling in ends the settle at once:
/// the run is interrupted, says its books did not settle, and its folder
/// is whole.
#[test]
fn ctrl_c_cuts_the_settle_short() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    let p = platform_with("sqlite", &url, 0, Duration::from_millis(1500));
    let s = scenario(
        dir.path(),
        &p.url,
        "{ sqlite: shop.db }",
        SQL_COUNTERS,
        SQL_RECORDS,
    );
    let body = std::fs::read_to_string(&s)
        .unwrap()
        .replace("settle: 10s", "settle: 60s");
    std::fs::write(&s, body).unwrap();
    let out = dir.path().join("run");
    let mut child = common::spawn_run(&s, &out, &[]);
    let books_csv = out.join("books.csv");
    wait_for_reading(
        &books_csv,
        "settle",
        Duration::from_secs(40),
        "the settle never began",
    );
    let status = interrupt_within_10s(&mut child, "the run went on settling after Ctrl-C");
    assert_eq!(status.code(), Some(3));
    let summary = read_summary(&out);
    assert_eq!(summary["status"], "interrupted");
    assert_eq!(summary["books"]["settled"], false);
    let settle = summary["books"]["settle_s"].as_f64().unwrap();
    assert!(settle < 20.0, "settled for {settle} s of 60");
    let last = std::fs::read_to_string(&books_csv).unwrap();
    assert!(last.lines().last().unwrap().contains(",after,"), "{last}");
    for file in ["report.html", "summary.md", "ids.csv", "reconcile.csv"] {
        assert!(out.join(file).exists(), "{file} is missing");
    }
}

/// Ctrl-C with a books source that accepts and never answers: the run
/// ends within 10 s all the same (sources that failed are not asked
/// again), its books' objectives unjudged.
#[test]
fn ctrl_c_does_not_wait_for_a_stalled_source() {
    let stall = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stall_url = format!("http://{}", stall.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in stall.incoming().flatten() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    let p = platform("sqlite", &url, 0);
    let source = format!("{{ http: {{ url: \"{stall_url}\" }} }}");
    let counters = "    captured: { source: shop, path: /stats, value: $.captured }\n    credited: { source: shop, path: /stats, value: $.credited }";
    let records = "    credited_orders: { source: shop, path: /credited, values: $.orders }";
    let s = scenario(dir.path(), &p.url, &source, counters, records);
    let body = std::fs::read_to_string(&s)
        .unwrap()
        .replace("settle: 10s", "settle: 10s\n  timeout: 4s")
        .replace("duration: 4s", "duration: 20s");
    std::fs::write(&s, body).unwrap();
    let out = dir.path().join("run");
    let mut child = common::spawn_run(&s, &out, &[]);
    let books_csv = out.join("books.csv");
    wait_for_reading(
        &books_csv,
        "load",
        Duration::from_secs(40),
        "no reading during the load",
    );
    let status = interrupt_within_10s(
        &mut child,
        "the run waited on a stalled books source after Ctrl-C",
    );
    assert_eq!(status.code(), Some(3));
    let summary = read_summary(&out);
    assert_eq!(summary["status"], "interrupted");
    let warnings = summary["books"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "one warning per source: {warnings:?}");
    assert!(
        warnings[0].as_str().unwrap().contains("GET /stats"),
        "{warnings:?}"
    );
    assert_eq!(objective(&summary, "all-credited")["judgement"], "unjudged");
    assert!(out.join("report.html").exists());
}

#[test]
fn http_books_name_the_dropped_credits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    let p = platform("sqlite", &url, 37);
    let source = format!(
        r#"{{ http: {{ url: "{}", headers: {{ Authorization: "Bearer ${{BOOKS_DSN}}" }} }} }}"#,
        p.url
    );
    let counters = "    captured: { source: shop, path: /admin/stats, value: $.payments.captured }\n    credited: { source: shop, path: /admin/stats, value: $.payments.credited }";
    let records = "    credited_orders: { source: shop, path: /admin/credited, values: $.orders }";
    let s = scenario(dir.path(), &p.url, &source, counters, records);
    dropped_credits_are_named(&p, &s, "a-token-never-shown", 37);
}

#[test]
fn the_twin_s_books_agree_with_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let body =
        std::fs::read_to_string(common::repo("scenarios/cpns-2024-deadline-eve.yaml")).unwrap();
    let path = dir.path().join("cpns.yaml");
    std::fs::write(&path, body).unwrap();
    let out = dir.path().join("run");
    let (code, text, _) =
        common::run_scenario(&path, &out, &["--duration", "40s", "--scale", "0.25"]);
    assert_eq!(code, 1, "the CPNS eve fails as it did: {text}");
    let summary = read_summary(&out);
    let lost = summary["ledger"]["paid_not_credited"].as_u64().unwrap();
    let r = &summary["books"]["reconcile"][0];
    assert!(lost > 0, "the eve loses callbacks");
    assert_eq!(r["missing"], lost, "{}", summary["books"]);
    assert_eq!(
        r["ours_count"], summary["ledger"]["counters"]["payments_captured"],
        "every captured payment was an applicant's"
    );
    let rec = objective(&summary, "paid-but-not-credited");
    assert_eq!(rec["judgement"], "missed");
    assert_eq!(rec["measured"], lost as f64);
}
