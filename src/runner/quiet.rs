//! goose's own output, kept off surge's streams: its log records (surge
//! counts failures itself) and the line it prints on stdout, which surge
//! keeps for its results.

/// goose logs a warning per failed request; surge counts failures itself,
/// so goose's records go nowhere unless they are errors (to stderr). Set
/// once, before goose's own logger, which then declines to install.
pub fn install_logger() {
    struct Errors;
    impl log::Log for Errors {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.level() <= log::Level::Error
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) {
                eprintln!("goose: {}", r.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Errors = Errors;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
}

/// Points stdout at /dev/null while it lives: goose prints a "users
/// launched" line unconditionally, and surge keeps stdout for its results.
pub struct StdoutSilencer {
    #[cfg(unix)]
    saved: Option<i32>,
}

impl StdoutSilencer {
    pub fn new() -> StdoutSilencer {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        // SAFETY: plain descriptor calls; the saved descriptor is restored
        // and closed on drop.
        let saved = unsafe {
            let saved = libc::dup(1);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if saved >= 0 && null >= 0 {
                libc::dup2(null, 1);
                libc::close(null);
                Some(saved)
            } else {
                None
            }
        };
        StdoutSilencer {
            #[cfg(unix)]
            saved,
        }
    }
}

impl Drop for StdoutSilencer {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        if let Some(saved) = self.saved {
            // SAFETY: restores the descriptor saved in `new`.
            unsafe {
                libc::dup2(saved, 1);
                libc::close(saved);
            }
        }
    }
}
