/* bench/ledger.c — the SQLite ledger: appending one-stage signed records to
 * a fresh database and verifying them, against the raw Ed25519 work on the
 * same bytes in the same process (crypto_sign_detached +
 * crypto_sign_verify_detached for an append, the verify alone for verify).
 * The ratio says how much SQLite and the ledger's bookkeeping cost on top of
 * the signatures that any ledger must make and check.
 *
 * The plugin's source is linked in and driven through its descriptor with a
 * minimal host of this program's own, so the numbers hold no loader. */
#include <aria/ledger.h>
#include <aria/plugin.h>

#include <sodium.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const aria_plugin_desc *aria_plugin_entry(void); /* plugins/ledger-sqlite/ledger.c */

static const char usage[] =
    "usage: bench-ledger [RUNS] [--records N] [--sync normal|full] [--block N]\n"
    "\n"
    "Appends N (default 100000) one-stage records, each signed, to a fresh ledger\n"
    "database in a temporary directory, then verifies them; RUNS times (default 3),\n"
    "reporting medians. Baseline, in the same process: Ed25519 sign + verify of the\n"
    "same bytes (what an append must do anyway), and verify alone (for verify).\n"
    "  --sync   the plugin's [plugin.ledger-sqlite] sync (default normal; full\n"
    "           fsyncs every record: use fewer --records)\n"
    "  --block  seal a block every N records (default 64, the node's default; 0: off)\n";

/* ---- a minimal host ----------------------------------------------------------- */

static uint8_t bench_pk[crypto_sign_PUBLICKEYBYTES], bench_sk[crypto_sign_SECRETKEYBYTES];
static const char *bench_sync = "normal";

static void b_log(aria_log_level level, const char *who, const char *fmt, ...) ARIA_PRINTF(3, 4);
static void b_log(aria_log_level level, const char *who, const char *fmt, ...)
{
    if (level > ARIA_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *b_config(const char *section, const char *key)
{
    if (!strcmp(section, "plugin.ledger-sqlite") && !strcmp(key, "sync"))
        return bench_sync;
    return NULL;
}

static uint64_t b_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static aria_err b_sign(const void *msg, size_t len, uint8_t sig[ARIA_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, bench_sk);
    return ARIA_OK;
}

static double secs(void)
{
    return (double)b_now_ns() / 1e9;
}

/* ---- the work ------------------------------------------------------------------ */

static void make_record(aria_ledger_record *r, uint32_t k)
{
    memset(r, 0, sizeof *r);
    r->hdr.struct_size = sizeof *r;
    r->hdr.version = ARIA_LEDGER_VERSION;
    randombytes_buf(r->id, sizeof r->id);
    memset(r->query_hash, (int)(k & 0xff), ARIA_HASH_BYTES);
    memset(r->output_hash, (int)((k >> 8) & 0xff), ARIA_HASH_BYTES);
    memset(r->model_hash, 0x5a, ARIA_HASH_BYTES);
    snprintf(r->model_id, sizeof r->model_id, "bitnet-b1.58-2b-4t");
    r->tokens_in = 40 + k % 200;
    r->tokens_out = 100 + k % 300;
    r->energy_mj = 2500 + k % 1000;
    r->energy_source = ARIA_ENERGY_ESTIMATED;
    r->latency_us = 800000 + k % 5000;
    r->timestamp_ms = (int64_t)time(NULL) * 1000;
    r->seed = 0x9e3779b97f4a7c15ull * (k + 1);
    r->n_stages = 1;
    memcpy(r->stages[0].node_pubkey, bench_pk, ARIA_PUBKEY_BYTES);
    r->stages[0].layer_first = 0;
    r->stages[0].layer_end = 30;
}

static void sign_record(aria_ledger_record *r)
{
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX];
    size_t n = aria_ledger_signed_bytes(r, bytes);
    crypto_sign_detached(r->stages[0].sig, NULL, bytes, n, bench_sk);
}

typedef struct run {
    double append, verify, sign_verify, verify_only; /* per second */
    long long db_bytes;
} run;

static void remove_db(const char *path)
{
    char p[4200];
    static const char *const tails[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, tails[i]);
        unlink(p);
    }
}

static int ledger_run(const aria_ledger_vt *vt, void *ctx, uint32_t n, uint32_t block, run *out)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/aria-bench-ledger-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench-ledger: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    aria_ledger_opts o = {.hdr = {sizeof o, ARIA_LEDGER_VERSION}, .path = path,
                          .block_records = block};
    aria_ledger *l = NULL;
    aria_msg why = {{0}};
    int rc = -1;
    if (vt->open(ctx, &o, &l, &why) != ARIA_OK) {
        fprintf(stderr, "bench-ledger: %s\n", why.text);
        goto out;
    }
    double t0 = secs();
    for (uint32_t k = 0; k < n; k++) {
        aria_ledger_record r;
        make_record(&r, k);
        sign_record(&r);
        if (vt->append(l, &r, &why) != ARIA_OK) {
            fprintf(stderr, "bench-ledger: append %u: %s\n", k, why.text);
            goto out;
        }
    }
    double t1 = secs();
    aria_ledger_report rep = {.hdr = {sizeof rep, ARIA_LEDGER_VERSION}};
    aria_err e = vt->verify(l, &rep);
    double t2 = secs();
    if (e != ARIA_OK || rep.n_records != n) {
        fprintf(stderr, "bench-ledger: verify: %s (%s)\n", aria_strerror(e), rep.detail);
        goto out;
    }
    out->append = n / (t1 - t0);
    out->verify = n / (t2 - t1);
    vt->close(l);
    l = NULL;
    struct stat st;
    out->db_bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    rc = 0;
out:
    if (l)
        vt->close(l);
    remove_db(path);
    rmdir(dir);
    return rc;
}

/* Ed25519 on the bytes a record signs, as an append and a verify do. */
static void baseline_run(uint32_t n, run *out)
{
    aria_ledger_record r;
    make_record(&r, 1);
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX], sig[ARIA_SIG_BYTES];
    size_t len = aria_ledger_signed_bytes(&r, bytes);
    volatile int bad = 0;
    double t0 = secs();
    for (uint32_t k = 0; k < n; k++) {
        memcpy(bytes + 9, &k, sizeof k); /* a different message each time */
        crypto_sign_detached(sig, NULL, bytes, len, bench_sk);
        bad += crypto_sign_verify_detached(sig, bytes, len, bench_pk);
    }
    double t1 = secs();
    for (uint32_t k = 0; k < n; k++)
        bad += crypto_sign_verify_detached(sig, bytes, len, bench_pk) != 0;
    double t2 = secs();
    if (bad)
        fprintf(stderr, "bench-ledger: the baseline's signatures did not verify\n");
    out->sign_verify = n / (t1 - t0);
    out->verify_only = n / (t2 - t1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const run *runs, int n, size_t off)
{
    double v[64];
    for (int i = 0; i < n; i++)
        memcpy(&v[i], (const char *)&runs[i] + off, sizeof v[i]);
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t runs = 3, n = 100000, block = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--records") && i + 1 < argc) {
            if (parse_u32(argv[++i], 1, 100000000, &n))
                goto bad;
        } else if (!strcmp(a, "--block") && i + 1 < argc) {
            if (parse_u32(argv[++i], 0, 1000000, &block))
                goto bad;
        } else if (!strcmp(a, "--sync") && i + 1 < argc) {
            bench_sync = argv[++i];
            if (strcmp(bench_sync, "normal") && strcmp(bench_sync, "full"))
                goto bad;
        } else if (parse_u32(a, 1, 64, &runs)) {
            goto bad;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "bench-ledger: libsodium does not initialize\n");
        return 1;
    }
    crypto_sign_keypair(bench_pk, bench_sk);
    static const aria_cpu_info cpu;
    aria_host host = {.hdr = {sizeof host, 1},
                      .log = b_log,
                      .config_get = b_config,
                      .alloc = malloc,
                      .calloc = calloc,
                      .realloc = realloc,
                      .free = free,
                      .now_ns = b_now_ns,
                      .data_dir = "/tmp",
                      .cpu = &cpu,
                      .sign = b_sign,
                      .n_threads = 1};
    memcpy(host.node_pubkey, bench_pk, sizeof bench_pk);
    const aria_plugin_desc *d = aria_plugin_entry();
    void *ctx = NULL;
    aria_msg why = {{0}};
    if (d->init(&host, &ctx, &why) != ARIA_OK) {
        fprintf(stderr, "bench-ledger: init of '%s' failed: %s\n", d->name, why.text);
        return 1;
    }
    const aria_ledger_vt *vt = d->interfaces[0].vtable;
    uint32_t nb = n < 20000 ? n : 20000;
    printf("bench-ledger: %u records (1 stage, each signed), %s %s, sync=%s, block every %u "
           "records, %u runs (medians)\n", n, d->name, d->version, bench_sync, block, runs);
    run rs[64];
    for (uint32_t i = 0; i < runs; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        if (ledger_run(vt, ctx, n, block, &rs[i])) {
            d->fini(ctx);
            return 1;
        }
        baseline_run(nb, &rs[i]);
        printf("  run %u: append %.0f/s, verify %.0f/s; baseline sign+verify %.0f/s, verify "
               "%.0f/s; database %.1f MiB\n", i + 1, rs[i].append, rs[i].verify,
               rs[i].sign_verify, rs[i].verify_only, (double)rs[i].db_bytes / (1 << 20));
        fflush(stdout);
    }
    double ap = median(rs, (int)runs, offsetof(run, append));
    double ve = median(rs, (int)runs, offsetof(run, verify));
    double sv = median(rs, (int)runs, offsetof(run, sign_verify));
    double vo = median(rs, (int)runs, offsetof(run, verify_only));
    printf("append (sign + append)     %9.0f records/s\n", ap);
    printf("  baseline sign + verify   %9.0f /s  (%u, same bytes)   ratio %.2f\n", sv, nb, ap / sv);
    printf("verify                     %9.0f records/s\n", ve);
    printf("  baseline verify          %9.0f /s  (%u, same bytes)   ratio %.2f\n", vo, nb, ve / vo);
    d->fini(ctx);
    return 0;
bad:
    fputs(usage, stderr);
    return 2;
}
