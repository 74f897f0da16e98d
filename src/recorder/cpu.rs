//! The generator's own CPU use, so a run can tell when the generator (not
//! the target) was the bottleneck: the process's CPU (`getrusage`), less
//! the threads of an in-process twin (named `surge-twin`, read from
//! `/proc/self/task`), whose work is the target's. Read once a second.

use std::time::Instant;

/// CPU seconds (user and system) this process has used so far, dead
/// threads included.
pub fn process_seconds() -> Option<f64> {
    // SAFETY: getrusage writes into the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return None;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Some(secs(usage.ru_utime) + secs(usage.ru_stime))
    }
}

/// The shortest stretch a percentage is taken over. CPU time is counted
/// in clock ticks (4-10 ms): over the few milliseconds between the last
/// regular sample and the final one, one tick read as 200% of a core and
/// marked a five-arrival run's generator saturated.
const MIN_WINDOW: f64 = 0.25;

/// Threads whose CPU belongs to the target, not the generator.
pub const TWIN_THREAD: &str = "surge-twin";

pub struct CpuMeter {
    last: Option<(Instant, f64)>,
    ticks_per_s: f64,
}

impl Default for CpuMeter {
    fn default() -> Self {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let mut meter = CpuMeter {
            last: None,
            ticks_per_s: if ticks > 0 { ticks as f64 } else { 100.0 },
        };
        meter.last = meter.read().map(|cpu| (Instant::now(), cpu));
        meter
    }
}

impl CpuMeter {
    /// CPU seconds used so far by the generator: the whole process (dead
    /// threads included) less the twin's threads.
    fn read(&self) -> Option<f64> {
        Some(process_seconds()? - self.twin_threads())
    }

    /// CPU seconds of the live twin threads.
    fn twin_threads(&self) -> f64 {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return 0.0;
        };
        let mut ticks = 0u64;
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ...`: the name may hold spaces, so split at
            // the last parenthesis.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            if !stat[open + 1..close].starts_with(TWIN_THREAD) {
                continue;
            }
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line, 12 and 13
            // after the name.
            let field = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            ticks += field(11) + field(12);
        }
        ticks as f64 / self.ticks_per_s
    }

    /// Percent of one core used since the last call; `None` when the last
    /// call was under `MIN_WINDOW` ago (that stretch counts in the next).
    pub fn sample(&mut self) -> Option<f64> {
        let now = Instant::now();
        let cpu = self.read()?;
        if let Some((then, _)) = self.last
            && (now - then).as_secs_f64() < MIN_WINDOW
        {
            return None;
        }
        let pct = self.last.map(|(then, before)| {
            let wall = (now - then).as_secs_f64();
            ((cpu - before) / wall * 100.0).max(0.0)
        });
        self.last = Some((now, cpu));
        pct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_shows_as_about_one_core() {
        let mut meter = CpuMeter::default();
        let until = Instant::now() + std::time::Duration::from_millis(300);
        let spin = std::thread::spawn(move || while Instant::now() < until {});
        std::thread::sleep(std::time::Duration::from_millis(300));
        spin.join().unwrap();
        let pct = meter.sample().expect("getrusage works");
        // Clock ticks are coarse (10 ms): allow a wide margin.
        assert!((40.0..=250.0).contains(&pct), "{pct}");
    }

    #[test]
    fn a_stretch_of_a_few_milliseconds_gives_no_percentage() {
        let mut meter = CpuMeter::default();
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(meter.sample().is_some());
        // Busy for 5 ms: one tick, which over 5 ms would read as 100%+.
        let until = Instant::now() + std::time::Duration::from_millis(5);
        while Instant::now() < until {}
        assert_eq!(meter.sample(), None);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let pct = meter.sample().expect("a full window again");
        assert!(pct < 60.0, "the busy 5 ms over ~300 ms: {pct}");
    }
}
