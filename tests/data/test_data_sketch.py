"""ExpHistogram: OTel index mapping, exact merge (hypothesis), serialisation, categorical."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics._internal.exponential_histogram.mapping.exponent_mapping import (
    ExponentMapping,
)
from opentelemetry.sdk.metrics._internal.exponential_histogram.mapping.logarithm_mapping import (
    LogarithmMapping,
)

from aiobs_otel.drift.sketch import CategoricalSketch, ExpHistogram, NumericWindow, map_to_index

# sums of huge random floats overflow to inf, as they should
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
values = st.lists(st.one_of(finite, st.just(math.nan), st.just(math.inf), st.just(-math.inf),
                            st.just(0.0)), max_size=60)


def _sdk_mapping(scale: int):
    return LogarithmMapping(scale) if scale > 0 else ExponentMapping(scale)


def _sketch(xs, max_size=40):
    h = ExpHistogram(max_size=max_size)
    h.update(np.asarray(xs, dtype=np.float64))
    return h


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(min_value=1e-300, max_value=1e300),
                 st.integers(min_value=-900, max_value=900).map(
                     lambda k: math.nextafter(2.0**k, math.inf))),
       st.integers(min_value=-10, max_value=20))
def test_index_mapping_matches_the_otel_definition(value, scale):
    ours = int(map_to_index([value], scale)[0])
    mantissa, exponent = math.frexp(value)
    near_power = 0 < (mantissa - 0.5) * 2**53 <= 64  # a few ulps above 2**(exponent - 1)
    if scale <= 0 or not near_power:
        assert ours == _sdk_mapping(scale).map_to_index(value)
    else:  # the SDK's log method may land one bucket low here; the definition decides
        assert ours == ((exponent - 1) << scale)
    # the spec's definition: bucket i holds (base**i, base**(i+1)], in log2 terms
    lo, hi = ours / 2.0**scale, (ours + 1) / 2.0**scale
    assert lo - 1e-9 < math.log2(value) <= hi + 1e-9


@pytest.mark.parametrize("scale", [20, 7, 3, 0, -4])
def test_exact_powers_of_two_are_upper_bounds(scale):
    powers = np.array([2.0**k for k in range(-30, 30)])
    ours = map_to_index(powers, scale)
    sdk = [_sdk_mapping(scale).map_to_index(float(p)) for p in powers]
    assert ours.tolist() == sdk


def test_bulk_mapping_agrees_with_the_sdk():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 4, 5000)
    for scale in (12, 4, 1, -1):
        sdk = [_sdk_mapping(scale).map_to_index(float(v)) for v in x]
        assert map_to_index(x, scale).tolist() == sdk


@settings(max_examples=150, deadline=None)
@given(values, values, values)
def test_merge_is_associative_and_commutative(a, b, c):
    ha, hb, hc = _sketch(a), _sketch(b), _sketch(c)
    left = ha.merged(hb).merged(hc)
    right = ha.merged(hb.merged(hc))
    swapped = hc.merged(ha).merged(hb)
    assert left == right == swapped


@settings(max_examples=150, deadline=None)
@given(values, values)
def test_merge_equals_the_sketch_of_the_union(a, b):
    assert _sketch(a).merged(_sketch(b)) == _sketch(a + b)


@settings(max_examples=100, deadline=None)
@given(values)
def test_serialisation_round_trip(xs):
    h = _sketch(xs)
    assert ExpHistogram.from_bytes(h.to_bytes()) == h
    assert ExpHistogram.from_dict(h.to_dict()) == h


def test_counts_nan_inf_zero_apart_and_both_signs():
    h = ExpHistogram()
    h.update(np.array([1.0, -2.0, 0.0, np.nan, np.inf, -np.inf, 3.0]))
    assert (h.count, h.zero_count, h.nan_count, h.posinf_count, h.neginf_count) == (4, 1, 1, 1, 1)
    assert h.min == -2.0 and h.max == 3.0 and h.sum == 2.0
    assert h.buckets(1)[1].sum() == 2 and h.buckets(-1)[1].sum() == 1


def test_scale_drops_to_fit_max_size_and_record_is_buffered():
    h = ExpHistogram(max_size=160)
    rng = np.random.default_rng(0)
    x = rng.lognormal(0, 1, 100_000)
    for v in x[:10_000]:
        h.record(float(v))
    h.update(x[10_000:])
    _, counts = h.buckets(1)
    assert counts.size <= 160 and h.count == 100_000 and h.scale <= 4
    assert abs(h.quantile(0.5) - 1.0) < 0.05
    assert len(h.to_bytes()) < 1500


def test_two_processes_merge_to_the_sketch_of_the_union(tmp_path):
    code = (
        "import numpy as np, sys\n"
        "from aiobs_otel.drift.sketch import ExpHistogram\n"
        "seed = int(sys.argv[1]); rng = np.random.default_rng(seed)\n"
        "x = rng.normal(seed, 2, 30_000); x[::97] = np.nan\n"
        "h = ExpHistogram(); h.update(x)\n"
        "open(sys.argv[2], 'wb').write(h.to_bytes())\n"
    )
    parts = []
    for seed in (1, 2):
        out = tmp_path / f"part{seed}.bin"
        subprocess.run([sys.executable, "-c", code, str(seed), str(out)], check=True)
        parts.append(ExpHistogram.from_bytes(out.read_bytes()))
    union = []
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        x = rng.normal(seed, 2, 30_000)
        x[::97] = np.nan
        union.append(x)
    expected = ExpHistogram()
    expected.update(np.concatenate(union))
    assert parts[0].merged(parts[1]) == expected
    assert parts[1].merged(parts[0]) == expected


def test_categorical_sketch_top_k_other_unseen_and_merge():
    a = CategoricalSketch(["x", "y"], known={"x", "y", "z"})
    a.update(["x", "y", "z", "new", None, float("nan")])
    b = a.empty_like()
    b.update(np.array(["x", "x", "q"]))
    a.merge(b)
    assert a.counts.tolist() == [3, 1, 1, 2]
    assert a.missing == 2
    assert a.unseen_rate == pytest.approx(2 / 7)
    assert a.distinct == 5.0


@settings(max_examples=200, deadline=None)
@given(values, st.lists(st.one_of(finite, st.just(0.0)), min_size=1, max_size=9))
def test_counts_at_cuts_are_exact(xs, cuts):
    cuts = np.unique(np.asarray(cuts, dtype=np.float64))
    window = NumericWindow(ExpHistogram(max_size=20), cuts)
    half = len(xs) // 2
    window.update(np.asarray(xs[:half], dtype=np.float64))
    window.update(np.asarray(xs[half:], dtype=np.float64))
    x = np.asarray(xs, dtype=np.float64)
    x = x[np.isfinite(x)]
    expected = [int(np.count_nonzero(x <= c)) for c in cuts]
    assert window.at_or_below.tolist() == expected
    assert window.bin_counts().sum() == x.size
    plain = ExpHistogram(max_size=20)
    plain.update(np.asarray(xs, dtype=np.float64))
    assert window.hist == plain


def test_counts_widen_to_int64_before_they_could_overflow():
    from aiobs_otel.drift import sketch

    h = ExpHistogram()
    h.update(np.array([1.0, 2.0, -3.0]))
    assert h.buckets(1)[1].dtype == np.int32
    h.count = sketch._NARROW_MAX - 1  # as if it had seen 2**31 values already
    h.update(np.array([1.0, 2.0]))
    assert h.buckets(1)[1].dtype == np.int64 and h.buckets(-1)[1].dtype == np.int64
    assert ExpHistogram.from_bytes(h.to_bytes()).buckets(1)[1].dtype == np.int64


@pytest.mark.parametrize("scale", [-3, 0, 2, 9, 20])
def test_values_just_below_a_power_of_two_stay_in_the_octave_below(scale):
    # np.log2 rounds these up to k; the index must still be the last bucket below 2**k
    below = np.array([np.nextafter(2.0**k, 0.0) for k in range(-300, 300, 7)])
    ours = map_to_index(below, scale)
    if scale <= 0:
        assert ours.tolist() == [ExponentMapping(scale).map_to_index(float(v)) for v in below]
    else:
        exponents = np.frexp(below)[1].astype(np.int64)
        assert ours.tolist() == ((exponents << scale) - 1).tolist()
    h = ExpHistogram(max_size=10**6, max_scale=scale)
    h.update(below[(below > 1e-30) & (below < 1e30)])
    first, counts = h.buckets(1)
    idx = map_to_index(below[(below > 1e-30) & (below < 1e30)], h.scale)
    assert np.array_equal(np.bincount(idx - first, minlength=counts.size), counts)


def test_concurrent_updates_on_threads_do_not_share_work_buffers():
    import threading

    rng = np.random.default_rng(5)
    batches = [rng.normal(i, 3, 20_000) for i in range(4)]
    expected = []
    for x in batches:
        h = ExpHistogram()
        for _ in range(20):
            h.update(x)
        expected.append(h)
    got = [ExpHistogram() for _ in batches]

    def work(i):
        for _ in range(20):
            got[i].update(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected
