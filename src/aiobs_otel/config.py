"""The only reader of the environment: ``AIOBS_*`` and ``OTEL_*`` become one frozen ``Settings``.

Resolution order for every field is *argument → environment variable → default*, done once per
:func:`load_settings` call. A bad explicit argument raises :class:`ValueError`; a bad environment
value logs one warning and falls back to the default.

The OTLP exporter variables that the OpenTelemetry SDK reads itself (``OTEL_EXPORTER_OTLP_HEADERS``,
``..._TIMEOUT``, ``..._COMPRESSION``, ``..._CERTIFICATE``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``/``_ARG``, batch-processor sizes) are left to the SDK, which honours them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "ContentCapture",
    "DistributedIdentity",
    "Settings",
    "cuda_visible_devices",
    "distributed_identity",
    "load_settings",
]

_log = logging.getLogger("aiobs_otel")
T = TypeVar("T")

_NO_NAMES: tuple[str, ...] = ()
EXPORTER_CHOICES = ("otlp", "console", "none", "local")
PROTOCOL_CHOICES = ("grpc", "http/protobuf")


class ContentCapture(str, Enum):
    """Where prompt/response content may be recorded (GenAI conventions' opt-in values)."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)


@dataclass(frozen=True)
class Settings:
    """Every knob of the library, resolved once. See the configuration table in the README."""

    disabled: bool = False
    strict: bool = False
    service_name: str | None = None
    # export
    endpoint: str | None = None
    traces_endpoint: str | None = None
    metrics_endpoint: str | None = None
    logs_endpoint: str | None = None
    protocol: str = "http/protobuf"
    headers: Mapping[str, str] | None = None
    traces_exporter: str = "local"
    metrics_exporter: str = "local"
    logs_exporter: str = "local"
    metric_export_interval_ms: int = 60_000
    shutdown_timeout_s: float = 5.0
    # embedded local sink
    sink_dir: Path = Path(".aiobs")
    sink_max_bytes: int = 32 * 1024 * 1024
    sink_backups: int = 3
    # limits
    attribute_value_max_length: int = 16_384
    metric_cardinality_limit: int = 2000
    # GenAI
    capture_content: ContentCapture = ContentCapture.NO_CONTENT
    content_max_bytes: int = 64 * 1024
    genai_semconv_latest: bool = False
    instrument: tuple[str, ...] = ()
    pricing_file: Path | None = None
    # training
    step_span_every: int | None = None  # None: every step of the first 1000, then every 100th
    training_peak_flops: float | None = None  # dense peak FLOP/s per device (MFU)
    # GPU
    gpu: bool = False
    gpu_interval_s: float = 1.0
    gpu_mode: str = "rank"
    gpu_dcgm: bool = False
    # Prometheus scrape endpoint
    prometheus_port: int | None = None
    prometheus_host: str = "127.0.0.1"

    @property
    def otlp(self) -> bool:
        """True when any signal goes to an OTLP endpoint."""
        return "otlp" in (self.traces_exporter, self.metrics_exporter, self.logs_exporter)


# --- parsing helpers --------------------------------------------------------------------------


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _parse_positive_int(raw: str) -> int:
    value = int(raw.strip())
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {raw!r}")
    return value


def _parse_positive_float(raw: str) -> float:
    value = float(raw.strip())
    if not value > 0 or value == float("inf"):
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def _parse_span_every(raw: str) -> int | None:
    return None if raw.strip().lower() == "auto" else _parse_positive_int(raw)


def _parse_port(raw: str) -> int:
    value = int(raw.strip())
    if not 0 <= value <= 65535:
        raise ValueError(f"expected a TCP port 0-65535, got {raw!r}")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw!r}")
        return value

    return parse


def _parse_protocol(raw: str) -> str:
    value = raw.strip().lower()
    if value == "http/json":
        raise ValueError("http/json is not supported by the Python exporters; use http/protobuf")
    if value == "http":
        value = "http/protobuf"
    return _choice(PROTOCOL_CHOICES)(value)


def _parse_exporter(raw: str) -> str:
    # OTEL_*_EXPORTER may list several; the first known one wins.
    for part in raw.split(","):
        value = part.strip().lower()
        if value in EXPORTER_CHOICES:
            return value
    raise ValueError(f"expected one of {', '.join(EXPORTER_CHOICES)}, got {raw!r}")


def _parse_headers(raw: str) -> dict[str, str]:
    from urllib.parse import unquote

    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs, got {item!r}")
        headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def _parse_capture(raw: str) -> ContentCapture:
    value = raw.strip().upper()
    if value in ("TRUE", "1", "YES"):  # the older boolean form of the variable
        return ContentCapture.SPAN_AND_EVENT
    if value in ("FALSE", "0", "NO", ""):
        return ContentCapture.NO_CONTENT
    try:
        return ContentCapture(value)
    except ValueError:
        options = ", ".join(c.value for c in ContentCapture)
        raise ValueError(f"expected one of {options}, got {raw!r}") from None


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in raw.split(",") if p.strip())


def _parse_gpu_mode(raw: str) -> str:
    return _choice(("rank", "node"))(raw)


def _parse_semconv_opt_in(raw: str) -> bool:
    return "gen_ai_latest_experimental" in _parse_list(raw)


# --- the environment -----------------------------------------------------------------------------


class _Env:
    """Reads one variable at a time; a bad value warns once and yields the default."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, *names: str) -> str | None:
        for name in names:
            value = self._environ.get(name)
            if value is not None and value.strip() != "":
                return value
        return None

    def get(self, names: str | tuple[str, ...], parse: Callable[[str], T], default: T) -> T:
        names = (names,) if isinstance(names, str) else names
        for name in names:
            raw = self._environ.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                return parse(raw)
            except (ValueError, TypeError) as exc:
                _log.warning("aiobs_otel: ignoring %s=%r (%s); using the default", name, raw, exc)
                return default
        return default


def _signal_exporter(
    env: _Env, signal: str, endpoint: str | None, signal_endpoint: str | None
) -> str:
    default = "otlp" if (endpoint or signal_endpoint) else "local"
    return env.get(f"OTEL_{signal}_EXPORTER", _parse_exporter, default)


# Explicit-argument validators: (parse-from-string, type check) per field.
_VALIDATORS: dict[str, Callable[[Any], Any]] = {}


def _validator(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _VALIDATORS[name] = fn
        return fn

    return register


def _check_positive(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return kind(value)


def _validate_argument(name: str, value: Any) -> Any:
    """Turn one explicit configure() argument into its field value, or raise ValueError."""
    spec = {f.name: f for f in fields(Settings)}
    if name not in spec:
        raise ValueError(f"configure() got an unknown setting {name!r}")
    try:
        if name in ("disabled", "strict", "gpu", "gpu_dcgm", "genai_semconv_latest"):
            if not isinstance(value, bool):
                raise ValueError(f"expected a bool, got {value!r}")
            return value
        if name in ("protocol",):
            return _parse_protocol(str(value))
        if name.endswith("_exporter"):
            return _choice(EXPORTER_CHOICES)(str(value))
        if name == "capture_content":
            return value if isinstance(value, ContentCapture) else _parse_capture(str(value))
        if name == "gpu_mode":
            return _parse_gpu_mode(str(value))
        if name in (
            "metric_export_interval_ms",
            "sink_max_bytes",
            "attribute_value_max_length",
            "metric_cardinality_limit",
            "content_max_bytes",
            "step_span_every",
        ):
            return _check_positive(name, value, int)
        if name == "sink_backups":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"expected a non-negative integer, got {value!r}")
            return value
        if name in ("shutdown_timeout_s", "gpu_interval_s"):
            return _check_positive(name, value, float)
        if name == "training_peak_flops":
            return _check_positive(name, value, float)
        if name == "prometheus_port":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
                raise ValueError(f"expected a TCP port 0-65535, got {value!r}")
            return value
        if name in ("sink_dir", "pricing_file"):
            if not isinstance(value, (str, os.PathLike)):
                raise ValueError(f"expected a path, got {value!r}")
            return Path(value)
        if name == "headers":
            if isinstance(value, str):
                return _parse_headers(value)
            if not isinstance(value, Mapping):
                raise ValueError(f"expected a mapping of header names to values, got {value!r}")
            return {str(k).lower(): str(v) for k, v in value.items()}
        if name == "instrument":
            if isinstance(value, str):
                return _parse_list(value)
            return tuple(str(v).strip().lower() for v in value)
        if name in ("service_name", "endpoint", "traces_endpoint", "metrics_endpoint",
                    "logs_endpoint", "prometheus_host"):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"expected a non-empty string, got {value!r}")
            return value.strip()
    except ValueError as exc:
        raise ValueError(f"configure({name}=...): {exc}") from None
    raise ValueError(f"configure() cannot set {name!r}")  # pragma: no cover - table above is total


def _infer_protocol(endpoint: str | None) -> str | None:
    """4317 means gRPC and 4318 (or a /v1/<signal> path) HTTP, when the protocol is not given."""
    if not endpoint:
        return None
    from urllib.parse import urlparse

    try:
        parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
        port = parsed.port
    except ValueError:
        return None
    if port == 4317:
        return "grpc"
    if port == 4318 or parsed.path.rstrip("/").startswith("/v1/"):
        return "http/protobuf"
    return None


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Resolve settings: explicit ``overrides`` → environment → defaults.

    >>> load_settings({"AIOBS_SINK_DIR": "/tmp/t"}, service_name="bot").service_name
    'bot'
    """
    explicit = {name: _validate_argument(name, value) for name, value in overrides.items()
                if value is not None}
    env = _Env(os.environ if environ is None else environ)

    endpoint = env.raw("OTEL_EXPORTER_OTLP_ENDPOINT")
    traces_ep = env.raw("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    metrics_ep = env.raw("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    logs_ep = env.raw("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    endpoint = explicit.get("endpoint", endpoint)
    any_endpoint = endpoint or traces_ep or metrics_ep or logs_ep
    protocol_default = _infer_protocol(endpoint or traces_ep) or "http/protobuf"

    values: dict[str, Any] = {
        "disabled": env.get(("AIOBS_DISABLED",), _parse_bool, False)
        or env.get("OTEL_SDK_DISABLED", _parse_bool, False),
        "strict": env.get("AIOBS_STRICT", _parse_bool, False),
        "service_name": env.raw("OTEL_SERVICE_NAME"),
        "endpoint": endpoint,
        "traces_endpoint": traces_ep,
        "metrics_endpoint": metrics_ep,
        "logs_endpoint": logs_ep,
        "protocol": env.get("OTEL_EXPORTER_OTLP_PROTOCOL", _parse_protocol, protocol_default),
        "headers": None,  # the SDK exporters read OTEL_EXPORTER_OTLP_HEADERS themselves
        "traces_exporter": _signal_exporter(env, "TRACES", any_endpoint, traces_ep),
        "metrics_exporter": _signal_exporter(env, "METRICS", any_endpoint, metrics_ep),
        "logs_exporter": _signal_exporter(env, "LOGS", any_endpoint, logs_ep),
        "metric_export_interval_ms": env.get(
            "OTEL_METRIC_EXPORT_INTERVAL", _parse_positive_int, 60_000 if any_endpoint else 10_000
        ),
        "shutdown_timeout_s": env.get("AIOBS_SHUTDOWN_TIMEOUT", _parse_positive_float, 5.0),
        "sink_dir": Path(env.raw("AIOBS_SINK_DIR") or ".aiobs"),
        "sink_max_bytes": env.get("AIOBS_SINK_MAX_BYTES", _parse_positive_int, 32 * 1024 * 1024),
        "sink_backups": env.get("AIOBS_SINK_BACKUPS", lambda r: max(0, int(r)), 3),
        "attribute_value_max_length": env.get(
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", _parse_positive_int, 16_384
        ),
        "metric_cardinality_limit": env.get(
            "AIOBS_METRIC_CARDINALITY_LIMIT", _parse_positive_int, 2000
        ),
        "capture_content": env.get(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            _parse_capture,
            ContentCapture.NO_CONTENT,
        ),
        "content_max_bytes": env.get("AIOBS_CONTENT_MAX_BYTES", _parse_positive_int, 64 * 1024),
        "genai_semconv_latest": env.get(
            "AIOBS_GENAI_SEMCONV_LATEST", _parse_bool, False
        ) or env.get("OTEL_SEMCONV_STABILITY_OPT_IN", _parse_semconv_opt_in, False),
        "instrument": env.get("AIOBS_INSTRUMENT", _parse_list, _NO_NAMES),
        "pricing_file": Path(p) if (p := env.raw("AIOBS_PRICING_FILE")) else None,
        "step_span_every": env.get("AIOBS_TRAINING_STEP_SPAN_EVERY", _parse_span_every, None),
        "training_peak_flops": env.get(
            "AIOBS_TRAINING_PEAK_FLOPS", _parse_positive_float, None
        ),
        "gpu": env.get("AIOBS_GPU", _parse_bool, False),
        "gpu_interval_s": env.get("AIOBS_GPU_INTERVAL", _parse_positive_float, 1.0),
        "gpu_mode": env.get("AIOBS_GPU_MODE", _parse_gpu_mode, "rank"),
        "gpu_dcgm": env.get("AIOBS_GPU_DCGM", _parse_bool, False),
        "prometheus_port": env.get("AIOBS_PROMETHEUS_PORT", _parse_port, None),
        "prometheus_host": env.raw("AIOBS_PROMETHEUS_HOST") or "127.0.0.1",
    }
    values.update(explicit)
    if "endpoint" in explicit:
        # An explicit endpoint turns on OTLP for every signal not set to something else explicitly.
        for signal in ("traces", "metrics", "logs"):
            key = f"{signal}_exporter"
            if key not in explicit and values[key] == "local":
                values[key] = "otlp"
        if "protocol" not in explicit and env.raw("OTEL_EXPORTER_OTLP_PROTOCOL") is None:
            values["protocol"] = _infer_protocol(explicit["endpoint"]) or "http/protobuf"
    return Settings(**values)


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with validated ``changes``."""
    return replace(settings, **{k: _validate_argument(k, v) for k, v in changes.items()})


# --- process facts other layers need (kept here: this is the only module that reads os.environ) --


@dataclass(frozen=True)
class DistributedIdentity:
    """Where this process sits in a distributed job, from torchrun, Slurm or MPI variables."""

    rank: int | None = None
    local_rank: int | None = None
    world_size: int | None = None
    job_id: str | None = None
    launcher: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def distributed_identity(environ: Mapping[str, str] | None = None) -> DistributedIdentity:
    """Rank, local rank, world size and job id from the launcher's environment variables."""
    e = os.environ if environ is None else environ
    launchers: tuple[tuple[str, str, str, str, str], ...] = (
        ("torchrun", "RANK", "LOCAL_RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID"),
        ("slurm", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS", "SLURM_JOB_ID"),
        ("openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_SIZE",
         "OMPI_MCA_ess_base_jobid"),
        ("mpich", "PMI_RANK", "MPI_LOCALRANKID", "PMI_SIZE", "PMI_JOBID"),
    )
    for launcher, rank, local, world, job in launchers:
        if rank in e:
            return DistributedIdentity(
                rank=_int_or_none(e.get(rank)),
                local_rank=_int_or_none(e.get(local)),
                world_size=_int_or_none(e.get(world)),
                job_id=e.get(job) or e.get("SLURM_JOB_ID"),
                launcher=launcher,
            )
    if "SLURM_JOB_ID" in e:
        return DistributedIdentity(job_id=e["SLURM_JOB_ID"], launcher="slurm")
    return DistributedIdentity()


def cuda_visible_devices(environ: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
    """The ``CUDA_VISIBLE_DEVICES`` entries (indices or UUIDs), or None when unset."""
    e = os.environ if environ is None else environ
    raw = e.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return None
    return tuple(p.strip() for p in raw.split(",") if p.strip())
