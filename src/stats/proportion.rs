//! Confidence intervals for a single binomial proportion x/n (sensitivity, specificity, any
//! rate): Wilson score, Clopper–Pearson "exact", and Wald (for comparison only).
//!
//! It also holds the binomial tail machinery that Clopper–Pearson needs. statrs 0.19's
//! `inv_beta_reg` (AS 109 Newton on `beta_reg`) is not accurate enough for large n: against R
//! 4.2.2 `qbeta` its 95% lower bound for 3/10 000 is off by 3e-9 (relative) and for
//! 1/1 000 000 by 1e-7, because `beta_reg` forms its prefactor from differences of `ln_gamma`
//! values (cancellation of order n·ε) and stops its continued fraction after 140 terms (statrs
//! issues #434, #435). A continued fraction evaluated near p = 1 also loses digits to
//! cancellation (we measured 5e-12 at 1/10⁶). So the tails here are sums of binomial
//! probabilities, the first from Loader's saddle-point formula and the rest by their ratios,
//! and each bound is a bisection to adjacent doubles.

use super::{valid_level, z_two_sided, Interval};

/// The shared precondition of the three intervals.
fn usable(successes: u64, n: u64, level: f64) -> bool {
    n > 0 && successes <= n && valid_level(level)
}

/// Wilson score interval, without continuity correction (the default in attest).
///
/// # Formula
/// With p̂ = x/n, z = z_{1-α/2}, centre c = p̂ + z²/2n, half-width h = z·sqrt(p̂(1-p̂)/n + z²/4n²)
/// and d = 1 + z²/n: low = (c - h)/d, high = (c + h)/d. The lower bound is evaluated as the
/// algebraically equal p̂²/(c + h), which has no cancellation when x is small and n large.
///
/// # Edge cases
/// `None` when n = 0, x > n or the level is not in (0, 1). At x = 0 the lower bound is exactly
/// 0 and at x = n the upper bound is exactly 1.
///
/// # References
/// Wilson EB (1927) Probable inference, the law of succession, and statistical inference.
/// JASA 22:209–212. Newcombe RG (1998) Two-sided confidence intervals for the single
/// proportion. Stat Med 17:857–872, method 3. Same as R `prop.test(x, n, correct = FALSE)`.
///
/// # Example
/// ```
/// // Newcombe (1998) Table I: 81/263 → 0.2553 to 0.3662.
/// let ci = attest::stats::proportion::wilson(81, 263, 0.95).unwrap();
/// assert!((ci.low - 0.2553).abs() < 5e-5 && (ci.high - 0.3662).abs() < 5e-5);
/// ```
pub fn wilson(successes: u64, n: u64, level: f64) -> Option<Interval> {
    if !usable(successes, n, level) {
        return None;
    }
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z = z_two_sided(level);
    let z2n = z * z / nf;
    let centre = p + z2n / 2.0;
    let half = z * (p * (1.0 - p) / nf + z2n / (4.0 * nf)).sqrt();
    // (c - h)/d = (c² - h²)/(d(c + h)) and c² - h² = p̂²·d.
    let low = p * p / (centre + half);
    let high = if successes == n {
        1.0
    } else {
        ((centre + half) / (1.0 + z2n)).min(1.0)
    };
    Some(Interval { low, high })
}

/// Clopper–Pearson "exact" interval: the set of p not rejected by either one-sided binomial test
/// at level α/2.
///
/// # Formula
/// low solves P(X ≥ x | n, p) = α/2, i.e. low = B⁻¹(α/2; x, n-x+1); high solves
/// P(X ≤ x | n, p) = α/2, i.e. high = B⁻¹(1-α/2; x+1, n-x), with B⁻¹ the beta quantile.
/// Each tail is summed from its first term, P(X = x) by Loader's saddle-point formula, outward
/// by the ratios of successive binomial probabilities; each bound is then found by bisection on
/// the bit pattern of p down to two adjacent doubles (within 1e-14 relative of R's `qbeta` on a
/// grid up to n = 10⁷, and 20 ms at n = 10⁹ in a release build). The bound returned is the
/// outer one of the two, so the interval is never narrower than the exact one.
///
/// # Edge cases
/// `None` when n = 0, x > n or the level is not in (0, 1). low = 0 exactly when x = 0 and
/// high = 1 exactly when x = n. Counts are converted to f64, exact for n ≤ 2⁵³.
///
/// # References
/// Clopper CJ, Pearson ES (1934) The use of confidence or fiducial limits illustrated in the
/// case of the binomial. Biometrika 26:404–413. Newcombe (1998) method 5. Loader C (2000) Fast
/// and accurate computation of binomial probabilities (technical note, Bell Labs).
/// Same as R `binom.test(x, n)$conf.int`.
///
/// # Example
/// ```
/// // Newcombe (1998) Table I: 15/148 → 0.0578 to 0.1617.
/// let ci = attest::stats::proportion::clopper_pearson(15, 148, 0.95).unwrap();
/// assert!((ci.low - 0.0578).abs() < 5e-5 && (ci.high - 0.1617).abs() < 5e-5);
/// ```
pub fn clopper_pearson(successes: u64, n: u64, level: f64) -> Option<Interval> {
    if !usable(successes, n, level) {
        return None;
    }
    let tail = (1.0 - level) / 2.0;
    let low = if successes == 0 {
        0.0
    } else {
        // P(X ≥ x | p) rises with p; keep p while it is still below α/2.
        bisect(|p| upper_tail(successes, n, p) < tail).0
    };
    let high = if successes == n {
        1.0
    } else {
        // P(X ≤ x | p) falls with p.
        bisect(|p| lower_tail(successes, n, p) > tail).1
    };
    Some(Interval { low, high })
}

/// Wald interval, clipped to [0, 1]. For comparison only: it undercovers badly for small n and
/// near 0 and 1 (zero width at x = 0 or x = n).
///
/// # Formula
/// p̂ ± z_{1-α/2}·sqrt(p̂(1-p̂)/n), p̂ = x/n, each bound clipped to [0, 1].
///
/// # Edge cases
/// `None` when n = 0, x > n or the level is not in (0, 1). At x = 0 the interval is [0, 0] and
/// at x = n it is [1, 1].
///
/// # References
/// Newcombe (1998) method 1; Brown LD, Cai TT, DasGupta A (2001) Interval estimation for a
/// binomial proportion. Stat Sci 16:101–133 (on its poor coverage).
///
/// # Example
/// ```
/// // Newcombe (1998) Table I: 81/263 → 0.2522 to 0.3638.
/// let ci = attest::stats::proportion::wald(81, 263, 0.95).unwrap();
/// assert!((ci.low - 0.2522).abs() < 5e-5 && (ci.high - 0.3638).abs() < 5e-5);
/// ```
pub fn wald(successes: u64, n: u64, level: f64) -> Option<Interval> {
    if !usable(successes, n, level) {
        return None;
    }
    let nf = n as f64;
    let p = successes as f64 / nf;
    let half = z_two_sided(level) * (p * (1.0 - p) / nf).sqrt();
    Some(Interval {
        low: (p - half).max(0.0),
        high: (p + half).min(1.0),
    })
}

/// The p in [0, 1] where `below` turns from true to false (it must be true at 0 and false at 1,
/// and change once), as the two adjacent doubles that bracket it.
///
/// Bisecting the bit pattern of a non-negative double halves the number of doubles left, so it
/// ends in at most 64 steps with full relative precision even for p near 1e-300.
fn bisect(below: impl Fn(f64) -> bool) -> (f64, f64) {
    let (mut lo, mut hi) = (0u64, 1.0f64.to_bits());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if below(f64::from_bits(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (f64::from_bits(lo), f64::from_bits(hi))
}

/// P(X ≥ x) for X ~ Binomial(n, p), 1 ≤ x ≤ n.
///
/// For p ≥ x/n it is at least 1/2 (the median of a binomial is ⌊np⌋ or ⌈np⌉: Kaas R,
/// Buhrman JM (1980) Stat Neerl 34:13–18) and 1/2 is returned, which is all the bisection
/// needs to know. Below x/n the probabilities fall from k = x on, so the sum starts at x.
fn upper_tail(x: u64, n: u64, p: f64) -> f64 {
    let (xf, nf) = (x as f64, n as f64);
    if p * nf >= xf {
        return 0.5;
    }
    let odds = p / (1.0 - p);
    let first = binom_pmf(xf, nf, p);
    // P(k+1)/P(k) = (n-k)/(k+1) · p/q.
    tail_sum(first, n - x, |t| {
        let k = xf + t as f64;
        (nf - k) / (k + 1.0) * odds
    })
}

/// P(X ≤ x) for X ~ Binomial(n, p), 0 ≤ x < n; 1/2 when p ≤ x/n (see [`upper_tail`]).
fn lower_tail(x: u64, n: u64, p: f64) -> f64 {
    let (xf, nf) = (x as f64, n as f64);
    if p * nf <= xf {
        return 0.5;
    }
    let odds = (1.0 - p) / p;
    let first = binom_pmf(xf, nf, p);
    // P(k-1)/P(k) = k/(n-k+1) · q/p.
    tail_sum(first, x, |t| {
        let k = xf - t as f64;
        k / (nf - k + 1.0) * odds
    })
}

/// first + first·r₀ + first·r₀·r₁ + … over at most `steps` terms, for ratios that fall along the
/// tail and are below 1: after a term, what is left is below term·r/(1-r), so the sum stops
/// once that is negligible (about 10 standard deviations from x).
fn tail_sum(first: f64, steps: u64, ratio: impl Fn(u64) -> f64) -> f64 {
    let (mut term, mut sum) = (first, first);
    for t in 0..steps {
        let r = ratio(t);
        term *= r;
        sum += term;
        if term == 0.0 || (r < 1.0 && term * r <= (1.0 - r) * sum * (f64::EPSILON / 4.0)) {
            break;
        }
    }
    sum
}

/// The exact McNemar test of paired proportions (e.g. two models' sensitivities on the same
/// positives): the two-sided exact binomial test of the discordant pairs.
///
/// # Formula
/// With b cases right by A only and c right by B only, under H0 b ~ Binomial(b + c, ½):
/// p = min(1, 2 Σ_{k ≤ min(b, c)} C(b + c, k) / 2^(b + c)).
///
/// # Edge cases
/// No discordant pair (b = c = 0): p = 1 (nothing distinguishes the two).
///
/// # References
/// McNemar Q (1947) Psychometrika 12:153–157; statsmodels 0.15.0
/// `contingency_tables.mcnemar(exact=True)` gives the same p.
///
/// # Example
/// ```
/// use attest::stats::proportion::mcnemar_exact;
/// // b = 3, c = 10: 2 (1 + 13 + 78 + 286) / 8192.
/// assert!((mcnemar_exact(3, 10) - 756.0 / 8192.0).abs() < 1e-15);
/// ```
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let tail: f64 = (0..=b.min(c))
        .map(|k| binom_pmf(k as f64, n as f64, 0.5))
        .sum();
    (2.0 * tail).min(1.0)
}

/// The upper tail P(X ≥ x) of X ~ Binomial(n, p): the one-sided exact p-value of H0: the
/// proportion is at most `p`, having observed x successes in n.
///
/// # Formula
/// Σ_{k = x}^{n} C(n, k) p^k (1 − p)^(n − k), each term by Loader's saddle-point method.
///
/// # Edge cases
/// x = 0: 1. x > n: 0. p = 0: 0 for x > 0; p = 1: 1. None when p is outside [0, 1] or NaN.
///
/// # References
/// Clopper CJ, Pearson ES (1934) Biometrika 26:404–413; SciPy 1.17 `binomtest(x, n, p,
/// alternative="greater").pvalue` gives the same value.
///
/// # Example
/// ```
/// use attest::stats::proportion::binomial_upper_tail;
/// // 9 or 10 of 10 at p = 0.5: (10 + 1) / 1024.
/// assert!((binomial_upper_tail(9, 10, 0.5).unwrap() - 11.0 / 1024.0).abs() < 1e-15);
/// ```
pub fn binomial_upper_tail(x: u64, n: u64, p: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&p) {
        return None;
    }
    if x == 0 {
        return Some(1.0);
    }
    if x > n {
        return Some(0.0);
    }
    if p == 0.0 || p == 1.0 {
        return Some(if p == 1.0 { 1.0 } else { 0.0 });
    }
    let nf = n as f64;
    let tail: f64 = (x..=n).map(|k| binom_pmf(k as f64, nf, p)).sum();
    Some(tail.min(1.0))
}

/// The exact binomial plan for showing a proportion exceeds a goal: the smallest number of
/// cases n (and the critical count k) for which the one-sided exact test of H0: p ≤ `goal`
/// at level `alpha` rejects with probability at least `power` when the true proportion is
/// `expected`. For a sensitivity goal, n counts positives.
///
/// # Formula
/// For n = 1, 2, ...: k = the smallest count with P(X ≥ k | n, goal) ≤ alpha; the plan is the
/// first n with P(X ≥ k | n, expected) ≥ power. Power is not monotone in n (the saw-tooth of
/// discrete tests), so a larger n can fall short again; this is the first n that suffices.
///
/// # Edge cases
/// None when `expected <= goal` (no power to gain), any argument is outside (0, 1), or no n up
/// to `max_n` suffices.
///
/// # References
/// Chu H, Cole SR (2007) Sample size calculation using exact methods in diagnostic test
/// studies. J Clin Epidemiol 60:1201–1202; Flahault A et al. (2005) J Clin Epidemiol
/// 58:859–862. Checked against the same search in R (`qbinom`, `pbinom`).
///
/// # Example
/// ```
/// use attest::stats::proportion::exact_binomial_plan;
/// // Sensitivity goal 0.80, expected 0.90, one-sided alpha 0.025, power 0.80: 107 positives,
/// // of which at least 94 must be detected (R: the same search with qbinom/pbinom).
/// let p = exact_binomial_plan(0.8, 0.9, 0.025, 0.8, 100_000).unwrap();
/// assert_eq!((p.n, p.critical), (107, 94));
/// ```
pub fn exact_binomial_plan(
    goal: f64,
    expected: f64,
    alpha: f64,
    power: f64,
    max_n: u64,
) -> Option<BinomialPlan> {
    let unit = |x: f64| x > 0.0 && x < 1.0;
    if !(unit(goal) && unit(expected) && unit(alpha) && unit(power)) || expected <= goal {
        return None;
    }
    for n in 1..=max_n {
        let nf = n as f64;
        // Upper tails P(X >= k), accumulated from k = n downwards.
        let mut tail0 = 0.0;
        let mut k = n + 1;
        while k > 0 {
            let next = tail0 + binom_pmf((k - 1) as f64, nf, goal);
            if next > alpha {
                break;
            }
            tail0 = next;
            k -= 1;
        }
        if k > n {
            continue; // even k = n cannot reach the level
        }
        let achieved: f64 = (k..=n).map(|j| binom_pmf(j as f64, nf, expected)).sum();
        if achieved >= power {
            return Some(BinomialPlan {
                n,
                critical: k,
                power: achieved,
                size: tail0,
            });
        }
    }
    None
}

/// A plan from [`exact_binomial_plan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinomialPlan {
    /// Cases needed.
    pub n: u64,
    /// Successes needed to reject H0.
    pub critical: u64,
    /// The power at the expected proportion.
    pub power: f64,
    /// The actual size of the test, P(X ≥ critical | goal) ≤ alpha.
    pub size: f64,
}

/// P(Y = k) for Y ~ Binomial(n, p), integer-valued 0 ≤ k ≤ n, with p exact and 1 - p never
/// formed where that would round (Loader 2000).
///
/// ln P = stirlerr(n) - stirlerr(k) - stirlerr(n-k) - D(k, np) - D(n-k, nq)
///        - ½ ln(2π k (n-k)/n),
/// with D the deviance term [`bd0`]; nothing large cancels, so the relative error stays near
/// machine precision for n in the millions.
fn binom_pmf(k: f64, n: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return if k == 0.0 { 1.0 } else { 0.0 };
    }
    if p >= 1.0 {
        return if k == n { 1.0 } else { 0.0 };
    }
    if k == 0.0 {
        return (n * (-p).ln_1p()).exp();
    }
    if k == n {
        return (n * p.ln()).exp();
    }
    let np = n * p;
    // For p < 1/2, 1 - p would round; n - np keeps relative accuracy.
    let nq = if p < 0.5 { n - np } else { n * (1.0 - p) };
    let lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, np) - bd0(n - k, nq);
    let lf = (2.0 * std::f64::consts::PI).ln() + k.ln() + (-k / n).ln_1p();
    (lc - 0.5 * lf).exp()
}

/// stirlerr(m) = ln m! - ln(sqrt(2πm)·(m/e)^m) for integer-valued m ≥ 1: the error of
/// Stirling's formula, from a table up to 15 and from the Stirling series above.
fn stirlerr(m: f64) -> f64 {
    // mpmath 1.3.0 at 40 digits, rounded to the nearest double:
    // log(m!) - (m+1/2)·log(m) + m - log(2π)/2.
    const TABLE: [f64; 16] = [
        0.0,                   // unused: k = 0 and k = n are handled apart
        0.08106146679532726,   // 1
        0.0413406959554093,    // 2
        0.02767792568499834,   // 3
        0.020790672103765093,  // 4
        0.016644691189821193,  // 5
        0.013876128823070748,  // 6
        0.01189670994589177,   // 7
        0.010411265261972096,  // 8
        0.009255462182712733,  // 9
        0.00833056343336287,   // 10
        0.007573675487951841,  // 11
        0.00694284010720953,   // 12
        0.006408994188004207,  // 13
        0.0059513701127588475, // 14
        0.005554733551962801,  // 15
    ];
    if m <= 15.0 {
        return TABLE[m as usize];
    }
    // 1/12m - 1/360m³ + 1/1260m⁵ - 1/1680m⁷ + 1/1188m⁹ (B_2k/(2k(2k-1)m^(2k-1))); the next
    // term is below 1.2e-16 for m > 15.
    let mm = m * m;
    (1.0 / 12.0
        - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - 1.0 / (1188.0 * mm)) / mm) / mm) / mm)
        / m
}

/// The deviance term D(x, μ) = x ln(x/μ) + μ - x ≥ 0, without cancellation when x ≈ μ.
///
/// With v = (x-μ)/(x+μ): D = (x-μ)v + 2x Σ_{j≥1} v^(2j+1)/(2j+1), used when |v| < 0.1.
fn bd0(x: f64, mu: f64) -> f64 {
    let diff = x - mu;
    let sum = x + mu;
    if diff.abs() < 0.1 * sum {
        let v = diff / sum;
        let v2 = v * v;
        let mut total = diff * v;
        let mut term = 2.0 * x * v;
        for j in 1..100 {
            term *= v2;
            let next = total + term / (2 * j + 1) as f64;
            if next == total {
                break;
            }
            total = next;
        }
        total
    } else {
        x * (x / mu).ln() + mu - x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    const NEWCOMBE: &str = "Newcombe RG (1998) Stat Med 17:857-872, Table I";

    /// Compares an interval with a published one at 4 decimals.
    fn check_4dp(ci: Option<Interval>, low: f64, high: f64) {
        let ci = ci.expect("interval defined");
        assert_close(ci.low, low, Tol::Abs(5e-5), NEWCOMBE);
        assert_close(ci.high, high, Tol::Abs(5e-5), NEWCOMBE);
    }

    #[test]
    fn wilson_matches_newcombe_table_1() {
        check_4dp(wilson(81, 263, 0.95), 0.2553, 0.3662);
        check_4dp(wilson(15, 148, 0.95), 0.0624, 0.1605);
        check_4dp(wilson(0, 20, 0.95), 0.0, 0.1611);
    }

    #[test]
    fn clopper_pearson_matches_newcombe_table_1() {
        check_4dp(clopper_pearson(15, 148, 0.95), 0.0578, 0.1617);
        check_4dp(clopper_pearson(0, 20, 0.95), 0.0, 0.1684);
    }

    #[test]
    fn wald_matches_newcombe_table_1() {
        check_4dp(wald(81, 263, 0.95), 0.2522, 0.3638);
    }

    #[test]
    fn clopper_pearson_matches_r_qbeta_to_1e13() {
        // R 4.2.2: for each (x, n),
        //   sprintf("%.17g", c(qbeta(0.025, x, n-x+1), qbeta(0.975, x+1, n-x)))
        // written here as the shortest decimal of the same double (binom.test(x, n)$conf.int
        // agrees to 3e-15). Large n is where statrs's
        // inv_beta_reg fails (3e-9 at 3/10000, 1e-7 at 1/10^6).
        let r: [(u64, u64, f64, f64); 10] = [
            (15, 148, 0.05784401008344857, 0.16165049034947898),
            (81, 263, 0.25273674558527115, 0.3676219226013514),
            (1, 29, 0.000872646883579922, 0.17764429548872285),
            (7, 10, 0.34754714994000274, 0.9332604888222655),
            (3, 10_000, 6.18714857483871e-05, 0.0008764745225140011),
            (20_000, 40_000, 0.49508773920715693, 0.5049122607928431),
            (1, 1_000_000, 2.531780766379419e-08, 5.571630655172237e-06),
            (
                12_345,
                1_000_000,
                0.012129493825606122,
                0.012563337660712826,
            ),
            (500_000, 1_000_000, 0.49901951919531184, 0.5009804808046882),
            (999_999, 1_000_000, 0.9999944283693448, 0.9999999746821924),
        ];
        for (x, n, low, high) in r {
            let ci = clopper_pearson(x, n, 0.95).unwrap();
            let src = format!("R 4.2.2 qbeta, x = {x}, n = {n}");
            assert_close(ci.low, low, Tol::Rel(1e-13), &src);
            assert_close(ci.high, high, Tol::Rel(1e-13), &src);
        }
    }

    #[test]
    fn wilson_matches_r_prop_test() {
        // R 4.2.2: prop.test(x, n, correct = FALSE)$conf.int, printed with %.17g and written
        // here as the shortest decimal of the same double. (An mpmath evaluation at 40 digits
        // agrees with both R and us to 4e-15.)
        let r: [(u64, u64, f64, f64); 6] = [
            (81, 263, 0.2552885198782743, 0.36620957698280016),
            (15, 148, 0.06238639953073628, 0.160487241723308),
            (1, 29, 0.006113214292762661, 0.17175521879320282),
            (29, 29, 0.8830302015002593, 1.0),
            (3, 10_000, 0.00010203219941781017, 0.0008817357722363794),
            (1, 1_000_000, 1.7652457674537213e-07, 5.664911804311441e-06),
        ];
        for (x, n, low, high) in r {
            let ci = wilson(x, n, 0.95).unwrap();
            let src = format!("R 4.2.2 prop.test, x = {x}, n = {n}");
            assert_close(ci.low, low, Tol::Rel(1e-13), &src);
            assert_close(ci.high, high, Tol::Rel(1e-13), &src);
        }
    }

    #[test]
    fn clopper_pearson_closed_forms_at_the_extremes() {
        // Hand derivation: at x = n the lower bound solves p^n = α/2, so p = (α/2)^(1/n); at
        // x = 0 the upper bound solves (1-p)^n = α/2. Checked at n = 10 and n = 10^6.
        for n in [10u64, 1_000_000] {
            let e = 1.0 / n as f64;
            let ci = clopper_pearson(n, n, 0.95).unwrap();
            assert_close(ci.low, 0.025f64.powf(e), Tol::Rel(1e-13), "(α/2)^(1/n)");
            assert_eq!(ci.high, 1.0);
            let ci = clopper_pearson(0, n, 0.95).unwrap();
            assert_eq!(ci.low, 0.0);
            // 1 - (α/2)^(1/n) = -expm1(ln(α/2)/n), without cancellation.
            let exact = -(0.025f64.ln() * e).exp_m1();
            assert_close(ci.high, exact, Tol::Rel(1e-13), "1 - (α/2)^(1/n)");
        }
    }

    #[test]
    fn binomial_plans_match_r() {
        // R 4.2.2: the same search, k = qbinom(1 - alpha, n, p0) + 1 (adjusted to the smallest
        // k with 1 - pbinom(k - 1, n, p0) <= alpha), power = 1 - pbinom(k - 1, n, p1).
        for (goal, exp, alpha, pw, n, k, power, size) in [
            (
                0.8,
                0.9,
                0.025,
                0.8,
                107,
                94,
                0.8191082360429731,
                0.02331914552852188,
            ),
            (
                0.85,
                0.95,
                0.025,
                0.9,
                93,
                86,
                0.9059475715979385,
                0.023495209789790028,
            ),
            (
                0.7,
                0.8,
                0.05,
                0.8,
                119,
                92,
                0.8036259999243303,
                0.04776270558027629,
            ),
            (
                0.9,
                0.95,
                0.025,
                0.8,
                231,
                217,
                0.8164071098427556,
                0.02389637141214762,
            ),
        ] {
            let p = exact_binomial_plan(goal, exp, alpha, pw, 100_000).unwrap();
            assert_eq!((p.n, p.critical), (n, k));
            assert_close(p.power, power, Tol::Rel(1e-10), "R pbinom");
            assert_close(p.size, size, Tol::Rel(1e-10), "R pbinom");
        }
        assert!(exact_binomial_plan(0.9, 0.9, 0.025, 0.8, 1000).is_none());
        assert!(exact_binomial_plan(0.9, 0.91, 0.025, 0.99, 50).is_none());
    }

    #[test]
    fn mcnemar_matches_statsmodels() {
        // statsmodels 0.15.0: mcnemar([[10, b], [c, 20]], exact=True).pvalue.
        for (b, c, p) in [
            (3, 10, 0.09228515625),
            (0, 0, 1.0),
            (5, 5, 1.0),
            (1, 30, 2.9802322387695312e-08),
            (40, 25, 0.08168153394154003),
            (0, 7, 0.015625),
        ] {
            assert_close(
                mcnemar_exact(b, c),
                p,
                Tol::Rel(1e-12),
                "statsmodels mcnemar exact",
            );
        }
    }

    #[test]
    fn binomial_pmf_matches_direct_sums() {
        // Direct products for small n (exact binomial coefficients) and the normalisation
        // Σ_k P(k) = 1 at n = 1000.
        let direct = |k: u64, n: u64, p: f64| {
            let mut c = 1.0;
            for i in 0..k {
                c = c * (n - i) as f64 / (i + 1) as f64;
            }
            c * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32)
        };
        for (k, n, p) in [(3, 10, 0.3), (1, 7, 0.01), (20, 40, 0.5), (39, 40, 0.9)] {
            let src = "direct product C(n,k) p^k q^(n-k)";
            assert_close(
                binom_pmf(k as f64, n as f64, p),
                direct(k, n, p),
                Tol::Rel(1e-13),
                src,
            );
        }
        let total: f64 = (0..=1000).map(|k| binom_pmf(k as f64, 1000.0, 0.37)).sum();
        assert_close(total, 1.0, Tol::Rel(1e-13), "probabilities sum to one");
    }

    #[test]
    fn stirlerr_matches_its_definition() {
        // Definition: ln m! - (m + 1/2) ln m + m - ln(2π)/2, with ln m! summed term by term
        // (f64 error up to 1.1e-14 for m ≤ 30). Covers the table (m ≤ 15) and the series.
        for m in 1..=30u32 {
            let ln_fact: f64 = (2..=m).map(|k| f64::from(k).ln()).sum();
            let mf = f64::from(m);
            let def = ln_fact - (mf + 0.5) * mf.ln() + mf - (2.0 * std::f64::consts::PI).ln() / 2.0;
            assert_close(stirlerr(mf), def, Tol::Abs(3e-14), "definition of stirlerr");
        }
    }

    #[test]
    fn undefined_inputs_give_none() {
        for f in [wilson, clopper_pearson, wald] {
            assert!(f(0, 0, 0.95).is_none(), "n = 0");
            assert!(f(3, 2, 0.95).is_none(), "x > n");
            assert!(f(1, 2, 1.0).is_none(), "level 1");
            assert!(f(1, 2, 0.0).is_none(), "level 0");
            assert!(f(1, 2, f64::NAN).is_none(), "level NaN");
        }
    }

    #[test]
    fn bounds_at_x_zero_and_x_n() {
        for f in [wilson, clopper_pearson] {
            let ci = f(0, 37, 0.95).unwrap();
            assert_eq!(ci.low, 0.0);
            assert!(ci.high > 0.0 && ci.high < 1.0);
            let ci = f(37, 37, 0.95).unwrap();
            assert_eq!(ci.high, 1.0);
            assert!(ci.low > 0.0 && ci.low < 1.0);
        }
        // Wald has zero width there (hand derivation: p̂(1-p̂) = 0).
        assert_eq!(
            wald(0, 20, 0.95),
            Some(Interval {
                low: 0.0,
                high: 0.0
            })
        );
        assert_eq!(
            wald(20, 20, 0.95),
            Some(Interval {
                low: 1.0,
                high: 1.0
            })
        );
    }
}
