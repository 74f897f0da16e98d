//! `reset_peer`: the connection is reset (RST, "connection reset by peer")
//! `after` its start, or at its first data when `after` is 0s.

use std::time::Duration;

use tokio::time::Instant;

use crate::proxy::toxic::{Link, Step, Toxic};

#[derive(Debug)]
pub struct ResetPeer {
    pub after: Duration,
}

impl Toxic for ResetPeer {
    fn chunk(&self, link: &mut Link, data: Vec<u8>, out: &mut Vec<Step>) {
        if Instant::now() >= link.started + self.after {
            out.push(Step::Reset);
        } else {
            out.push(Step::Write(data));
        }
    }

    fn deadline(&self, link: &Link) -> Option<(Instant, Step)> {
        (!self.after.is_zero()).then(|| (link.started + self.after, Step::Reset))
    }
}
