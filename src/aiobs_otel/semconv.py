"""Every telemetry name this library emits: attribute keys, metric names, units, buckets, span names.

OpenTelemetry semantic-convention names are used wherever a convention exists (GenAI, hardware
``hw.*``, ``error.type``). Our own names live under the ``aiobs.`` prefix and are documented in
``docs/reference.md``. No other module spells a ``gen_ai.`` or ``aiobs.`` name literally.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "aiobs"
SCOPE_NAME: Final = "aiobs_otel"

# --- general (OpenTelemetry) --------------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
SERVICE_NAME: Final = "service.name"
OTHER_VALUE: Final = "_OTHER"  # the conventions' fallback value for unknown / over-cap values

# --- resource: distributed identity (aiobs.*) -----------------------------------------------------
RESOURCE_RANK: Final = "aiobs.distributed.rank"
RESOURCE_LOCAL_RANK: Final = "aiobs.distributed.local_rank"
RESOURCE_WORLD_SIZE: Final = "aiobs.distributed.world_size"
RESOURCE_JOB_ID: Final = "aiobs.job.id"
RESOURCE_LAUNCHER: Final = "aiobs.distributed.launcher"

# --- self-telemetry (aiobs.sdk.*) ----------------------------------------------------------------
SDK_INTERNAL_ERRORS: Final = "aiobs.sdk.internal_errors"  # counter, {error}
SDK_HOOK: Final = "aiobs.sdk.hook"
SDK_DROPPED: Final = "aiobs.sdk.dropped"  # counter, {item}
SDK_DROP_REASON: Final = "aiobs.sdk.drop.reason"
SDK_SIGNAL: Final = "aiobs.sdk.signal"

# --- GenAI (gen_ai.*, aiobs.genai.*) -------------------------------------------------------------

# --- training (aiobs.training.*) -----------------------------------------------------------------

# --- data pipelines and drift (aiobs.data.*, aiobs.drift.*) --------------------------------------

# --- GPU (hw.*, aiobs.gpu.*, DCGM-compatible) -----------------------------------------------------

# --- model quality and evaluations (aiobs.model.*, gen_ai.evaluation.*) ---------------------------
