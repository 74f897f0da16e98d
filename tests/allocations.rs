//! Heap allocations per request on the generator's hot path, counted by a
//! global allocator around a real run in this process (`runner::run`)
//! against a real server on a thread whose allocations are not counted.
//! Two runs of the same length at two rates are counted, so what a run
//! costs once or per second cancels and the difference is per request.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocations per request of a plain GET at most: 8.0 measured on
/// 2026-12-07 (three runs alike), with room for a dependency's small
/// change; reqwest's path, before the lean client, took 67.0 (the same test at 5963780).
const AT_MOST: f64 = 12.0;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// False on the server's thread: its allocations are not the
    /// generator's.
    static COUNTED: Cell<bool> = const { Cell::new(true) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counting touches only an atomic and a const thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A server answering every request with 520 bytes (what bench/runner.sh
/// serves), on a thread of its own whose allocations are not counted.
fn server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        COUNTED.with(|c| c.set(false));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(|| async { "x".repeat(520) });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

/// Allocations counted over a 2-second run at `rate` arrivals/s, and the
/// requests it sent.
fn counted_run(dir: &std::path::Path, url: &str, rate: u32) -> (u64, u64) {
    let file = dir.join(format!("r{rate}.yaml"));
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: alloc\ntarget: {{ base_url: \"{url}\" }}\n\
             load: {{ arrivals: uniform, max_in_flight: 2, phases: [{{ name: p, duration: 2s, rate: {rate}/s }}] }}\n\
             journeys:\n  get: {{ channel: storefront, patience: {{ attempts: 1 }}, steps: [{{ name: get, path: /index.html }}] }}\n"
        ),
    )
    .unwrap();
    let (scenario, _) = surge::scenario::load(&file).expect("a valid scenario");
    let mut opts = surge::runner::RunOptions::new(&file);
    opts.out = Some(dir.join(format!("run{rate}")));
    opts.threads = Some(1);
    opts.quiet_goose = true;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let result = surge::runner::run(scenario, &opts).expect("the run completes");
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop(result);
    let mut rows = csv::Reader::from_path(dir.join(format!("run{rate}/steps.csv"))).unwrap();
    let column = rows
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "requests")
        .unwrap();
    let requests = rows
        .records()
        .map(|r| r.unwrap()[column].parse::<u64>().unwrap())
        .sum();
    (allocations, requests)
}

#[test]
fn a_plain_get_allocates_at_most_its_stated_number() {
    let url = server();
    let dir = tempfile::tempdir().unwrap();
    // A first run warms what is built once per process.
    counted_run(dir.path(), &url, 50);
    let (few, few_requests) = counted_run(dir.path(), &url, 200);
    let (many, many_requests) = counted_run(dir.path(), &url, 1000);
    assert_eq!((few_requests, many_requests), (400, 2000));
    let per_request = (many as f64 - few as f64) / (many_requests - few_requests) as f64;
    eprintln!(
        "{per_request:.1} allocations per request ({few} over {few_requests}, {many} over {many_requests})"
    );
    assert!(
        per_request <= AT_MOST,
        "{per_request:.1} allocations per request, at most {AT_MOST} stated"
    );
    assert!(per_request > 0.0, "the counter counts");
}
