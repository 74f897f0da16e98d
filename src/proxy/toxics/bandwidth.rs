//! `bandwidth`: at most `bytes_per_s` go through, in pieces of at most a
//! tenth of a second's worth, each followed by the wait it costs; 0 is no
//! limit (as in Toxiproxy).

use std::time::Duration;

use crate::proxy::toxic::{Link, Step, Toxic};

#[derive(Debug)]
pub struct Bandwidth {
    pub bytes_per_s: u64,
}

impl Toxic for Bandwidth {
    fn chunk(&self, _link: &mut Link, data: Vec<u8>, out: &mut Vec<Step>) {
        if self.bytes_per_s == 0 {
            out.push(Step::Write(data));
            return;
        }
        let piece = (self.bytes_per_s / 10).max(1) as usize;
        for part in data.chunks(piece) {
            out.push(Step::Write(part.to_vec()));
            out.push(Step::Wait(Duration::from_secs_f64(
                part.len() as f64 / self.bytes_per_s as f64,
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waits_add_up_to_the_rate() {
        let t = Bandwidth { bytes_per_s: 1000 };
        let mut out = Vec::new();
        t.chunk(
            &mut Link::new(tokio::time::Instant::now(), 1),
            vec![0; 2500],
            &mut out,
        );
        let waited: Duration = out
            .iter()
            .filter_map(|s| match s {
                Step::Wait(d) => Some(*d),
                _ => None,
            })
            .sum();
        assert_eq!(waited, Duration::from_millis(2500));
        let written: usize = out
            .iter()
            .filter_map(|s| match s {
                Step::Write(d) => Some(d.len()),
                _ => None,
            })
            .sum();
        assert_eq!(written, 2500);
    }
}
