//! `slicer`: data is cut into pieces of `average` ± `variation` bytes, with
//! `delay` between pieces: small TCP segments, as a congested path gives.

use std::time::Duration;

use rand::Rng;

use crate::proxy::toxic::{Link, Step, Toxic};

#[derive(Debug)]
pub struct Slicer {
    pub average: u64,
    pub variation: u64,
    pub delay: Duration,
}

impl Toxic for Slicer {
    fn chunk(&self, link: &mut Link, data: Vec<u8>, out: &mut Vec<Step>) {
        let mut rest = data.as_slice();
        while !rest.is_empty() {
            let spread = self.variation.min(self.average - 1);
            let size = if spread == 0 {
                self.average
            } else {
                link.rng
                    .random_range(self.average - spread..=self.average + spread)
            };
            let (piece, tail) = rest.split_at((size as usize).min(rest.len()));
            out.push(Step::Write(piece.to_vec()));
            rest = tail;
            if !rest.is_empty() && !self.delay.is_zero() {
                out.push(Step::Wait(self.delay));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_keep_every_byte_in_order_and_their_size() {
        let t = Slicer {
            average: 10,
            variation: 3,
            delay: Duration::from_millis(1),
        };
        let data: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        t.chunk(
            &mut Link::new(tokio::time::Instant::now(), 3),
            data.clone(),
            &mut out,
        );
        let mut joined = Vec::new();
        let pieces: Vec<&Vec<u8>> = out
            .iter()
            .filter_map(|s| match s {
                Step::Write(d) => Some(d),
                _ => None,
            })
            .collect();
        for (i, p) in pieces.iter().enumerate() {
            if i + 1 < pieces.len() {
                assert!((7..=13).contains(&p.len()), "{}", p.len());
            }
            joined.extend_from_slice(p);
        }
        assert_eq!(joined, data);
        assert_eq!(
            out.iter().filter(|s| matches!(s, Step::Wait(_))).count(),
            pieces.len() - 1
        );
    }
}
