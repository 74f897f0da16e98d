//! Plain goose, as the reference surge's runner is measured against (see
//! bench/runner.sh): `USERS` users sending `GET URL` for `SECONDS` seconds,
//! with goose's metrics on or off (`METRICS=1|0`), optionally throttled to
//! `THROTTLE` requests/s. Prints one JSON line: requests and seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use goose::config::GooseConfiguration;
use goose::prelude::*;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let url = env("URL", "http://127.0.0.1:18080/");
    let users: usize = env("USERS", "64").parse().expect("USERS is a number");
    let seconds: u64 = env("SECONDS", "10").parse().expect("SECONDS is a number");
    let metrics = env("METRICS", "1") == "1";
    let throttle: usize = env("THROTTLE", "0").parse().expect("THROTTLE is a number");
    let threads: usize = env("THREADS", "1").parse().expect("THREADS is a number");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let path = url.clone();
    let get: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let (counter, path) = (counter.clone(), path.clone());
        Box::pin(async move {
            let _ = user.get(&path).await?;
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    });
    let mut config = GooseConfiguration::default();
    config.host = Some(url.clone());
    config.users = Some(users);
    config.increase_rate = Some((users * 10).to_string());
    config.run_time = Some(seconds.to_string());
    config.no_telnet = true;
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_metrics = !metrics;
    config.no_reset_metrics = true;
    if throttle > 0 {
        config.throttle_requests = Some(throttle);
    }
    let started = Instant::now();
    runtime.block_on(async {
        GooseAttack::initialize_with_config(config)
            .unwrap()
            .register_scenario(scenario!("plain").register_transaction(Transaction::new(get)))
            .execute()
            .await
            .unwrap();
    });
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{{\"requests\": {}, \"seconds\": {elapsed:.3}}}",
        count.load(Ordering::Relaxed)
    );
}
