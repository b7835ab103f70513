"""Reference profiles: what "normal" looks like, per feature, built once from a baseline.

>>> import numpy as np
>>> profile = build_reference({"age": np.random.default_rng(0).normal(40, 9, 20_000)})
>>> profile.features["age"].kind
'numeric'
>>> profile.save("ref.json")  # doctest: +SKIP
>>> ReferenceProfile.load("ref.json").id == profile.id  # doctest: +SKIP
True

A profile is versioned (``format``), content-hashed (``id``: sha256 of its canonical JSON, so
two processes that build it from the same data agree) and holds, per numeric feature, the
reference's exponential histogram, the PSI bin edges (reference quantiles) with the exact
reference counts in those bins, mean and standard deviation, and the null-score samples used
to calibrate thresholds (each method's score for random reference chunks against the rest).
Categorical features keep the top-K categories, the list of known categories (capped) and
their counts. Embeddings keep the projection seed and one numeric profile per projection.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _columns
from .distance import jensen_shannon, numeric_scores, psi
from .sketch import CategoricalSketch, ExpHistogram, NumericWindow

__all__ = ["CategoricalReference", "NumericReference", "ReferenceProfile", "build_reference"]

FORMAT = "aiobs.drift.reference/1"
NUMERIC_METHODS = ("psi", "ks", "js", "wasserstein")
CATEGORICAL_METHODS = ("psi", "ks", "js")
DEFAULT_CHUNKS = 40
DEFAULT_CHUNK_SIZE = 10_000
MAX_KNOWN_CATEGORIES = 10_000
Floats = npt.NDArray[np.float64]


@dataclass
class Calibration:
    """Scores of reference chunks (``chunk_size`` rows) against the rest, per method."""

    chunk_size: int
    reference_count: int
    scores: dict[str, list[float]]

    def scale_for(self, n: int, method: str) -> float:
        """Noise of a window of ``n`` rows relative to a calibration chunk.

        Under no drift PSI and JS divergence grow like ``1/n + 1/R``; KS, JS distance and W1 like
        its square root.
        """
        r = max(self.reference_count, 1)
        c = max(min(self.chunk_size, r - 1), 1)
        ratio = (1.0 / max(n, 1) + 1.0 / r) / (1.0 / c + 1.0 / max(r - c, 1))
        return ratio if method == "psi" else math.sqrt(ratio)

    def stats(self, method: str) -> tuple[float, float]:
        """Mean and standard deviation of the chunk scores of ``method`` (cached)."""
        cache: dict[str, tuple[float, float]] = self.__dict__.setdefault("_stats", {})
        hit = cache.get(method)
        if hit is None:
            samples = np.asarray(self.scores.get(method) or [0.0], dtype=np.float64)
            sd = float(samples.std(ddof=1)) if samples.size > 1 else 0.0
            hit = cache[method] = (float(samples.mean()), sd)
        return hit

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_size": self.chunk_size, "reference_count": self.reference_count,
                "scores": {k: [round(v, 9) for v in s] for k, s in self.scores.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(int(data["chunk_size"]), int(data["reference_count"]),
                   {k: [float(x) for x in v] for k, v in data["scores"].items()})


@dataclass
class NumericReference:
    name: str
    hist: ExpHistogram
    edges: list[float]
    bin_counts: list[float]
    mean: float
    std: float
    count: int
    null_rate: float
    calibration: Calibration
    kind: str = "numeric"

    @property
    def methods(self) -> tuple[str, ...]:
        return NUMERIC_METHODS

    def new_sketch(self) -> NumericWindow:
        hist = ExpHistogram(max_size=self.hist.max_size, zero_threshold=self.hist.zero_threshold)
        cuts = self.__dict__.get("_cuts")
        if cuts is None:  # one array shared by every window of this feature
            cuts = self.__dict__["_cuts"] = np.asarray(self.edges, dtype=np.float64)
        return NumericWindow(hist, cuts)

    def scores(self, window: NumericWindow) -> dict[str, float]:
        """PSI, KS, JS and normalised W1 of a window against this reference."""
        return numeric_scores(self.hist, window.hist, np.asarray(self.bin_counts),
                              window.bin_counts(), self.std)

    def min_bin_share(self) -> float:
        total = sum(self.bin_counts) or 1.0
        return min(self.bin_counts) / total

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "hist": self.hist.to_dict(), "edges": self.edges,
                "bin_counts": self.bin_counts, "mean": self.mean, "std": self.std,
                "count": self.count, "null_rate": self.null_rate,
                "calibration": self.calibration.to_dict()}

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> NumericReference:
        return cls(name, ExpHistogram.from_dict(data["hist"]), [float(e) for e in data["edges"]],
                   [float(c) for c in data["bin_counts"]], float(data["mean"]),
                   float(data["std"]), int(data["count"]), float(data["null_rate"]),
                   Calibration.from_dict(data["calibration"]))


@dataclass
class CategoricalReference:
    name: str
    categories: list[str]
    known: list[str] | None
    counts: list[float]
    count: int
    null_rate: float
    calibration: Calibration
    kind: str = "categorical"

    @property
    def methods(self) -> tuple[str, ...]:
        return CATEGORICAL_METHODS

    def new_sketch(self) -> CategoricalSketch:
        return CategoricalSketch(self.categories, self.known)

    def scores(self, window: CategoricalSketch) -> dict[str, float]:
        """PSI, L∞ ("ks") and JS over the top-K + other + unseen bins."""
        return _categorical_scores(np.asarray(self.counts), window.counts)

    def min_bin_share(self) -> float:
        total = sum(self.counts) or 1.0
        present = [c for c in self.counts[:-2] if c > 0]
        return min(present) / total if present else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "categories": self.categories, "known": self.known,
                "counts": self.counts, "count": self.count, "null_rate": self.null_rate,
                "calibration": self.calibration.to_dict()}

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> CategoricalReference:
        return cls(name, list(data["categories"]), data.get("known"),
                   [float(c) for c in data["counts"]], int(data["count"]),
                   float(data["null_rate"]), Calibration.from_dict(data["calibration"]))


def _categorical_scores(ref_counts: npt.ArrayLike, counts: npt.ArrayLike) -> dict[str, float]:
    p = np.asarray(ref_counts, dtype=np.float64)
    q = np.asarray(counts, dtype=np.float64)
    ps = p / p.sum() if p.sum() else p
    qs = q / q.sum() if q.sum() else q
    return {"psi": psi(p, q), "ks": float(np.max(np.abs(ps - qs))) if p.size else 0.0,
            "js": jensen_shannon(p, q)}


@dataclass
class EmbeddingReference:
    """Fixed random projections of an embedding column, each profiled as a numeric feature."""

    name: str
    dim: int
    seed: int
    parts: dict[str, NumericReference]
    kind: str = "embedding"

    def directions(self) -> Floats:
        return projection_directions(self.dim, len(self.parts) - 1, self.seed)

    def project(self, matrix: Floats) -> dict[str, Floats]:
        """Sub-feature name -> values: one column per projection, plus the norm."""
        if matrix.size == 0:
            return {k: np.zeros(0) for k in self.parts}
        proj = matrix @ self.directions().T
        out = {f"{self.name}[{i}]": proj[:, i] for i in range(proj.shape[1])}
        out[f"{self.name}[norm]"] = np.linalg.norm(matrix, axis=1)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "dim": self.dim, "seed": self.seed,
                "parts": {k: v.to_dict() for k, v in self.parts.items()}}

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> EmbeddingReference:
        return cls(name, int(data["dim"]), int(data["seed"]),
                   {k: NumericReference.from_dict(k, v) for k, v in data["parts"].items()})


def projection_directions(dim: int, k: int, seed: int) -> Floats:
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((k, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d


FeatureReference = NumericReference | CategoricalReference | EmbeddingReference


@dataclass
class ReferenceProfile:
    """A versioned, content-hashed reference profile (see :func:`build_reference`)."""

    features: dict[str, FeatureReference]
    psi_bins: int
    rows: int
    format: str = FORMAT
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            self.id = self._content_hash()

    def _content(self) -> dict[str, Any]:
        return {"format": self.format, "psi_bins": self.psi_bins, "rows": self.rows,
                "features": {k: v.to_dict() for k, v in sorted(self.features.items())}}

    def _content_hash(self) -> str:
        canonical = json.dumps(self._content(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {**self._content(), "id": self.id}

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")))
        return target

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save` (checks its format and content hash)."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a reference profile of format {FORMAT}: {data.get('format')}")
        features: dict[str, FeatureReference] = {}
        for name, spec in data["features"].items():
            kind = spec["kind"]
            if kind == "numeric":
                features[name] = NumericReference.from_dict(name, spec)
            elif kind == "categorical":
                features[name] = CategoricalReference.from_dict(name, spec)
            elif kind == "embedding":
                features[name] = EmbeddingReference.from_dict(name, spec)
            else:
                raise ValueError(f"unknown feature kind {kind!r}")
        profile = cls(features, int(data["psi_bins"]), int(data["rows"]))
        if data.get("id") and data["id"] != profile.id:
            raise ValueError("reference profile content does not match its id (edited?)")
        return profile


# --- building ------------------------------------------------------------------------------------


def build_reference(
    data: Any,
    *,
    psi_bins: int = 10,
    top_k: int = 256,
    chunk_size: int | None = None,
    calibration_chunks: int = DEFAULT_CHUNKS,
    max_buckets: int = 160,
    projections: int = 8,
    seed: int = 0,
    features: list[str] | None = None,
    categorical: list[str] | None = None,
) -> ReferenceProfile:
    """Profile a baseline (DataFrame, Arrow table, dict of arrays, records, array).

    >>> import numpy as np
    >>> ref = build_reference({"x": np.random.default_rng(1).normal(size=5000)}, psi_bins=5)
    >>> len(ref.features["x"].edges)
    4

    ``chunk_size`` is the calibration chunk (default: 10 000 rows or a quarter of the data);
    ``categorical`` forces columns to be treated as categories.
    """
    if psi_bins < 2:
        raise ValueError("psi_bins must be at least 2")
    cols = _columns.columns(data)
    rows = _columns.length(data) if not isinstance(data, list) else len(data)
    if rows < 2:
        raise ValueError("a reference needs at least 2 rows")
    chunk = chunk_size or min(DEFAULT_CHUNK_SIZE, max(rows // 4, 1))
    chunk = max(1, min(chunk, rows // 2))
    rng = np.random.default_rng(seed)
    samples = _chunk_indices(rows, chunk, calibration_chunks, rng)
    forced = set(categorical or ())
    out: dict[str, FeatureReference] = {}
    for name, col in cols.items():
        if features is not None and name not in features:
            continue
        kind = _columns.CATEGORICAL if name in forced else _columns.kind_of(col)
        if kind == _columns.NUMERIC:
            out[name] = _numeric_reference(name, _columns.numeric_values(col), psi_bins,
                                           max_buckets, samples, chunk)
        elif kind == _columns.CATEGORICAL:
            out[name] = _categorical_reference(name, col, top_k, samples, chunk)
        else:
            matrix = _columns.embedding_values(col)
            emb_seed = int(rng.integers(0, 2**31 - 1))
            dirs = projection_directions(matrix.shape[1], projections, emb_seed)
            proj = matrix @ dirs.T
            parts_values = {f"{name}[{i}]": proj[:, i] for i in range(projections)}
            parts_values[f"{name}[norm]"] = np.linalg.norm(matrix, axis=1)
            parts = {k: _numeric_reference(k, v, psi_bins, max_buckets, samples, chunk)
                     for k, v in parts_values.items()}
            out[name] = EmbeddingReference(name, matrix.shape[1], emb_seed, parts)
    return ReferenceProfile(out, psi_bins, rows)


def _chunk_indices(rows: int, chunk: int, n_chunks: int,
                   rng: np.random.Generator) -> list[npt.NDArray[np.intp]]:
    """Random reference chunks: disjoint slices of a permutation while they last."""
    out: list[npt.NDArray[np.intp]] = []
    perm = rng.permutation(rows)
    for start in range(0, rows - chunk + 1, chunk):
        if len(out) >= n_chunks:
            break
        out.append(np.sort(perm[start:start + chunk]))
    while len(out) < n_chunks:
        out.append(np.sort(rng.choice(rows, size=chunk, replace=False)))
    return out


def _numeric_reference(name: str, values: Floats, psi_bins: int, max_buckets: int,
                       samples: list[npt.NDArray[np.intp]], chunk: int) -> NumericReference:
    hist = ExpHistogram(max_size=max_buckets)
    hist.update(values)
    valid = np.isfinite(values)
    finite = values[valid]
    if finite.size == 0:
        finite = np.zeros(1)
    # quantile edges, merged where ties make them equal (discrete data)
    edges = np.unique(np.quantile(finite, np.arange(1, psi_bins) / psi_bins))
    bin_ids = np.searchsorted(edges, values, side="left")  # bins (e_{i-1}, e_i]
    ref_bins = np.bincount(bin_ids[valid], minlength=edges.size + 1).astype(np.float64)
    std = float(finite.std()) if finite.size > 1 else 0.0
    scores: dict[str, list[float]] = {m: [] for m in NUMERIC_METHODS}
    for idx in samples:
        part = NumericWindow(ExpHistogram(max_size=max_buckets), edges)
        part.update(values[idx])
        rest = hist.subtract(part.hist)
        rest_bins = ref_bins - np.bincount(bin_ids[idx][valid[idx]], minlength=edges.size + 1)
        result = numeric_scores(rest, part.hist, rest_bins, part.bin_counts(), std)
        for method in NUMERIC_METHODS:
            scores[method].append(result[method])
    n = values.size
    return NumericReference(
        name, hist, [float(e) for e in edges], ref_bins.tolist(),
        float(finite.mean()), std, int(n), float((n - int(valid.sum())) / n) if n else 0.0,
        Calibration(chunk, int(valid.sum()), scores),
    )


def _categorical_reference(name: str, col: Any, top_k: int,
                           samples: list[npt.NDArray[np.intp]], chunk: int) -> CategoricalReference:
    from .sketch import _as_string_array

    values = _as_object_list(col)
    missing = np.fromiter((v is None or (isinstance(v, float) and v != v) for v in values),
                          dtype=bool, count=len(values))
    kept = [str(v) for v, m in zip(values, missing, strict=True) if not m]
    converted = _as_string_array(np.asarray(kept, dtype=str))
    assert converted is not None
    arr = converted[0]
    uniq, inverse, freq = np.unique(arr, return_inverse=True, return_counts=True)
    order = np.argsort(-freq, kind="stable")
    top = [str(uniq[i]) for i in order[:top_k]]
    known = [str(u) for u in uniq.tolist()] if uniq.size <= MAX_KNOWN_CATEGORIES else None
    sketch = CategoricalSketch(top, known)
    code_of_unique = np.fromiter((sketch._code_of(str(u)) for u in uniq.tolist()), dtype=np.intp,
                                 count=uniq.size)
    codes_kept = code_of_unique[inverse.ravel()]
    codes = np.full(len(values), -1, dtype=np.intp)
    codes[~missing] = codes_kept
    size = len(top) + 2
    ref_counts = np.bincount(codes_kept, minlength=size).astype(np.float64)
    scores: dict[str, list[float]] = {m: [] for m in CATEGORICAL_METHODS}
    for idx in samples:
        c = codes[idx]
        part = np.bincount(c[c >= 0], minlength=size)
        result = _categorical_scores(ref_counts - part, part)
        for m in CATEGORICAL_METHODS:
            scores[m].append(result[m])
    n = len(values)
    return CategoricalReference(
        name, top, known, ref_counts.tolist(), n,
        float(missing.sum()) / n if n else 0.0,
        Calibration(chunk, int((~missing).sum()), scores),
    )


def _as_object_list(col: Any) -> list[Any]:
    if _columns.is_pandas(col):
        mask = col.isna().to_numpy()
        return [None if m else v for v, m in zip(col.astype(object).tolist(), mask, strict=True)]
    if _columns.is_arrow(col):
        return list(col.to_pylist())
    if isinstance(col, np.ndarray):
        return list(col.tolist())
    return list(col)
