//! The fit report (`NEW.fit.html`, one self-contained page like the run
//! report): the log's arrivals per bin with the fitted phases drawn over
//! them, each bin's error, the peak second and minute, the route table.
//! The same figures are what stdout prints, from [`figures`].

use std::fmt::Write as _;

use crate::report::charts::{self, Frame, Line, Scale};
use crate::report::esc;
use crate::summary::PhaseInfo;

use super::{Imported, Options, fit, write};

/// Routes shown in the table.
const SHOWN_ROUTES: usize = 40;

/// The import's figures as short lines, for stdout and the report.
pub fn figures(opts: &Options, imported: &Imported) -> Vec<String> {
    let offset_min = imported.offset_min;
    let t = &imported.tally;
    let c = &imported.curve;
    let total = c.total();
    let (peak_s, peak_s_at) = t
        .seconds
        .iter()
        .enumerate()
        .map(|(i, s)| (s[1], i))
        .max()
        .unwrap_or((0, 0));
    let (peak_m, peak_m_at) = t
        .seconds
        .chunks(60)
        .enumerate()
        .map(|(i, m)| (m.iter().map(|s| s[1]).sum::<u64>(), i))
        .max()
        .unwrap_or((0, 0));
    let at = |s: f64| write::clock(t.origin_ms + (s * 1000.0) as i64, offset_min);
    let (worst, worst_at) = c.worst(&imported.pieces);
    let noisy = c
        .modelled(&imported.pieces)
        .filter(|&(i, m)| fit::error(c.counts[i], m) > opts.max_error)
        .count();
    let mut out = vec![
        format!(
            "window {} to {} ({}): {} requests, {} arrivals",
            at(0.0),
            at(total),
            write::duration(total),
            t.requests,
            t.arrivals
        ),
        format!(
            "peak second {} arrivals at {}; peak minute {} at {}",
            peak_s,
            at(peak_s_at as f64),
            peak_m,
            at(peak_m_at as f64 * 60.0)
        ),
    ];
    if opts.exact {
        out.push("load: the arrivals second by second (--exact), no fit error".into());
    } else {
        out.push(format!(
            "fit: {} phases per {}; worst bin {:.1}% off at {}; {} of {} bins beyond {:.0}% but within the log's noise (dispersion {:.2}: 3√(D·n))",
            imported.pieces.len(),
            write::duration(c.bin),
            worst * 100.0,
            at(c.edge(worst_at)),
            noisy,
            c.counts.len(),
            opts.max_error * 100.0,
            c.noise
        ));
    }
    if imported.scale != 1.0 {
        out.push(format!("scale {:.4} for next year", imported.scale));
    }
    out
}

/// The route table as text rows: method, template, requests, share,
/// arrivals, status classes.
pub fn route_rows(imported: &Imported, limit: usize) -> Vec<[String; 6]> {
    let total = imported.tally.requests.max(1) as f64;
    imported
        .tally
        .routes
        .iter()
        .take(limit)
        .map(|r| {
            [
                r.method.clone(),
                r.template.clone(),
                r.requests.to_string(),
                format!("{:.1}%", r.requests as f64 * 100.0 / total),
                r.arrivals.to_string(),
                r.classes(),
            ]
        })
        .collect()
}

/// The page.
pub fn page(opts: &Options, imported: &Imported, deadline_s: Option<f64>) -> String {
    let c = &imported.curve;
    let total = c.total();
    let phases: Vec<PhaseInfo> = write::phases(imported)
        .into_iter()
        .map(|(name, a, b, p)| PhaseInfo {
            name,
            start_s: a,
            end_s: b,
            from_per_s: p.from,
            to_per_s: p.to,
        })
        .collect();
    let frame = Frame {
        seconds: total,
        phases: &phases,
        faults: &[],
        deadline_s: deadline_s.unwrap_or(0.0),
    };
    let centre = |i: usize| (c.edge(i) + c.edge(i + 1)) / 2.0;
    let observed = Line {
        name: "arrivals in the log".into(),
        color: charts::color(0),
        points: (0..c.counts.len())
            .map(|i| (centre(i), c.counts[i]))
            .collect(),
        dashed: false,
    };
    let modelled: Vec<(usize, f64)> = c.modelled(&imported.pieces).collect();
    let fitted = Line {
        name: "fitted phases".into(),
        color: charts::color(1),
        points: modelled.iter().map(|&(i, m)| (centre(i), m)).collect(),
        dashed: true,
    };
    let errors = Line {
        name: "error, %".into(),
        color: charts::color(3),
        points: modelled
            .iter()
            .map(|&(i, m)| (centre(i), fit::error(c.counts[i], m) * 100.0))
            .collect(),
        dashed: false,
    };
    let limit = Line {
        name: "--max-error".into(),
        color: charts::color(2),
        points: vec![
            (0.0, opts.max_error * 100.0),
            (total, opts.max_error * 100.0),
        ],
        dashed: true,
    };
    let bin = write::duration(c.bin);
    let mut out = String::new();
    let files: Vec<String> = imported
        .tally
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>surge import: {0}</title><style>{1}</style></head><body><main>\n\
         <h1>Arrivals from {0}</h1>\n<ul>",
        esc(&files.join(", ")),
        crate::report::html::STYLE
    );
    for f in figures(opts, imported) {
        let _ = write!(out, "<li>{}</li>", esc(&f));
    }
    let _ = write!(
        out,
        "</ul>\n<h2>Arrivals per {bin}, and the phases fitted to them</h2>\n{}\n\
         <p class=\"note\">Solid: the arrivals the log shows; dashed: the fitted phases' expected arrivals.</p>\n\
         <h2>Error per {bin}</h2>\n{}\n<h2>Phases written</h2>\n<table><tr><th>phase</th><th>from</th><th>to</th><th>duration</th></tr>",
        charts::time_lines(
            &frame,
            &format!("arrivals per {bin}"),
            Scale::Linear,
            charts::HEIGHT,
            &[observed, fitted]
        ),
        charts::time_lines(
            &frame,
            "error, %",
            Scale::Linear,
            charts::SMALL_HEIGHT,
            &[errors, limit]
        ),
    );
    for p in &phases {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            write::rate(p.from_per_s),
            write::rate(p.to_per_s),
            write::duration(p.end_s - p.start_s)
        );
    }
    let _ = write!(
        out,
        "</table>\n<h2>Routes</h2>\n<table><tr><th>method</th><th>route</th><th>requests</th><th>share</th><th>arrivals</th><th>status</th></tr>"
    );
    for row in route_rows(imported, SHOWN_ROUTES) {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n</main></body></html>\n");
    out
}
