/* cmd_run.c — `aria-core run FILE -p PROMPT`: generate text from a model
 * file on this machine, the generated text alone on stdout. */
#include "cmds.h"
#include "models.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char run_usage[] =
    "usage: aria-core run FILE -p PROMPT [-n N] [--temp T] [--seed S] [-t THREADS]\n"
    "                     [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--ctx N]\n"
    "\n"
    "Generates text from a GGUF model with the backend that claims the file.\n"
    "The generated text alone goes to stdout; prompt and generation speed to\n"
    "stderr. With -p \"\" generation starts from BOS alone.\n"
    "\n"
    "  -p, --prompt TEXT     the prompt (raw text, no chat template)\n"
    "  -n, --max-tokens N    tokens to generate (default 128; 0: until EOS)\n"
    "  --temp T              temperature; 0 is greedy (default 0)\n"
    "  --seed S              seed for sampling (default 0)\n"
    "  -t, --threads N       worker threads (default: [node] threads)\n"
    "  --top-k K, --top-p P, --min-p P, --repeat-penalty R\n"
    "                        truncation and penalties (defaults: off)\n"
    "  --ctx N               context length (default: the model's, at most 4096)\n";

static int on_token(void *user, const aria_token_event *ev)
{
    (void)user;
    if (ev->text_len)
        fwrite(ev->text, 1, ev->text_len, stdout);
    fflush(stdout);
    return 0;
}

/* Parses a number option; prints the error and returns -1 when bad. */
static int num_arg(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "aria-core run: %s: '%s' is not a number in %g..%g\n", opt, v ? v : "",
                lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int ari_cmd_run(int argc, char **argv, const ari_opts *o)
{
    const char *file = NULL, *prompt = NULL;
    double n = 128, temp = 0, seed = 0, threads = 0, top_k = 0, top_p = 1, min_p = 0, rep = 1,
           ctx_len = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double *num = NULL, lo = 0, hi = 1e9;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(run_usage, stdout);
            return 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!v) {
                fprintf(stderr, "aria-core run: %s needs a value\n", a);
                return 2;
            }
            prompt = v;
            i++;
            continue;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
            num = &n;
            hi = 1 << 20;
        } else if (!strcmp(a, "--temp")) {
            num = &temp;
            hi = 100;
        } else if (!strcmp(a, "--seed")) {
            num = &seed;
            hi = 18446744073709551615.0;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            num = &threads;
            lo = 1;
            hi = 1024;
        } else if (!strcmp(a, "--top-k")) {
            num = &top_k;
            hi = 1 << 20;
        } else if (!strcmp(a, "--top-p")) {
            num = &top_p;
            lo = 1e-6;
            hi = 1;
        } else if (!strcmp(a, "--min-p")) {
            num = &min_p;
        } else if (!strcmp(a, "--repeat-penalty")) {
            num = &rep;
            lo = 1e-3;
            hi = 10;
        } else if (!strcmp(a, "--ctx")) {
            num = &ctx_len;
            lo = 1;
            hi = 1 << 20;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "aria-core run: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!file) {
            file = a;
            continue;
        } else {
            fprintf(stderr, "aria-core run: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        if (num_arg(a, v, lo, hi, num))
            return 2;
        i++;
    }
    if (!file || !prompt) {
        fprintf(stderr, "aria-core run: %s (see --help)\n",
                !file ? "which model FILE?" : "give a prompt with -p (\"\" starts from BOS)");
        return 2;
    }
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET);
    ari_loaded L = {0};
    int32_t *toks = NULL;
    aria_session *s = NULL;
    if (rc)
        goto out;
    aria_msg why = {{0}};
    rc = 1;
    if (ari_model_load(&c.reg, file, 0, 0, (uint32_t)ctx_len,
                       threads ? (uint32_t)threads : c.n_threads, &L, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core run: %s\n", why.text);
        goto out;
    }
    size_t plen = strlen(prompt), cap = plen + 16, nt = 0;
    toks = malloc(cap * sizeof *toks);
    if (!toks || L.vt->tokenize(L.model, prompt, plen, ARIA_TOK_ADD_BOS | ARIA_TOK_FORCE_BOS, toks,
                                cap, &nt) != ARIA_OK) {
        fprintf(stderr, "aria-core run: cannot tokenize the prompt\n");
        goto out;
    }
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    if (L.vt->session_new(L.model, &sp, &s, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core run: %s\n", why.text);
        goto out;
    }
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = (uint32_t)n, .on_token = on_token};
    gp.sampling.hdr.struct_size = sizeof gp.sampling;
    gp.sampling.hdr.version = 1;
    gp.sampling.temperature = (float)temp;
    gp.sampling.seed = (uint64_t)seed;
    gp.sampling.top_k = (int32_t)top_k;
    gp.sampling.top_p = (float)top_p;
    gp.sampling.min_p = (float)min_p;
    gp.sampling.repeat_penalty = (float)rep;
    gp.sampling.repeat_last_n = 64;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    if (L.vt->generate(s, toks, nt, &gp, &res, &why) != ARIA_OK) {
        fprintf(stderr, "\naria-core run: %s\n", why.text);
        goto out;
    }
    fputc('\n', stdout);
    double ps = res.prompt_ns / 1e9, gs = res.gen_ns / 1e9;
    fprintf(stderr, "prompt: %u tokens, %.1f tok/s; generation: %u tokens, %.1f tok/s\n",
            res.n_prompt, ps > 0 ? res.n_prompt / ps : 0, res.n_generated,
            gs > 0 ? res.n_generated / gs : 0);
    rc = 0;
out:
    if (s)
        L.vt->session_free(s);
    free(toks);
    ari_model_unload(&L);
    ari_ctx_close(&c);
    return rc;
}
