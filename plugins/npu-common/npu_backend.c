/* npu_backend.c — see npu_backend.h. */
#include "npu_backend.h"

#include <aria/rt.h>

#include <string.h>
#include <time.h>

aria_err npu_probe_file(const char *path, aria_probe *out, aria_msg *why)
{
    int ternary = 0;
    aria_err e = aria_rt_inspect(path, out, &ternary, why);
    if (e != ARIA_OK) {
        out->score = 0;
        return e;
    }
    if (ternary) {
        out->score = 0;
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         "ternary weights stay on the CPU: the NPU graph would hold them "
                         "dequantized");
    }
    out->score = NPU_SCORE;
    out->tiers = ARIA_TIER_QUALITY | ARIA_TIER_SPECIALIST;
    return ARIA_OK;
}

const char *npu_cfg(const aria_host *host, const char *section, const char *key,
                    const char *def)
{
    const char *v = host->config_get ? host->config_get(section, key) : NULL;
    return v && v[0] ? v : def;
}

double npu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
