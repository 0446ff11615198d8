/* npu_backend.h — what the NPU backends share on top of the shared runtime
 * (aria/rt.h): their probe of a model file, config reads, a clock. Compiled
 * into each NPU plugin that runs models. */
#ifndef NPU_BACKEND_H
#define NPU_BACKEND_H

#include <aria/aria.h>

/* The score an NPU backend answers for a model it can run: above the CPU's
 * generic gguf backend (10), below bitnet for its own formats (100). */
#define NPU_SCORE 50

/* Probes path for an NPU backend whose device is usable: fills *out (the
 * file's facts, score NPU_SCORE and the quality and specialist tiers), or
 * fails with score 0: the file is not a model the runtime runs, or its
 * weights are ternary (they stay with the CPU's bitnet backend, where they
 * are smaller and faster than the dequantized graph would be). */
aria_err npu_probe_file(const char *path, aria_probe *out, aria_msg *why);

/* [section] key, or def when unset or empty (the core checked its type). */
const char *npu_cfg(const aria_host *host, const char *section, const char *key,
                    const char *def);

/* Seconds on the monotonic clock. */
double npu_now(void);

#endif
