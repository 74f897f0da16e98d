//! The history's tables, as forward migrations: migration N brings a
//! database from `PRAGMA user_version` N to N + 1. A database newer than
//! this surge is left alone (read, never written). README documents every
//! table and column; change both together.

/// Each migration's SQL, oldest first.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs and capacity searches, with what each measured.
    "
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        folder TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        capacity_folder TEXT,
        scenario TEXT NOT NULL,
        scenario_file TEXT NOT NULL,
        scenario_sha256 TEXT NOT NULL,
        seed INTEGER NOT NULL,
        scale REAL NOT NULL,
        time_factor REAL NOT NULL,
        planned_s REAL NOT NULL,
        elapsed_s REAL NOT NULL,
        shard_index INTEGER,
        shard_count INTEGER,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL,
        valid INTEGER,
        validity_reasons TEXT NOT NULL,
        verdict TEXT,
        scheduled INTEGER NOT NULL,
        started INTEGER NOT NULL,
        dropped INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        completed_in_time INTEGER NOT NULL,
        servable INTEGER NOT NULL,
        goodput REAL NOT NULL,
        surge_version TEXT NOT NULL,
        host TEXT NOT NULL,
        git_commit TEXT,
        git_branch TEXT,
        git_dirty INTEGER,
        ci TEXT,
        ci_run_url TEXT,
        ci_pr TEXT,
        ci_commit TEXT,
        indexed_at TEXT NOT NULL
    );
    CREATE INDEX runs_by_scenario ON runs (scenario, started_at);
    CREATE INDEX runs_by_sha ON runs (scenario_sha256, git_branch, started_at);
    CREATE TABLE objectives (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        judgement TEXT NOT NULL,
        measured REAL,
        bound REAL NOT NULL,
        unit TEXT NOT NULL,
        samples INTEGER,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE steps (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        journey TEXT NOT NULL,
        step TEXT NOT NULL,
        channel TEXT NOT NULL,
        requests INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        error_rate REAL NOT NULL,
        p50_us INTEGER NOT NULL,
        p90_us INTEGER NOT NULL,
        p99_us INTEGER NOT NULL,
        p999_us INTEGER NOT NULL,
        max_us INTEGER NOT NULL,
        p50_se_us REAL,
        p90_se_us REAL,
        p99_se_us REAL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE step_errors (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step TEXT NOT NULL,
        class TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (run_id, step, class)
    );
    CREATE TABLE channels (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        requests INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        error_rate REAL NOT NULL,
        p50_us INTEGER NOT NULL,
        p90_us INTEGER NOT NULL,
        p99_us INTEGER NOT NULL,
        p999_us INTEGER NOT NULL,
        max_us INTEGER NOT NULL,
        p50_se_us REAL,
        p90_se_us REAL,
        p99_se_us REAL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE journeys (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        channel TEXT NOT NULL,
        scheduled INTEGER NOT NULL,
        started INTEGER NOT NULL,
        dropped INTEGER NOT NULL,
        data_exhausted INTEGER NOT NULL,
        completed_in_time INTEGER NOT NULL,
        completed_late INTEGER NOT NULL,
        abandoned INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        unfinished INTEGER NOT NULL,
        goodput REAL NOT NULL,
        retry_amplification REAL NOT NULL,
        time_p50_us INTEGER NOT NULL,
        time_p99_us INTEGER NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE ledger (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        counter TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (run_id, counter)
    );
    CREATE TABLE capacities (
        id INTEGER PRIMARY KEY,
        folder TEXT NOT NULL UNIQUE,
        scenario TEXT NOT NULL,
        scenario_sha256 TEXT NOT NULL,
        started_at TEXT NOT NULL,
        base_rate_per_s REAL NOT NULL,
        scale REAL NOT NULL,
        capacity_per_s REAL NOT NULL,
        upper_scale REAL,
        upper_per_s REAL,
        resolution REAL NOT NULL,
        trials INTEGER NOT NULL,
        judged INTEGER NOT NULL,
        found INTEGER NOT NULL,
        surge_version TEXT,
        host TEXT,
        git_commit TEXT,
        git_branch TEXT,
        git_dirty INTEGER,
        ci TEXT,
        ci_run_url TEXT,
        ci_pr TEXT,
        ci_commit TEXT,
        indexed_at TEXT NOT NULL
    );
    CREATE INDEX capacities_by_scenario ON capacities (scenario, started_at);
    ",
];
