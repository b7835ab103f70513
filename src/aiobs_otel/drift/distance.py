"""Drift distances between a reference and a window: effect sizes, never p-values.

All functions are pure numpy. Numeric features compare an :class:`~.sketch.ExpHistogram` of the
window with the reference; categorical features compare bin counts.

* **PSI** over bins (by default the reference's deciles): ``sum((q - p) * ln(q / p))`` with
  shares clipped at ``1e-4`` so an empty bin stays finite.
* **KS**: the largest gap between the two CDFs, on the union of both bucket grids.
* **JS**: Jensen-Shannon *distance* (square root of the divergence, base 2, in [0, 1]), on the
  same bins as PSI.
* **Wasserstein**: W1 (area between the CDFs) divided by the reference's standard deviation.

>>> import numpy as np
>>> round(psi(np.array([50, 50]), np.array([60, 40])), 4)
0.0405
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .sketch import MIN_SCALE, ExpHistogram, lattice_edges

__all__ = ["jensen_shannon", "ks_statistic", "psi", "wasserstein_normalised"]

PSI_EPS = 1e-4
Floats = npt.NDArray[np.float64]


def _shares(counts: npt.ArrayLike) -> Floats:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else np.zeros_like(c)


def psi(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike,
        eps: float = PSI_EPS) -> float:
    """Population stability index between two bin-count (or share) vectors."""
    p = np.clip(_shares(reference_counts), eps, None)
    q = np.clip(_shares(current_counts), eps, None)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (base 2) between two bin-count vectors, in [0, 1]."""
    p = _shares(reference_counts)
    q = _shares(current_counts)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0)
    div = 0.5 * float(kl_p.sum() + kl_q.sum())
    return math.sqrt(max(div, 0.0))


def _aligned(a: ExpHistogram, b: ExpHistogram) -> tuple[Floats, Floats, Floats]:
    """Cell edges and both CDFs (at each cell's right edge) on one lattice, their lower scale."""
    scale = min(a.scale, b.scale)
    spans = [s for s in (a.span_at(scale), b.span_at(scale)) if s is not None]
    if not spans or a.count == 0 or b.count == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    lo = min(s[0] for s in spans)
    hi = max(s[1] for s in spans)
    limit = 4 * max(a.max_size, b.max_size)
    while hi - lo + 1 > limit and scale > MIN_SCALE:  # far-apart data: compare coarser
        scale, lo, hi = scale - 1, lo >> 1, hi >> 1
    edges = lattice_edges(scale, lo, hi, a.zero_threshold)
    fa = np.cumsum(a.lattice_counts(scale, lo, hi)) / float(a.count)
    fb = np.cumsum(b.lattice_counts(scale, lo, hi)) / float(b.count)
    return edges, fa, fb


def ks_statistic(reference: ExpHistogram, current: ExpHistogram) -> float:
    """Kolmogorov-Smirnov D between the finite values of two histograms."""
    _edges, fa, fb = _aligned(reference, current)
    if fa.size == 0:
        return 0.0
    return float(np.max(np.abs(fa - fb)))


def wasserstein_normalised(reference: ExpHistogram, current: ExpHistogram,
                           reference_std: float) -> float:
    """W1 (area between the CDFs) divided by the reference's standard deviation."""
    return ks_and_wasserstein(reference, current, reference_std)[1]


def ks_and_wasserstein(reference: ExpHistogram, current: ExpHistogram,
                       reference_std: float) -> tuple[float, float]:
    """Both from one aligned lattice (what the monitor uses)."""
    edges, fa, fb = _aligned(reference, current)
    if fa.size == 0:
        return 0.0, 0.0
    gap = np.abs(fa - fb)
    ks = float(gap.max())
    before = np.concatenate([[0.0], gap[:-1]])
    area = float(np.sum(0.5 * (before + gap) * np.diff(edges)))
    scale = reference_std if reference_std > 0 and math.isfinite(reference_std) else 1.0
    return ks, area / scale


def bin_counts(hist: ExpHistogram, edges: npt.ArrayLike) -> Floats:
    """Approximate counts of ``hist``'s finite values in the bins cut at ``edges``.

    Bins are ``(-inf, e0], (e0, e1], ..., (e_last, inf)``; inside a bucket that straddles an
    edge the split is linear in x.
    """
    below = hist.mass_below(edges)
    shares = np.diff(np.concatenate([[0.0], below, [1.0]]))
    return np.clip(shares, 0.0, None) * hist.count


def numeric_scores(reference: ExpHistogram, window: ExpHistogram, reference_bins: Floats,
                   window_bins: npt.ArrayLike, reference_std: float) -> dict[str, float]:
    """PSI, KS, JS and normalised W1 (the monitor's hot path).

    PSI and JS compare exact counts in the reference bins; KS and W1 compare both CDFs on the
    cells of one aligned lattice.
    """
    edges, fa, fb = _aligned(reference, window)
    if fb.size == 0:
        return {"psi": 0.0, "ks": 0.0, "js": 0.0, "wasserstein": 0.0}
    gap = np.abs(fa - fb)
    # trapezoids between cell edges; the gap is 0 at the first edge
    area = 0.5 * float(np.dot(gap[1:] + gap[:-1], edges[2:] - edges[1:-1])
                       + gap[0] * (edges[1] - edges[0]))
    std = reference_std if reference_std > 0 and math.isfinite(reference_std) else 1.0
    psi_value, js_value = _psi_js_small(np.asarray(reference_bins).tolist(),
                                        np.asarray(window_bins).tolist())
    return {"psi": psi_value, "ks": float(gap.max()), "js": js_value, "wasserstein": area / std}


def _psi_js_small(ref: list[float], cur: list[float], eps: float = PSI_EPS) -> tuple[float, float]:
    """PSI and JS distance over a few bins in plain Python (cheaper than numpy calls here)."""
    total_p = float(sum(ref)) or 1.0
    total_q = float(sum(cur)) or 1.0
    psi_sum = 0.0
    js_sum = 0.0
    for a, b in zip(ref, cur, strict=True):
        p, q = a / total_p, b / total_q
        pc, qc = max(p, eps), max(q, eps)
        psi_sum += (qc - pc) * math.log(qc / pc)
        m = 0.5 * (p + q)
        if p > 0:
            js_sum += p * math.log2(p / m)
        if q > 0:
            js_sum += q * math.log2(q / m)
    return psi_sum, math.sqrt(max(0.5 * js_sum, 0.0))
