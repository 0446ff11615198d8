/* node.c — the node's life: configuration, identity of the machine, plugins,
 * the data-directory lock, and a clean stop on SIGINT/SIGTERM. */
#include "node.h"

#include "api.h"
#include "catalog.h"
#include "identity.h"
#include "peers.h"
#include "provenance.h"
#include "service.h"

#include "cpu.h"
#include "host.h"
#include "loader.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- options ---------------------------------------------------------- */

static int add_set(ari_opts *o, const char *section, const char *key,
                   const char *value, const char *flag)
{
    if (o->n_sets == ARI_MAX_SETS) {
        fprintf(stderr, "aria-core: too many overrides (max %d)\n", ARI_MAX_SETS);
        return 2;
    }
    if (strlen(section) >= sizeof o->sets[0].section || strlen(key) >= sizeof o->sets[0].key) {
        fprintf(stderr, "aria-core: %s: section or key name too long\n", flag);
        return 2;
    }
    snprintf(o->sets[o->n_sets].section, sizeof o->sets[0].section, "%s", section);
    snprintf(o->sets[o->n_sets].key, sizeof o->sets[0].key, "%s", key);
    o->sets[o->n_sets].value = value;
    o->sets[o->n_sets].flag = flag;
    o->n_sets++;
    return 0;
}

/* Flags that are shorthand for one aria.ini key. */
static const struct {
    const char *flag, *section, *key;
} shorthand[] = {
    {"--data-dir", "node", "data_dir"},
    {"--threads", "node", "threads"},
    {"--log-level", "node", "log_level"},
    {"--name", "node", "name"},
    {"--api", "api", "listen"},
    {"--listen", "network", "listen"},
    {"--bootstrap", "network", "bootstrap"},
};

int ari_opts_parse(ari_opts *o, int *argc, char **argv)
{
    int out = 1;
    int i = 1;
    for (; i < *argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        const char *val = NULL;
        size_t fl = strcspn(a, "=");
        int takes = 0;
        const char *sec = NULL, *key = NULL;
        if (strncmp(a, "--plugins", fl) == 0 && fl == 9)
            takes = 1;
        else if (strncmp(a, "--config", fl) == 0 && fl == 8)
            takes = 2;
        else if (strncmp(a, "--set", fl) == 0 && fl == 5)
            takes = 3;
        else if (strncmp(a, "--model", fl) == 0 && fl == 7)
            takes = 5;
        else
            for (size_t s = 0; s < sizeof shorthand / sizeof shorthand[0]; s++)
                if (strlen(shorthand[s].flag) == fl && strncmp(a, shorthand[s].flag, fl) == 0) {
                    takes = 4;
                    sec = shorthand[s].section;
                    key = shorthand[s].key;
                }
        if (!takes) {
            argv[out++] = a;
            continue;
        }
        if (a[fl] == '=')
            val = a + fl + 1;
        else if (i + 1 < *argc)
            val = argv[++i];
        else {
            fprintf(stderr, "aria-core: %.*s needs a value (see --help)\n", (int)fl, a);
            return 2;
        }
        if (takes == 1)
            o->plugins_dir = val;
        else if (takes == 2)
            o->config_path = val;
        else if (takes == 5) {
            if (o->n_models == ARI_MAX_SETS) {
                fprintf(stderr, "aria-core: too many --model files (max %d)\n", ARI_MAX_SETS);
                return 2;
            }
            o->models[o->n_models++] = val;
        }
        else if (takes == 4) {
            if (add_set(o, sec, key, val, a))
                return 2;
        } else {
            /* --set SECTION.KEY=VALUE; the section may itself hold a dot
             * (plugin.NAME), so split at the last dot before '='. */
            const char *eq = strchr(val, '=');
            const char *dot = NULL;
            for (const char *p = val; eq && p < eq; p++)
                if (*p == '.')
                    dot = p;
            if (!eq || !dot || dot == val || dot + 1 == eq) {
                fprintf(stderr, "aria-core: --set '%s': want SECTION.KEY=VALUE\n", val);
                return 2;
            }
            char section[64], k[64];
            if ((size_t)(dot - val) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof k) {
                fprintf(stderr, "aria-core: --set '%s': name too long\n", val);
                return 2;
            }
            snprintf(section, sizeof section, "%.*s", (int)(dot - val), val);
            snprintf(k, sizeof k, "%.*s", (int)(eq - dot - 1), dot + 1);
            if (add_set(o, section, k, eq + 1, "--set"))
                return 2;
        }
    }
    for (; i < *argc; i++)
        argv[out++] = argv[i];
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* ---- context ---------------------------------------------------------- */

void ari_models_dir(const ari_ctx *c, char *out, size_t cap)
{
    const char *md = ari_config_get(c->cfg, "models", "dir");
    if (md && md[0])
        snprintf(out, cap, "%s", md);
    else if (snprintf(out, cap, "%s/models", c->data_dir) >= (int)cap)
        out[cap - 1] = '\0';
}

static const aria_interface builtin_ifaces[] = {
    {.kind = ARIA_IFACE_DETECTOR, .vtable = &ari_cpu_detector},
};
static const aria_plugin_desc builtin_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = "cpu",
    .version = ARIA_VERSION,
    .description = "CPU detector (built into aria-core)",
    .n_interfaces = 1,
    .interfaces = builtin_ifaces,
};

static const ari_config *kernel_cfg;
static const char *kernel_override(const char *family)
{
    return ari_config_get(kernel_cfg, "kernels", family);
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void abs_path(const char *in, char *out, size_t cap)
{
    char cwd[PATH_MAX];
    if (in[0] == '/' || !getcwd(cwd, sizeof cwd))
        snprintf(out, cap, "%s", in);
    else if (snprintf(out, cap, "%s/%s", cwd, in) >= (int)cap)
        out[cap - 1] = '\0'; /* truncated: the open that follows says so */
}

int ari_ctx_open(ari_ctx *c, const ari_opts *o, unsigned flags)
{
    memset(c, 0, sizeof *c);
    ari_registry_init(&c->reg);
    c->cfg = ari_config_new();
    if (!c->cfg) {
        fprintf(stderr, "aria-core: out of memory\n");
        return 1;
    }
    int bad = 0;
    if (o->config_path && ari_config_load(c->cfg, o->config_path) != ARIA_OK)
        bad = 1;
    for (size_t i = 0; i < ari_config_n_errors(c->cfg); i++)
        fprintf(stderr, "%s\n", ari_config_error(c->cfg, i));
    for (size_t i = 0; i < o->n_sets; i++) {
        aria_msg why = {{0}};
        if (ari_config_set(c->cfg, o->sets[i].section, o->sets[i].key, o->sets[i].value,
                           &why) != ARIA_OK) {
            fprintf(stderr, "aria-core: %s: %s\n", o->sets[i].flag, why.text);
            bad = 1;
        }
    }
    if (bad)
        return 2;
    int lvl = ari_log_level_parse(ari_config_get(c->cfg, "node", "log_level"));
    int explicit_level = 0;
    for (size_t i = 0; i < o->n_sets; i++)
        explicit_level |= !strcmp(o->sets[i].section, "node") && !strcmp(o->sets[i].key, "log_level");
    if ((flags & ARI_CTX_QUIET) && !explicit_level)
        lvl = ARIA_LOG_WARN;
    if (lvl >= 0)
        ari_log_set_level((aria_log_level)lvl);

    ari_cpu_detect(NULL, &c->cpu);
    long long th = ari_config_get_int(c->cfg, "node", "threads", 0);
    if (th <= 0)
        th = c->cpu.cores_physical ? c->cpu.cores_physical
             : c->cpu.cores_logical ? c->cpu.cores_logical : 1;
    c->n_threads = (uint32_t)th;

    const char *dd = ari_config_get(c->cfg, "node", "data_dir");
    abs_path(dd && dd[0] ? dd : ".", c->data_dir, sizeof c->data_dir);
    if ((flags & ARI_CTX_DATA_DIR) && mkdir_p(c->data_dir) != 0) {
        fprintf(stderr, "aria-core: data directory %s: cannot create: %s\n", c->data_dir,
                strerror(errno));
        return 1;
    }
    ari_host_init(&c->host, c->cfg, &c->reg, &c->cpu, c->data_dir, c->n_threads);
    if (!(flags & ARI_CTX_PLUGINS))
        return 0;

    ari_plugin *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup("(built-in)"))) {
        free(b);
        fprintf(stderr, "aria-core: out of memory\n");
        return 1;
    }
    b->desc = &builtin_desc;
    b->initialized = 1;
    aria_msg why = {{0}};
    if (ari_registry_add(&c->reg, b, &c->cpu, &why) != ARIA_OK) {
        free(b->path);
        free(b);
        fprintf(stderr, "aria-core: %s\n", why.text);
        return 1;
    }

    const char *pd = o->plugins_dir;
    const char *cfg_pd = ari_config_get(c->cfg, "plugins", "dir");
    if (!pd && cfg_pd && cfg_pd[0])
        pd = cfg_pd;
    int explicit = pd != NULL;
    if (!pd)
        pd = ARIA_DEFAULT_PLUGIN_DIR;
    abs_path(pd, c->plugins_dir, sizeof c->plugins_dir);
    int n = ari_load_dir(&c->reg, c->plugins_dir, &c->host, c->cfg, &why);
    if (n < 0) {
        if (explicit) {
            fprintf(stderr, "aria-core: %s\n", why.text);
            return 2;
        }
        ari_warn("loader", "%s; running with built-in components only (use --plugins DIR)",
                 why.text);
    }
    kernel_cfg = c->cfg;
    ari_registry_select_kernels(&c->reg, kernel_override);
    return 0;
}

void ari_ctx_close(ari_ctx *c)
{
    ari_registry_fini(&c->reg);
    ari_config_free(c->cfg);
    c->cfg = NULL;
}

/* ---- the node --------------------------------------------------------- */

/* Holds an exclusive lock on DATA_DIR/node.lock for the node's life, so that
 * two nodes never share a data directory (keys, ledger, models). */
static int lock_data_dir(const char *dir)
{
    char path[4200], pid[32] = "";
    snprintf(path, sizeof path, "%s/node.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        ari_error("node", "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t r = read(fd, pid, sizeof pid - 1);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        ari_error("node", "data directory %s is in use by another node%s%s%s; "
                  "give each node its own --data-dir",
                  dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        close(fd);
        return -1;
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)len) != len)
        ari_warn("node", "%s: cannot record pid: %s", path, strerror(errno));
    return fd;
}

int ari_node_run(const ari_opts *o)
{
    /* Block the stop signals before any plugin starts a thread, so that
     * only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    ari_ctx c;
    ari_service *svc = NULL;
    ari_api *api = NULL;
    ari_peers *peers = NULL;
    ari_prov *prov = NULL;
    int rc = ari_ctx_open(&c, o, ARI_CTX_DATA_DIR);
    int lock = -1;
    if (rc != 0)
        goto out;
    if ((lock = lock_data_dir(c.data_dir)) < 0) {
        rc = 1;
        goto out;
    }
    /* Plugins load only once the lock is ours: two nodes on one directory
     * must not both open its ledger. */
    ari_ctx_close(&c);
    if ((rc = ari_ctx_open(&c, o, ARI_CTX_DATA_DIR | ARI_CTX_PLUGINS)) != 0)
        goto out;

    char feats[256];
    ari_info("node", "aria-core %s on %s (%u cores, %s), %u threads, data in %s", ARIA_VERSION,
             c.cpu.model[0] ? c.cpu.model : "unknown CPU", c.cpu.cores_logical,
             ari_cpu_feature_names(c.cpu.features, feats, sizeof feats), c.n_threads,
             c.data_dir);
    size_t n_if[6] = {0};
    for (size_t i = 0; i < c.reg.n_ifaces; i++)
        if (c.reg.ifaces[i].kind < 6)
            n_if[c.reg.ifaces[i].kind]++;
    ari_info("node", "%zu plugins (%zu skipped): %zu backends, %zu transports, %zu ledgers, "
             "%zu detectors, %zu kernel variants",
             c.reg.n_plugins, c.reg.n_skipped, n_if[ARIA_IFACE_BACKEND],
             n_if[ARIA_IFACE_TRANSPORT], n_if[ARIA_IFACE_LEDGER], n_if[ARIA_IFACE_DETECTOR],
             n_if[ARIA_IFACE_KERNEL]);
    for (size_t i = 0; i < c.reg.n_sel; i++)
        ari_info("kernels", "%s: %s (%s)", c.reg.sel[i].family,
                 c.reg.sel[i].iface ? ((const aria_kernel_vt *)c.reg.sel[i].iface->vt)->isa
                                    : "none",
                 c.reg.sel[i].how);
    aria_msg why = {{0}};
    ari_catalog cat;
    if (ari_catalog_load(ari_config_get(c.cfg, "models", "catalog"), &cat, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core: %s\n", why.text);
        rc = 2;
        goto out;
    }
    ari_info("models", "catalog: %zu models (aria-core model list)", cat.n);
    ari_catalog_free(&cat);
    svc = ari_service_new(&c, o->models, o->n_models, &why);
    if (!svc) {
        fprintf(stderr, "aria-core: %s\n", why.text);
        rc = 2;
        goto out;
    }
    if (!(api = ari_api_start(&c, svc, &why))) {
        fprintf(stderr, "aria-core: %s\n", why.text);
        rc = 1;
        goto out;
    }
    ari_identity ident;
    int created = 0;
    if (ari_identity_load(c.data_dir, &ident, &created, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core: %s\n", why.text);
        rc = 1;
        goto out;
    }
    ari_identity_install(&c.host, &ident);
    ari_info("node", "node id %s (%s %s/identity.key)", ident.id,
             created ? "new key created in" : "key from", c.data_dir);
    prov = ari_prov_open(&c, svc, &why);
    if (!prov && why.text[0]) {
        fprintf(stderr, "aria-core: %s\n", why.text);
        rc = 1;
        goto out;
    }
    ari_api_set_prov(api, prov);
    ari_peer_host ph;
    ari_api_peer_host(api, &ph);
    peers = ari_peers_start(&c, &ident, &ph, &why);
    sodium_memzero(&ident, sizeof ident);
    if (!peers && why.text[0]) {
        fprintf(stderr, "aria-core: %s\n", why.text);
        rc = 1;
        goto out;
    }
    ari_api_set_peers(api, peers);
    ari_peers_set_prov(peers, prov);
    ari_prov_set_peers(prov, peers);
    ari_service_preload(svc);
    ari_info("node", "ready (pid %ld); stop with Ctrl-C or SIGTERM", (long)getpid());

    /* The models directory is watched (its mtime, every 2 s; SIGHUP looks
     * at once): models copied in or removed are served or dropped, and the
     * peers are told. */
    char mdir[4200];
    ari_models_dir(&c, mdir, sizeof mdir);
    struct stat mst;
    struct timespec seen = {0, 0};
    if (stat(mdir, &mst) == 0)
        seen = mst.st_mtim;
    int sig = 0;
    for (;;) {
        struct timespec tick = {2, 0};
        sig = sigtimedwait(&stop, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        int look = sig == SIGHUP;
        if (stat(mdir, &mst) == 0 &&
            (mst.st_mtim.tv_sec != seen.tv_sec || mst.st_mtim.tv_nsec != seen.tv_nsec)) {
            seen = mst.st_mtim;
            look = 1;
        }
        if (sig == SIGHUP)
            ari_info("node", "SIGHUP received: looking at %s again", mdir);
        if (look && ari_service_rescan(svc) > 0)
            ari_peers_caps_changed(peers);
    }
    ari_info("node", "%s received; stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    ari_peers_stop(peers); /* first: requests waiting on peers return */
    ari_prov_set_peers(prov, NULL);
    ari_api_stop(api);
    ari_prov_free(prov); /* after the API: no record is being written */
    ari_peers_free(peers);
    ari_service_free(svc);
    ari_ctx_close(&c);
    if (lock >= 0)
        close(lock);
    if (rc == 0)
        ari_info("node", "stopped");
    return rc;
}
