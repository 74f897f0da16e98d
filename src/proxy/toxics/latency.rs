//! `latency`: every chunk waits `delay` ± `jitter` before it goes on.

use std::time::Duration;

use crate::proxy::toxic::{Link, Step, Toxic};

#[derive(Debug)]
pub struct Latency {
    pub delay: Duration,
    pub jitter: Duration,
}

impl Toxic for Latency {
    fn chunk(&self, link: &mut Link, data: Vec<u8>, out: &mut Vec<Step>) {
        out.push(Step::Wait(link.jittered(self.delay, self.jitter)));
        out.push(Step::Write(data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_bounds() {
        let t = Latency {
            delay: Duration::from_millis(100),
            jitter: Duration::from_millis(20),
        };
        let mut link = Link::new(tokio::time::Instant::now(), 1);
        for _ in 0..200 {
            let mut out = Vec::new();
            t.chunk(&mut link, vec![1], &mut out);
            let Step::Wait(d) = out[0] else { panic!() };
            assert!(d >= Duration::from_millis(80) && d <= Duration::from_millis(120));
        }
    }
}
