//! `timeout`: no data gets through (it is read and dropped), and the
//! connection is closed `after` its start; with `after: 0s` it stays open,
//! silent, until the toxic is removed: the hang a client only escapes by
//! its own timeout.

use std::time::Duration;

use tokio::time::Instant;

use crate::proxy::toxic::{Link, Step, Toxic};

#[derive(Debug)]
pub struct Timeout {
    pub after: Duration,
}

impl Toxic for Timeout {
    fn chunk(&self, _link: &mut Link, _data: Vec<u8>, out: &mut Vec<Step>) {
        out.push(Step::Hold);
    }

    fn deadline(&self, link: &Link) -> Option<(Instant, Step)> {
        (!self.after.is_zero()).then(|| (link.started + self.after, Step::Close))
    }
}
