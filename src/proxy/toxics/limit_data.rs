//! `limit_data`: the connection closes once `bytes` went through in the
//! toxic's direction; what is beyond the limit is not sent.

use crate::proxy::toxic::{Link, Step, Toxic};

#[derive(Debug)]
pub struct LimitData {
    pub bytes: u64,
}

impl Toxic for LimitData {
    fn chunk(&self, link: &mut Link, mut data: Vec<u8>, out: &mut Vec<Step>) {
        let left = self.bytes.saturating_sub(link.passed);
        if (data.len() as u64) < left {
            link.passed += data.len() as u64;
            out.push(Step::Write(data));
            return;
        }
        data.truncate(left as usize);
        link.passed += left;
        if !data.is_empty() {
            out.push(Step::Write(data));
        }
        out.push(Step::Close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_exactly_at_the_limit() {
        let t = LimitData { bytes: 10 };
        let mut link = Link::new(tokio::time::Instant::now(), 1);
        let mut out = Vec::new();
        t.chunk(&mut link, vec![1; 6], &mut out);
        t.chunk(&mut link, vec![2; 6], &mut out);
        assert_eq!(
            out,
            vec![
                Step::Write(vec![1; 6]),
                Step::Write(vec![2; 4]),
                Step::Close
            ]
        );
    }
}
