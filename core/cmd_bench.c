/* cmd_bench.c — `aria-core bench`: prompt and generation speed of a model
 * on this machine, against the memory-bandwidth roofline.
 *
 * Every figure is the median of several runs in this process. The roofline
 * is the machine's measured read bandwidth divided by the bytes a generated
 * token reads (every weight matrix, the output head and one embedding row):
 * no CPU can generate faster than that. */
#include "cmds.h"
#include "host.h"
#include "randmodel.h"

#include <aria/gguf.h>
#include <aria/llm.h>
#include <aria/quant.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char bench_usage[] =
    "usage: aria-core bench FILE [options]\n"
    "       aria-core bench --shape NAME --type TYPE [options]\n"
    "       aria-core bench --shape NAME --type TYPE --write FILE\n"
    "\n"
    "Measures prompt evaluation and generation speed (tokens/s), time to first\n"
    "token and peak memory, and the machine's memory read bandwidth, and reports\n"
    "the fraction of the bandwidth roofline that generation reaches. Figures are\n"
    "medians of --runs runs.\n"
    "\n"
    "  --shape NAME       a random-weight model of a real shape:\n"
    "                     tinyllama-1.1b, bitnet-2b4t, bitnet-large, tiny, tiny-bitnet\n"
    "  --type TYPE        its matrices' type: F32 F16 BF16 Q8_0 Q4_0 Q4_K Q5_K Q6_K\n"
    "                     TQ1_0 TQ2_0 I2_S\n"
    "  --head-type TYPE   its embedding and output head (default Q6_K; F16 for tiny)\n"
    "  --seed N           weights' seed (default 1)\n"
    "  --write FILE       only write the random model to FILE\n"
    "  -t, --threads N    worker threads (default: [node] threads)\n"
    "  -p, --prompt N     prompt tokens (default 128)\n"
    "  -n, --gen N        generated tokens per run (default 32)\n"
    "  -r, --runs N       runs per figure (default 3)\n"
    "  --json             one JSON object\n";

static double now_s(void) { return (double)ari_now_ns() / 1e9; }

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- memory bandwidth -------------------------------------------------- */

typedef struct bw_job {
    const uint64_t *buf;
    size_t n;
    uint64_t sums[64];
} bw_job;

static void bw_section(void *arg, int ith, int nth)
{
    bw_job *j = arg;
    uint64_t lo, hi;
    aria_split(j->n, ith, nth, 64, &lo, &hi);
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (uint64_t i = lo; i + 4 <= hi; i += 4) {
        a += j->buf[i];
        b += j->buf[i + 1];
        c += j->buf[i + 2];
        d += j->buf[i + 3];
    }
    j->sums[ith % 64] = a ^ b ^ c ^ d;
}

/* GB/s of a streaming read over 512 MiB (far beyond any cache). */
static double bandwidth(int threads, int runs)
{
    const size_t bytes = 512u << 20;
    uint64_t *buf = malloc(bytes);
    aria_pool *p;
    if (!buf || aria_pool_new(threads, &p) != ARIA_OK) {
        free(buf);
        return 0;
    }
    for (size_t i = 0; i < bytes / 8; i++)
        buf[i] = i;
    bw_job j = {.buf = buf, .n = bytes / 8};
    double t[16];
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        aria_pool_run(p, bw_section, &j);
        t[r] = bytes / (now_s() - t0) / 1e9;
    }
    aria_pool_free(p);
    free(buf);
    return median(t, runs);
}

/* ---- the model --------------------------------------------------------- */

static uint64_t bytes_per_token(const aria_llm *m)
{
    uint64_t b = m->tok_embd.row_bytes + (uint64_t)m->output.rows * m->output.row_bytes;
    for (uint32_t l = m->layer_first; l < m->layer_end; l++) {
        const aria_llm_layer *y = &m->layers[l];
        const aria_weight *ws[] = {&y->wq, &y->wk, &y->wv, &y->wo, &y->w_gate, &y->w_up, &y->w_down};
        for (size_t i = 0; i < 7; i++)
            b += (uint64_t)ws[i]->rows * ws[i]->row_bytes;
    }
    return b;
}

static const ari_registry *bench_reg;
static const aria_kernel_vt *bench_kernels(const char *family)
{
    return ari_registry_kernels(bench_reg, family);
}

static int parse_type(const char *s, uint32_t *t)
{
    static const uint32_t all[] = {ARIA_T_F32,  ARIA_T_F16,  ARIA_T_BF16,  ARIA_T_Q8_0,
                                   ARIA_T_Q4_0, ARIA_T_Q4_K, ARIA_T_Q5_K,  ARIA_T_Q6_K,
                                   ARIA_T_TQ1_0, ARIA_T_TQ2_0, ARIA_T_I2_S};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcasecmp(s, aria_type_info_get(all[i])->name)) {
            *t = all[i];
            return 0;
        }
    return -1;
}

int ari_cmd_bench(int argc, char **argv, const ari_opts *o)
{
    const char *file = NULL, *shape_name = NULL, *write_to = NULL;
    uint32_t type = 0, head_type = ARIA_T_Q6_K;
    int have_type = 0, have_head = 0, json = 0;
    long threads = 0, n_prompt = 128, n_gen = 32, runs = 3, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = NULL, lo = 1, hi = 1 << 20;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(bench_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        } else if (!strcmp(a, "--shape") || !strcmp(a, "--type") || !strcmp(a, "--head-type") ||
                   !strcmp(a, "--write")) {
            if (!v) {
                fprintf(stderr, "aria-core bench: %s needs a value\n", a);
                return 2;
            }
            i++;
            if (!strcmp(a, "--shape"))
                shape_name = v;
            else if (!strcmp(a, "--write"))
                write_to = v;
            else if (parse_type(v, !strcmp(a, "--type") ? &type : &head_type)) {
                fprintf(stderr, "aria-core bench: %s: unknown type '%s' (see --help)\n", a, v);
                return 2;
            } else if (!strcmp(a, "--type"))
                have_type = 1;
            else
                have_head = 1;
            continue;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            num = &threads;
            hi = 1024;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            num = &n_prompt;
            hi = 8192;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--gen")) {
            num = &n_gen;
            hi = 8192;
        } else if (!strcmp(a, "-r") || !strcmp(a, "--runs")) {
            num = &runs;
            hi = 15;
        } else if (!strcmp(a, "--seed")) {
            num = &seed;
            lo = 0;
            hi = 1L << 30;
        } else if (a[0] == '-') {
            fprintf(stderr, "aria-core bench: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!file) {
            file = a;
            continue;
        } else {
            fprintf(stderr, "aria-core bench: unexpected argument '%s'\n", a);
            return 2;
        }
        char *end;
        long x = v ? strtol(v, &end, 10) : 0;
        if (!v || *end || x < lo || x > hi) {
            fprintf(stderr, "aria-core bench: %s: '%s' is not a number in %ld..%ld\n", a,
                    v ? v : "", lo, hi);
            return 2;
        }
        *num = x;
        i++;
    }
    const ari_shape *sh = NULL;
    if (shape_name) {
        if (!(sh = ari_shape_find(shape_name))) {
            fprintf(stderr, "aria-core bench: unknown shape '%s' (have: %s)\n", shape_name,
                    ari_shape_names());
            return 2;
        }
        if (!have_type) {
            fprintf(stderr, "aria-core bench: --shape needs --type\n");
            return 2;
        }
        if (!have_head && !strncmp(sh->name, "tiny", 4))
            head_type = ARIA_T_F16;
    }
    if (!!file == !!sh) {
        fprintf(stderr, "aria-core bench: give a model FILE or --shape (see --help)\n");
        return 2;
    }
    char tmp[64] = "";
    aria_msg why = {{0}};
    if (sh) {
        const char *dst = write_to;
        if (!dst) {
            snprintf(tmp, sizeof tmp, "/tmp/aria-bench-XXXXXX");
            int fd = mkstemp(tmp);
            if (fd < 0) {
                perror("aria-core bench: temp file");
                return 1;
            }
            close(fd);
            dst = tmp;
        }
        fprintf(stderr, "writing a random %s model (%s) to %s\n", sh->name,
                aria_type_info_get(type)->name, dst);
        /* In a child: the writer's buffers must not count in our peak RSS. */
        pid_t pid = fork();
        if (pid == 0)
            _exit(ari_randmodel_write(dst, sh, type, head_type, (uint64_t)seed, &why) == ARIA_OK
                      ? 0
                      : (fprintf(stderr, "aria-core bench: %s\n", why.text), 1));
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            if (tmp[0])
                unlink(tmp);
            return 1;
        }
        if (write_to)
            return 0;
        file = dst;
    }

    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET);
    aria_llm *m = NULL;
    aria_pool *pool = NULL;
    aria_llm_ctx *lc = NULL;
    int32_t *toks = NULL;
    if (rc)
        goto out;
    rc = 1;
    int nt = threads ? (int)threads : (int)c.n_threads;
    bench_reg = &c.reg;
    aria_llm_opts lo_ = {.kernels = bench_kernels};
    if (aria_llm_load(file, &lo_, &m, &why) != ARIA_OK || aria_pool_new(nt, &pool) != ARIA_OK ||
        aria_llm_ctx_new(m, (uint32_t)(n_prompt + n_gen + 1), pool, &lc, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core bench: %s\n", why.text[0] ? why.text : "cannot start");
        goto out;
    }
    toks = malloc((size_t)(n_prompt + n_gen) * sizeof *toks);
    for (long i = 0; i < n_prompt + n_gen; i++)
        toks[i] = (int32_t)((i * 7919 + 13) % m->hp.n_vocab);
    double pp[16], tg[16], ttft[16];
    /* one warm-up pass pages the weights in */
    aria_llm_forward(lc, toks, NULL, 1, NULL, 0, &why);
    for (int r = 0; r < runs; r++) {
        aria_llm_ctx_truncate(lc, 0);
        double t0 = now_s();
        if (aria_llm_forward(lc, toks, NULL, (uint32_t)n_prompt, NULL, 0, &why) != ARIA_OK) {
            fprintf(stderr, "aria-core bench: %s\n", why.text);
            goto out;
        }
        double t1 = now_s();
        pp[r] = n_prompt / (t1 - t0);
        ttft[r] = (t1 - t0) * 1000;
        for (long i = 0; i < n_gen; i++)
            aria_llm_forward(lc, toks + n_prompt + i, NULL, 1, NULL, 0, &why);
        tg[r] = n_gen / (now_s() - t1);
        if (!json)
            fprintf(stderr, "run %d: prompt %.1f tok/s, generation %.1f tok/s\n", r + 1, pp[r], tg[r]);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = ru.ru_maxrss / 1024.0;
    double pp_m = median(pp, (int)runs), tg_m = median(tg, (int)runs), ttft_m = median(ttft, (int)runs);
    uint64_t bpt = bytes_per_token(m);
    double kv_mb = aria_llm_kv_bytes_per_pos(m) * (double)(n_prompt + n_gen + 1) / 1048576.0;
    double file_mb = m->gguf->file_size / 1048576.0;
    char fmt[16];
    snprintf(fmt, sizeof fmt, "%s", m->format);
    aria_llm_ctx_free(lc);
    lc = NULL;
    aria_llm_free(m);
    m = NULL;
    aria_pool_free(pool);
    pool = NULL;
    double bw = bandwidth(nt, 3);
    double bw1 = nt > 1 ? bandwidth(1, 3) : bw;
    double roof = bw * 1e9 / (double)bpt;
    const char *name = sh ? sh->name : file;
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:f, s:f, s:f, s:f, s:I, s:f, s:f, s:f, s:f, s:f, s:i}",
                              "model", name, "type", fmt, "threads", nt, "pp_tok_s", pp_m,
                              "tg_tok_s", tg_m, "ttft_ms", ttft_m, "peak_rss_mb", rss_mb,
                              "bytes_per_token", (json_int_t)bpt, "bandwidth_gb_s", bw,
                              "bandwidth_1t_gb_s", bw1, "roofline_fraction", tg_m / roof,
                              "file_mb", file_mb, "kv_mb", kv_mb, "runs", (int)runs);
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (s)
            puts(s);
        free(s);
    } else {
        printf("model        %s (%s), %d threads, %ld runs (medians)\n", name, fmt, nt, runs);
        printf("prompt       %.1f tok/s (%ld tokens), time to first token %.0f ms\n", pp_m,
               n_prompt, ttft_m);
        printf("generation   %.1f tok/s\n", tg_m);
        printf("memory       peak RSS %.0f MiB (file %.0f MiB, KV %.1f MiB)\n", rss_mb, file_mb,
               kv_mb);
        printf("bandwidth    %.1f GB/s at %d threads (%.1f GB/s at 1)\n", bw, nt, bw1);
        printf("roofline     %.1f tok/s (%.1f MiB read per token): %.0f%% reached\n", roof,
               bpt / 1048576.0, 100 * tg_m / roof);
    }
    rc = 0;
out:
    free(toks);
    aria_llm_ctx_free(lc);
    aria_llm_free(m);
    aria_pool_free(pool);
    ari_ctx_close(&c);
    if (tmp[0])
        unlink(tmp);
    return rc;
}
