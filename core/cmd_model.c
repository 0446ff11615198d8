/* cmd_model.c — `aria-core model info FILE`: what a GGUF file holds. Reads
 * the file with the SDK's GGUF reader; the backend that would serve it is
 * asked through the plugins. */
#include "cmds.h"
#include "models.h"

#include <aria/gguf.h>
#include <aria/llm.h>
#include <string.h>

static const char model_usage[] =
    "usage: aria-core model info FILE\n"
    "\n"
    "Shows a GGUF model's architecture, shapes, tensor types, vocabulary,\n"
    "chat template and size, and which loaded backend would serve it.\n";

static void show_str(const aria_gguf *g, const char *label, const char *key)
{
    aria_gguf_str s;
    if (aria_gguf_get_str(g, key, &s) == ARIA_OK)
        printf("%-13s%.*s\n", label, (int)(s.len > 200 ? 200 : s.len), s.ptr);
}

static int info(const char *path, const ari_opts *o)
{
    aria_gguf *g;
    aria_msg why = {{0}};
    if (aria_gguf_open(path, &g, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core model info: %s\n", why.text);
        return 1;
    }
    printf("%-13s%s (%.1f MiB, GGUF v%u)\n", "file", path, g->file_size / 1048576.0, g->version);
    show_str(g, "name", "general.name");
    aria_llm_hparams hp;
    aria_msg hwhy = {{0}};
    if (aria_llm_hparams_read(g, &hp, &hwhy) == ARIA_OK) {
        printf("%-13s%s\n", "architecture", hp.arch);
        printf("%-13s%u layers, embedding %u, feed-forward %u, %u heads (%u KV), head size %u\n",
               "shape", hp.n_layer, hp.n_embd, hp.n_ff, hp.n_head, hp.n_head_kv, hp.head_dim);
        printf("%-13s%u tokens trained\n", "context", hp.n_ctx_train);
        printf("%-13s%s, %u dims, base %g, position scale %g\n", "rope",
               hp.rope_kind == ARIA_ROPE_NEOX ? "neox" : "normal", hp.n_rot, hp.rope_base,
               hp.rope_freq_scale);
    } else {
        show_str(g, "architecture", "general.architecture");
        printf("%-13s%s\n", "runnable", hwhy.text);
    }
    const aria_gguf_kv *tk = aria_gguf_find(g, "tokenizer.ggml.tokens");
    aria_gguf_str tm = {"", 0}, pre = {"", 0};
    aria_gguf_get_str(g, "tokenizer.ggml.model", &tm);
    aria_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    uint32_t bos = 0, eos = 0;
    int hb = aria_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos) == ARIA_OK;
    int he = aria_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &eos) == ARIA_OK;
    if (tk)
        printf("%-13s%llu tokens, %.*s%s%.*s, BOS %s%u, EOS %s%u\n", "vocabulary",
               (unsigned long long)tk->arr_n, (int)tm.len, tm.ptr, pre.len ? " / " : "",
               (int)pre.len, pre.ptr, hb ? "" : "none ", bos, he ? "" : "none ", eos);
    aria_gguf_str tpl;
    if (aria_gguf_get_str(g, "tokenizer.chat_template", &tpl) == ARIA_OK)
        printf("%-13s%llu characters\n", "chat template", (unsigned long long)tpl.len);
    else
        printf("%-13snone\n", "chat template");
    uint64_t count[64] = {0}, bytes[64] = {0}, params = 0, total = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const aria_gguf_tensor *t = &g->tensors[i];
        uint32_t k = t->type == ARIA_T_I2_S ? 36 : t->type % 64;
        count[k]++;
        bytes[k] += t->nbytes;
        params += t->n_elements;
        total += t->nbytes;
    }
    printf("%-13s%llu (%.1f M parameters, %.1f MiB):", "tensors", (unsigned long long)g->n_tensors,
           params / 1e6, total / 1048576.0);
    for (uint32_t k = 0; k < 64; k++)
        if (count[k])
            printf(" %s x%llu", aria_type_info_get(k == 36 ? ARIA_T_I2_S : k)->name,
                   (unsigned long long)count[k]);
    printf("\n");
    aria_gguf_close(g);

    ari_ctx c;
    if (ari_ctx_open(&c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET) == 0) {
        const ari_iface *f;
        aria_probe pr;
        if (ari_model_pick(&c.reg, path, &f, &pr, &why) == ARIA_OK)
            printf("%-13s%s (score %u)\n", "backend", ((const aria_backend_vt *)f->vt)->name,
                   pr.score);
        else
            printf("%-13snone: %s\n", "backend", why.text);
    }
    ari_ctx_close(&c);
    return 0;
}

int ari_cmd_model(int argc, char **argv, const ari_opts *o)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(model_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) {
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            fputs(model_usage, stdout);
            return 0;
        }
        if (argc != 3) {
            fprintf(stderr, "aria-core model info: give exactly one FILE (see --help)\n");
            return 2;
        }
        return info(argv[2], o);
    }
    fprintf(stderr, "aria-core model: unknown subcommand '%s' (see --help)\n", argv[1]);
    return 2;
}
