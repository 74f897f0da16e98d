//! `junit.xml`: one test case per objective (and one for the run's
//! validity), so CI systems show objectives as tests. A missed objective
//! is a failure whose message gives the measured value and the bound; an
//! unjudged one is an error.

use std::fmt::Write;

use super::{Format, value, xml_escape as escape};
use crate::rundata::RunData;
use crate::summary::Judgement;

pub struct Junit;

impl Format for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, run: &RunData) -> Vec<u8> {
        let s = &run.summary;
        let name = escape(&s.scenario.name);
        let mut cases = String::new();
        let (mut tests, mut failures, mut errors) = (0, 0, 0);
        if let Some(gate) = &s.gate {
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{name}.run\" name=\"the run is valid\" time=\"{:.3}\"",
                s.run.elapsed_s
            );
            if gate.validity.valid {
                cases.push_str("/>\n");
            } else {
                errors += 1;
                let reasons = escape(&gate.validity.reasons.join("; "));
                let _ = writeln!(
                    cases,
                    ">\n      <error message=\"invalid run: {reasons}\">{reasons}</error>\n    </testcase>"
                );
            }
            if let Some(line) = super::rows::stopped_early(s) {
                tests += 1;
                failures += 1;
                let m = escape(&line);
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{name}.run\" name=\"the run ran its schedule\" time=\"{:.3}\">\n      <failure message=\"{m}\">{m}</failure>\n    </testcase>",
                    s.run.elapsed_s
                );
            }
            for o in &gate.objectives {
                tests += 1;
                let _ = write!(
                    cases,
                    "    <testcase classname=\"{name}.objectives\" name=\"{}\" time=\"0\"",
                    escape(&o.name)
                );
                let message = format!(
                    "measured {} against a bound of {}: {}",
                    value(o.measured, &o.unit),
                    value(Some(o.bound), &o.unit),
                    o.detail
                );
                match o.judgement {
                    Judgement::Met => cases.push_str("/>\n"),
                    Judgement::Missed => {
                        failures += 1;
                        let m = escape(&message);
                        let _ = writeln!(
                            cases,
                            ">\n      <failure message=\"{m}\">{m}</failure>\n    </testcase>"
                        );
                    }
                    Judgement::Unjudged => {
                        errors += 1;
                        let m = escape(&o.detail);
                        let _ = writeln!(
                            cases,
                            ">\n      <error message=\"{m}\">{m}</error>\n    </testcase>"
                        );
                    }
                }
            }
        }
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"surge\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">"
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
            s.run.elapsed_s,
            escape(&s.run.started_at)
        );
        out.push_str(&cases);
        out.push_str("  </testsuite>\n</testsuites>\n");
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(
            escape("p99 < 3s & \"ok\""),
            "p99 &lt; 3s &amp; &quot;ok&quot;"
        );
        assert_eq!(escape("a\u{1}b"), "ab");
    }
}
