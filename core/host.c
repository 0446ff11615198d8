/* host.c — the services table plugins receive. Its slots have no context
 * argument (plugins call them like libc), so they answer from the one node
 * this process runs, recorded here by ari_host_init. */
#include "host.h"

#include "cpu.h"
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const ari_config *host_cfg;
static const ari_registry *host_reg;
static char host_data_dir[4096];

static void host_log(aria_log_level level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ari_logv(level, who, fmt, ap);
    va_end(ap);
}

static const char *host_config_get(const char *section, const char *key)
{
    return host_cfg && section && key ? ari_config_get(host_cfg, section, key) : NULL;
}

uint64_t ari_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const aria_kernel_vt *host_kernels(const char *family)
{
    return host_reg && family ? ari_registry_kernels(host_reg, family) : NULL;
}

void ari_host_init(aria_host *host, const ari_config *cfg,
                   const ari_registry *reg, const aria_cpu_info *cpu,
                   const char *data_dir, uint32_t n_threads)
{
    host_cfg = cfg;
    host_reg = reg;
    size_t n = strlen(data_dir ? data_dir : "");
    if (n >= sizeof host_data_dir)
        n = sizeof host_data_dir - 1;
    memcpy(host_data_dir, data_dir ? data_dir : "", n);
    host_data_dir[n] = '\0';

    memset(host, 0, sizeof *host);
    host->hdr.struct_size = sizeof *host;
    host->hdr.version = 1;
    host->log = host_log;
    host->config_get = host_config_get;
    host->alloc = malloc;
    host->calloc = calloc;
    host->realloc = realloc;
    host->free = free;
    host->now_ns = ari_now_ns;
    host->data_dir = host_data_dir;
    host->cpu = cpu;
    host->kernels = host_kernels;
    host->sign = NULL; /* set once the node has an identity */
    host->n_threads = n_threads ? n_threads : 1;
}
