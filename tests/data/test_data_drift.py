"""DriftMonitor: accuracy against exact values, false alarms, detection, telemetry, profiles."""

from __future__ import annotations

import numpy as np
import pytest

import aiobs_otel as aiobs
from aiobs_otel import semconv
from aiobs_otel.drift import DriftMonitor, ReferenceProfile, build_reference
from aiobs_otel.drift.distance import PSI_EPS, psi

CATS = np.array(["card", "cash", "wire", "crypto", "check"])
P_CATS = np.array([0.5, 0.25, 0.15, 0.07, 0.03])


def _frame(rng, n, shift=0.0, cat_p=P_CATS, nan_every=40):
    x = rng.normal(shift, 1.0, n)
    x[::nan_every] = np.nan
    y = rng.lognormal(0.0 + shift / 2, 0.8, n)
    c = rng.choice(CATS, n, p=cat_p).astype(object)
    c[::nan_every] = None
    return {"amount": x, "latency": y, "method": c}


def _exact_psi(ref, cur, bins=10):
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    bins = edges.size + 1
    p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=bins)
    q = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=bins)
    return psi(p, q, PSI_EPS)


def _exact_ks(a, b):
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.2, 0.5])
@pytest.mark.parametrize("law", ["normal", "lognormal", "bimodal", "poisson", "mixed"])
def test_psi_and_ks_match_exact_values_at_1e5(law, shift):
    rng = np.random.default_rng(7)
    n = 100_000

    def draw(s):
        if law == "normal":
            return rng.normal(5 + s, 3, n)
        if law == "lognormal":
            return rng.lognormal(s, 1, n)
        if law == "poisson":  # discrete: tied quantile edges and point masses
            return rng.poisson(4 + 4 * s, n).astype(float)
        if law == "mixed":  # a point mass at zero plus a continuous part
            x = rng.exponential(1 + s, n)
            x[rng.random(n) < 0.3] = 0.0
            return x
        return np.concatenate([rng.normal(-2 + s, 0.5, n // 2), rng.normal(3 + s, 1, n // 2)])

    ref, cur = draw(0.0), draw(shift)
    ref[::100] = np.nan
    profile = build_reference({"x": ref}, calibration_chunks=2)
    window = profile.features["x"].new_sketch()
    window.update(cur)
    got = profile.features["x"].scores(window)
    assert abs(got["psi"] - _exact_psi(ref, cur)) <= 0.002
    assert abs(got["ks"] - _exact_ks(ref, cur)) <= 0.005


def test_no_alarm_on_no_drift_windows_over_many_seeds():
    alarms = 0
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        monitor = DriftMonitor(name=f"nodrift{seed}", reference=_frame(rng, 60_000),
                               window_size=5_000, export_sketches=False)
        for _ in range(10):
            monitor.observe(_frame(rng, 5_000))
            alarms += sum(row["status"] in ("warn", "drift") for row in monitor.scores().values())
    assert alarms == 0


def _first_alarm(monitor, rng, windows, shift_at, shift_of):
    for w in range(windows):
        monitor.observe(shift_of(rng, w - shift_at) if w >= shift_at else _frame(rng, 5_000))
        statuses = monitor.scores()
        if w >= shift_at and any(statuses[f]["status"] == "drift" for f in statuses):
            return w - shift_at, statuses
    return None, monitor.scores()


def test_sudden_numeric_shift_alarms_within_a_few_windows():
    rng = np.random.default_rng(1)
    monitor = DriftMonitor(name="sudden", reference=_frame(rng, 60_000), window_size=5_000,
                           export_sketches=False)
    lag, statuses = _first_alarm(monitor, rng, 12, 4, lambda r, _w: _frame(r, 5_000, shift=0.4))
    assert lag is not None and lag <= 3
    assert statuses["amount"]["status"] == "drift"
    assert statuses["method"]["status"] == "ok"


def test_gradual_numeric_drift_alarms_within_a_few_windows_of_mattering():
    rng = np.random.default_rng(2)
    monitor = DriftMonitor(name="gradual", reference=_frame(rng, 60_000), window_size=5_000,
                           export_sketches=False)
    # the mean creeps by 0.03 sd per window
    lag, statuses = _first_alarm(monitor, rng, 30, 2,
                                 lambda r, w: _frame(r, 5_000, shift=0.03 * (w + 1)))
    assert lag is not None and lag <= 12, statuses


def test_categorical_shift_with_unseen_values_alarms():
    rng = np.random.default_rng(3)
    monitor = DriftMonitor(name="cat", reference=_frame(rng, 60_000), window_size=5_000,
                           export_sketches=False)
    shifted_p = np.array([0.35, 0.25, 0.15, 0.15, 0.10])

    def shifted(r, _w):
        frame = _frame(r, 5_000, cat_p=shifted_p)
        frame["method"][1::50] = "voucher"  # never seen in the reference
        return frame

    lag, statuses = _first_alarm(monitor, rng, 12, 3, shifted)
    assert lag is not None and lag <= 3
    assert statuses["method"]["status"] == "drift"
    assert statuses["amount"]["status"] == "ok"


def test_insufficient_data_and_hysteresis_cooldown():
    rng = np.random.default_rng(4)
    monitor = DriftMonitor(name="small", reference=_frame(rng, 20_000), window_size=500,
                           min_count=1000, export_sketches=False)
    monitor.observe(_frame(rng, 500))
    assert {row["status"] for row in monitor.scores().values()} == {"insufficient_data"}
    # by default windows smaller than 1000 rows are scored, with thresholds for their size
    small = DriftMonitor(name="small2", reference=_frame(rng, 20_000), window_size=500,
                         export_sketches=False)
    for _ in range(8):
        small.observe(_frame(rng, 500))
        assert all(row["status"] == "ok" for row in small.scores().values())
    for _ in range(3):
        small.observe(_frame(rng, 500, shift=1.0))
    assert small.scores()["amount"]["status"] == "drift"
    # one wild window alone does not raise the status (k of m = 3 of 5)
    monitor2 = DriftMonitor(name="flap", reference=_frame(rng, 60_000), window_size=5_000,
                            export_sketches=False)
    monitor2.observe(_frame(rng, 5_000, shift=1.0))
    assert monitor2.scores()["amount"]["status"] == "ok"
    for _ in range(3):
        monitor2.observe(_frame(rng, 5_000, shift=1.0))
    assert monitor2.scores()["amount"]["status"] == "drift"


def test_telemetry_gauges_event_and_exported_sketches(aiobs_capture):
    rng = np.random.default_rng(5)
    monitor = aiobs.DriftMonitor(name="fraud-model", reference=_frame(rng, 40_000),
                                 window_size=5_000)
    for shift in (0, 0, 0.8, 0.8, 0.8):
        monitor.observe(_frame(rng, 5_000, shift=shift))
    collected = aiobs_capture.metrics()  # one collect: the sketches are drained by it

    def points(name):
        return [p for p in collected if p.name == name]

    scores = points(semconv.DRIFT_SCORE)
    methods = {p.attributes[semconv.DRIFT_METHOD] for p in scores}
    assert methods == {"psi", "ks", "js", "wasserstein"}
    status = {p.attributes[semconv.DRIFT_FEATURE]: p.value
              for p in points(semconv.DRIFT_STATUS)}
    assert status["amount"] == 2 and status["method"] == 0
    events = aiobs_capture.logs(semconv.EVENT_DRIFT_DETECTED)
    assert len(events) == 1
    body = events[0].log_record.body
    assert body["monitor"] == "fraud-model" and body["features"][0]["feature"] in (
        "amount", "latency")
    # category values never become attributes
    for point in collected:
        assert not set(map(str, point.attributes.values())) & set(CATS)
    # the windows' sketches were exported as mergeable points
    dist = points(semconv.DRIFT_DISTRIBUTION)
    assert {p.instrument_kind for p in dist} == {"ExponentialHistogram"}
    amount = next(p for p in dist if p.attributes[semconv.DRIFT_FEATURE] == "amount")
    assert amount.point.count == 5 * 5_000 - 5 * 125  # NaNs are not in the distribution
    bins = [p for p in points(semconv.DRIFT_REFERENCE_BINS)
            if p.attributes[semconv.DRIFT_FEATURE] == "method"]
    assert bins and len(bins[0].point.bucket_counts) == len(CATS) + 2
    # drained once: a second collect carries no new sketches
    assert not aiobs_capture.metrics(semconv.DRIFT_DISTRIBUTION)


def test_reference_profile_is_content_hashed_and_round_trips(tmp_path):
    rng = np.random.default_rng(6)
    data = _frame(rng, 20_000)
    data["emb"] = rng.normal(size=(20_000, 16))
    a = build_reference(data)
    b = build_reference(data)
    assert a.id == b.id and a.id.startswith("sha256:")
    path = a.save(tmp_path / "ref.json")
    loaded = ReferenceProfile.load(path)
    assert loaded.id == a.id
    assert path.stat().st_size < 40_000 * len(a.features)
    monitor = DriftMonitor(name="from-file", reference=str(path), window_size=5_000,
                           export_sketches=False)
    shifted = _frame(rng, 5_000)
    shifted["emb"] = rng.normal(0.5, 1, size=(5_000, 16))
    for _ in range(3):
        monitor.observe(shifted)
    scores = monitor.scores()
    assert scores["emb[norm]"]["status"] == "drift"
    assert scores["amount"]["status"] == "ok"
    tampered = path.read_text().replace('"psi_bins":10', '"psi_bins":9')
    (tmp_path / "bad.json").write_text(tampered)
    with pytest.raises(ValueError):
        ReferenceProfile.load(tmp_path / "bad.json")


def test_time_windows_and_records_input():
    rng = np.random.default_rng(8)
    now = [0.0]
    from datetime import timedelta

    monitor = DriftMonitor(name="timed", reference=_frame(rng, 20_000),
                           window_size=timedelta(minutes=1), clock=lambda: now[0],
                           export_sketches=False, min_count=100)
    rows = [{"amount": float(v), "latency": 1.0, "method": "card"} for v in rng.normal(size=300)]
    monitor.observe(rows)
    assert monitor.windows == 0
    now[0] = 61.0
    monitor.observe(rows)
    assert monitor.windows == 1
    assert monitor.scores()["latency"]["status"] in ("ok", "warn", "drift")


def test_cooldown_limits_alerts_of_a_flapping_feature(aiobs_capture):
    rng = np.random.default_rng(9)
    reference = _frame(rng, 40_000)

    def run(cooldown):
        aiobs_capture.clear()
        monitor = DriftMonitor(name=f"flap{cooldown}", reference=reference, window_size=4_000,
                               cooldown_windows=cooldown, export_sketches=False)
        statuses = []
        for shift in [0.8] * 4 + [0.0] * 7 + [0.8] * 4:
            monitor.observe(_frame(rng, 4_000, shift=shift))
            statuses.append(monitor.scores()["amount"]["status"])
        return statuses, len(aiobs_capture.logs(semconv.EVENT_DRIFT_DETECTED))

    statuses, events = run(cooldown=12)
    assert statuses[3] == "drift" and statuses[10] == "ok" and statuses[-1] == "drift"
    assert events == 1
    assert run(cooldown=2)[1] == 2
