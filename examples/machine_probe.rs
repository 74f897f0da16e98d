//! What this machine charges any program, measured without a network or a
//! runtime, so bench/runner.sh can tell surge's costs from the machine's:
//!
//! - the CPU a thread pays to be woken from a sleep, and how much slower a
//!   fixed piece of work runs right after a wake than back to back (a
//!   request at 2,000/s pays this once per wake);
//! - stalls: windows in which the same small piece of work, repeated every
//!   250 µs, runs five times slower or more than its median, with their
//!   number, length, spacing and worst slowdown (a generator's start lag
//!   above a few thousand arrivals/s is bounded by these).
//!
//! Run on one CPU (`taskset -c 0`); `SECONDS` (default 10) bounds the stall
//! probe. Prints one JSON line.

use std::hint::black_box;
use std::time::{Duration, Instant};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// CPU time of this process so far: the probe runs on one thread, so the
/// process's figure is that thread's.
fn cpu() -> Duration {
    Duration::from_secs_f64(surge::recorder::cpu::process_seconds().expect("getrusage works"))
}

/// A fixed piece of work that touches memory as request handling does:
/// `touches` scattered reads and writes over `buf`.
fn chunk(buf: &mut [u64], touches: usize, seed: &mut u64) {
    let len = buf.len() as u64;
    for _ in 0..touches {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = ((*seed >> 17) % len) as usize;
        buf[i] = buf[i].wrapping_add(*seed);
    }
    black_box(&buf);
}

/// CPU per wake from a sleep of `nap`, and per wake followed by one chunk,
/// against the chunk's CPU back to back.
fn wake_cost(buf: &mut [u64], touches: usize) -> (f64, f64, f64) {
    const N: u32 = 4_000;
    let nap = Duration::from_micros(450);
    let mut seed = 1;
    let micros = |d: Duration| d.as_secs_f64() * 1e6 / N as f64;
    let c = cpu();
    for _ in 0..N {
        chunk(buf, touches, &mut seed);
    }
    let in_a_row = micros(cpu() - c);
    let c = cpu();
    for _ in 0..N {
        std::thread::sleep(nap);
    }
    let wake = micros(cpu() - c);
    let c = cpu();
    for _ in 0..N {
        std::thread::sleep(nap);
        chunk(buf, touches, &mut seed);
    }
    let woken = micros(cpu() - c);
    (wake, woken - wake, in_a_row)
}

/// Windows of chunks that ran at least 5x their median, over `secs`:
/// (median µs, windows, mean window ms, median spacing s, worst factor).
fn stalls(buf: &mut [u64], touches: usize, secs: f64) -> (f64, usize, f64, f64, f64) {
    let start = Instant::now();
    let mut seed = 7;
    let mut runs = Vec::new();
    while start.elapsed().as_secs_f64() < secs {
        std::thread::sleep(Duration::from_micros(250));
        let at = Instant::now();
        chunk(buf, touches, &mut seed);
        runs.push(((at - start).as_secs_f64(), at.elapsed().as_secs_f64()));
    }
    let mut took: Vec<f64> = runs.iter().map(|r| r.1).collect();
    took.sort_by(f64::total_cmp);
    let median = took[took.len() / 2];
    // Slow chunks less than 100 ms apart belong to one window: inside a
    // stall most chunks are slow, not all.
    let mut windows: Vec<(f64, f64)> = Vec::new();
    let mut worst: f64 = 1.0;
    for &(at, d) in runs.iter().filter(|r| r.1 >= 5.0 * median) {
        worst = worst.max(d / median);
        match windows.last_mut() {
            Some(w) if at - w.1 < 0.1 => w.1 = at + d,
            _ => windows.push((at, at + d)),
        }
    }
    // A lone slow chunk is an interrupt, not a stall of the machine.
    windows.retain(|w| w.1 - w.0 >= 0.005);
    let mean_ms = match windows.len() {
        0 => 0.0,
        n => windows.iter().map(|w| w.1 - w.0).sum::<f64>() / n as f64 * 1e3,
    };
    let mut gaps: Vec<f64> = windows.windows(2).map(|p| p[1].0 - p[0].0).collect();
    gaps.sort_by(f64::total_cmp);
    let spacing = gaps.get(gaps.len() / 2).copied().unwrap_or(0.0);
    (median * 1e6, windows.len(), mean_ms, spacing, worst)
}

fn main() {
    let secs: f64 = env("SECONDS", "10").parse().expect("SECONDS is a number");
    // 2 MB: beyond the L2 cache, as a generator's working set is.
    let mut buf = vec![1u64; 256 * 1024];
    let (wake, after_wake, in_a_row) = wake_cost(&mut buf, 4_000);
    let (median, windows, mean_ms, spacing, worst) = stalls(&mut buf, 2_000, secs);
    println!(
        "{{\"wake_us\": {wake:.1}, \"chunk_after_wake_us\": {after_wake:.1}, \
         \"chunk_in_a_row_us\": {in_a_row:.1}, \"stall_probe_s\": {secs}, \
         \"chunk_median_us\": {median:.1}, \"stalls\": {windows}, \
         \"stall_mean_ms\": {mean_ms:.1}, \"stall_spacing_s\": {spacing:.2}, \
         \"stall_worst_x\": {worst:.1}}}"
    );
}
