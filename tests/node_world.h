/* node_world.h — what tests that run models need: a config, the built
 * plugins loaded into a registry, kernels selected, and the host. */
#ifndef ARIA_TEST_NODE_WORLD_H
#define ARIA_TEST_NODE_WORLD_H

#include "config.h"
#include "cpu.h"
#include "host.h"
#include "loader.h"
#include "registry.h"

typedef struct node_world {
    ari_config *cfg;
    ari_registry reg;
    aria_cpu_info cpu;
    aria_host host;
} node_world;

/* 0, or -1 when the plugin directory cannot be loaded. */
static inline int node_world_open(node_world *w)
{
    w->cfg = ari_config_new();
    ari_registry_init(&w->reg);
    ari_cpu_detect(NULL, &w->cpu);
    ari_host_init(&w->host, w->cfg, &w->reg, &w->cpu, "/tmp", 2);
    aria_msg why;
    if (ari_load_dir(&w->reg, ARIA_PLUGIN_DIR, &w->host, w->cfg, &why) < 0)
        return -1;
    ari_registry_select_kernels(&w->reg, NULL);
    return 0;
}

static inline void node_world_close(node_world *w)
{
    ari_registry_fini(&w->reg);
    ari_config_free(w->cfg);
}

#endif
