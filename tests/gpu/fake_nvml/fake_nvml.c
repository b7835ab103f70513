/*
 * A fake libnvidia-ml.so.1 for the GPU collector tests: the real pynvml binding code runs
 * against it. Written for this project from the pynvml ctypes declarations (no NVIDIA header).
 *
 * Build: gcc -shared -fPIC -O2 -Wl,-soname,libnvidia-ml.so.1 -o libnvidia-ml.so.1 fake_nvml.c
 *
 * Scenario, read from the environment at every nvmlInit:
 *   FAKE_NVML_GPUS=n               number of GPUs (default 1, at most 64)
 *   FAKE_NVML_DRIVER_NOT_LOADED=1  nvmlInit fails with NVML_ERROR_DRIVER_NOT_LOADED
 *   FAKE_NVML_UNSUPPORTED=a,b@1    these functions return NOT_SUPPORTED (on every GPU, or @index);
 *                                  field ids as field<id> (e.g. field197@0); ecc_uncorrected
 *                                  for the uncorrected counter alone
 *   FAKE_NVML_MISSING=a,b          these functions return FUNCTION_NOT_FOUND (version fallbacks)
 *   FAKE_NVML_LOST_AFTER=i:n       GPU i is lost after n utilisation reads
 *   FAKE_NVML_XID=i:code,...       one XID event per entry, delivered by nvmlEventSetWait_v2
 *   FAKE_NVML_CLOCK_EVENTS=0x..    the clocks-event-reasons bitmask (default 0)
 *   FAKE_NVML_ECC_UNCORRECTED=n    volatile uncorrected ECC errors on every GPU (default 0)
 *   FAKE_NVML_NAME=...             product name (default "NVIDIA H200")
 * Control exports for in-process tests: fakeNvmlLoseGpu, fakeNvmlSetUtil, fakeNvmlInjectXid,
 * fakeNvmlSetUnsupported,
 * fakeNvmlCallCount, fakeNvmlTotalCalls.
 *
 * Values are deterministic functions of the GPU index i (see tests/gpu/fakenvml.py: expected()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t;
enum {
    OK = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, DRIVER_NOT_LOADED = 9,
    TIMEOUT = 10, INSUFFICIENT_SIZE = 7, FUNCTION_NOT_FOUND = 13, GPU_IS_LOST = 15
};

#define MAX_GPUS 64
#define MAX_XID 32

struct fake_device { int index; };
typedef struct fake_device *nvmlDevice_t;

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
typedef struct { unsigned int version; int sensorType; int temperature; } nvmlTemperature_v1_t;
typedef union {
    double dVal; unsigned int uiVal; unsigned long ulVal; unsigned long long ullVal;
    long long sllVal; int siVal; unsigned short usVal;
} nvmlValue_t;
typedef struct {
    uint32_t fieldId, scopeId; int64_t timestamp, latencyUsec;
    unsigned int valueType; nvmlReturn_t nvmlReturn; nvmlValue_t value;
} nvmlFieldValue_t;
typedef struct {
    unsigned int pid; unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;
typedef struct {
    nvmlDevice_t device; unsigned long long eventType, eventData;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;
typedef struct fake_event_set { int unused; } *nvmlEventSet_t;

static struct fake_device devices[MAX_GPUS];
static struct fake_event_set event_set;
static int initialized, gpu_count = 1;
static int lost[MAX_GPUS];
static long lost_after[MAX_GPUS];
static long util_reads[MAX_GPUS];
static int util_override[MAX_GPUS];
static unsigned long long clock_events, ecc_uncorrected;
static char unsupported[4096], missing[4096], product_name[96] = "NVIDIA H200";
static struct { int gpu; unsigned long long code; } xids[MAX_XID];
static int xid_count, xid_next;

/* --- call counting (fakeNvmlCallCount) ---------------------------------------------------- */
#define MAX_SLOTS 96
static const char *slot_names[MAX_SLOTS];
static long slot_counts[MAX_SLOTS];
static int slot_used;
static long total_calls;

static int slot_for(const char *name) {
    for (int i = 0; i < slot_used; i++)
        if (strcmp(slot_names[i], name) == 0) return i;
    if (slot_used == MAX_SLOTS) return MAX_SLOTS - 1;
    slot_names[slot_used] = name;
    return slot_used++;
}

#define COUNT()                                   \
    static int slot_ = -1;                        \
    if (slot_ < 0) slot_ = slot_for(__func__);    \
    slot_counts[slot_]++;                         \
    total_calls++

static int listed(const char *list, const char *name, int index) {
    char pattern[160];
    snprintf(pattern, sizeof pattern, ",%s,", name);
    if (strstr(list, pattern)) return 1;
    if (index >= 0) {
        snprintf(pattern, sizeof pattern, ",%s@%d,", name, index);
        if (strstr(list, pattern)) return 1;
    }
    return 0;
}

static void read_list(const char *env, char *out, size_t size) {
    const char *raw = getenv(env);
    snprintf(out, size, ",%s,", raw ? raw : "");
}

static int device_index(nvmlDevice_t d) {
    if (!d) return -1;
    long i = d - devices;
    return (i >= 0 && i < gpu_count) ? (int)i : -1;
}

/* Common prologue of every device call: initialised, valid handle, lost, unsupported, missing. */
#define DEVICE_CALL(dev)                                                     \
    COUNT();                                                                 \
    if (!initialized) return UNINITIALIZED;                                  \
    int i = device_index(dev);                                               \
    if (i < 0) return INVALID_ARGUMENT;                                      \
    if (listed(missing, __func__, -1)) return FUNCTION_NOT_FOUND;            \
    if (lost[i]) return GPU_IS_LOST;                                         \
    if (listed(unsupported, __func__, i)) return NOT_SUPPORTED

/* --- init ---------------------------------------------------------------------------------- */
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    COUNT();
    if (getenv("FAKE_NVML_DRIVER_NOT_LOADED") && atoi(getenv("FAKE_NVML_DRIVER_NOT_LOADED")))
        return DRIVER_NOT_LOADED;
    const char *n = getenv("FAKE_NVML_GPUS");
    gpu_count = n ? atoi(n) : 1;
    if (gpu_count < 0) gpu_count = 0;
    if (gpu_count > MAX_GPUS) gpu_count = MAX_GPUS;
    read_list("FAKE_NVML_UNSUPPORTED", unsupported, sizeof unsupported);
    read_list("FAKE_NVML_MISSING", missing, sizeof missing);
    const char *name = getenv("FAKE_NVML_NAME");
    if (name) snprintf(product_name, sizeof product_name, "%s", name);
    const char *ev = getenv("FAKE_NVML_CLOCK_EVENTS");
    clock_events = ev ? strtoull(ev, NULL, 0) : 0;
    const char *ecc = getenv("FAKE_NVML_ECC_UNCORRECTED");
    ecc_uncorrected = ecc ? strtoull(ecc, NULL, 0) : 0;
    for (int k = 0; k < MAX_GPUS; k++) {
        devices[k].index = k;
        lost[k] = 0;
        lost_after[k] = -1;
        util_reads[k] = 0;
        util_override[k] = -1;
    }
    const char *la = getenv("FAKE_NVML_LOST_AFTER");
    if (la) {
        int g; long after;
        if (sscanf(la, "%d:%ld", &g, &after) == 2 && g >= 0 && g < MAX_GPUS) lost_after[g] = after;
    }
    xid_count = xid_next = 0;
    const char *x = getenv("FAKE_NVML_XID");
    while (x && *x && xid_count < MAX_XID) {
        int g; unsigned long long code;
        if (sscanf(x, "%d:%llu", &g, &code) != 2) break;
        xids[xid_count].gpu = g;
        xids[xid_count].code = code;
        xid_count++;
        x = strchr(x, ',');
        if (x) x++;
    }
    initialized++;
    return OK;
}

nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

nvmlReturn_t nvmlShutdown(void) {
    COUNT();
    if (!initialized) return UNINITIALIZED;
    initialized--;
    return OK;
}

const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case OK: return "Success";
    case UNINITIALIZED: return "Uninitialized";
    case NOT_SUPPORTED: return "Not Supported";
    case DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case GPU_IS_LOST: return "GPU is lost";
    case TIMEOUT: return "Timeout";
    default: return "Unknown Error";
    }
}

/* --- system and identity ------------------------------------------------------------------ */
nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    COUNT();
    if (!initialized) return UNINITIALIZED;
    snprintf(version, length, "%s", "560.35.03");
    return OK;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    COUNT();
    if (!initialized) return UNINITIALIZED;
    *count = (unsigned int)gpu_count;
    return OK;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    COUNT();
    if (!initialized) return UNINITIALIZED;
    if (index >= (unsigned int)gpu_count) return INVALID_ARGUMENT;
    *device = &devices[index];
    return OK;
}

static void uuid_of(int i, char *out, unsigned int length) {
    snprintf(out, length, "GPU-fa4e%04x-0000-4000-8000-%012d", i, i);
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    COUNT();
    if (!initialized) return UNINITIALIZED;
    char buf[96];
    for (int k = 0; k < gpu_count; k++) {
        uuid_of(k, buf, sizeof buf);
        if (strcmp(buf, uuid) == 0) { *device = &devices[k]; return OK; }
    }
    return 6; /* NOT_FOUND */
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
    DEVICE_CALL(d);
    uuid_of(i, uuid, length);
    return OK;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
    DEVICE_CALL(d);
    snprintf(name, length, "%s", product_name);
    return OK;
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t d, unsigned int *minor) {
    DEVICE_CALL(d);
    *minor = (unsigned int)i;
    return OK;
}

/* --- fast-tier readings -------------------------------------------------------------------- */
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    DEVICE_CALL(d);
    util_reads[i]++;
    if (lost_after[i] >= 0 && util_reads[i] > lost_after[i]) {
        lost[i] = 1;
        return GPU_IS_LOST;
    }
    u->gpu = util_override[i] >= 0 ? (unsigned int)util_override[i] : (unsigned int)(10 + 7 * i);
    u->memory = (unsigned int)(5 + i);
    return OK;
}

#define GIB (1024ULL * 1024ULL * 1024ULL)
#define MIB (1024ULL * 1024ULL)

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
    DEVICE_CALL(d);
    m->total = 80 * GIB;
    m->used = (unsigned long long)(i + 1) * GIB + 512 * MIB; /* v1: used includes reserved */
    m->free = m->total - m->used;
    return OK;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    DEVICE_CALL(d);
    if (m->version != 0x02000028) return 25; /* ARGUMENT_VERSION_MISMATCH */
    m->total = 80 * GIB;
    m->reserved = 512 * MIB;
    m->used = (unsigned long long)(i + 1) * GIB;
    m->free = m->total - m->used - m->reserved;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t d, nvmlTemperature_v1_t *t) {
    DEVICE_CALL(d);
    if (t->sensorType != 0) return INVALID_ARGUMENT;
    t->temperature = 40 + i;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *temp) {
    DEVICE_CALL(d);
    if (sensor != 0) return INVALID_ARGUMENT;
    *temp = (unsigned int)(40 + i);
    return OK;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw) {
    DEVICE_CALL(d);
    *mw = 150000u + 1000u * (unsigned int)i;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
    DEVICE_CALL(d);
    *mj = 5000000ULL + 1000ULL * (unsigned long long)i;
    return OK;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
    DEVICE_CALL(d);
    if (type == 0 || type == 1) *mhz = 1500u + 10u * (unsigned int)i; /* graphics, SM */
    else if (type == 2) *mhz = 2619u;                                   /* memory */
    else return INVALID_ARGUMENT;
    return OK;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *r) {
    DEVICE_CALL(d);
    *r = clock_events;
    return OK;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t d, unsigned long long *r) {
    DEVICE_CALL(d);
    *r = clock_events;
    return OK;
}

/* --- slower tiers -------------------------------------------------------------------------- */
nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw) {
    DEVICE_CALL(d);
    *mw = 700000u;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int type, int counter,
                                         unsigned long long *count) {
    DEVICE_CALL(d);
    (void)counter;
    if (type == 1 && listed(unsupported, "ecc_uncorrected", i)) return NOT_SUPPORTED;
    *count = type == 0 ? (unsigned long long)(3 * i) : ecc_uncorrected;
    return OK;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *values) {
    DEVICE_CALL(d);
    for (int k = 0; k < count; k++) {
        nvmlFieldValue_t *v = &values[k];
        char name[32];
        snprintf(name, sizeof name, "field%u", v->fieldId);
        v->timestamp = 0;
        v->latencyUsec = 0;
        if (listed(unsupported, name, i)) { v->nvmlReturn = NOT_SUPPORTED; continue; }
        v->nvmlReturn = OK;
        switch (v->fieldId) {
        case 197: v->valueType = 3; v->value.ullVal = 1000000ULL * (unsigned long long)(i + 1); break;
        case 198: v->valueType = 3; v->value.ullVal = 2000000ULL * (unsigned long long)(i + 1); break;
        case 138: v->valueType = 3; v->value.ullVal = 100ULL * (unsigned long long)(i + 1); break;
        case 139: v->valueType = 3; v->value.ullVal = 200ULL * (unsigned long long)(i + 1); break;
        case 82: v->valueType = 1; v->value.uiVal = (unsigned int)(50 + i); break;
        default: v->nvmlReturn = NOT_SUPPORTED;
        }
    }
    return OK;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                     nvmlProcessInfo_t *infos) {
    DEVICE_CALL(d);
    if (infos == NULL || *count < 2) { *count = 2; return INSUFFICIENT_SIZE; }
    infos[0].pid = 1;
    infos[0].usedGpuMemory = 1 * GIB;
    infos[1].pid = (unsigned int)getpid();
    infos[1].usedGpuMemory = 256 * MIB * (unsigned long long)(i + 1);
    for (int k = 0; k < 2; k++) infos[k].gpuInstanceId = infos[k].computeInstanceId = 0xFFFFFFFFu;
    *count = 2;
    return OK;
}

/* The slow call the collector must never make on its fast tier (20 ms each on real drivers). */
nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t d, int counter, unsigned int *kbps) {
    DEVICE_CALL(d);
    (void)counter;
    *kbps = 1234;
    return OK;
}

/* --- XID events ---------------------------------------------------------------------------- */
nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    COUNT();
    if (!initialized) return UNINITIALIZED;
    if (listed(unsupported, __func__, -1)) return NOT_SUPPORTED;
    *set = &event_set;
    return OK;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, nvmlEventSet_t set) {
    DEVICE_CALL(d);
    (void)types;
    (void)set;
    return OK;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeout) {
    COUNT();
    (void)set;
    (void)timeout;
    if (!initialized) return UNINITIALIZED;
    if (xid_next >= xid_count) return TIMEOUT;
    int g = xids[xid_next].gpu;
    data->device = (g >= 0 && g < gpu_count) ? &devices[g] : NULL;
    data->eventType = 0x8; /* nvmlEventTypeXidCriticalError */
    data->eventData = xids[xid_next].code;
    data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
    xid_next++;
    return OK;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    COUNT();
    (void)set;
    return OK;
}

/* --- control exports for tests ------------------------------------------------------------- */
void fakeNvmlLoseGpu(int index) {
    if (index >= 0 && index < MAX_GPUS) lost[index] = 1;
}

void fakeNvmlSetUnsupported(const char *list) {
    snprintf(unsupported, sizeof unsupported, ",%s,", list ? list : "");
}

void fakeNvmlSetUtil(int index, int util) {
    if (index >= 0 && index < MAX_GPUS) util_override[index] = util;
}

void fakeNvmlInjectXid(int index, unsigned long long code) {
    if (xid_count < MAX_XID) {
        xids[xid_count].gpu = index;
        xids[xid_count].code = code;
        xid_count++;
    }
}

long fakeNvmlCallCount(const char *name) {
    for (int k = 0; k < slot_used; k++)
        if (strcmp(slot_names[k], name) == 0) return slot_counts[k];
    return 0;
}

long fakeNvmlTotalCalls(void) { return total_calls; }

void fakeNvmlResetCounts(void) {
    for (int k = 0; k < slot_used; k++) slot_counts[k] = 0;
    total_calls = 0;
}
