/* energy.c — RAPL counters or CPU time, per inference (see energy.h).
 *
 * Every sysfs value goes through read_u64, which takes only a plain decimal
 * number that fits: a counter file that says anything else means "no
 * reading", never a made-up figure. */
#include "energy.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RAPL_PREFIX "intel-rapl:"

/* Why a value was refused, for init's message. */
typedef enum { RD_OK, RD_OPEN, RD_EMPTY, RD_GARBAGE, RD_RANGE } rd_status;

static const char *rd_text(rd_status s)
{
    switch (s) {
    case RD_OK: return "ok";
    case RD_OPEN: return "unreadable";
    case RD_EMPTY: return "empty";
    case RD_GARBAGE: return "not a number";
    case RD_RANGE: return "out of range";
    }
    return "?";
}

/* The one decimal number a sysfs attribute holds (a trailing newline is
 * fine, a sign, a second word or an overflow is not). */
static rd_status read_u64(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return RD_OPEN;
    char buf[32];
    int got = fscanf(f, "%31s", buf);
    int err = ferror(f);
    char extra;
    int more = got == 1 ? fscanf(f, " %c", &extra) : EOF;
    fclose(f);
    if (got != 1)
        return err ? RD_OPEN : RD_EMPTY; /* EISDIR, EACCES on read: unreadable */
    if (more != EOF)
        return RD_GARBAGE;
    size_t len = strlen(buf);
    if (len == sizeof buf - 1)
        return RD_RANGE; /* 31 digits or more would not fit anyway */
    for (size_t i = 0; i < len; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return RD_GARBAGE;
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno == ERANGE)
        return RD_RANGE;
    *out = (uint64_t)v;
    return RD_OK;
}

/* A zone's name file ("package-0"), or "" when it has none. */
#define NAME_MAX_LEN 31
static void read_name(const char *path, char buf[NAME_MAX_LEN + 1])
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fscanf(f, "%31s", buf) != 1)
        buf[0] = '\0';
    fclose(f);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            *p = '?'; /* it goes into a one-line message */
}

/* N of a top-level zone "intel-rapl:N"; -1 for anything else (subzones
 * "intel-rapl:N:M", "intel-rapl-mmio:N", the control type "intel-rapl"). */
static long zone_index(const char *d)
{
    size_t pl = sizeof RAPL_PREFIX - 1;
    if (strncmp(d, RAPL_PREFIX, pl) != 0 || !d[pl])
        return -1;
    long n = 0;
    for (const char *p = d + pl; *p; p++) {
        if (*p < '0' || *p > '9' || n > 1000000)
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n;
}

/* One line of text built in pieces, cut where it no longer fits. */
typedef struct line {
    char *buf;
    size_t cap, len;
} line;

static void add(line *l, const char *fmt, ...) ARIA_PRINTF(2, 3);
static void add(line *l, const char *fmt, ...)
{
    if (!l->buf || l->len + 1 >= l->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, l->cap - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len = l->len + (size_t)n < l->cap ? l->len + (size_t)n : l->cap - 1;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Checks one zone and appends it to e; returns what went wrong, as text for
 * why, or NULL when it was taken. */
static const char *take_zone(ari_energy *e, const char *root, long idx, char name[NAME_MAX_LEN + 1],
                             char *detail, size_t dcap)
{
    char dir[ARI_ENERGY_PATH_MAX], path[ARI_ENERGY_PATH_MAX + 32];
    int w = snprintf(dir, sizeof dir, "%s/" RAPL_PREFIX "%ld", root, idx);
    if (w < 0 || (size_t)w + sizeof "/max_energy_range_uj" > sizeof dir)
        return "path too long";
    snprintf(path, sizeof path, "%s/name", dir);
    read_name(path, name);
    if (!strcmp(name, "psys"))
        return "psys (the whole platform)";
    uint64_t range = 0, now = 0;
    snprintf(path, sizeof path, "%s/max_energy_range_uj", dir);
    rd_status s = read_u64(path, &range);
    if (s != RD_OK) {
        snprintf(detail, dcap, "max_energy_range_uj %s", rd_text(s));
        return detail;
    }
    if (range == 0 || range > ARI_ENERGY_MAX_RANGE_UJ) {
        snprintf(detail, dcap, "max_energy_range_uj %" PRIu64 " out of range", range);
        return detail;
    }
    snprintf(path, sizeof path, "%s/energy_uj", dir);
    s = read_u64(path, &now);
    if (s != RD_OK) {
        snprintf(detail, dcap, "energy_uj %s", rd_text(s));
        return detail;
    }
    if (now >= range) {
        snprintf(detail, dcap, "energy_uj %" PRIu64 " not below its range %" PRIu64, now, range);
        return detail;
    }
    ari_energy_pkg *p = &e->pkg[e->n_pkg++];
    size_t len = strlen(path); /* < sizeof p->path: checked against dir above */
    memcpy(p->path, path, len + 1);
    p->range_uj = range;
    return NULL;
}

void ari_energy_init(ari_energy *e, const char *root, double core_watts, aria_msg *why)
{
    line l = {why ? why->text : NULL, why ? sizeof why->text : 0, 0};
    if (l.buf)
        l.buf[0] = '\0';
    memset(e, 0, sizeof *e);
    int watts_ok = isfinite(core_watts) && core_watts >= 0;
    e->core_watts = watts_ok ? core_watts : ARI_ENERGY_DEFAULT_CORE_WATTS;

    long idx[ARI_ENERGY_MAX_PACKAGES];
    size_t n_idx = 0, n_over = 0;
    DIR *d = root ? opendir(root) : NULL;
    if (!root) {
        add(&l, "no RAPL: no powercap directory given");
    } else if (!d) {
        add(&l, "no RAPL: %s: %s", root, strerror(errno));
    } else {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            long n = zone_index(de->d_name);
            if (n < 0)
                continue;
            if (n_idx < ARI_ENERGY_MAX_PACKAGES) {
                idx[n_idx++] = n;
                continue;
            }
            /* full: keep the lowest numbers, whatever readdir's order */
            n_over++;
            size_t hi = 0;
            for (size_t i = 1; i < n_idx; i++)
                if (idx[i] > idx[hi])
                    hi = i;
            if (n < idx[hi])
                idx[hi] = n;
        }
        closedir(d);
        /* readdir's order is the filesystem's: sort, so the same tree gives
         * the same packages and the same message */
        qsort(idx, n_idx, sizeof idx[0], cmp_long);
        if (!n_idx)
            add(&l, "no RAPL: no intel-rapl:N zones under %s", root);
    }

    char names[ARI_ENERGY_MAX_PACKAGES][NAME_MAX_LEN + 1];
    const char *bad[ARI_ENERGY_MAX_PACKAGES];
    char details[ARI_ENERGY_MAX_PACKAGES][96];
    for (size_t i = 0; i < n_idx; i++) {
        size_t at = e->n_pkg;
        char name[NAME_MAX_LEN + 1];
        const char *r = take_zone(e, root, idx[i], name, details[i], sizeof details[i]);
        bad[i] = r;
        if (!r)
            snprintf(names[at], sizeof names[at], "%s", name[0] ? name : "?");
    }
    if (n_idx) {
        if (e->n_pkg) {
            add(&l, "%zu package%s under %s (", e->n_pkg, e->n_pkg == 1 ? "" : "s", root);
            for (size_t i = 0; i < e->n_pkg; i++)
                add(&l, "%s%s", i ? ", " : "", names[i]);
            add(&l, ")");
        } else {
            add(&l, "no RAPL: no readable package under %s", root);
        }
        for (size_t i = 0, k = 0; i < n_idx; i++)
            if (bad[i])
                add(&l, "%s" RAPL_PREFIX "%ld: %s", k++ ? ", " : "; ignored ", idx[i], bad[i]);
        if (n_over)
            add(&l, "; %zu zone%s past the first %d ignored", n_over, n_over == 1 ? "" : "s",
                ARI_ENERGY_MAX_PACKAGES);
    }
    if (!e->n_pkg)
        add(&l, "; estimating at %g W per busy core", e->core_watts);
    if (!watts_ok)
        add(&l, "; core_watts %g refused, %g W used", core_watts, ARI_ENERGY_DEFAULT_CORE_WATTS);
}

int ari_energy_measured(const ari_energy *e)
{
    return e && e->n_pkg > 0;
}

/* The packages' counters summed now, or ARI_ENERGY_NO_READING. */
static uint64_t read_sum(const ari_energy *e)
{
    if (!ari_energy_measured(e))
        return ARI_ENERGY_NO_READING;
    uint64_t sum = 0;
    for (size_t i = 0; i < e->n_pkg; i++) {
        uint64_t v;
        if (read_u64(e->pkg[i].path, &v) != RD_OK || v >= e->pkg[i].range_uj)
            return ARI_ENERGY_NO_READING;
        sum += v; /* < n_pkg * ARI_ENERGY_MAX_RANGE_UJ: no overflow */
    }
    return sum;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec t;
    if (clock_gettime(id, &t) != 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void ari_energy_mark_now(const ari_energy *e, ari_energy_mark *m)
{
    m->uj = read_sum(e);
    m->cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    m->wall_ns = clock_ns(CLOCK_MONOTONIC);
}

/* The counters' delta from sum `then` to sum `now` in uJ: a fall means
 * wraps, undone by the smallest total of distinct packages' ranges that
 * makes it non-negative (see energy.h). A Gray-code walk over the subsets
 * changes one package per step, so this is 2^n additions, only after a
 * wrap. */
static uint64_t unwrap(const ari_energy *e, uint64_t then, uint64_t now)
{
    if (now >= then)
        return now - then;
    int64_t d = (int64_t)now - (int64_t)then; /* both < 2^62 */
    int64_t best = -1, sub = 0;
    uint32_t subsets = 1u << e->n_pkg;
    for (uint32_t i = 1; i < subsets; i++) {
        unsigned bit = (unsigned)__builtin_ctz(i);
        uint32_t gray = i ^ (i >> 1);
        if (gray & (1u << bit))
            sub += (int64_t)e->pkg[bit].range_uj;
        else
            sub -= (int64_t)e->pkg[bit].range_uj;
        int64_t c = d + sub;
        if (c >= 0 && (best < 0 || c < best))
            best = c;
    }
    /* the full set always qualifies (then < the sum of all ranges), so
     * best was set; the guard is for the reader */
    return best < 0 ? 0 : (uint64_t)best;
}

uint64_t ari_energy_since(const ari_energy *e, const ari_energy_mark *m, double share,
                          uint32_t *source)
{
    if (!(share > 0 && share <= 1))
        share = 1;
    uint64_t now = read_sum(e);
    double mj;
    if (m->uj != ARI_ENERGY_NO_READING && now != ARI_ENERGY_NO_READING) {
        mj = (double)unwrap(e, m->uj, now) / 1000.0 * share;
        if (source)
            *source = ARIA_ENERGY_MEASURED;
    } else {
        uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        double s = cpu > m->cpu_ns ? (double)(cpu - m->cpu_ns) / 1e9 : 0;
        mj = s * e->core_watts * 1000.0 * share;
        if (source)
            *source = ARIA_ENERGY_ESTIMATED;
    }
    if (!(mj > 0))
        return 0;
    if (mj >= 18446744073709551615.0)
        return UINT64_MAX;
    return (uint64_t)(mj + 0.5);
}
