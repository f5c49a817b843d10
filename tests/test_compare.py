"""palm_utils.compare against reference implementations and published values.

References (the `test` extra installs them): statsmodels (McNemar, Holm),
MLstatkit (DeLong), scikit-learn (AUC), exact rational arithmetic (AUC, McNemar), and a
brute-force O(m n) DeLong written here from the 1988 paper's definitions.
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from statistics import NormalDist, stdev

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from palm_utils import compare as C

REPO = Path(__file__).resolve().parent.parent


def correlated_scores(seed: int, n_pos: int = 211, n_neg: int = 189, shift_b: float = 0.0,
                      rho: float = 0.7, decimals: int | None = None):
    """Labels and two networks' scores that share most of their per-image
    signal (correlated AUCs, as two CNNs on the same images)."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    common = rng.normal(size=y.size)
    a = 1.6 * y + rho * common + math.sqrt(1 - rho ** 2) * rng.normal(size=y.size)
    b = (1.6 + shift_b) * y + rho * common + math.sqrt(1 - rho ** 2) * rng.normal(size=y.size)
    a, b = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    if decimals is not None:
        a, b = np.round(a, decimals), np.round(b, decimals)
    return y, a, b


def predictions_with_counts(both_right: int, b: int, c: int, both_wrong: int):
    """Labels and probabilities with the given 2x2 table: ``b`` images only A
    gets right, ``c`` only B. Alternating labels, so both classes occur."""
    right_a = np.r_[np.ones(both_right), np.ones(b), np.zeros(c), np.zeros(both_wrong)].astype(bool)
    right_b = np.r_[np.ones(both_right), np.zeros(b), np.ones(c), np.zeros(both_wrong)].astype(bool)
    y = np.arange(right_a.size) % 2
    # A right: probability on the label's side of 0.5; wrong: the other side.
    prob = lambda right: np.where(right == (y == 1), 0.8, 0.2)  # noqa: E731
    return y, prob(right_a), prob(right_b)


# ---- McNemar ------------------------------------------------------------------

TABLES = [  # [[both right, b], [c, both wrong]]
    [[350, 18], [3, 29]],       # ResNet-18 vs ResNet-50 in the stored runs
    [[350, 3], [18, 29]],       # the same, other way round
    [[300, 10], [10, 80]],      # b = c
    [[300, 0], [7, 93]],        # b = 0
    [[300, 0], [0, 100]],       # no discordant image at all
    [[300, 1], [0, 99]],        # one discordant image
    [[5000, 1210], [1105, 300]],  # large counts
    [[10, 40], [25, 5]],
]


@pytest.mark.parametrize("table", TABLES)
def test_mcnemar_matches_statsmodels(table):
    from statsmodels.stats.contingency_tables import mcnemar

    ref = mcnemar(np.array(table), exact=True).pvalue
    (n11, b), (c, n00) = table
    assert C.mcnemar_from_counts(b, c) == pytest.approx(ref, rel=1e-12, abs=1e-300)
    if n11 + b + c + n00 <= 2000:
        r = C.mcnemar_exact(*predictions_with_counts(n11, b, c, n00))
        assert (r.b, r.c) == (b, c)
        assert r.p_value == pytest.approx(ref, rel=1e-12, abs=1e-300)
        assert r.acc_a == pytest.approx((n11 + b) / r.n)
        assert r.acc_b == pytest.approx((n11 + c) / r.n)
        assert r.diff == pytest.approx((b - c) / r.n)


def test_mcnemar_18_against_3_is_p_0_0015():
    # Exact: 2 * P(Binomial(21, 1/2) <= 3) = 2 * (1 + 21 + 210 + 1330) / 2**21.
    exact = 2 * Fraction(1 + 21 + 210 + 1330, 2 ** 21)
    p = C.mcnemar_from_counts(18, 3)
    assert p == pytest.approx(float(exact), rel=1e-12)
    assert round(p, 4) == 0.0015


def test_mcnemar_uses_the_strict_threshold_and_names():
    y = np.array([1, 1, 0, 0])
    a = np.array([0.5, 0.9, 0.1, 0.2])   # 0.5 is class 0 (prob > 0.5 is class 1): wrong
    b = np.array([0.51, 0.9, 0.1, 0.2])  # right
    r = C.mcnemar_exact(y, a, b, names=("ResNet-18", "ResNet-50"))
    assert (r.b, r.c, r.n) == (0, 1, 4)
    assert (r.acc_a, r.acc_b) == (0.75, 1.0)
    text = str(r)
    assert "ResNet-18 vs ResNet-50" in text and "p = 1.0000" in text and "\n" not in text
    assert C.mcnemar_exact(y, a, b, threshold=0.4).c == 0  # both right at 0.4


def test_issue_example_and_the_stored_runs():
    """The issue's example (ResNet-18 against ResNet-50 in the chapters' old
    runs: 18 against 3 discordant images, p = 0.0015), and compare_all over
    the chapters' stored runs (which change as chapters re-run): every pair's
    McNemar is the pairwise test, and Holm never lowers a p-value."""
    assert round(C.mcnemar_from_counts(18, 3), 4) == 0.0015
    runs = C.runs_from_histories(REPO / "results" / "full-run")
    palm = {k: v for k, v in runs.items() if k != "lenet_palm"}
    assert len(palm) == 12
    table = C.compare_all(palm)
    assert len(table) == 66
    for row in table.itertuples():
        pair = C.mcnemar_exact(*palm[row.model_a], palm[row.model_b][1])
        assert (row.b, row.c, row.mcnemar_p) == (pair.b, pair.c, pair.p_value)
    assert (table.mcnemar_p_holm >= table.mcnemar_p).all() and (table.delong_p_holm >= table.delong_p).all()


# ---- DeLong ----------------------------------------------------------------------


def test_delong_matches_mlstatkit():
    from MLstatkit import Delong_test

    for seed, decimals in ((0, None), (1, 2), (2, 1)):
        y, a, b = correlated_scores(seed, shift_b=-0.3, decimals=decimals)
        r = C.delong_test(y, a, b)
        z, p, *_ = Delong_test(y, a, b)
        # The sign of MLstatkit's z changed between versions (0.1.91: B - A;
        # 0.1.9: always negative); the sign follows the AUCs, checked against
        # the brute-force version below.
        assert abs(r.z) == pytest.approx(abs(z), rel=1e-10)
        assert r.p_value == pytest.approx(p, rel=1e-9)
        assert np.sign(r.z) == np.sign(r.auc_a - r.auc_b)


def brute_force_delong(y, a, b):
    """DeLong et al. (1988) from the definitions, O(m n): psi = 1 if the
    positive scores higher, 1/2 if tied; V10, V01 structural components;
    S = S10 / m + S01 / n; var(diff) = c' S c with c = (1, -1)."""
    comps = []
    for s in (a, b):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        comps.append((psi.mean(axis=1), psi.mean(axis=0)))
    m, n = (y == 1).sum(), (y == 0).sum()
    s10 = np.cov(np.vstack([comps[0][0], comps[1][0]]))
    s01 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    cov = s10 / m + s01 / n
    aucs = [comps[0][0].mean(), comps[1][0].mean()]
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    return aucs, math.sqrt(var)


@pytest.mark.parametrize("seed, decimals", [(3, None), (4, 1), (5, 0)])
def test_delong_equals_brute_force_with_ties(seed, decimals):
    y, a, b = correlated_scores(seed, n_pos=57, n_neg=83, decimals=decimals)
    if decimals == 0:  # scores 0 or 1 only: nearly all pairs tied
        assert len(np.unique(a)) <= 2
    r = C.delong_test(y, a, b)
    aucs, se = brute_force_delong(y, a, b)
    assert (r.auc_a, r.auc_b) == pytest.approx(aucs, rel=1e-13)
    assert r.se == pytest.approx(se, rel=1e-10)


def exact_auc(y, s) -> Fraction:
    pos, neg = s[y == 1], s[y == 0]
    twice = 2 * int((pos[:, None] > neg[None, :]).sum()) + int((pos[:, None] == neg[None, :]).sum())
    return Fraction(twice, 2 * pos.size * neg.size)


@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_auc_is_the_exact_share_of_pairs_and_sklearns(decimals):
    y, a, b = correlated_scores(6, decimals=decimals)
    r = C.delong_test(y, a, b)
    # Correctly rounded exact value (one rounding); sklearn's trapezoid sum
    # can differ from it in the last bit.
    assert r.auc_a == float(exact_auc(y, a)) and r.auc_b == float(exact_auc(y, b))
    assert r.auc_a == pytest.approx(roc_auc_score(y, a), rel=4e-16)
    assert r.auc_b == pytest.approx(roc_auc_score(y, b), rel=4e-16)


def test_delong_se_agrees_with_a_large_paired_bootstrap():
    for seed, rho in ((7, 0.8), (8, 0.3)):
        y, a, b = correlated_scores(seed, shift_b=-0.4, rho=rho)
        d = C.delong_test(y, a, b)
        bs = C.paired_bootstrap_auc(y, a, b, resamples=4000, seed=seed)
        assert bs.se == pytest.approx(d.se, rel=0.10)
        assert bs.diff == d.diff
        # Percentile and normal intervals of the same difference: close.
        assert bs.ci[0] == pytest.approx(d.ci[0], abs=0.25 * d.se)
        assert bs.ci[1] == pytest.approx(d.ci[1], abs=0.25 * d.se)
        assert bs.p_value == pytest.approx(d.p_value, rel=0.5)


def test_delong_is_antisymmetric_and_exact_for_identical_networks():
    y, a, b = correlated_scores(9, shift_b=0.5)
    ab, ba = C.delong_test(y, a, b), C.delong_test(y, b, a)
    assert ab.z == pytest.approx(-ba.z, rel=1e-12) and ab.p_value == pytest.approx(ba.p_value)
    assert ab.p_value < 0.05  # a real difference is found
    same = C.delong_test(y, a, a.copy())
    assert (same.diff, same.se, same.z, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    text = str(ab)
    assert "DeLong z" in text and "95 % CI" in text and "\n" not in text


@pytest.mark.parametrize("func", [C.delong_test, C.paired_bootstrap_auc, C.mcnemar_exact])
def test_bad_input_is_refused_in_one_line_naming_the_argument(func):
    y = np.array([0, 1, 0, 1, 1])
    p = np.array([0.1, 0.9, 0.3, 0.7, 0.6])
    with pytest.raises(ValueError, match=r"^probs_b: 4 values, but labels has 5") as err:
        func(y, p, p[:4])
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"^probs_a: 1 values are NaN"):
        func(y, np.r_[p[:4], np.nan], p)
    with pytest.raises(ValueError, match=r"^labels: must hold only 0 and 1, found 2"):
        func(np.array([0, 1, 2, 1, 1]), p, p)
    if func is not C.mcnemar_exact:  # accuracy needs no second class
        with pytest.raises(ValueError, match=r"^labels: all 5 images are of class 1"):
            func(np.ones(5, int), p, p)


def test_delong_needs_two_images_per_class():
    with pytest.raises(ValueError, match="at least 2 of each class"):
        C.delong_test([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], [0.8, 0.1, 0.2, 0.4])


# ---- Paired bootstrap ----------------------------------------------------------

def test_resample_aucs_match_sklearn_with_weights():
    y, a, _ = correlated_scores(10, n_pos=30, n_neg=25, decimals=1)  # with ties
    rng = np.random.default_rng(0)
    counts = np.vstack([C._draw_counts(rng, y, 20, stratified=True),
                        C._draw_counts(rng, y, 20, stratified=False)])
    aucs = C._resample_aucs(counts, y, a)
    for row, auc in zip(counts, aucs):
        assert auc == pytest.approx(roc_auc_score(y, a, sample_weight=row), rel=1e-12)
    strat = C._draw_counts(rng, y, 50, stratified=True)
    assert (strat.sum(axis=1) == y.size).all()
    assert (strat[:, y == 1].sum(axis=1) == 30).all()  # class sizes kept


def test_bootstrap_is_reproducible_and_paired():
    y, a, b = correlated_scores(11, shift_b=-0.3)
    one = C.paired_bootstrap_auc(y, a, b, resamples=500, seed=1)
    assert one == C.paired_bootstrap_auc(y, a, b, resamples=500, seed=1)
    assert one != C.paired_bootstrap_auc(y, a, b, resamples=500, seed=2)
    assert one.ci[0] < one.diff < one.ci[1]
    # Paired: the same resample for both networks, so identical networks
    # differ by exactly 0 in every resample.
    same = C.paired_bootstrap_auc(y, a, a.copy(), resamples=200)
    assert same.ci == (0.0, 0.0) and same.se == 0.0 and same.p_value == 1.0
    loose = C.paired_bootstrap_auc(y, a, b, resamples=500, seed=1, stratified=False)
    assert not loose.stratified and loose.ci != one.ci
    assert "stratified bootstrap, 500 resamples" in str(one)


# ---- Holm and compare_all --------------------------------------------------------

def test_holm_hand_computed():
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 -> 0.06 (monotone)
    assert C.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert C.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert C.holm([]).size == 0
    with pytest.raises(ValueError, match="pvalues"):
        C.holm([0.1, float("nan")])


def test_holm_matches_statsmodels(monkeypatch):
    import gc

    from statsmodels.stats.multitest import multipletests

    # multipletests runs gc.collect() on every call: 0.2-0.5 s each with
    # Paddle's objects in memory, nothing to do with what is tested.
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    rng = np.random.default_rng(12)
    for k in (1, 2, 7, 66):
        p = rng.random(k) ** 3
        if k > 2:
            p[1] = p[0]  # a tie
            p[2] = 1.0
        assert C.holm(p) == pytest.approx(multipletests(p, method="holm")[1], rel=1e-14)


def four_runs(seed=13):
    y, a, b = correlated_scores(seed, shift_b=-0.5)
    _, c, d = correlated_scores(seed + 1, shift_b=0.3)
    return {"alexnet": (y, a), "vgg16": (y, b), "resnet18": (y.tolist(), c), "resnet50": (y, d)}


def test_compare_all_rows_agree_with_the_single_tests():
    runs = four_runs()
    table = C.compare_all(runs)
    assert table.shape == (6, 14)
    assert list(table.columns) == [
        "model_a", "model_b", "n", "acc_a", "acc_b", "b", "c", "mcnemar_p", "mcnemar_p_holm",
        "auc_a", "auc_b", "delong_z", "delong_p", "delong_p_holm"]
    assert list(zip(table.model_a, table.model_b))[:3] == [
        ("alexnet", "vgg16"), ("alexnet", "resnet18"), ("alexnet", "resnet50")]
    for row in table.itertuples():
        (y, pa), (_, pb) = runs[row.model_a], runs[row.model_b]
        mc, dl = C.mcnemar_exact(y, pa, pb), C.delong_test(y, pa, pb)
        assert (row.b, row.c, row.mcnemar_p) == (mc.b, mc.c, mc.p_value)
        assert (row.auc_a, row.auc_b, row.delong_p) == (dl.auc_a, dl.auc_b, dl.p_value)
        assert row.acc_a == pytest.approx(np.mean((pa > 0.5) == np.asarray(y)))
    assert table.mcnemar_p_holm.to_numpy() == pytest.approx(C.holm(table.mcnemar_p))
    assert table.delong_p_holm.to_numpy() == pytest.approx(C.holm(table.delong_p))
    assert (table.delong_p_holm >= table.delong_p).all()


def test_compare_all_is_symmetric():
    runs = four_runs()
    forward = C.compare_all(runs).set_index(["model_a", "model_b"])
    backward = C.compare_all(dict(reversed(list(runs.items())))).set_index(["model_b", "model_a"])
    backward = backward.loc[forward.index]
    assert (forward.b.to_numpy() == backward.c.to_numpy()).all()
    assert (forward.c.to_numpy() == backward.b.to_numpy()).all()
    assert forward.acc_a.tolist() == backward.acc_b.tolist()
    assert forward.auc_a.tolist() == backward.auc_b.tolist()
    for col in ("mcnemar_p", "mcnemar_p_holm", "delong_p", "delong_p_holm"):
        assert forward[col].to_numpy() == pytest.approx(backward[col].to_numpy(), rel=1e-12)
    assert forward.delong_z.to_numpy() == pytest.approx(-backward.delong_z.to_numpy())


def test_compare_all_refuses_runs_on_other_images():
    runs = four_runs()
    y, p = runs["vgg16"]
    shuffled = dict(runs, vgg16=(y[::-1], p[::-1]))
    with pytest.raises(ValueError, match=r"runs 'alexnet' and 'vgg16' have different labels"):
        C.compare_all(shuffled)
    shorter = dict(runs, resnet50=(y[:-1], p[:-1]))
    with pytest.raises(ValueError, match=r"runs 'alexnet' and 'resnet50' have 400 and 399 images"):
        C.compare_all(shorter)
    with pytest.raises(ValueError, match="at least two runs"):
        C.compare_all({"alexnet": runs["alexnet"]})


# ---- Seeds --------------------------------------------------------------------

def test_seed_summary():
    values = [0.9425, 0.95, 0.9375]
    s = C.seed_summary(values)
    assert (s.n, s.min, s.max) == (3, 0.9375, 0.95)
    assert s.mean == pytest.approx(sum(values) / 3)
    assert s.sd == pytest.approx(stdev(values))  # sample sd (n - 1)
    assert math.isnan(C.seed_summary([0.9]).sd)
    assert "3 seeds" in str(s)


def test_compare_seeds_paired_t_by_hand():
    a = {0: 0.96, 1: 0.95, 2: 0.955}
    b = {2: 0.94, 0: 0.95, 1: 0.93}  # paired by seed, not by position
    r = C.compare_seeds(a, b)
    assert r.differences == pytest.approx((0.01, 0.02, 0.015))
    # mean 0.015, sd 0.005: t = 0.015 / (0.005 / sqrt 3) = 3 sqrt 3; with 2
    # degrees of freedom the two-sided p is 1 - t / sqrt(t^2 + 2).
    t = 3 * math.sqrt(3)
    assert r.t == pytest.approx(t) and r.p_value == pytest.approx(1 - t / math.sqrt(t * t + 2))
    assert r.mcnemar is None and r.pooled_p is None
    flat = C.compare_seeds({0: 0.95, 1: 0.96}, {0: 0.94, 1: 0.95})  # same difference twice
    assert math.isnan(flat.p_value)
    with pytest.raises(ValueError, match=r"same seeds.*\[3\]"):
        C.compare_seeds({0: 0.9, 3: 0.9}, {0: 0.9})


def test_compare_seeds_pools_mcnemar_with_signed_stouffer():
    counts = {0: (18, 3), 1: (10, 5), 2: (4, 4)}
    a, b = {}, {}
    for seed, (nb, nc) in counts.items():
        y, pa, pb = predictions_with_counts(360, nb, nc, 400 - 360 - nb - nc)
        a[seed], b[seed] = (y, pa), (y, pb)
    r = C.compare_seeds(a, b)
    assert [(m.b, m.c) for m in r.mcnemar] == list(counts.values())
    inv = NormalDist().inv_cdf
    z = [inv(1 - C.mcnemar_from_counts(*bc) / 2) * (1 if bc[0] > bc[1] else 0)
         for bc in counts.values()]
    assert r.stouffer_z == pytest.approx(sum(z) / math.sqrt(3), rel=1e-9)
    assert r.pooled_p == pytest.approx(2 * (1 - NormalDist().cdf(r.stouffer_z)), rel=1e-9)
    assert r.differences == pytest.approx(((18 - 3) / 400, (10 - 5) / 400, 0.0))
    # Opposite directions cancel (Fisher's method would report a small p here).
    y, pa, pb = predictions_with_counts(360, 18, 3, 19)
    mixed = C.compare_seeds({0: (y, pa), 1: (y, pb)}, {0: (y, pb), 1: (y, pa)})
    assert mixed.stouffer_z == pytest.approx(0.0, abs=1e-12) and mixed.pooled_p == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"^per_seed_a\[0\] probs: 399 values, but labels has 400"):
        C.compare_seeds({0: (y, pa[:-1])}, {0: (y, pb)})
    auc = C.compare_seeds(a, b, metric="auc")
    assert auc.a[0] == pytest.approx(roc_auc_score(*a[0]))
    assert "Stouffer" in str(r)


# ---- networks with several seeds ---------------------------------------------

def _seeded(seed: int, seeds, shift: float = 0.0):
    """{seed: (labels, probs)} of one network trained with several seeds."""
    out = {}
    for s in seeds:
        y, a, _ = correlated_scores(1000 * seed + s, shift_b=0.0)
        y, _, b = correlated_scores(seed, shift_b=shift)
        mix = np.random.default_rng(s).uniform(0, 0.3, y.size)
        out[s] = (y, (1 - mix) * b + mix * a)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sign_flip_test_agrees_with_scipys_permutation_test(seed):
    from scipy import stats

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, 120) / 3
    b = np.clip(a + rng.normal(0.05 * seed, 0.3, 120), 0, 1)
    ours = C.sign_flip_test(a, b, permutations=20000, seed=seed)
    ref = stats.permutation_test((a, b), lambda x, z, axis: np.mean(x - z, axis=axis), vectorized=True,
                                 permutation_type="samples", n_resamples=20000, random_state=seed + 7).pvalue
    assert abs(ours - ref) < 4 * math.sqrt(ref * (1 - ref) / 20000) + 1e-3
    assert C.sign_flip_test(a, a) == 1.0


def test_one_seed_each_is_mcnemar_and_the_paired_bootstrap():
    y, a, b = correlated_scores(3, shift_b=-0.5)
    r = C.compare_networks({1: (y, a)}, {1: (y, b)}, names=("A", "B"))
    boot = C.paired_bootstrap_auc(y, a, b)                    # same seed, same stratified draws
    assert (r.auc_diff, r.auc_ci, r.auc_p) == (boot.diff, boot.ci, boot.p_value)
    exact = C.mcnemar_exact(y, a, b)
    assert r.acc_diff == pytest.approx(exact.acc_a - exact.acc_b, abs=1e-12)
    assert abs(r.acc_p - exact.p_value) < 0.01                 # the permutation form of McNemar
    assert math.isnan(r.seeds_p)                               # one seed: nothing to t-test


def test_seed_means_and_their_difference():
    A, B = _seeded(5, (1, 2, 3)), _seeded(6, (1, 2), shift=-1.4)
    r = C.compare_networks(A, B, names=("A", "B"))
    acc = lambda runs: [np.mean((p > 0.5).astype(int) == y) for y, p in runs.values()]  # noqa: E731
    assert r.acc_a.n == 3 and r.acc_b.n == 2
    assert r.acc_a.mean == pytest.approx(np.mean(acc(A))) and r.acc_b.mean == pytest.approx(np.mean(acc(B)))
    assert r.acc_diff == pytest.approx(np.mean(acc(A)) - np.mean(acc(B)))
    from sklearn.metrics import roc_auc_score
    assert r.auc_a.mean == pytest.approx(np.mean([roc_auc_score(y, p) for y, p in A.values()]))
    assert r.acc_ci[0] < r.acc_diff < r.acc_ci[1] and r.auc_ci[0] < r.auc_diff < r.auc_ci[1]
    assert r.acc_p < 0.05 and r.auc_p < 0.05                    # B is clearly weaker
    flipped = C.compare_networks(B, A, names=("B", "A"))
    assert flipped.acc_diff == pytest.approx(-r.acc_diff) and flipped.auc_p == pytest.approx(r.auc_p)
    assert "3 and 2 seeds" in str(r) and "B vs A" in str(flipped)


def test_compare_networks_all_matches_the_pairs_and_holm():
    nets = {"a": _seeded(1, (1, 2)), "b": _seeded(2, (1, 2), shift=-0.3), "c": _seeded(3, (1,), shift=-0.8)}
    table = C.compare_networks_all(nets)
    assert list(zip(table.model_a, table.model_b)) == [("a", "b"), ("a", "c"), ("b", "c")]
    for row in table.itertuples():
        single = C.compare_networks(nets[row.model_a], nets[row.model_b], names=(row.model_a, row.model_b))
        assert (row.acc_diff, row.acc_p, row.auc_p) == pytest.approx((single.acc_diff, single.acc_p, single.auc_p))
    assert np.allclose(table.acc_p_holm, C.holm(table.acc_p)) and np.allclose(table.auc_p_holm, C.holm(table.auc_p))


def test_compare_networks_refuses_other_images():
    y, a, b = correlated_scores(4)
    with pytest.raises(ValueError, match="same images"):
        C.compare_networks({1: (y, a)}, {1: (y[::-1], b)})
    with pytest.raises(ValueError, match="per_seed_a|networks"):
        C.compare_networks({}, {1: (y, b)})


def test_runs_from_results_reads_the_runners_files(tmp_path):
    import json

    y, a, b = correlated_scores(5)
    for net, seed, probs in (("alexnet", 1, a), ("alexnet", 2, b), ("resnet18", 1, b)):
        path = tmp_path / "shared" / net / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"run": {"seed": seed}, "history": {"epochs": [], "test": {
            "epoch": 3, "predictions": {"labels": y.tolist(), "probs": probs.tolist()}}}}
        path.write_text(json.dumps(record))
    (tmp_path / "shared" / "vgg16").mkdir()
    (tmp_path / "shared" / "vgg16" / "seed1.json").write_text(json.dumps(
        {"run": {"seed": 1}, "history": {"epochs": [], "test": None}}))       # a sweep run: no test
    runs = C.runs_from_results(tmp_path, "shared")
    assert list(runs) == ["alexnet", "resnet18"] and list(runs["alexnet"]) == [1, 2]
    assert np.array_equal(runs["alexnet"][2][1], b) and np.array_equal(runs["resnet18"][1][0], y)
