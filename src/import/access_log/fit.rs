//! Fitting phases to an arrival curve: consecutive constant or ramp
//! phases whose expected count in every bin stays within the asked error
//! of the count the log saw, or within the noise the log itself shows
//! where that is wider (3√(D·n), D the dispersion between neighbouring
//! bins: about 1 for people arriving at random, about 0 for a generator's
//! evenly spaced arrivals): no phase can follow a Poisson process's jitter.
//! Either as few phases as that takes (greedy, longest first), or exactly
//! N (dynamic programming on the least-squares cost).

/// A fitted stretch: bins `[first, end)`, rate per second moving in a
/// straight line from `from` to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub first: usize,
    pub end: usize,
    pub from: f64,
    pub to: f64,
}

impl Piece {
    pub fn constant(&self) -> bool {
        self.from == self.to
    }
}

/// The curve to fit: arrivals per bin of `bin` seconds; the last bin may
/// be shorter (`last` seconds).
#[derive(Clone, Debug)]
pub struct Curve {
    pub counts: Vec<f64>,
    pub bin: f64,
    pub last: f64,
    /// The counts' dispersion ([`dispersion`]).
    pub noise: f64,
}

impl Curve {
    fn len(&self, i: usize) -> f64 {
        if i + 1 == self.counts.len() {
            self.last
        } else {
            self.bin
        }
    }

    /// The bin's centre, seconds from the start.
    fn centre(&self, i: usize) -> f64 {
        i as f64 * self.bin + self.len(i) / 2.0
    }

    /// Expected count of bin `i` under `p`.
    pub fn model(&self, p: &Piece, i: usize) -> f64 {
        let (a, b) = (p.first as f64 * self.bin, self.edge(p.end));
        let t = self.centre(i);
        let rate = if b > a {
            p.from + (p.to - p.from) * (t - a) / (b - a)
        } else {
            p.from
        };
        rate.max(0.0) * self.len(i)
    }

    /// Each bin's index and its expected count under `pieces`.
    pub fn modelled<'a>(&'a self, pieces: &'a [Piece]) -> impl Iterator<Item = (usize, f64)> + 'a {
        pieces
            .iter()
            .flat_map(move |p| (p.first..p.end).map(move |i| (i, self.model(p, i))))
    }

    /// The worst relative error of a bin under `pieces`, and its index.
    pub fn worst(&self, pieces: &[Piece]) -> (f64, usize) {
        self.modelled(pieces)
            .map(|(i, m)| (error(self.counts[i], m), i))
            .fold((0.0, 0), |w, e| if e.0 > w.0 { e } else { w })
    }

    /// The curve's length, seconds.
    pub fn total(&self) -> f64 {
        self.edge(self.counts.len())
    }

    /// Seconds from the start to the start of bin `i` (or the end).
    pub fn edge(&self, i: usize) -> f64 {
        if i >= self.counts.len() {
            (self.counts.len().saturating_sub(1)) as f64 * self.bin + self.last
        } else {
            i as f64 * self.bin
        }
    }
}

/// Whether a model count `m` is close enough to the observed `y`, given
/// the curve's dispersion `noise`.
pub fn within(y: f64, m: f64, max_error: f64, noise: f64) -> bool {
    (y - m).abs() <= (max_error * m).max(3.0 * (noise * m).sqrt()).max(1.0)
}

/// How noisy the counts are against Poisson's: over each three
/// neighbouring bins a, b, c, (a − 2b + c)² / (a + 4b + c) is χ²(1) for
/// Poisson counts about a straight line, whatever its slope; its lower
/// quartile over the quartile of χ²(1) estimates the dispersion. A low
/// quantile, so the few bins where the rate steps do not count. Too few
/// bins to tell: 1, as people arriving at random.
pub fn dispersion(counts: &[f64]) -> f64 {
    let mut d: Vec<f64> = counts
        .windows(3)
        .filter(|w| w[0] + 4.0 * w[1] + w[2] > 0.0)
        .map(|w| (w[0] - 2.0 * w[1] + w[2]).powi(2) / (w[0] + 4.0 * w[1] + w[2]))
        .collect();
    if d.len() < 5 {
        return 1.0;
    }
    d.sort_by(f64::total_cmp);
    (d[d.len() / 4] / 0.1015).clamp(0.0, 50.0)
}

/// The relative error of one bin (0 when both are 0).
pub fn error(y: f64, m: f64) -> f64 {
    if m > 0.0 {
        (y - m).abs() / m
    } else if y > 0.0 {
        1.0
    } else {
        0.0
    }
}

/// The two shapes a piece over bins `[a, b)` may take: the constant (mean)
/// rate, and the least-squares ramp through the bins' rates (kept at or
/// above 0 at its edges).
fn candidates(c: &Curve, a: usize, b: usize) -> (Piece, Piece) {
    let (mut sw, mut st, mut sr, mut stt, mut str_) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in a..b {
        let w = c.len(i);
        let t = c.centre(i);
        let r = c.counts[i] / w;
        sw += w;
        st += w * t;
        sr += w * r;
        stt += w * t * t;
        str_ += w * t * r;
    }
    let mean = sr / sw;
    let var = stt / sw - (st / sw).powi(2);
    let slope = if var > 1e-9 {
        (str_ / sw - st / sw * mean) / var
    } else {
        0.0
    };
    let tm = st / sw;
    let (ea, eb) = (c.edge(a), c.edge(b));
    let flat = Piece {
        first: a,
        end: b,
        from: mean,
        to: mean,
    };
    let ramp = Piece {
        from: (mean + slope * (ea - tm)).max(0.0),
        to: (mean + slope * (eb - tm)).max(0.0),
        ..flat
    };
    (flat, ramp)
}

/// The best piece over bins `[a, b)` that keeps every bin within
/// `max_error`: constant when a constant does, else the least-squares
/// ramp; `None` when neither does.
fn piece(c: &Curve, a: usize, b: usize, max_error: f64) -> Option<Piece> {
    let (flat, ramp) = candidates(c, a, b);
    let fits = |p: &Piece| (a..b).all(|i| within(c.counts[i], c.model(p, i), max_error, c.noise));
    if fits(&flat) {
        return Some(flat);
    }
    fits(&ramp).then_some(ramp)
}

/// Curves up to this many bins get the optimal placement of phases
/// (dynamic programming, quadratic in the bins per phase tried); longer
/// ones are cut greedily, longest phase first.
pub const OPTIMAL_UP_TO: usize = 2000;

/// Placements tried before the greedy cut takes over: a curve that needs
/// more phases than this to fit is better written `--exact`, and each
/// placement costs a pass quadratic in the bins.
const MAX_PLACED: usize = 64;

/// The most phases `--phases` may ask.
pub const MAX_PHASES: usize = 200;

/// How many more placements are tried past the fewest that fit, while
/// none of them scores better.
const PATIENCE: usize = 3;

/// The fewest pieces that keep every bin within `max_error` (the
/// least-squares placement of 1, 2, 3... pieces until one fits), then
/// more while the curve's shape is worth them: a piece more is kept only
/// when it lowers χ² by more than its price (BIC: 3 ln n for a piece's
/// two rates and its edge), so a real change of slope gets its phase and
/// noise does not. On long curves, greedily.
pub fn fewest(c: &Curve, max_error: f64) -> Vec<Piece> {
    let n = c.counts.len();
    if n == 0 {
        return Vec::new();
    }
    if n > OPTIMAL_UP_TO {
        return greedy(c, max_error);
    }
    let mut dp = Placement::new(c);
    let fitted = |cuts: &[usize]| -> Option<Vec<Piece>> {
        cuts.windows(2)
            .map(|w| piece(c, w[0], w[1], max_error))
            .collect()
    };
    let mut best: Option<(f64, Vec<Piece>)> = None;
    let mut since = 0;
    loop {
        let cuts = dp.next_layer();
        if let Some(p) = fitted(&cuts) {
            let score = bic(c, &p, max_error);
            match &best {
                Some((b, _)) if score >= *b => since += 1,
                _ => {
                    best = Some((score, p));
                    since = 0;
                }
            }
        }
        if cuts.len() > n || cuts.len() > MAX_PLACED || (best.is_some() && since >= PATIENCE) {
            break;
        }
    }
    best.map_or_else(|| greedy(c, max_error), |b| b.1)
}

/// χ² of the pieces against the counts, plus 3 ln n a piece. A bin's
/// variance is the curve's noise (`D·m`), and never less than the asked
/// error as three standard deviations: errors the user accepts cost
/// nothing worth a phase.
fn bic(c: &Curve, pieces: &[Piece], max_error: f64) -> f64 {
    let n = c.counts.len() as f64;
    let chi: f64 = c
        .modelled(pieces)
        .map(|(i, m)| {
            let var = (c.noise * m).max((max_error * m / 3.0).powi(2)).max(1.0);
            (c.counts[i] - m).powi(2) / var
        })
        .sum();
    chi + 3.0 * n.ln() * pieces.len() as f64
}

/// Greedy: from the left, each piece as long as still fits, found by
/// doubling its length, then halving the gap (a check costs the piece's
/// length, so a day counted per second stays seconds of work).
fn greedy(c: &Curve, max_error: f64) -> Vec<Piece> {
    let n = c.counts.len();
    let mut out = Vec::new();
    let mut a = 0;
    while a < n {
        let single = piece(c, a, a + 1, max_error).unwrap_or(Piece {
            first: a,
            end: a + 1,
            from: c.counts[a] / c.len(a),
            to: c.counts[a] / c.len(a),
        });
        let (mut good, mut best) = (a + 1, single);
        let mut bad = None;
        let mut len = 2;
        while bad.is_none() && good < n {
            let b = (a + len).min(n);
            match piece(c, a, b, max_error) {
                Some(p) => (good, best) = (b, p),
                None => bad = Some(b),
            }
            len *= 2;
        }
        if let Some(mut hi) = bad {
            while hi - good > 1 {
                let mid = (good + hi) / 2;
                match piece(c, a, mid, max_error) {
                    Some(p) => (good, best) = (mid, p),
                    None => hi = mid,
                }
            }
        }
        a = best.end;
        out.push(best);
    }
    out
}

/// The least-squares placement of k pieces, one k after another: each
/// layer of the dynamic programme builds on the last.
struct Placement {
    n: usize,
    /// Prefix sums of the weighted moments: any segment's least-squares
    /// residual in O(1).
    pre: Vec<[f64; 6]>,
    /// best[j][b]: least cost of bins [0, b) in j pieces; from[j][b]: where
    /// its last piece starts.
    best: Vec<Vec<f64>>,
    from: Vec<Vec<usize>>,
}

impl Placement {
    fn new(c: &Curve) -> Placement {
        let n = c.counts.len();
        let mut pre = vec![[0.0f64; 6]; n + 1];
        for i in 0..n {
            let w = c.len(i);
            let t = c.centre(i);
            let r = c.counts[i] / w;
            let m = [w, w * t, w * r, w * t * t, w * t * r, w * r * r];
            for j in 0..6 {
                pre[i + 1][j] = pre[i][j] + m[j];
            }
        }
        let mut first = vec![f64::INFINITY; n + 1];
        first[0] = 0.0;
        Placement {
            n,
            pre,
            best: vec![first],
            from: vec![vec![0; n + 1]],
        }
    }

    fn cost(&self, a: usize, b: usize) -> f64 {
        let s: [f64; 6] = std::array::from_fn(|j| self.pre[b][j] - self.pre[a][j]);
        let [sw, st, sr, stt, str_, srr] = s;
        let var_t = stt - st * st / sw;
        let cov = str_ - st * sr / sw;
        let var_r = srr - sr * sr / sw;
        if var_t > 1e-9 {
            (var_r - cov * cov / var_t).max(0.0)
        } else {
            var_r.max(0.0)
        }
    }

    /// Adds a layer (one more piece) and returns its cuts, `0 ... n`.
    fn next_layer(&mut self) -> Vec<usize> {
        let j = self.best.len();
        let n = self.n;
        let mut best = vec![f64::INFINITY; n + 1];
        let mut from = vec![0usize; n + 1];
        let prev = &self.best[j - 1];
        for b in j.min(n)..=n {
            for (a, before) in prev.iter().enumerate().take(b).skip(j - 1) {
                if before.is_infinite() {
                    continue;
                }
                let v = before + self.cost(a, b);
                if v < best[b] {
                    best[b] = v;
                    from[b] = a;
                }
            }
        }
        self.best.push(best);
        self.from.push(from);
        let mut cuts = vec![n];
        let mut b = n;
        for layer in (1..=j).rev() {
            b = self.from[layer][b];
            cuts.push(b);
        }
        cuts.reverse();
        cuts
    }
}

/// Exactly `k` pieces (fewer when the curve has fewer bins), placed to
/// minimise the squared error of the rates; each flat where a flat fits
/// no worse.
pub fn exactly(c: &Curve, k: usize) -> Vec<Piece> {
    let n = c.counts.len();
    if n == 0 {
        return Vec::new();
    }
    let mut dp = Placement::new(c);
    let mut cuts = Vec::new();
    for _ in 0..k.clamp(1, n) {
        cuts = dp.next_layer();
    }
    cuts.windows(2)
        .map(|w| {
            let (flat, ramp) = candidates(c, w[0], w[1]);
            let worst = |p: &Piece| c.worst(std::slice::from_ref(p)).0;
            if worst(&flat) <= worst(&ramp) + 1e-3 {
                flat
            } else {
                ramp
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(counts: Vec<f64>) -> Curve {
        Curve {
            noise: dispersion(&counts),
            counts,
            bin: 60.0,
            last: 60.0,
        }
    }

    #[test]
    fn a_ramp_a_plateau_and_a_step_come_back_as_three_phases() {
        // 5/s rising to 15/s over 10 minutes, 15/s for 10, then 8/s for 10.
        let mut counts = Vec::new();
        for i in 0..10 {
            counts.push((5.0 + i as f64 + 0.5) * 60.0);
        }
        counts.extend([900.0; 10]);
        counts.extend([480.0; 10]);
        let c = curve(counts);
        let pieces = fewest(&c, 0.05);
        assert_eq!(pieces.len(), 3, "{pieces:?}");
        assert_eq!((pieces[0].first, pieces[0].end), (0, 10));
        assert!((pieces[0].from - 5.0).abs() < 0.01 && (pieces[0].to - 15.0).abs() < 0.01);
        assert!(pieces[1].constant() && (pieces[1].from - 15.0).abs() < 1e-9);
        assert!(pieces[2].constant() && (pieces[2].from - 8.0).abs() < 1e-9);
        assert_eq!(exactly(&c, 3), pieces);
    }

    #[test]
    fn poisson_noise_does_not_split_a_plateau_but_a_smooth_curve_is_held_to_the_error() {
        // Poisson counts of mean 100 (drawn once, seeded).
        let counts: Vec<f64> = [
            91, 104, 103, 114, 102, 101, 119, 95, 99, 109, 96, 93, 93, 95, 92, 94, 115, 111, 89,
            107, 104, 96, 96, 117, 105, 120, 96, 91, 95, 77,
        ]
        .iter()
        .map(|&c| c as f64)
        .collect();
        let c = curve(counts);
        assert!((0.5..2.0).contains(&c.noise), "{}", c.noise);
        assert_eq!(fewest(&c, 0.05).len(), 1);
        // A 20% step on a curve that is otherwise exact must split.
        let mut smooth: Vec<f64> = vec![100.0; 30];
        smooth[10..20].fill(120.0);
        let c = curve(smooth);
        assert_eq!(c.noise, 0.0);
        assert_eq!(fewest(&c, 0.05).len(), 3);
    }

    #[test]
    fn a_day_per_second_fits_greedily_and_quickly() {
        // 86,400 bins: beyond the optimal placement; a step at noon.
        let counts: Vec<f64> = (0..86_400)
            .map(|i| if i < 43_200 { 20.0 } else { 50.0 })
            .collect();
        let c = Curve {
            noise: dispersion(&counts),
            counts,
            bin: 1.0,
            last: 1.0,
        };
        let p = fewest(&c, 0.05);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!((p[0].end, p[1].from), (43_200, 50.0));
    }

    #[test]
    fn exactly_n_gives_n_pieces_covering_every_bin() {
        let counts: Vec<f64> = (0..40).map(|i| ((i * 37) % 11) as f64 * 10.0).collect();
        let p = exactly(&curve(counts), 4);
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].first, 0);
        assert_eq!(p[3].end, 40);
        assert!(p.windows(2).all(|w| w[0].end == w[1].first));
    }
}
