//! The command line's overrides of a scenario (`--scale`, `--seed`,
//! `--max-in-flight`, `--duration`), applied before anything is planned.
//! A compressed or stretched replay keeps its shape: phases, faults,
//! staged recoveries and the moments the twin's stocks run dry all move
//! with the timeline.

use std::time::Duration;

use super::RunOptions;
use crate::scenario::Scenario;

/// Applies the command line's overrides to the scenario.
pub fn apply_overrides(scenario: &mut Scenario, opts: &RunOptions) -> f64 {
    if let Some(scale) = opts.scale {
        scenario.file.load.scale = scale;
    }
    if let Some(seed) = opts.seed {
        scenario.file.seed = seed;
    }
    if let Some(n) = opts.max_in_flight {
        scenario.file.load.max_in_flight = n;
    }
    match opts.duration {
        Some(d) if !scenario.timeline.total.is_zero() => {
            let factor = d.as_secs_f64() / scenario.timeline.total.as_secs_f64();
            scenario.timeline.stretch(factor);
            // A staged recovery is part of the timeline's shape too.
            let at = |d: &mut crate::scenario::units::Duration| {
                d.0 = Duration::from_secs_f64(d.0.as_secs_f64() * factor);
            };
            for f in &mut scenario.file.faults {
                if let crate::scenario::model::FaultKind::Outage(o) = &mut f.fault
                    && let Some(r) = &mut o.recovery
                {
                    at(&mut r.stamping);
                    at(&mut r.credits);
                    at(&mut r.sales);
                }
            }
            // So do the moments stocks run dry: the arrivals that use them
            // up scale with the timeline, so the stocks scale with it.
            if let Some(twin) = &mut scenario.file.target.twin {
                twin.scale_stocks(factor);
            }
            factor
        }
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_compressed_replay_keeps_its_shape() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cpns-2024-deadline-eve.yaml");
        let (mut scenario, _) = crate::scenario::load(&path).expect("the shipped scenario loads");
        let before = scenario.timeline.clone();
        let mut opts = RunOptions::new(&path);
        opts.duration = Some(Duration::from_secs(90));
        let factor = apply_overrides(&mut scenario, &opts);
        assert!((factor - 0.15).abs() < 1e-12, "{factor}");
        assert_eq!(scenario.timeline.total, Duration::from_secs(90));
        let outage = |t: &crate::scenario::Timeline| t.fault("core-outage").unwrap().start;
        assert_eq!(outage(&scenario.timeline), outage(&before).mul_f64(0.15));

        // 90 s of arrivals drain 15% of what 10 minutes drain.
        let twin = scenario.file.target.twin.as_ref().unwrap();
        assert_eq!(twin.core.stock, 30_000);
        assert_eq!(twin.partners["reseller-a"].stock, 360);
        let b = &twin.partners["reseller-b"];
        let refill = b.refill.as_ref().unwrap();
        assert_eq!((b.stock, refill.below, refill.batch), (300, 75, 300));
        assert_eq!(twin.partners["pos"].stock, 0, "no stock stays no stock");
    }
}
