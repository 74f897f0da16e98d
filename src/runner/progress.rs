//! The live progress line on stderr, rewritten in place once a second:
//! where the run is, arrivals and completions per second, the last
//! second's p99, errors and journeys in flight. Silent when stderr is not a
//! terminal (CI logs want the summary, not 600 redrawn lines).

use std::io::Write;
use std::time::Duration;

use crate::recorder::IntervalView;

pub struct Line {
    enabled: bool,
    planned: Duration,
    shown: bool,
}

impl Line {
    pub fn new(enabled: bool, planned: Duration) -> Line {
        Line {
            enabled,
            planned,
            shown: false,
        }
    }

    pub fn show(&mut self, view: &IntervalView, phase: &str) {
        if !self.enabled {
            return;
        }
        let c = &view.counts;
        let p99 = view
            .p99_us
            .map_or("-".to_string(), |us| format!("{:.1}ms", us as f64 / 1000.0));
        let line = format!(
            "{:>4}s/{}s {:<14} arrivals {:>5}/s  done {:>5}/s  p99 {:>9}  errors {:>4}  in flight {:>5}{}",
            view.second + 1,
            self.planned.as_secs(),
            phase,
            c.scheduled,
            c.completed(),
            p99,
            c.errors(),
            view.in_flight,
            if c.late > 0 {
                format!("  late {}", c.late)
            } else {
                String::new()
            },
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.shown = true;
    }

    pub fn finish(&mut self) {
        if self.shown {
            eprintln!();
        }
    }
}
