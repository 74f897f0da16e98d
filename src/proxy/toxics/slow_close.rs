//! `slow_close`: when a side closes, the close reaches the other side only
//! after `delay`; data is untouched.

use std::time::Duration;

use crate::proxy::toxic::{Link, Step, Toxic};

#[derive(Debug)]
pub struct SlowClose {
    pub delay: Duration,
}

impl Toxic for SlowClose {
    fn chunk(&self, _link: &mut Link, data: Vec<u8>, out: &mut Vec<Step>) {
        out.push(Step::Write(data));
    }

    fn before_close(&self) -> Duration {
        self.delay
    }
}
