/* node.h — what every aria-core command shares: the options common to all
 * of them, and the node context they build (config, CPU, plugins, host). */
#ifndef ARI_NODE_H
#define ARI_NODE_H

#include "config.h"
#include "registry.h"

#define ARI_MAX_SETS 64

/* Options that every command accepts, wherever they stand on the line. */
typedef struct ari_opts {
    const char *plugins_dir; /* --plugins DIR */
    const char *config_path; /* --config FILE */
    struct {
        char section[64], key[64];
        const char *value;
        const char *flag; /* as typed, for messages */
    } sets[ARI_MAX_SETS];    /* --data-dir, --threads, --log-level, --set */
    size_t n_sets;
    const char *models[ARI_MAX_SETS]; /* --model FILE, repeatable */
    size_t n_models;
} ari_opts;

typedef struct ari_ctx {
    ari_config *cfg;
    aria_cpu_info cpu;
    ari_registry reg;
    aria_host host;
    char data_dir[4096];
    char plugins_dir[4096];
    uint32_t n_threads;
} ari_ctx;

enum {
    ARI_CTX_PLUGINS = 1u << 0, /* load plugins and select kernels */
    ARI_CTX_DATA_DIR = 1u << 1, /* create the data directory */
    ARI_CTX_QUIET = 1u << 2     /* a command, not the node: log warnings and
                                   errors only, unless --log-level says more */
};

/* Builds the context: config file and overrides (each problem printed on
 * stderr; any problem fails), CPU detection, and with ARI_CTX_PLUGINS the
 * built-in detector, the plugin directory and the kernel choice. Returns 0,
 * or the process exit status to use (2: bad usage or configuration). */
int ari_ctx_open(ari_ctx *c, const ari_opts *o, unsigned flags);
void ari_ctx_close(ari_ctx *c);

/* The models directory: [models] dir, else DATA_DIR/models. */
void ari_models_dir(const ari_ctx *c, char *out, size_t cap);

/* Parses the options common to every command out of argv (in place: what
 * remains is the command and its own arguments; "--" ends option parsing).
 * Returns 0, or 2 after printing a one-line error. */
int ari_opts_parse(ari_opts *o, int *argc, char **argv);

/* `aria-core [options]`: runs the node in the foreground until SIGINT or
 * SIGTERM. Returns the exit status. */
int ari_node_run(const ari_opts *o);

#endif
