"""Every telemetry name this library emits: attribute keys, metric names, units, span names.

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
SDK_DEFERRED_OVERFLOW: Final = "aiobs.sdk.deferred.overflow"  # observable counter, {measurement}

# --- GenAI (gen_ai.*, aiobs.genai.*) -------------------------------------------------------------
# Two profiles: the default is semantic-conventions v1.41.x (the last core release with GenAI);
# "latest" is open-telemetry/semantic-conventions-genai main at the commit below (no tagged
# release exists). Names shared by both profiles have no suffix; profile-specific ones say so.
GENAI_LATEST_COMMIT: Final = "e9de14ba"  # semantic-conventions-genai main, PR #571 (+ #584)

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_REASONING_LEVEL: Final = "gen_ai.request.reasoning.level"  # latest only
GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID: Final = "gen_ai.request.previous_response.id"  # latest only
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
# v1.41 name; "latest" renamed it cache_write
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"  # latest
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
GEN_AI_INVOCATION_IS_NESTED: Final = "gen_ai.invocation.is_nested"  # latest only
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"  # v1.41 token.usage histogram: input | output
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"  # latest usage counters
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"

# gen_ai.operation.name values
GEN_AI_OP_CHAT: Final = "chat"
GEN_AI_OP_TEXT_COMPLETION: Final = "text_completion"
GEN_AI_OP_GENERATE_CONTENT: Final = "generate_content"
GEN_AI_OP_EMBEDDINGS: Final = "embeddings"
GEN_AI_OP_INVOKE_AGENT: Final = "invoke_agent"
GEN_AI_OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
GEN_AI_OP_EXECUTE_TOOL: Final = "execute_tool"
GEN_AI_TOKEN_TYPE_INPUT: Final = "input"
GEN_AI_TOKEN_TYPE_OUTPUT: Final = "output"

# metrics, v1.41 profile (default)
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"  # histogram, s
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"  # histogram, {token}
GEN_AI_CLIENT_OPERATION_TTFC: Final = "gen_ai.client.operation.time_to_first_chunk"  # s
GEN_AI_CLIENT_OPERATION_TPOC: Final = "gen_ai.client.operation.time_per_output_chunk"  # s
GEN_AI_INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"  # histogram, s
GEN_AI_INVOKE_WORKFLOW_DURATION: Final = "gen_ai.invoke_workflow.duration"  # histogram, s
# metrics, latest profile
GEN_AI_CLIENT_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"  # histogram, s
GEN_AI_CLIENT_INFERENCE_TTFC: Final = "gen_ai.client.inference.time_to_first_chunk"
GEN_AI_CLIENT_INFERENCE_TPOC: Final = "gen_ai.client.inference.time_per_output_chunk"
GEN_AI_CLIENT_INFERENCE_USAGE_INPUT: Final = "gen_ai.client.inference.usage.input_tokens"
GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT: Final = "gen_ai.client.inference.usage.output_tokens"
GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ: Final = (
    "gen_ai.client.inference.usage.cache_read.input_tokens"
)
GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE: Final = (
    "gen_ai.client.inference.usage.cache_write.input_tokens"
)
GEN_AI_CLIENT_INFERENCE_USAGE_REASONING: Final = (
    "gen_ai.client.inference.usage.reasoning.output_tokens"
)
GEN_AI_CLIENT_INFERENCE_OP_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
GEN_AI_CLIENT_INFERENCE_OP_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
GEN_AI_CLIENT_EMBEDDINGS_DURATION: Final = "gen_ai.client.embeddings.duration"
GEN_AI_CLIENT_EMBEDDINGS_OP_INPUT_TOKENS: Final = "gen_ai.client.embeddings.operation.input_tokens"
GEN_AI_INVOCATION_DURATION: Final = "gen_ai.invocation.duration"
# both profiles
GEN_AI_EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"  # histogram, s

# advised bucket boundaries
GEN_AI_DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
GEN_AI_TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
GEN_AI_INVOCATION_BUCKETS: Final = (
    0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6,
)

# events (log records)
GEN_AI_EVENT_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"

# our own GenAI names (aiobs.genai.*)
AIOBS_GENAI_COST: Final = "aiobs.genai.cost"  # span attribute (float) and counter
AIOBS_GENAI_COST_CURRENCY: Final = "aiobs.genai.cost.currency"  # "USD"
AIOBS_GENAI_PRICING_SOURCE: Final = "aiobs.genai.pricing.source"  # builtin:<date> | file | runtime
AIOBS_GENAI_CONTENT_TRUNCATED: Final = "aiobs.genai.content.truncated"  # bool, content cut to fit
AIOBS_GENAI_STREAM_CHUNKS: Final = "aiobs.genai.stream.chunks"  # int, chunks received

# --- training (aiobs.training.*) -----------------------------------------------------------------
# spans and events
TRAINING_RUN_SPAN: Final = "training_run"  # span name: "training_run {run name}"
TRAINING_STEP_SPAN: Final = "train_step"
TRAINING_CHECKPOINT_SPAN: Final = "checkpoint"
TRAINING_ANOMALY_EVENT: Final = "aiobs.training.anomaly"  # span event and log event name
# attributes
TRAINING_RUN_NAME: Final = "aiobs.training.run.name"
TRAINING_FRAMEWORK: Final = "aiobs.training.framework"
TRAINING_MODEL_NAME: Final = "aiobs.training.model.name"
TRAINING_MODEL_PARAMETERS: Final = "aiobs.training.model.parameters"
TRAINING_TOKENS_PER_SAMPLE: Final = "aiobs.training.tokens_per_sample"
TRAINING_FLOPS_PER_SAMPLE: Final = "aiobs.training.flops_per_sample"
TRAINING_PRECISION: Final = "aiobs.training.precision"
TRAINING_PEAK_FLOPS_ATTR: Final = "aiobs.training.peak_flops"
TRAINING_TIMING: Final = "aiobs.training.timing"  # "cuda_event" | "host"
TRAINING_DEVICE: Final = "aiobs.training.device"  # "cuda:1", "cpu"
TRAINING_DEVICE_NAME: Final = "aiobs.training.device.name"
TRAINING_DEVICE_UUID: Final = "aiobs.training.device.uuid"  # same value as hw.id of GPU metrics
TRAINING_DISTRIBUTED_BACKEND: Final = "aiobs.distributed.backend"
TRAINING_STEP: Final = "aiobs.training.step"
TRAINING_STEPS: Final = "aiobs.training.steps"  # run span: steps completed
TRAINING_EPOCH: Final = "aiobs.training.epoch"
TRAINING_BATCH_SIZE: Final = "aiobs.training.batch_size"
TRAINING_TOKENS_ATTR: Final = "aiobs.training.tokens"
TRAINING_LOSS_ATTR: Final = "aiobs.training.loss"
TRAINING_GRAD_NORM_ATTR: Final = "aiobs.training.grad_norm"
TRAINING_LR_ATTR: Final = "aiobs.training.learning_rate"
TRAINING_STEP_DURATION_ATTR: Final = "aiobs.training.step.duration"
TRAINING_DATA_WAIT_ATTR: Final = "aiobs.training.data_wait.duration"
TRAINING_CHECKPOINT_PATH: Final = "aiobs.training.checkpoint.path"
TRAINING_ANOMALY_KIND: Final = "aiobs.training.anomaly.kind"
TRAINING_ANOMALY_KIND_SHORT: Final = "kind"  # the counter's short alias, as the issue names it
TRAINING_ANOMALY_VALUE: Final = "aiobs.training.anomaly.value"
TRAINING_ANOMALY_SCORE: Final = "aiobs.training.anomaly.score"
TRAINING_ANOMALY_THRESHOLD: Final = "aiobs.training.anomaly.threshold"
TRAINING_ANOMALY_SUPPRESSED: Final = "aiobs.training.anomaly.suppressed"
# anomaly kinds
ANOMALY_LOSS_NAN: Final = "loss_nan"
ANOMALY_LOSS_INF: Final = "loss_inf"
ANOMALY_GRAD_NORM_NAN: Final = "grad_norm_nan"
ANOMALY_GRAD_NORM_INF: Final = "grad_norm_inf"
ANOMALY_LOSS_SPIKE: Final = "loss_spike"
ANOMALY_DATA_STALL: Final = "data_stall"
# metrics (name, unit)
TRAINING_STEP_DURATION: Final = "aiobs.training.step.duration"  # histogram, s
TRAINING_DATA_WAIT_DURATION: Final = "aiobs.training.data_wait.duration"  # histogram, s
TRAINING_CHECKPOINT_DURATION: Final = "aiobs.training.checkpoint.duration"  # histogram, s
TRAINING_LOSS: Final = "aiobs.training.loss"  # gauge, 1
TRAINING_GRAD_NORM: Final = "aiobs.training.grad_norm"  # gauge, 1
TRAINING_LEARNING_RATE: Final = "aiobs.training.learning_rate"  # gauge, 1
TRAINING_SAMPLES: Final = "aiobs.training.samples"  # counter, {sample}
TRAINING_TOKENS: Final = "aiobs.training.tokens"  # counter, {token}
TRAINING_STEP_COUNT: Final = "aiobs.training.step.count"  # counter, {step}
TRAINING_THROUGHPUT: Final = "aiobs.training.throughput"  # gauge, {sample}/s
TRAINING_TOKEN_THROUGHPUT: Final = "aiobs.training.token_throughput"  # gauge, {token}/s
TRAINING_MFU: Final = "aiobs.training.mfu"  # gauge, 1
TRAINING_ACHIEVED_FLOPS: Final = "aiobs.training.achieved_flops"  # gauge, {flop}/s
TRAINING_PEAK_FLOPS: Final = "aiobs.training.peak_flops"  # gauge, {flop}/s (MFU's denominator)
TRAINING_ANOMALIES: Final = "aiobs.training.anomalies"  # counter, {anomaly}
TRAINING_DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0,
)

# --- data pipelines and drift (aiobs.data.*, aiobs.drift.*) --------------------------------------
# pipeline stages: span "pipeline_stage {name}", metrics aiobs.data.*
SPAN_PIPELINE_STAGE: Final = "pipeline_stage"
DATA_STAGE: Final = "aiobs.data.stage"  # attribute: stage name
DATA_DATASET: Final = "aiobs.data.dataset"  # attribute: dataset name
DATA_DROP_REASON: Final = "aiobs.data.drop.reason"
DATA_COLUMN: Final = "aiobs.data.column"
DATA_DIRECTION: Final = "aiobs.data.direction"  # "input" | "output"
DATA_SCHEMA_FINGERPRINT: Final = "aiobs.data.schema.fingerprint"
DATA_INPUT_RECORDS: Final = "aiobs.data.input.records"  # span attribute
DATA_OUTPUT_RECORDS: Final = "aiobs.data.output.records"  # span attribute
DATA_UPSTREAM_STAGE: Final = "aiobs.data.upstream.stage"  # link attribute
DATA_RECORDS_IN: Final = "aiobs.data.records.in"  # counter, {record}
DATA_RECORDS_OUT: Final = "aiobs.data.records.out"  # counter, {record}
DATA_RECORDS_DROPPED: Final = "aiobs.data.records.dropped"  # counter, {record}
DATA_STAGE_DURATION: Final = "aiobs.data.stage.duration"  # histogram, s
DATA_STAGE_FAILURES: Final = "aiobs.data.stage.failures"  # counter, {failure}
DATA_BYTES: Final = "aiobs.data.bytes"  # counter, By (direction attribute)
DATA_NULL_RATE: Final = "aiobs.data.null_rate"  # gauge, 1 (column, direction)
DATA_NAN_RATE: Final = "aiobs.data.nan_rate"  # gauge, 1 (column, direction)
DATA_SCHEMA_COLUMNS: Final = "aiobs.data.schema.columns"  # gauge, {column}
DATA_FRESHNESS: Final = "aiobs.data.freshness"  # gauge, s: age of the newest timestamp
EVENT_SCHEMA_CHANGE: Final = "aiobs.data.schema_change"
DATA_SCHEMA_ADDED: Final = "aiobs.data.schema.added"
DATA_SCHEMA_REMOVED: Final = "aiobs.data.schema.removed"
DATA_SCHEMA_RETYPED: Final = "aiobs.data.schema.retyped"
DATA_SCHEMA_PREVIOUS: Final = "aiobs.data.schema.previous_fingerprint"
# drift monitors: aiobs.drift.*
DRIFT_MONITOR: Final = "aiobs.drift.monitor"  # attribute: monitor name
DRIFT_FEATURE: Final = "aiobs.drift.feature"  # attribute: feature (column) name
DRIFT_METHOD: Final = "aiobs.drift.method"  # attribute: psi | ks | js | wasserstein
# The contract also names the bare keys; both are set on drift gauges.
DRIFT_FEATURE_SHORT: Final = "feature"
DRIFT_METHOD_SHORT: Final = "method"
DRIFT_REFERENCE_ID: Final = "aiobs.drift.reference.id"
DRIFT_SCORE: Final = "aiobs.drift.score"  # gauge, 1
DRIFT_STATUS: Final = "aiobs.drift.status"  # gauge: -1 insufficient data, 0 ok, 1 warn, 2 drift
DRIFT_UNSEEN_RATE: Final = "aiobs.drift.unseen_rate"  # gauge, 1 (categorical features)
DRIFT_WINDOWS: Final = "aiobs.drift.windows"  # counter, {window}
DRIFT_DISTRIBUTION: Final = "aiobs.drift.distribution"  # ExponentialHistogram (delta)
DRIFT_REFERENCE_BINS: Final = "aiobs.drift.reference_bins"  # Histogram on reference bins
EVENT_DRIFT_DETECTED: Final = "aiobs.drift.detected"
DRIFT_STATUS_CODES: Final = {"insufficient_data": -1, "ok": 0, "warn": 1, "drift": 2}

# --- GPU (hw.*, aiobs.gpu.*, DCGM-compatible) -----------------------------------------------------
# OpenTelemetry hardware conventions (all `development` stability, semconv v1.44).
HW_ID: Final = "hw.id"  # the GPU UUID
HW_NAME: Final = "hw.name"
HW_VENDOR: Final = "hw.vendor"
HW_DRIVER_VERSION: Final = "hw.driver_version"
HW_TYPE: Final = "hw.type"
HW_TYPE_GPU: Final = "gpu"
HW_STATE: Final = "hw.state"  # ok | degraded | failed
HW_GPU_TASK: Final = "hw.gpu.task"
HW_SENSOR_LOCATION: Final = "hw.sensor_location"
NETWORK_IO_DIRECTION: Final = "network.io.direction"  # transmit | receive
HW_GPU_UTILIZATION: Final = "hw.gpu.utilization"  # gauge, 1
HW_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"  # updowncounter, By
HW_GPU_MEMORY_LIMIT: Final = "hw.gpu.memory.limit"  # updowncounter, By
HW_GPU_MEMORY_UTILIZATION: Final = "hw.gpu.memory.utilization"  # gauge, 1 (fraction used)
HW_POWER: Final = "hw.power"  # gauge, W
HW_ENERGY: Final = "hw.energy"  # counter, J
HW_TEMPERATURE: Final = "hw.temperature"  # gauge, Cel
HW_ERRORS: Final = "hw.errors"  # counter, {error}
HW_STATUS: Final = "hw.status"  # updowncounter, 1 (state set)
# Extensions for what the conventions lack (documented in docs/reference.md, GPU).
GPU_INDEX: Final = "aiobs.gpu.index"  # NVML (PCI-order) index
GPU_MEMORY_CONTROLLER_UTILIZATION: Final = "aiobs.gpu.memory_controller.utilization"  # gauge, 1
GPU_CLOCK_SPEED: Final = "aiobs.gpu.clock.speed"  # gauge, Hz
GPU_CLOCK_DOMAIN: Final = "aiobs.gpu.clock.domain"  # sm | memory
GPU_CLOCK_EVENT: Final = "aiobs.gpu.clock.event"  # gauge, 1 (0/1 per reason)
GPU_CLOCK_EVENT_REASON: Final = "aiobs.gpu.clock.event.reason"
GPU_POWER_LIMIT: Final = "aiobs.gpu.power.limit"  # gauge, W (enforced)
GPU_PCIE_IO: Final = "aiobs.gpu.pcie.io"  # counter, By
GPU_NVLINK_IO: Final = "aiobs.gpu.nvlink.io"  # counter, By
GPU_PROCESS_MEMORY_USAGE: Final = "aiobs.gpu.process.memory.usage"  # updowncounter, By
GPU_XID: Final = "aiobs.gpu.xid"  # the XID code on hw.errors{error.type=xid}
GPU_UNIT_RATIO: Final = "1"
GPU_UNIT_BYTES: Final = "By"
GPU_UNIT_WATTS: Final = "W"
GPU_UNIT_JOULES: Final = "J"
GPU_UNIT_CELSIUS: Final = "Cel"
GPU_UNIT_HERTZ: Final = "Hz"
GPU_UNIT_ERRORS: Final = "{error}"
# DCGM-exporter-compatible mode (AIOBS_GPU_DCGM=true): DCGM's names, labels and units. Units are
# MiB, %, C, W, mJ, MHz as in DCGM; the OTel unit is left empty so exporters add no suffix.
DCGM_GPU_UTIL: Final = "DCGM_FI_DEV_GPU_UTIL"  # %
DCGM_MEM_COPY_UTIL: Final = "DCGM_FI_DEV_MEM_COPY_UTIL"  # %
DCGM_FB_USED: Final = "DCGM_FI_DEV_FB_USED"  # MiB
DCGM_FB_FREE: Final = "DCGM_FI_DEV_FB_FREE"  # MiB
DCGM_FB_TOTAL: Final = "DCGM_FI_DEV_FB_TOTAL"  # MiB
DCGM_GPU_TEMP: Final = "DCGM_FI_DEV_GPU_TEMP"  # C
DCGM_MEMORY_TEMP: Final = "DCGM_FI_DEV_MEMORY_TEMP"  # C
DCGM_POWER_USAGE: Final = "DCGM_FI_DEV_POWER_USAGE"  # W
DCGM_POWER_MGMT_LIMIT: Final = "DCGM_FI_DEV_POWER_MGMT_LIMIT"  # W
DCGM_TOTAL_ENERGY: Final = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"  # mJ
DCGM_SM_CLOCK: Final = "DCGM_FI_DEV_SM_CLOCK"  # MHz
DCGM_MEM_CLOCK: Final = "DCGM_FI_DEV_MEM_CLOCK"  # MHz
DCGM_CLOCKS_EVENT_REASONS: Final = "DCGM_FI_DEV_CLOCKS_EVENT_REASONS"  # bitmask
DCGM_XID_ERRORS: Final = "DCGM_FI_DEV_XID_ERRORS"  # last XID seen (0: none)
DCGM_ECC_SBE_VOL_TOTAL: Final = "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"  # count
DCGM_ECC_DBE_VOL_TOTAL: Final = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"  # count
DCGM_PCIE_TX_BYTES: Final = "DCGM_FI_PROF_PCIE_TX_BYTES"  # B/s
DCGM_PCIE_RX_BYTES: Final = "DCGM_FI_PROF_PCIE_RX_BYTES"  # B/s
DCGM_LABEL_GPU: Final = "gpu"
DCGM_LABEL_UUID: Final = "UUID"
DCGM_LABEL_DEVICE: Final = "device"
DCGM_LABEL_MODEL: Final = "modelName"
DCGM_LABEL_HOSTNAME: Final = "Hostname"
DCGM_LABEL_DRIVER: Final = "DCGM_FI_DRIVER_VERSION"

# --- model quality and evaluations (aiobs.model.*, gen_ai.evaluation.*) ---------------------------
# Attributes of every aiobs.model.* metric and event.
MODEL_NAME: Final = "aiobs.model.name"
MODEL_VERSION: Final = "aiobs.model.version"
MODEL_TASK: Final = "aiobs.model.task"  # binary | multiclass | regression
MODEL_SEGMENT_KEY: Final = "aiobs.model.segment.key"  # absent on whole-window values
MODEL_SEGMENT_VALUE: Final = "aiobs.model.segment.value"  # capped; the rest is OTHER_VALUE
MODEL_METRIC: Final = "aiobs.model.metric"
MODEL_WINDOW: Final = "aiobs.model.window"  # 1-based index of the complete window
MODEL_LABEL_STATUS: Final = "aiobs.model.label.status"  # joined | unknown
MODEL_EXPIRY_REASON: Final = "aiobs.model.expiry.reason"  # ttl | capacity | replaced
# Event attributes (quality degraded / recovered).
MODEL_VALUE: Final = "aiobs.model.value"
MODEL_REFERENCE: Final = "aiobs.model.reference"  # the baseline or the fixed threshold
MODEL_MARGIN: Final = "aiobs.model.margin"
# Gauges over the current window (the last window_size labelled predictions).
MODEL_ACCURACY: Final = "aiobs.model.accuracy"
MODEL_PRECISION: Final = "aiobs.model.precision"
MODEL_RECALL: Final = "aiobs.model.recall"
MODEL_F1: Final = "aiobs.model.f1"
MODEL_AUC: Final = "aiobs.model.auc"
MODEL_MAE: Final = "aiobs.model.mae"
MODEL_RMSE: Final = "aiobs.model.rmse"
MODEL_CALIBRATION_ERROR: Final = "aiobs.model.calibration_error"
MODEL_LOW_CONFIDENCE_SHARE: Final = "aiobs.model.low_confidence_share"
MODEL_POSITIVE_RATE: Final = "aiobs.model.positive_rate"
MODEL_WINDOW_ROWS: Final = "aiobs.model.window.rows"
MODEL_LABEL_DELAY_MEAN: Final = "aiobs.model.label.delay.mean"
MODEL_LABEL_DELAY_P95: Final = "aiobs.model.label.delay.p95"
MODEL_LABEL_COVERAGE: Final = "aiobs.model.label.coverage"
MODEL_DEMOGRAPHIC_PARITY: Final = "aiobs.model.fairness.demographic_parity_difference"
MODEL_EQUAL_OPPORTUNITY: Final = "aiobs.model.fairness.equal_opportunity_difference"
MODEL_DEGRADED: Final = "aiobs.model.degraded"  # 1 while a degradation alert is active
MODEL_PENDING: Final = "aiobs.model.predictions.pending"
# Cumulative counters.
MODEL_PREDICTIONS: Final = "aiobs.model.predictions"
MODEL_LABELS: Final = "aiobs.model.labels"
MODEL_EXPIRED: Final = "aiobs.model.predictions.expired"
# Histogram (delta, explicit buckets), carried by setup.sketch_export like the drift sketches.
MODEL_SCORE_DISTRIBUTION: Final = "aiobs.model.score.distribution"
MODEL_SCORE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # explicit bounds
# Events.
MODEL_QUALITY_DEGRADED_EVENT: Final = "aiobs.model.quality.degraded"
MODEL_QUALITY_RECOVERED_EVENT: Final = "aiobs.model.quality.recovered"
# LLM evaluations: the GenAI conventions' event (gen_ai.response.id and the model names are the
# GenAI section's GEN_AI_RESPONSE_ID / GEN_AI_REQUEST_MODEL); the conventions define no
# evaluation metrics, so ours are aiobs.evaluation.*.
EVAL_RESULT_EVENT: Final = "gen_ai.evaluation.result"
EVAL_NAME: Final = "gen_ai.evaluation.name"
EVAL_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
EVAL_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
EVAL_EXPLANATION: Final = "gen_ai.evaluation.explanation"
EVALUATION_SCORE: Final = "aiobs.evaluation.score"  # histogram, unit 1
EVALUATION_RESULTS: Final = "aiobs.evaluation.results"  # counter, {evaluation}
EVALUATION_SCORE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
                                   2.0, 3.0, 4.0, 5.0, 10.0, 100.0)
