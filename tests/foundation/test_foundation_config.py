"""Settings resolve argument → environment → default; bad input fails loudly or falls back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiobs_otel.config import (
    ContentCapture,
    cuda_visible_devices,
    distributed_identity,
    load_settings,
)


def test_defaults_use_the_local_sink():
    s = load_settings({})
    assert (s.traces_exporter, s.metrics_exporter, s.logs_exporter) == ("local",) * 3
    assert s.sink_dir == Path(".aiobs")
    assert s.capture_content is ContentCapture.NO_CONTENT
    assert not s.disabled and not s.otlp


def test_endpoint_env_turns_on_otlp_and_infers_protocol():
    s = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert s.otlp and s.protocol == "grpc" and s.traces_exporter == "otlp"
    s = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert s.protocol == "http/protobuf"
    s = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
                       "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    assert s.protocol == "http/protobuf"


def test_argument_beats_environment():
    env = {"OTEL_SERVICE_NAME": "from-env", "AIOBS_SINK_DIR": "/tmp/env"}
    s = load_settings(env, service_name="from-arg", sink_dir="/tmp/arg")
    assert s.service_name == "from-arg" and s.sink_dir == Path("/tmp/arg")
    assert load_settings(env).service_name == "from-env"


def test_explicit_endpoint_switches_signals_to_otlp():
    s = load_settings({}, endpoint="http://127.0.0.1:4318")
    assert s.traces_exporter == s.metrics_exporter == s.logs_exporter == "otlp"
    s = load_settings({}, endpoint="http://127.0.0.1:4318", logs_exporter="none")
    assert s.logs_exporter == "none"


@pytest.mark.parametrize("name,value", [
    ("shutdown_timeout_s", -1), ("shutdown_timeout_s", "soon"), ("protocol", "carrier-pigeon"),
    ("traces_exporter", "zipkin2"), ("prometheus_port", 70000), ("step_span_every", 0),
    ("disabled", "yes"), ("capture_content", "EVERYTHING"), ("no_such_setting", 1),
    ("endpoint", ""),
])
def test_bad_explicit_argument_raises_value_error(name, value):
    with pytest.raises(ValueError, match=name):
        load_settings({}, **{name: value})


def test_bad_environment_value_warns_once_and_falls_back(caplog):
    with caplog.at_level(logging.WARNING, logger="aiobs_otel"):
        s = load_settings({"AIOBS_SHUTDOWN_TIMEOUT": "soon", "AIOBS_GPU_INTERVAL": "-2",
                           "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "LOTS"})
    assert s.shutdown_timeout_s == 5.0 and s.gpu_interval_s == 1.0
    assert s.capture_content is ContentCapture.NO_CONTENT  # an invalid setting means off
    messages = [r.getMessage() for r in caplog.records]
    assert sum("AIOBS_SHUTDOWN_TIMEOUT" in m for m in messages) == 1
    assert any("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in m for m in messages)


def test_disabled_by_either_variable():
    assert load_settings({"AIOBS_DISABLED": "true"}).disabled
    assert load_settings({"OTEL_SDK_DISABLED": "TRUE"}).disabled
    assert not load_settings({"OTEL_SDK_DISABLED": "false"}).disabled


def test_semconv_opt_in_and_capture_modes():
    assert load_settings({"OTEL_SEMCONV_STABILITY_OPT_IN": "http,gen_ai_latest_experimental"}
                         ).genai_semconv_latest
    for mode in ContentCapture:
        got = load_settings({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": mode.value})
        assert got.capture_content is mode
    assert load_settings({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
                         ).capture_content is ContentCapture.SPAN_AND_EVENT


def test_exporter_lists_take_the_first_known_value():
    assert load_settings({"OTEL_TRACES_EXPORTER": "zipkin,console"}).traces_exporter == "console"


def test_settings_are_frozen():
    s = load_settings({})
    with pytest.raises(AttributeError):
        s.disabled = True  # type: ignore[misc]


def test_distributed_identity_from_launchers():
    ident = distributed_identity({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "8",
                                  "TORCHELASTIC_RUN_ID": "job-7"})
    assert (ident.rank, ident.local_rank, ident.world_size, ident.job_id) == (3, 1, 8, "job-7")
    assert ident.launcher == "torchrun"
    slurm = distributed_identity({"SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NTASKS": "16",
                                  "SLURM_JOB_ID": "991"})
    assert (slurm.rank, slurm.world_size, slurm.job_id, slurm.launcher) == (5, 16, "991", "slurm")
    assert distributed_identity({}).rank is None


def test_cuda_visible_devices():
    assert cuda_visible_devices({}) is None
    assert cuda_visible_devices({"CUDA_VISIBLE_DEVICES": "2, GPU-abc"}) == ("2", "GPU-abc")


@given(st.dictionaries(
    st.sampled_from(["AIOBS_SHUTDOWN_TIMEOUT", "AIOBS_GPU_INTERVAL", "OTEL_EXPORTER_OTLP_PROTOCOL",
                     "AIOBS_SINK_MAX_BYTES", "AIOBS_PROMETHEUS_PORT", "OTEL_TRACES_EXPORTER",
                     "AIOBS_GPU", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
                     "AIOBS_TRAINING_STEP_SPAN_EVERY", "OTEL_EXPORTER_OTLP_ENDPOINT"]),
    st.text(max_size=20)))
def test_any_environment_yields_valid_settings(environ):
    s = load_settings(environ)  # never raises, whatever the environment holds
    assert s.shutdown_timeout_s > 0 and s.gpu_interval_s > 0 and s.sink_max_bytes > 0
    assert s.protocol in ("grpc", "http/protobuf")
    assert s.traces_exporter in ("otlp", "console", "none", "local")
