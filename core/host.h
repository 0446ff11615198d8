/* host.h — the aria_host table that core hands to plugins. One node per
 * process: the table's slots answer from the node's config and registry. */
#ifndef ARI_HOST_H
#define ARI_HOST_H

#include "config.h"
#include "registry.h"

/* Fills *host. cfg, reg and cpu must outlive every plugin (until
 * ari_registry_fini). data_dir is copied. */
/* Monotonic clock, nanoseconds (what host->now_ns gives plugins). */
uint64_t ari_now_ns(void);

void ari_host_init(aria_host *host, const ari_config *cfg,
                   const ari_registry *reg, const aria_cpu_info *cpu,
                   const char *data_dir, uint32_t n_threads);

#endif
