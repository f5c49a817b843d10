"""Is one network really better than another? Paired tests on the same images.

Every run of the series is evaluated on the same 400 validation images, in
the same order, so two networks can be compared image by image. That is
much more sensitive than putting two 95 % intervals side by side: the
networks are right and wrong on mostly the same images, and an interval
of each network alone ignores that. Two intervals can overlap while the
paired difference is clearly not zero, so "the intervals overlap" is not
a test and does not mean "no difference".

What is here (NumPy, SciPy and palm_utils.metrics; pandas for :func:`compare_all`):

- :func:`mcnemar_exact`: accuracy at a threshold. Only the images where
  the two networks disagree count: ``b`` (A right, B wrong) against ``c``
  (A wrong, B right). Exact binomial p-value.
- :func:`delong_test`: AUC. DeLong's test for two correlated AUCs (the
  fast algorithm of Sun and Xu, 2014), with a 95 % interval of the
  difference.
- :func:`paired_bootstrap_auc`: the same question answered by resampling
  images: percentile interval of the AUC difference.
- :func:`holm` and :func:`compare_all`: every pair of networks at once,
  with p-values corrected for the number of comparisons.
- :func:`seed_summary` and :func:`compare_seeds`: runs repeated with
  several seeds.
- :func:`compare_networks` and :func:`compare_networks_all`: networks
  each trained with several seeds, compared by their seed means on the
  same images (:func:`runs_from_results` reads the runner's results).

How to read a p-value (all the tests here). It answers: *if the two
networks were equally good on images like these, how often would a
difference at least this large appear by chance?* A small p-value (say
below 0.05) says the difference is hard to explain by which images
happened to be in the validation set. It does **not** say how large or
important the difference is (look at the difference and its interval),
it is **not** the probability that the networks are equal, and a large
p-value does **not** show they are equal: 400 images cannot tell apart
differences of a point or so. Compare twelve networks (66 pairs) and
about three pairs fall below 0.05 by chance alone, hence :func:`holm`.

What these tests do not cover: a network trained again with another seed
gives other predictions. The tests on one run say whether *these two
trained networks* differ on images like these; whether *the
architectures* differ needs several seeds (:func:`compare_seeds`).

Predictions at a threshold use the rule of :mod:`palm_utils.metrics`:
class 1 when ``prob > threshold``.

References: McNemar (1947), Psychometrika 12, 153-157; DeLong, DeLong and
Clarke-Pearson (1988), Biometrics 44, 837-845; Sun and Xu (2014), IEEE
Signal Processing Letters 21, 1389-1393; Holm (1979), Scandinavian Journal
of Statistics 6, 65-70; Stouffer et al. (1949), The American Soldier.
"""
from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from .metrics import _weighted_auc

__all__ = [
    "McNemarResult", "DeLongResult", "BootstrapResult", "SeedSummary", "SeedComparison",
    "mcnemar_exact", "mcnemar_from_counts", "delong_test", "paired_bootstrap_auc", "holm",
    "compare_all", "runs_from_histories", "seed_summary", "compare_seeds",
    "NetworkComparison", "compare_networks", "compare_networks_all", "runs_from_results",
    "sign_flip_test",
]

#: Defaults of :func:`paired_bootstrap_auc` (the same as
#: :func:`palm_utils.metrics.bootstrap_ci`).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 2024
CI_LEVEL = 0.95

# Resamples are drawn in chunks of at most this many (resample, image)
# cells, so that memory stays bounded for large evaluation sets.
_CHUNK_CELLS = 2_000_000


# --------------------------------------------------------------------------
# Input checks and formatting
# --------------------------------------------------------------------------

def _labels(labels, name: str = "labels") -> np.ndarray:
    """``labels`` as a 1-D int array of 0/1, or a one-line ValueError."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        arr = arr.ravel()
    if arr.size == 0:
        raise ValueError(f"{name}: empty; there is nothing to compare.")
    if arr.dtype == bool:
        return arr.astype(int)
    try:
        values = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be 0/1 numbers, got {arr.dtype} values.") from None
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        first = arr[np.flatnonzero(bad)[0]].item()
        raise ValueError(f"{name}: must hold only 0 and 1, found {first!r} "
                         f"(at position {int(np.flatnonzero(bad)[0])}).")
    return values.astype(int)


def _scores(values, n: int, name: str) -> np.ndarray:
    """``values`` as a 1-D float array of length ``n``, or a one-line ValueError."""
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size != n:
        raise ValueError(f"{name}: {arr.size} values, but labels has {n}; "
                         "both must cover the same images in the same order.")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name}: {int(bad.sum())} values are NaN or infinite "
                         f"(first at position {int(np.flatnonzero(bad)[0])}).")
    return arr


def _both_classes(labels: np.ndarray, test: str, minimum: int = 1) -> tuple[int, int]:
    """Numbers of positives and negatives; ValueError when a class has
    fewer than ``minimum`` images."""
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        only = 1 if n_neg == 0 else 0
        raise ValueError(f"labels: all {labels.size} images are of class {only}; "
                         f"{test} needs images of both classes.")
    if min(n_pos, n_neg) < minimum:
        raise ValueError(f"labels: {n_pos} positive and {n_neg} negative images; "
                         f"{test} needs at least {minimum} of each class.")
    return n_pos, n_neg


def _format_p(p: float) -> str:
    if p != p:  # nan
        return "p = nan"
    if p < 1e-4:
        return "p < 0.0001"
    return f"p = {p:.4f}"


def _z_quantile(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level: must be between 0 and 1, not {level}.")
    return float(stats.norm.ppf(0.5 + level / 2))


# --------------------------------------------------------------------------
# McNemar: accuracy
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test of two accuracies on the same images.

    ``b``: images A classified right and B wrong; ``c``: A wrong, B right.
    ``diff`` is ``acc_a - acc_b`` (= ``(b - c) / n``).
    """

    name_a: str
    name_b: str
    n: int
    acc_a: float
    acc_b: float
    b: int
    c: int
    p_value: float
    diff: float = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "diff", self.acc_a - self.acc_b)

    @property
    def discordant(self) -> int:
        """Images on which exactly one of the two networks is right."""
        return self.b + self.c

    def __str__(self) -> str:
        return (f"{self.name_a} vs {self.name_b}: accuracy {self.acc_a:.4f} vs {self.acc_b:.4f} "
                f"(diff {self.diff:+.4f}, n = {self.n}); only {self.name_a} right on {self.b}, "
                f"only {self.name_b} right on {self.c}; exact McNemar {_format_p(self.p_value)}")


def mcnemar_from_counts(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the two discordant counts.

    Under "equally accurate", each of the ``b + c`` images on which the
    networks disagree is equally likely to favour A or B, so ``b`` is
    Binomial(b + c, 1/2). The p-value doubles the smaller tail:
    ``min(1, 2 * P(X <= min(b, c)))`` (no mid-p). ``b = c = 0`` gives 1.
    """
    for name, value in (("b", b), ("c", c)):
        if int(value) != value or value < 0:
            raise ValueError(f"{name}: must be a count (an integer >= 0), not {value!r}.")
    b, c = int(b), int(c)
    return float(min(1.0, 2.0 * stats.binom.cdf(min(b, c), b + c, 0.5)))


def mcnemar_exact(labels, probs_a, probs_b, threshold: float = 0.5,
                  names: tuple[str, str] = ("A", "B")) -> McNemarResult:
    """Paired exact McNemar test: are two networks equally accurate?

    ``labels`` are the 0/1 labels of the images; ``probs_a`` and ``probs_b``
    the two networks' probabilities of class 1 for the same images in the
    same order (0/1 predictions work too). A network predicts class 1 when
    ``prob > threshold``.

    What it assumes: the images are independent draws from the population
    of interest, and both networks were evaluated on exactly these images
    (it is a *paired* test). It compares accuracy at this threshold only:
    two networks with the same accuracy can still differ in AUC, or in
    sensitivity against specificity. Images both get right, or both get
    wrong, say nothing about which is better and do not enter the test.

    With few discordant images the test cannot reach p < 0.05 at all: 5
    against 0 gives p = 0.0625. Such a p-value says "not enough
    disagreements to tell", not "equal".
    """
    y = _labels(labels)
    a = _scores(probs_a, y.size, "probs_a")
    b_ = _scores(probs_b, y.size, "probs_b")
    right_a = (a > threshold).astype(int) == y
    right_b = (b_ > threshold).astype(int) == y
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    return McNemarResult(name_a=str(names[0]), name_b=str(names[1]), n=int(y.size),
                         acc_a=float(right_a.mean()), acc_b=float(right_b.mean()),
                         b=b, c=c, p_value=mcnemar_from_counts(b, c))


# --------------------------------------------------------------------------
# DeLong: AUC
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class DeLongResult:
    """DeLong's test of two correlated AUCs. ``diff`` is ``auc_a - auc_b``,
    ``se`` its standard error, ``z = diff / se``, ``ci`` the interval of
    ``diff`` at ``level``."""

    name_a: str
    name_b: str
    n_pos: int
    n_neg: int
    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p_value: float
    ci: tuple[float, float]
    level: float = CI_LEVEL

    def __str__(self) -> str:
        pct = f"{100 * self.level:g} %"
        return (f"{self.name_a} vs {self.name_b}: AUC {self.auc_a:.4f} vs {self.auc_b:.4f} "
                f"(diff {self.diff:+.4f}, {pct} CI {self.ci[0]:+.4f} to {self.ci[1]:+.4f}, "
                f"SE {self.se:.4f}); DeLong z = {self.z:.2f}, {_format_p(self.p_value)}")


def _placements(y: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's structural components (placement values), by midranks
    (Sun and Xu, 2014): ``v10[i]`` is the share of negatives that positive
    ``i`` outscores, ``v01[j]`` the share of positives that outscore negative
    ``j``, ties counting one half. ``AUC = mean(v10) = mean(v01)``."""
    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    tz = stats.rankdata(scores)  # midranks over all images
    tx = stats.rankdata(scores[pos])
    ty = stats.rankdata(scores[~pos])
    # A positive's rank among all minus its rank among positives counts the
    # negatives below it, ties as one half; the same holds for negatives.
    v10 = (tz[pos] - tx) / n
    v01 = 1.0 - (tz[~pos] - ty) / m
    # Sum of midranks: multiples of 1/2, exact in float; one rounding at the end.
    auc = (tz[pos].sum() - m * (m + 1) / 2.0) / (m * n)
    return float(auc), v10, v01


def _delong_from_placements(pa, pb, names, level: float) -> DeLongResult:
    auc_a, v10_a, v01_a = pa
    auc_b, v10_b, v01_b = pb
    m, n = v10_a.size, v01_a.size
    # Var(AUC_A - AUC_B) = Var(v10_A - v10_B) / m + Var(v01_A - v01_B) / n,
    # the same as the contrast (1, -1) of DeLong's 2x2 covariance matrix.
    var = np.var(v10_a - v10_b, ddof=1) / m + np.var(v01_a - v01_b, ddof=1) / n
    se = float(math.sqrt(max(var, 0.0)))
    diff = auc_a - auc_b
    if se > 0:
        z = diff / se
        p = float(2 * stats.norm.sf(abs(z)))
    elif diff == 0:
        z, p = 0.0, 1.0  # identical rankings: no difference at all
    else:  # a difference that no resampling of images could change
        z, p = math.copysign(math.inf, diff), 0.0
    q = _z_quantile(level)
    return DeLongResult(name_a=str(names[0]), name_b=str(names[1]), n_pos=m, n_neg=n,
                        auc_a=auc_a, auc_b=auc_b, diff=diff, se=se, z=float(z), p_value=p,
                        ci=(diff - q * se, diff + q * se), level=level)


def delong_test(labels, probs_a, probs_b, level: float = CI_LEVEL,
                names: tuple[str, str] = ("A", "B")) -> DeLongResult:
    """DeLong's test: do two networks have the same AUC on these images?

    ``labels``: 0/1 labels; ``probs_a``, ``probs_b``: the two networks'
    scores (probabilities of class 1) for the same images in the same
    order. Returns both AUCs, their difference ``auc_a - auc_b``, its
    standard error, ``z``, the two-sided p-value and the ``level``
    (95 %) interval of the difference.

    The AUC is the share of (positive, negative) image pairs that the
    network ranks the right way round, ties counting one half: the same
    number as ``sklearn.metrics.roc_auc_score``. DeLong's method estimates
    how much that share would vary over other validation sets, from how
    much each single image contributes to it, and how much the two
    networks' AUCs vary *together* (they are correlated because they rank
    the same images).

    What it assumes: independent images, a fixed set of positives and
    negatives, and enough images of each class for the difference to be
    roughly normal (with 211 positives and 189 negatives, amply met; with
    a few dozen, prefer :func:`paired_bootstrap_auc` as a check). It only
    looks at the ranking: a network whose probabilities are all shifted
    has the same AUC, and it says nothing about accuracy at 0.5.

    Fast algorithm (Sun and Xu, 2014): midranks, O(n log n); needs at least
    two images of each class.
    """
    y = _labels(labels)
    a = _scores(probs_a, y.size, "probs_a")
    b = _scores(probs_b, y.size, "probs_b")
    _both_classes(y, "DeLong's test", minimum=2)
    return _delong_from_placements(_placements(y, a), _placements(y, b), names, level)


# --------------------------------------------------------------------------
# Paired bootstrap of the AUC difference
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class BootstrapResult:
    """Paired bootstrap of ``auc_a - auc_b``: ``ci`` is the percentile
    interval, ``se`` the standard deviation of the resampled differences,
    ``p_value`` the normal approximation ``2 * P(Z > |diff| / se)``."""

    name_a: str
    name_b: str
    auc_a: float
    auc_b: float
    diff: float
    ci: tuple[float, float]
    se: float
    p_value: float
    resamples: int
    stratified: bool
    seed: int | None
    level: float = CI_LEVEL

    def __str__(self) -> str:
        how = "stratified" if self.stratified else "unstratified"
        pct = f"{100 * self.level:g} %"
        return (f"{self.name_a} vs {self.name_b}: AUC {self.auc_a:.4f} vs {self.auc_b:.4f} "
                f"(diff {self.diff:+.4f}, {pct} CI {self.ci[0]:+.4f} to {self.ci[1]:+.4f}); "
                f"paired {how} bootstrap, {self.resamples} resamples, {_format_p(self.p_value)}")


def _resample_aucs(counts: np.ndarray, y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC of every resample at once. ``counts[r, i]``: how often image ``i``
    was drawn in resample ``r``. The AUC of a resample is the share of its
    (positive, negative) pairs ranked the right way, ties one half, each
    image counted as often as it was drawn. Integer sums, so exact up to
    the final division; ``nan`` for a resample with one class only."""
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, np.diff(s) != 0])  # groups of tied scores
    return _weighted_auc(counts[:, order].astype(np.int64), y[order] == 1, starts)


def _draw_counts(rng, y: np.ndarray, size: int, stratified: bool) -> np.ndarray:
    """``size`` rows of draw counts per image: ``len(y)`` draws with
    replacement from all images, or (stratified) as many positives from
    the positives and negatives from the negatives as there are."""
    n = y.size
    if stratified:
        groups = [np.flatnonzero(y == 1), np.flatnonzero(y == 0)]
        idx = np.concatenate([g[rng.integers(0, g.size, size=(size, g.size))] for g in groups],
                             axis=1)
    else:
        idx = rng.integers(0, n, size=(size, n))
    flat = idx + n * np.arange(size)[:, None]
    return np.bincount(flat.ravel(), minlength=size * n).reshape(size, n)


def paired_bootstrap_auc(labels, probs_a, probs_b, resamples: int = BOOTSTRAP_RESAMPLES,
                         seed: int | None = BOOTSTRAP_SEED, level: float = CI_LEVEL,
                         stratified: bool = True,
                         names: tuple[str, str] = ("A", "B")) -> BootstrapResult:
    """Paired bootstrap of the AUC difference ``auc_a - auc_b``.

    Draws ``resamples`` new validation sets from the images, with
    replacement, and recomputes *both* AUCs on each (the same images for
    both networks: that is what makes it paired). Returns the percentile
    interval of the differences at ``level``, their standard deviation
    ``se`` (the bootstrap's standard error, comparable with
    :func:`delong_test`'s), and a p-value from the normal approximation
    ``z = diff / se`` (as R's pROC does for its bootstrap test).

    ``stratified=True`` (the default, as in pROC) draws the positives from
    the positives and the negatives from the negatives, so every resample
    has the original 211 / 189 split, the same condition DeLong's test
    works under; ``False`` draws from all images (resamples with one class,
    rare unless a class is tiny, are dropped).

    What it assumes: independent images, and that the validation set
    stands for the population the way the resamples stand for the
    validation set. Percentile intervals undercover somewhat for small
    sets. The same ``seed`` gives the same answer; 0.1-0.2 s for 400
    images and 2000 resamples.
    """
    y = _labels(labels)
    a = _scores(probs_a, y.size, "probs_a")
    b = _scores(probs_b, y.size, "probs_b")
    _both_classes(y, "the AUC bootstrap", minimum=1)
    _z_quantile(level)  # checks level
    if int(resamples) != resamples or resamples < 2:
        raise ValueError(f"resamples: must be an integer of at least 2, not {resamples!r}.")
    resamples = int(resamples)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // y.size)
    diffs = []
    for start in range(0, resamples, chunk):
        counts = _draw_counts(rng, y, min(chunk, resamples - start), stratified)
        diffs.append(_resample_aucs(counts, y, a) - _resample_aucs(counts, y, b))
    d = np.concatenate(diffs)
    d = d[~np.isnan(d)]
    auc_a = _placements(y, a)[0]
    auc_b = _placements(y, b)[0]
    diff = auc_a - auc_b
    if d.size < 2:
        nan = float("nan")
        return BootstrapResult(str(names[0]), str(names[1]), auc_a, auc_b, diff, (nan, nan),
                               nan, nan, resamples, stratified, seed, level)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(d, [tail, 100 - tail])
    se = float(np.std(d, ddof=1))
    if se > 0:
        p = float(2 * stats.norm.sf(abs(diff) / se))
    else:
        p = 1.0 if diff == 0 else 0.0
    return BootstrapResult(name_a=str(names[0]), name_b=str(names[1]), auc_a=auc_a, auc_b=auc_b,
                           diff=diff, ci=(float(low), float(high)), se=se, p_value=p,
                           resamples=resamples, stratified=stratified, seed=seed, level=level)


# --------------------------------------------------------------------------
# Many pairs: Holm's correction and the table of all pairs
# --------------------------------------------------------------------------

def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the order given.

    Comparing many pairs, some fall below 0.05 by chance: with 66 pairs and
    no real difference anywhere, about three would. Holm's method keeps the
    chance of *any* false "significant" pair at 5 % (the family-wise error
    rate), with no assumption on how the tests depend on each other. The
    smallest of ``k`` p-values is multiplied by ``k``, the next by
    ``k - 1``, and so on; each adjusted value is at least the one before
    it (monotone) and at most 1. A pair is significant at 5 % when its
    adjusted p-value is below 0.05. It is never less strict than needed
    but always less strict than plain Bonferroni (multiply all by ``k``).
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        p = p.ravel()
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("pvalues: must all lie between 0 and 1 (no NaN).")
    k = p.size
    order = np.argsort(p, kind="stable")
    scaled = (k - np.arange(k)) * p[order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty(k)
    out[order] = adjusted
    return out


def _check_same_labels(runs: Mapping) -> np.ndarray:
    names = list(runs)
    first = names[0]
    ref = _labels(runs[first][0], f"runs[{first!r}] labels")
    for name in names[1:]:
        other = _labels(runs[name][0], f"runs[{name!r}] labels")
        if other.size != ref.size:
            raise ValueError(f"runs {first!r} and {name!r} have {ref.size} and {other.size} "
                             "images: the runs must be evaluated on the same images, in the same order.")
        diff = np.flatnonzero(other != ref)
        if diff.size:
            raise ValueError(f"runs {first!r} and {name!r} have different labels ({diff.size} images, "
                             f"first at position {int(diff[0])}): the runs must be evaluated on the "
                             "same images, in the same order.")
    return ref


def compare_all(runs: Mapping, threshold: float = 0.5):
    """Every pair of runs: exact McNemar on accuracy and DeLong on AUC,
    each with Holm-adjusted p-values over all pairs.

    ``runs``: ``{name: (labels, probs)}``, every run evaluated on the same
    images in the same order (checked: a ValueError names the first two
    runs whose labels differ). :func:`runs_from_histories` builds it from
    saved ``history.json`` files.

    Returns a pandas DataFrame, one row per pair (in the order of
    ``runs``: A before B), with columns ``model_a``, ``model_b``, ``n``,
    ``acc_a``, ``acc_b``, ``b`` (images only A got right), ``c`` (only B
    right), ``mcnemar_p``, ``mcnemar_p_holm``, ``auc_a``, ``auc_b``,
    ``delong_z``, ``delong_p``, ``delong_p_holm``. The Holm correction is
    applied to the McNemar and the DeLong p-values separately, each over
    all ``k (k - 1) / 2`` pairs. Takes about 1 ms per pair.
    """
    import pandas as pd

    if not isinstance(runs, Mapping) or len(runs) < 2:
        raise ValueError("runs: needs a mapping {name: (labels, probs)} of at least two runs.")
    y = _check_same_labels(runs)
    _both_classes(y, "DeLong's test", minimum=2)
    probs = {name: _scores(value[1], y.size, f"runs[{name!r}] probs")
             for name, value in runs.items()}
    placements = {name: _placements(y, p) for name, p in probs.items()}
    rows = []
    for name_a, name_b in itertools.combinations(runs, 2):
        mc = mcnemar_exact(y, probs[name_a], probs[name_b], threshold, names=(name_a, name_b))
        dl = _delong_from_placements(placements[name_a], placements[name_b],
                                     (name_a, name_b), CI_LEVEL)
        rows.append({"model_a": name_a, "model_b": name_b, "n": mc.n,
                     "acc_a": mc.acc_a, "acc_b": mc.acc_b, "b": mc.b, "c": mc.c,
                     "mcnemar_p": mc.p_value, "auc_a": dl.auc_a, "auc_b": dl.auc_b,
                     "delong_z": dl.z, "delong_p": dl.p_value})
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("mcnemar_p") + 1, "mcnemar_p_holm",
                 holm(table["mcnemar_p"].to_numpy()))
    table["delong_p_holm"] = holm(table["delong_p"].to_numpy())
    return table


def runs_from_histories(root: str | Path) -> dict:
    """``{run: (labels, probs)}`` from ``<root>/<run>/history.json``: the
    test-set predictions of the chosen epoch (``train_pm`` today) or an
    older history's ``best_predictions``, for :func:`compare_all`. Runs
    whose history holds no predictions (older runs, MNIST) are left out."""
    runs = {}
    for path in sorted(Path(root).glob("*/history.json")):
        found = _test_predictions(json.loads(path.read_text(encoding="utf-8")))
        if found is not None:
            runs[path.parent.name] = found
    return runs


# --------------------------------------------------------------------------
# Several seeds
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class SeedSummary:
    """Mean, sample standard deviation (``ddof=1``; ``nan`` for one
    value), smallest and largest value, and number of seeds."""

    mean: float
    sd: float
    min: float
    max: float
    n: int

    def __str__(self) -> str:
        return (f"{self.mean:.4f} +- {self.sd:.4f} (sd over {self.n} seeds; "
                f"range {self.min:.4f}-{self.max:.4f})")


def seed_summary(values) -> SeedSummary:
    """Summary of one metric over seeds, e.g. ``seed_summary([0.9425, 0.95,
    0.9375])``. The sd says how much retraining alone moves the metric; with
    3 seeds it is itself very uncertain (it could easily be half or twice
    the true spread)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("values: empty; give one value per seed.")
    if not np.isfinite(v).all():
        raise ValueError("values: NaN or infinite values.")
    sd = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    return SeedSummary(mean=float(v.mean()), sd=sd, min=float(v.min()), max=float(v.max()),
                       n=int(v.size))


@dataclass(frozen=True)
class SeedComparison:
    """Two networks trained with the same seeds. ``differences`` are
    ``a - b`` per seed (in the order of ``seeds``); ``t`` and ``p_value``
    the paired t-test across seeds. With predictions given,
    ``mcnemar`` holds each seed's :class:`McNemarResult`, and
    ``stouffer_z`` / ``pooled_p`` combine them (see :func:`compare_seeds`)."""

    seeds: tuple
    metric: str
    a: tuple[float, ...]
    b: tuple[float, ...]
    differences: tuple[float, ...]
    mean_diff: float
    sd_diff: float
    t: float
    p_value: float
    mcnemar: tuple[McNemarResult, ...] | None = None
    stouffer_z: float | None = None
    pooled_p: float | None = None

    @property
    def n(self) -> int:
        return len(self.seeds)

    def __str__(self) -> str:
        text = (f"{self.metric} over {self.n} seeds: mean difference {self.mean_diff:+.4f} "
                f"(sd {self.sd_diff:.4f}); paired t-test t = {self.t:.2f}, "
                f"{_format_p(self.p_value)}")
        if self.pooled_p is not None:
            text += (f"; per-seed McNemar combined (Stouffer) z = {self.stouffer_z:.2f}, "
                     f"{_format_p(self.pooled_p)}")
        return text


def _is_predictions(value) -> bool:
    """True for ``(labels, probs)``, False for a single number."""
    return isinstance(value, (tuple, list)) and len(value) == 2 and np.ndim(value[0]) == 1


def _seed_metric(value, metric: str, threshold: float, name: str) -> float:
    if not _is_predictions(value):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: a number or (labels, probs), not "
                             f"{type(value).__name__}.") from None
    labels, probs = value
    y = _labels(labels, f"{name} labels")
    p = _scores(probs, y.size, f"{name} probs")
    if metric == "accuracy":
        return float(np.mean((p > threshold).astype(int) == y))
    _both_classes(y, "the AUC", minimum=1)
    return _placements(y, p)[0]


def compare_seeds(per_seed_a: Mapping, per_seed_b: Mapping, metric: str = "accuracy",
                  threshold: float = 0.5) -> SeedComparison:
    """Compare two networks trained with the same seeds.

    ``per_seed_a``, ``per_seed_b``: ``{seed: value}`` for each network,
    with the same seeds. A value is either the metric of that run (a
    number, e.g. its accuracy) or its predictions ``(labels, probs)``, from
    which ``metric`` (``"accuracy"`` at ``threshold``, or ``"auc"``) is
    computed. Seeds are paired by key: seed 0 of A with seed 0 of B.

    **Paired t-test across seeds** (``t``, ``p_value``; ``scipy.stats.
    ttest_rel``). It treats the per-seed differences as independent draws
    of "how much better A trains than B" and asks whether their mean is
    zero. It assumes those differences are roughly normal. With 3 seeds it
    has 2 degrees of freedom and very little power: only a difference that
    is large *and* consistent across seeds reaches p < 0.05, so a large
    p-value here means "3 seeds cannot tell", not "no difference". It is
    ``nan`` with fewer than two seeds, or when every seed gives exactly the
    same difference (no spread to judge it by).

    **Pooled McNemar** (only when predictions are given): an exact McNemar
    test on each seed's pair (A seed s against B seed s), combined with
    Stouffer's method using *signed* z-scores: each seed's two-sided p
    becomes ``z_s = sign(b - c) * Phi^-1(1 - p_s / 2)``, and
    ``Z = sum(z_s) / sqrt(k)``, ``pooled_p = 2 * P(N(0,1) > |Z|)``.
    Stouffer rather than Fisher because it keeps the direction: a seed
    where A wins and a seed where B wins cancel out, whereas Fisher's
    method would count both as evidence of "some difference". Caveat: the
    seeds are evaluated on the *same* images, so the per-seed tests are not
    independent (a hard image tends to be missed by every seed), and the
    combined p-value is then too small. Read it as: "on these images, is
    A's advantage consistent across seeds?", not as a test of the
    architectures; the t-test across seeds is the honest, if weak, one.
    """
    if metric not in ("accuracy", "auc"):
        raise ValueError(f"metric: 'accuracy' or 'auc', not {metric!r}.")
    missing = set(per_seed_a) ^ set(per_seed_b)
    if missing:
        raise ValueError(f"per_seed_a and per_seed_b must have the same seeds; only in one of "
                         f"them: {sorted(missing, key=str)}.")
    seeds = tuple(per_seed_a)
    a = tuple(_seed_metric(per_seed_a[s], metric, threshold, f"per_seed_a[{s!r}]") for s in seeds)
    b = tuple(_seed_metric(per_seed_b[s], metric, threshold, f"per_seed_b[{s!r}]") for s in seeds)
    d = np.subtract(a, b)
    if d.size == 0:
        raise ValueError("per_seed_a: no seeds given.")
    sd = float(np.std(d, ddof=1)) if d.size > 1 else float("nan")
    if d.size < 2 or sd == 0:
        t, p = float("nan"), float("nan")
    else:
        res = stats.ttest_rel(a, b)
        t, p = float(res[0]), float(res[1])
    mcnemar = stouffer = pooled = None
    given = [_is_predictions(per_seed_a[s]) and _is_predictions(per_seed_b[s]) for s in seeds]
    if all(given):
        results = []
        for s in seeds:
            (ya, pa), (yb, pb) = per_seed_a[s], per_seed_b[s]
            if not np.array_equal(_labels(ya, f"per_seed_a[{s!r}] labels"),
                                  _labels(yb, f"per_seed_b[{s!r}] labels")):
                raise ValueError(f"seed {s!r}: the two runs have different labels; they must be "
                                 "evaluated on the same images, in the same order.")
            results.append(mcnemar_exact(ya, pa, pb, threshold))
        zs = [math.copysign(float(stats.norm.isf(r.p_value / 2)), r.b - r.c) if r.b != r.c
              else 0.0 for r in results]
        stouffer = float(sum(zs) / math.sqrt(len(zs)))
        pooled = float(2 * stats.norm.sf(abs(stouffer)))
        mcnemar = tuple(results)
    return SeedComparison(seeds=seeds, metric=metric, a=a, b=b, differences=tuple(float(x) for x in d),
                          mean_diff=float(d.mean()), sd_diff=sd, t=t, p_value=p, mcnemar=mcnemar,
                          stouffer_z=stouffer, pooled_p=pooled)


# --------------------------------------------------------------------------
# Networks trained with several seeds, compared on the same images
# --------------------------------------------------------------------------

PERMUTATIONS = 20000


@dataclass(frozen=True)
class NetworkComparison:
    """Two networks, each trained with several seeds, on the same images.

    ``acc_a`` / ``acc_b`` and ``auc_a`` / ``auc_b`` summarise each network
    over its seeds; ``acc_diff`` and ``auc_diff`` are the differences of
    the seed means (A - B), with a paired percentile bootstrap interval
    over images (``acc_ci``, ``auc_ci``). ``acc_p``: paired permutation
    test over images of the seed-averaged correctness; ``auc_p``: normal
    approximation from the paired bootstrap (as :func:`paired_bootstrap_auc`);
    ``seeds_p``: Welch's t-test of the per-seed accuracies (``nan`` with
    fewer than two seeds on a side). See :func:`compare_networks`."""

    name_a: str
    name_b: str
    n: int
    acc_a: SeedSummary
    acc_b: SeedSummary
    acc_diff: float
    acc_ci: tuple[float, float]
    acc_p: float
    auc_a: SeedSummary
    auc_b: SeedSummary
    auc_diff: float
    auc_ci: tuple[float, float]
    auc_p: float
    seeds_p: float

    def __str__(self) -> str:
        return (f"{self.name_a} vs {self.name_b} ({self.acc_a.n} and {self.acc_b.n} seeds, {self.n} images): "
                f"accuracy {self.acc_a.mean:.4f} vs {self.acc_b.mean:.4f} (diff {self.acc_diff:+.4f}, "
                f"95 % CI {self.acc_ci[0]:+.4f} to {self.acc_ci[1]:+.4f}, {_format_p(self.acc_p)}); "
                f"AUC {self.auc_a.mean:.4f} vs {self.auc_b.mean:.4f} (diff {self.auc_diff:+.4f}, "
                f"95 % CI {self.auc_ci[0]:+.4f} to {self.auc_ci[1]:+.4f}, {_format_p(self.auc_p)})")


def _seed_runs(per_seed: Mapping, name: str) -> list:
    if not isinstance(per_seed, Mapping) or not per_seed:
        raise ValueError(f"{name}: needs a mapping {{seed: (labels, probs)}} of at least one run.")
    return list(per_seed.values())


def _draws(y: np.ndarray, resamples: int, seed) -> list[np.ndarray]:
    """The stratified bootstrap's draw counts, in chunks: drawn once and
    used for every network, so that every pair is compared on the same
    resampled image sets."""
    if int(resamples) != resamples or resamples < 2:
        raise ValueError(f"resamples: must be an integer of at least 2, not {resamples!r}.")
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // y.size)
    return [_draw_counts(rng, y, min(chunk, int(resamples) - start), stratified=True)
            for start in range(0, int(resamples), chunk)]


@dataclass(frozen=True)
class _Network:
    right: np.ndarray      # per image: the share of seeds that classify it correctly
    acc: np.ndarray        # per seed
    auc: np.ndarray        # per seed
    boot_auc: np.ndarray   # per bootstrap resample: the mean AUC of the seeds


def _network(runs: list, y: np.ndarray, threshold: float, draws, name: str) -> _Network:
    probs = np.stack([_scores(p, y.size, f"{name} probs") for _, p in runs])
    right = (probs > threshold).astype(int) == y
    boot = np.concatenate([np.mean([_resample_aucs(c, y, p) for p in probs], axis=0) for c in draws])
    return _Network(right=right.mean(axis=0), acc=right.mean(axis=1),
                    auc=np.array([_placements(y, p)[0] for p in probs]), boot_auc=boot)


def sign_flip_test(a, b, permutations: int = PERMUTATIONS, seed: int | None = BOOTSTRAP_SEED) -> float:
    """Two-sided paired permutation p-value of ``mean(a - b)``: the pairs'
    differences get random signs ``permutations`` times; p = (1 + number of
    flipped means at least as far from 0 as the observed) / (1 +
    permutations), as ``scipy.stats.permutation_test(..., permutation_type=
    "samples")`` computes it (it is tested against it), in one matrix
    product instead of scipy's general loop (a hundred times faster)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    observed = abs(d.mean())
    if not np.any(d):
        return 1.0
    rng = np.random.default_rng(seed)
    exceed, done = 0, 0
    while done < permutations:
        size = min(int(permutations) - done, max(1, _CHUNK_CELLS // d.size))
        signs = rng.integers(0, 2, size=(size, d.size)) * 2 - 1
        flipped = np.abs(signs @ d) / d.size
        exceed += int(np.count_nonzero(flipped >= observed * (1 - 1e-12)))   # ties count, as scipy's
        done += size
    return (exceed + 1) / (permutations + 1)


def compare_networks(per_seed_a: Mapping, per_seed_b: Mapping, threshold: float = 0.5,
                     resamples: int = BOOTSTRAP_RESAMPLES, permutations: int = PERMUTATIONS,
                     seed: int | None = BOOTSTRAP_SEED,
                     names: tuple[str, str] = ("A", "B")) -> NetworkComparison:
    """Is network A better than network B, each trained with several seeds?

    ``per_seed_a``, ``per_seed_b``: ``{seed: (labels, probs)}``, every run
    evaluated on the same images in the same order (checked). The seeds of
    the two need not be the same, nor as many.

    The question is asked of the *seed means*, the number a leaderboard
    shows: mean accuracy of A's seeds minus mean accuracy of B's. Each image
    gets the share of A's seeds that classify it correctly, and B's share;
    the mean over images of (A's share - B's share) is exactly the
    difference of the seed means. Its p-value is a **paired permutation
    test over images** (:func:`sign_flip_test`: the two networks' shares
    swapped image by image, ``permutations`` random swaps): how often a
    difference this large appears if, on every image, which network is
    which did not matter. With one seed each it is McNemar's test (a swap
    moves only the images where the two disagree). The AUC is compared the
    same way: the mean of A's seeds' AUCs minus the mean of B's, with a
    **paired stratified bootstrap over images** (all of both networks'
    runs rescored on the same resampled images), its percentile interval and
    the normal-approximation p-value of :func:`paired_bootstrap_auc` (which
    it equals with one seed each). The accuracy difference gets a
    percentile interval from the same resamples.

    What it does and does not cover: the images are the random part, the
    seeds are held as they are; it says whether *these* seeds' average
    differs on images like these. A network whose seeds disagree a lot can
    still be lucky in its few seeds, so ``seeds_p`` adds Welch's t-test of
    the per-seed accuracies (very weak with 3 seeds: a large value means
    "the seeds cannot tell", not "no difference"); the seed spread is in
    ``acc_a`` / ``acc_b``. With many pairs, correct with :func:`holm`
    (:func:`compare_networks_all` does).
    """
    if names[0] == names[1]:
        raise ValueError(f"names: two different names, not {names!r}.")
    return _compare({names[0]: per_seed_a, names[1]: per_seed_b}, threshold, resamples, permutations,
                    seed)[0]


def _compare(networks: Mapping, threshold, resamples, permutations, seed) -> list[NetworkComparison]:
    runs = {name: _seed_runs(per_seed, f"networks[{name!r}]") for name, per_seed in networks.items()}
    everything = {f"{name}/{i}": r for name, rs in runs.items() for i, r in enumerate(rs)}
    y = _check_same_labels(everything)
    _both_classes(y, "the AUC bootstrap", minimum=1)
    draws = _draws(y, resamples, seed)
    stats_of = {name: _network(rs, y, threshold, draws, name) for name, rs in runs.items()}
    boot_right = {name: np.concatenate([c @ s.right / y.size for c in draws]) for name, s in stats_of.items()}
    tail = 100 * (1 - CI_LEVEL) / 2
    out = []
    for name_a, name_b in itertools.combinations(networks, 2):
        a, b = stats_of[name_a], stats_of[name_b]
        acc_d = boot_right[name_a] - boot_right[name_b]
        auc_d = a.boot_auc - b.boot_auc
        auc_diff = float(a.auc.mean() - b.auc.mean())
        se = float(np.std(auc_d, ddof=1))
        auc_p = float(2 * stats.norm.sf(abs(auc_diff) / se)) if se > 0 else (1.0 if auc_diff == 0 else 0.0)
        if a.acc.size > 1 and b.acc.size > 1 and (a.acc.std() > 0 or b.acc.std() > 0):
            seeds_p = float(stats.ttest_ind(a.acc, b.acc, equal_var=False).pvalue)
        else:
            seeds_p = float("nan")
        out.append(NetworkComparison(
            name_a=str(name_a), name_b=str(name_b), n=int(y.size),
            acc_a=seed_summary(a.acc), acc_b=seed_summary(b.acc),
            acc_diff=float(a.right.mean() - b.right.mean()),
            acc_ci=tuple(float(v) for v in np.percentile(acc_d, [tail, 100 - tail])),
            acc_p=sign_flip_test(a.right, b.right, permutations, seed),
            auc_a=seed_summary(a.auc), auc_b=seed_summary(b.auc), auc_diff=auc_diff,
            auc_ci=tuple(float(v) for v in np.percentile(auc_d, [tail, 100 - tail])), auc_p=auc_p,
            seeds_p=seeds_p))
    return out


def compare_networks_all(networks: Mapping, threshold: float = 0.5,
                         resamples: int = BOOTSTRAP_RESAMPLES, permutations: int = PERMUTATIONS,
                         seed: int | None = BOOTSTRAP_SEED):
    """Every pair of ``networks`` (``{name: {seed: (labels, probs)}}``, as
    :func:`runs_from_results` reads them) with :func:`compare_networks` (the
    same numbers, every pair on the same resampled image sets),
    Holm-corrected over all pairs for accuracy and for AUC separately.
    A pandas DataFrame, one row per pair in the order given."""
    import pandas as pd

    if not isinstance(networks, Mapping) or len(networks) < 2:
        raise ValueError("networks: needs a mapping {name: {seed: (labels, probs)}} of at least two.")
    rows = []
    for r in _compare(networks, threshold, resamples, permutations, seed):
        rows.append({"model_a": r.name_a, "model_b": r.name_b, "seeds_a": r.acc_a.n, "seeds_b": r.acc_b.n,
                     "acc_a": r.acc_a.mean, "acc_b": r.acc_b.mean, "acc_diff": r.acc_diff,
                     "acc_ci_low": r.acc_ci[0], "acc_ci_high": r.acc_ci[1], "acc_p": r.acc_p,
                     "auc_a": r.auc_a.mean, "auc_b": r.auc_b.mean, "auc_diff": r.auc_diff,
                     "auc_ci_low": r.auc_ci[0], "auc_ci_high": r.auc_ci[1], "auc_p": r.auc_p,
                     "seeds_p": r.seeds_p})
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("acc_p") + 1, "acc_p_holm", holm(table["acc_p"].to_numpy()))
    table.insert(table.columns.get_loc("auc_p") + 1, "auc_p_holm", holm(table["auc_p"].to_numpy()))
    return table


def _test_predictions(history: dict):
    """(labels, probs) of a history's reported result: the test block of
    today's ``train_pm``, or an old history's ``best_predictions``."""
    record = (history.get("test") or {}).get("predictions") or history.get("best_predictions")
    if record and record.get("labels") is not None and record.get("probs") is not None:
        return np.asarray(record["labels"], dtype=int), np.asarray(record["probs"], dtype=float)
    return None


def runs_from_results(root: str | Path, recipe: str) -> dict:
    """``{network: {seed: (labels, probs)}}`` of the runner's finished runs
    of ``recipe`` (``<root>/<recipe>/<network>/seed<S>.json``, written by
    ``scripts/experiments.py``): the test-set predictions of each run's
    chosen epoch, for :func:`compare_networks_all`."""
    out: dict = {}
    for path in sorted(Path(root, recipe).glob("*/seed*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        found = _test_predictions(record["history"])
        if found is not None:
            out.setdefault(path.parent.name, {})[int(record["run"]["seed"])] = found
    return {name: dict(sorted(seeds.items())) for name, seeds in out.items()}
