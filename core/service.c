/* service.c — models served, loaded on first use, LRU-unloaded; slots and
 * the bounded queue in front of them. */
#include "service.h"

#include "host.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *const ari_err_kind_names[8] = {"bad_request", "not_found", "context_overflow",
                                           "too_large", "queue_full", "unauthorized",
                                           "cancelled", "internal"};

typedef struct smodel {
    ari_model_desc d;
    int from_dir; /* found in the models directory (not --model) */
    /* under svc->mu */
    int state; /* 0 unloaded, 1 loading, 2 loaded */
    ari_loaded ld;
    uint64_t mem;       /* bytes counted against max_memory while loaded */
    uint64_t last_used; /* ns */
    aria_session **sess;
    uint8_t *busy;
    uint32_t n_slots, n_ctx;
    ari_model_stats st;
} smodel;

/* Models are only ever appended, never moved: requests hold indices and
 * descriptors while the node adds models found in the models directory. */
#define MAX_MODELS 1024

struct ari_service {
    ari_ctx *c;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot freed or a load ended */
    smodel *m;         /* MAX_MODELS entries */
    size_t n;          /* written with release, read with acquire */
    uint32_t slots, queue_depth, ctx_size;
    uint64_t max_mem, used_mem;
};

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t count(const ari_service *s)
{
    return __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);
}

static int is_gone(const smodel *m)
{
    return __atomic_load_n(&m->d.gone, __ATOMIC_ACQUIRE);
}

int ari_model_whole(const ari_model_desc *d)
{
    return d->layer_first == 0 && d->layer_end >= d->probe.n_layers;
}

/* The range [models] layers gives model id (MODEL_ID:FIRST-LAST, both
 * included; the config check made sure of the shape): 1 and the range,
 * 0 when none is given. */
static int config_layers(const ari_ctx *c, const char *id, uint32_t *first, uint32_t *last)
{
    const char *v = ari_config_get(c->cfg, "models", "layers");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", v ? v : "");
    for (char *sv, *t = strtok_r(buf, ", ", &sv); t; t = strtok_r(NULL, ", ", &sv)) {
        char *colon = strrchr(t, ':');
        if (!colon)
            continue;
        *colon = '\0';
        unsigned long a, b;
        if (strcmp(t, id) || sscanf(colon + 1, "%lu-%lu", &a, &b) != 2)
            continue;
        *first = (uint32_t)a;
        *last = (uint32_t)b;
        return 1;
    }
    return 0;
}

/* Only the thread that creates or rescans the service adds models. */
static aria_err add_model(ari_service *s, const char *path, const char *id, int from_dir,
                          aria_msg *why)
{
    size_t n = count(s);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s->m[i].d.id, id))
            return aria_fail(why, ARIA_ERR_EXISTS, "%s: a model named '%s' is already served (%s)",
                             path, id, s->m[i].d.path);
    if (n == MAX_MODELS)
        return aria_fail(why, ARIA_ERR_RANGE, "%s: this node already serves %d models", path,
                         MAX_MODELS);
    const ari_iface *f;
    aria_probe pr;
    aria_err e = ari_model_pick(&s->c->reg, path, &f, &pr, why);
    if (e != ARIA_OK)
        return e;
    uint32_t first = 0, last = pr.n_layers ? pr.n_layers - 1 : 0;
    int part = config_layers(s->c, id, &first, &last);
    if (part && last >= pr.n_layers)
        return aria_fail(why, ARIA_ERR_RANGE,
                         "[models] layers %s:%u-%u: the model has %u layers (0-%u)", id, first,
                         last, pr.n_layers, pr.n_layers ? pr.n_layers - 1 : 0);
    smodel *m = &s->m[n];
    memset(m, 0, sizeof *m);
    snprintf(m->d.id, sizeof m->d.id, "%s", id);
    snprintf(m->d.path, sizeof m->d.path, "%s", path);
    m->d.backend = ((const aria_backend_vt *)f->vt)->name;
    m->d.probe = pr;
    m->d.tiers = pr.tiers ? pr.tiers : ((const aria_backend_vt *)f->vt)->tiers;
    m->from_dir = from_dir;
    m->d.layer_first = first;
    m->d.layer_end = pr.n_layers ? last + 1 : 0;
    __atomic_store_n(&s->n, n + 1, __ATOMIC_RELEASE);
    if (ari_model_whole(&m->d))
        ari_info("models", "%s: %s via backend %s (%s, %s, %u layers)", id, path, m->d.backend,
                 pr.arch, pr.format, pr.n_layers);
    else
        ari_info("models", "%s: %s via backend %s (%s, %s): layers %u-%u of %u, for pipelines",
                 id, path, m->d.backend, pr.arch, pr.format, first, last, pr.n_layers);
    return ARIA_OK;
}

/* The sorted *.gguf names of dir; *names is NULL and 0 returned when none
 * (or the directory cannot be read). */
static size_t list_gguf(const char *dir, char ***names)
{
    *names = NULL;
    DIR *d = opendir(dir);
    size_t nn = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".gguf") != 0)
            continue;
        char **nv = realloc(*names, (nn + 1) * sizeof *nv);
        if (!nv)
            break;
        *names = nv;
        if (!(nv[nn] = strdup(e->d_name)))
            break;
        nn++;
    }
    if (d)
        closedir(d);
    if (nn)
        qsort(*names, nn, sizeof **names, cmp_name);
    return nn;
}

ari_service *ari_service_new(ari_ctx *c, const char *const *extra, size_t n_extra, aria_msg *why)
{
    ari_service *s = calloc(1, sizeof *s);
    if (!s) {
        aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->c = c;
    if (!(s->m = calloc(MAX_MODELS, sizeof *s->m))) {
        free(s);
        aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->slots = (uint32_t)ari_config_get_int(c->cfg, "api", "slots_per_model", 2);
    s->queue_depth = (uint32_t)ari_config_get_int(c->cfg, "api", "queue_depth", 64);
    s->ctx_size = (uint32_t)ari_config_get_int(c->cfg, "models", "ctx_size", 4096);
    uint64_t mb = (uint64_t)ari_config_get_int(c->cfg, "models", "max_memory_mb", 0);
    s->max_mem = mb ? mb << 20 : c->cpu.ram_bytes / 10 * 8;
    if (!s->max_mem)
        s->max_mem = 4ull << 30;

    for (size_t i = 0; i < n_extra; i++) {
        struct stat st;
        if (stat(extra[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            aria_fail(why, ARIA_ERR_NOT_FOUND, "--model %s: %s", extra[i],
                      errno ? strerror(errno) : "not a regular file");
            ari_service_free(s);
            return NULL;
        }
        char p[4096];
        if (!realpath(extra[i], p))
            snprintf(p, sizeof p, "%s", extra[i]);
        aria_msg m = {{0}};
        if (add_model(s, p, base_name(extra[i]), 0, &m) != ARIA_OK) {
            aria_fail(why, ARIA_ERR_UNSUPPORTED, "--model %s: %s", extra[i], m.text);
            ari_service_free(s);
            return NULL;
        }
    }
    char dir[4200];
    ari_models_dir(c, dir, sizeof dir);
    char **names;
    size_t nn = list_gguf(dir, &names);
    for (size_t i = 0; i < nn; i++) {
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        aria_msg m = {{0}};
        if (add_model(s, p, names[i], 1, &m) != ARIA_OK)
            ari_warn("models", "%s: not served: %s", p, m.text);
        free(names[i]);
    }
    free(names);
    if (!s->n)
        ari_info("models", "no model to serve: put a GGUF file in %s or pass --model FILE "
                 "(the node runs, but can answer no query until it has one)", dir);
    return s;
}

static void unload_locked(ari_service *s, smodel *m)
{
    for (uint32_t i = 0; i < m->n_slots; i++)
        if (m->sess[i])
            m->ld.vt->session_free(m->sess[i]);
    free(m->sess);
    free(m->busy);
    m->sess = NULL;
    m->busy = NULL;
    m->n_slots = 0;
    ari_model_unload(&m->ld);
    s->used_mem -= m->mem;
    m->mem = 0;
    m->state = 0;
    m->st.loaded = 0;
    m->st.unloads++;
}

void ari_service_free(ari_service *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < count(s); i++)
        if (s->m[i].state == 2)
            unload_locked(s, &s->m[i]);
    free(s->m);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

size_t ari_service_count(const ari_service *s) { return s ? count(s) : 0; }
const ari_model_desc *ari_service_desc(const ari_service *s, size_t i)
{
    return s && i < count(s) && !is_gone(&s->m[i]) ? &s->m[i].d : NULL;
}

long ari_service_find_held(const ari_service *s, const char *id)
{
    size_t n = s ? count(s) : 0;
    for (size_t i = 0; i < n; i++)
        if (!is_gone(&s->m[i]) && !strcmp(s->m[i].d.id, id))
            return (long)i;
    return -1;
}

long ari_service_find(const ari_service *s, const char *id)
{
    long i = ari_service_find_held(s, id);
    return i >= 0 && ari_model_whole(&s->m[i].d) ? i : -1;
}

size_t ari_service_served(const ari_service *s)
{
    size_t n = s ? count(s) : 0, k = 0;
    for (size_t i = 0; i < n; i++)
        k += !is_gone(&s->m[i]);
    return k;
}

size_t ari_service_rescan(ari_service *s)
{
    char dir[4200];
    ari_models_dir(s->c, dir, sizeof dir);
    char **names;
    size_t nn = list_gguf(dir, &names), changed = 0;
    /* files that left: no longer served; unloaded now if idle, else by the
     * LRU rule once their requests end (their mapping stays valid) */
    for (size_t i = 0; i < count(s); i++) {
        smodel *m = &s->m[i];
        if (!m->from_dir || is_gone(m))
            continue;
        int present = 0;
        for (size_t k = 0; k < nn && !present; k++)
            present = !strcmp(names[k], m->d.id);
        if (present)
            continue;
        pthread_mutex_lock(&s->mu);
        __atomic_store_n(&m->d.gone, 1, __ATOMIC_RELEASE);
        if (m->state == 2 && m->st.active == 0 && m->st.waiting == 0)
            unload_locked(s, m);
        pthread_mutex_unlock(&s->mu);
        ari_info("models", "%s left %s: no longer served", m->d.id, dir);
        changed++;
    }
    for (size_t k = 0; k < nn; k++) {
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        size_t i = 0, n = count(s);
        while (i < n && strcmp(s->m[i].d.id, names[k]))
            i++;
        if (i == n) { /* new */
            aria_msg m = {{0}};
            if (add_model(s, p, names[k], 1, &m) == ARIA_OK)
                changed++;
            else
                ari_warn("models", "%s: not served: %s", p, m.text);
        } else if (is_gone(&s->m[i])) { /* back, maybe another file: probe again */
            smodel *m = &s->m[i];
            const ari_iface *f;
            aria_probe pr;
            aria_msg w = {{0}};
            pthread_mutex_lock(&s->mu);
            int idle = m->state == 0;
            pthread_mutex_unlock(&s->mu);
            if (!idle || ari_model_pick(&s->c->reg, p, &f, &pr, &w) != ARIA_OK) {
                if (idle)
                    ari_warn("models", "%s: not served: %s", p, w.text);
                continue;
            }
            pthread_mutex_lock(&s->mu);
            m->d.backend = ((const aria_backend_vt *)f->vt)->name;
            m->d.probe = pr;
            m->d.tiers = pr.tiers ? pr.tiers : ((const aria_backend_vt *)f->vt)->tiers;
            __atomic_store_n(&m->d.gone, 0, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&s->mu);
            ari_info("models", "%s: %s served again (%s, %s)", m->d.id, p, pr.arch, pr.format);
            changed++;
        }
    }
    for (size_t k = 0; k < nn; k++)
        free(names[k]);
    free(names);
    return changed;
}

void ari_service_stats(ari_service *s, size_t i, ari_model_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->m[i].st;
    pthread_mutex_unlock(&s->mu);
}

uint32_t ari_service_queue_depth(ari_service *s)
{
    uint32_t q = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < count(s); i++)
        q += s->m[i].st.waiting;
    pthread_mutex_unlock(&s->mu);
    return q;
}

/* Memory a loaded model is counted for: its tensors and its slots' caches. */
static uint64_t model_mem(const smodel *m, uint32_t slots, uint32_t n_ctx)
{
    /* a layer range: its share of the layers (embeddings and head are not
     * split out: an estimate) */
    uint32_t nl = m->d.probe.n_layers ? m->d.probe.n_layers : 1;
    uint32_t held = m->d.layer_end > m->d.layer_first ? m->d.layer_end - m->d.layer_first : nl;
    uint64_t w = m->d.probe.weight_bytes / nl * held, kv = m->d.probe.kv_bytes_per_tok / nl * held;
    return w + (uint64_t)slots * n_ctx * kv;
}

/* Loads m with s->mu held on entry and exit (released while loading). */
static aria_err load_locked(ari_service *s, smodel *m, aria_msg *why)
{
    uint32_t n_ctx = s->ctx_size;
    if (!n_ctx || (m->d.probe.n_ctx_train && n_ctx > m->d.probe.n_ctx_train))
        n_ctx = m->d.probe.n_ctx_train ? m->d.probe.n_ctx_train : 2048;
    uint64_t need = model_mem(m, s->slots, n_ctx);
    /* make room: unload idle models, least recently used first */
    while (s->used_mem + need > s->max_mem) {
        smodel *lru = NULL;
        for (size_t i = 0; i < count(s); i++) {
            smodel *o = &s->m[i];
            int idle = o->state == 2 && o->st.active == 0 && o->st.waiting == 0;
            if (idle && o != m && (!lru || o->last_used < lru->last_used))
                lru = o;
        }
        if (!lru)
            break;
        ari_info("models", "unloading %s (least recently used) to make room for %s", lru->d.id,
                 m->d.id);
        unload_locked(s, lru);
    }
    if (s->used_mem + need > s->max_mem)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE,
                         "model %s needs %llu MiB, and only %llu of [models] max_memory_mb %llu "
                         "are free (the other models are busy)",
                         m->d.id, (unsigned long long)(need >> 20),
                         (unsigned long long)((s->max_mem - s->used_mem) >> 20),
                         (unsigned long long)(s->max_mem >> 20));
    m->state = 1;
    s->used_mem += need;
    m->mem = need;
    pthread_mutex_unlock(&s->mu);
    uint64_t t0 = ari_now_ns();
    ari_loaded ld;
    aria_err e = ari_model_load(&s->c->reg, m->d.path, m->d.layer_first, m->d.layer_end, n_ctx,
                               s->c->n_threads, &ld, why);
    aria_session **sess = NULL;
    uint8_t *busy = NULL;
    if (e == ARIA_OK) {
        sess = calloc(s->slots, sizeof *sess);
        busy = calloc(s->slots, 1);
        if (!sess || !busy)
            e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        aria_session_params sp = {.hdr = {sizeof sp, 1}, .n_ctx = n_ctx};
        for (uint32_t i = 0; e == ARIA_OK && i < s->slots; i++)
            e = ld.vt->session_new(ld.model, &sp, &sess[i], why);
        if (e != ARIA_OK) {
            for (uint32_t i = 0; sess && i < s->slots; i++)
                if (sess[i])
                    ld.vt->session_free(sess[i]);
            ari_model_unload(&ld);
        }
    }
    pthread_mutex_lock(&s->mu);
    if (e != ARIA_OK) {
        free(sess);
        free(busy);
        s->used_mem -= m->mem;
        m->mem = 0;
        m->state = 0;
        pthread_cond_broadcast(&s->cv);
        return e;
    }
    m->ld = ld;
    m->sess = sess;
    m->busy = busy;
    m->n_slots = s->slots;
    m->n_ctx = n_ctx;
    m->state = 2;
    m->st.loaded = 1;
    m->st.loads++;
    ari_info("models", "loaded %s in %.1f s (%u slots of %u positions, %llu MiB counted)",
             m->d.id, (double)(ari_now_ns() - t0) / 1e9, s->slots, n_ctx,
             (unsigned long long)(m->mem >> 20));
    pthread_cond_broadcast(&s->cv);
    return ARIA_OK;
}

aria_err ari_service_acquire(ari_service *s, size_t i, int (*gone)(void *), void *user,
                             uint64_t deadline_ns, ari_lease *out, aria_msg *why)
{
    memset(out, 0, sizeof *out);
    if (i >= count(s) || is_gone(&s->m[i]))
        return aria_fail(why, ARIA_ERR_NOT_FOUND, "no such model");
    smodel *m = &s->m[i];
    pthread_mutex_lock(&s->mu);
    /* a request waits when every slot is taken, or while the model loads;
     * the first request to an unloaded model loads it and never counts */
    int free_now = m->state == 2 && m->st.active < m->n_slots && m->st.waiting == 0;
    if (!free_now && m->state != 0 && m->st.waiting >= s->queue_depth) {
        pthread_mutex_unlock(&s->mu);
        return aria_fail(why, ARIA_ERR_BUSY, "model %s: %u requests are already waiting "
                         "([api] queue_depth)", m->d.id, m->st.waiting);
    }
    m->st.waiting++;
    aria_err e = ARIA_OK;
    for (;;) {
        if (m->state == 0) {
            e = load_locked(s, m, why);
            if (e != ARIA_OK)
                break;
        }
        if (m->state == 2 && m->st.active < m->n_slots)
            break;
        if (gone && gone(user)) {
            e = aria_fail(why, ARIA_ERR_CANCELLED, "the client went away");
            break;
        }
        uint64_t now = ari_now_ns();
        if (deadline_ns && now >= deadline_ns) {
            e = aria_fail(why, ARIA_ERR_TIMEOUT, "no slot of %s came free before the request's "
                          "deadline ([api] request_timeout_s)", m->d.id);
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    m->st.waiting--;
    if (e == ARIA_OK) {
        uint32_t k = 0;
        while (m->busy[k])
            k++;
        m->busy[k] = 1;
        m->st.active++;
        m->last_used = ari_now_ns();
        *out = (ari_lease){.svc = s, .model = i, .slot = k, .vt = m->ld.vt, .m = m->ld.model,
                           .sess = m->sess[k], .n_ctx = m->n_ctx};
    }
    pthread_mutex_unlock(&s->mu);
    if (e == ARIA_OK)
        e = out->vt->session_truncate(out->sess, 0);
    return e;
}

void ari_service_release(ari_lease *l)
{
    if (!l->svc)
        return;
    ari_service *s = l->svc;
    pthread_mutex_lock(&s->mu);
    smodel *m = &s->m[l->model];
    m->busy[l->slot] = 0;
    m->st.active--;
    m->last_used = ari_now_ns();
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    l->svc = NULL;
}

void ari_service_record(ari_service *s, size_t i, int kind, uint32_t n_prompt, uint32_t n_gen,
                        double prompt_s, double gen_s)
{
    if (i >= count(s))
        return;
    pthread_mutex_lock(&s->mu);
    ari_model_stats *st = &s->m[i].st;
    st->requests++;
    if (kind >= 0 && kind < 8)
        st->errors[kind]++;
    st->prompt_tokens += n_prompt;
    st->completion_tokens += n_gen;
    st->prompt_s += prompt_s;
    st->gen_s += gen_s;
    pthread_mutex_unlock(&s->mu);
}

void ari_service_preload(ari_service *s)
{
    const char *pre = ari_config_get(s->c->cfg, "models", "preload");
    if (!pre || !*pre)
        return;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", pre);
    for (char *sv, *t = strtok_r(buf, ", ", &sv); t; t = strtok_r(NULL, ", ", &sv)) {
        long i = ari_service_find_held(s, t);
        if (i < 0) {
            ari_warn("models", "[models] preload: no model named '%s' is served", t);
            continue;
        }
        aria_msg why = {{0}};
        pthread_mutex_lock(&s->mu);
        aria_err e = s->m[i].state == 0 ? load_locked(s, &s->m[i], &why) : ARIA_OK;
        pthread_mutex_unlock(&s->mu);
        if (e != ARIA_OK)
            ari_warn("models", "[models] preload %s: %s", t, why.text);
    }
}
