/* catalog.c — the built-in model catalog and the license gate.
 *
 * Sources are the publishers' Hugging Face repositories. Sizes and
 * checksums are left unknown (0, "") where they were not read off the
 * published files: a download then checks the size the server announces and
 * records the SHA-256 it computed. */
#include "catalog.h"

#include "router.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HF "https://huggingface.co/"

typedef struct seed {
    const char *id;
    uint32_t tier;
    double params_b;
    const char *license, *repo, *file, *note;
} seed;

static const seed builtin[] = {
    /* efficiency: 1.58-bit models, any CPU */
    {"bitnet-b1.58-large", ARIA_TIER_EFFICIENCY, 0.73, "MIT", "1bitLLM/bitnet_b1_58-large",
     "ggml-model-i2_s.gguf", "published as safetensors; convert with bitnet.cpp to I2_S"},
    {"bitnet-b1.58-2b-4t", ARIA_TIER_EFFICIENCY, 2.41, "MIT", "microsoft/bitnet-b1.58-2B-4T-gguf",
     "ggml-model-i2_s.gguf", "Microsoft's own I2_S GGUF"},
    {"falcon-e-1b-instruct", ARIA_TIER_EFFICIENCY, 1.8, "TII-Falcon-2.0",
     "tiiuae/Falcon-E-1B-Instruct-GGUF", "ggml-model-i2_s.gguf", ""},
    {"falcon-e-3b-instruct", ARIA_TIER_EFFICIENCY, 3.2, "TII-Falcon-2.0",
     "tiiuae/Falcon-E-3B-Instruct-GGUF", "ggml-model-i2_s.gguf", ""},
    {"falcon3-1b-instruct-1.58bit", ARIA_TIER_EFFICIENCY, 1.7, "TII-Falcon-2.0",
     "tiiuae/Falcon3-1B-Instruct-1.58bit", "ggml-model-i2_s.gguf",
     "published as safetensors; convert with bitnet.cpp to I2_S"},
    {"falcon3-3b-instruct-1.58bit", ARIA_TIER_EFFICIENCY, 3.2, "TII-Falcon-2.0",
     "tiiuae/Falcon3-3B-Instruct-1.58bit", "ggml-model-i2_s.gguf",
     "published as safetensors; convert with bitnet.cpp to I2_S"},
    {"falcon3-7b-instruct-1.58bit", ARIA_TIER_EFFICIENCY, 7.5, "TII-Falcon-2.0",
     "tiiuae/Falcon3-7B-Instruct-1.58bit", "ggml-model-i2_s.gguf",
     "published as safetensors; convert with bitnet.cpp to I2_S"},
    {"falcon3-10b-instruct-1.58bit", ARIA_TIER_EFFICIENCY, 10.3, "TII-Falcon-2.0",
     "tiiuae/Falcon3-10B-Instruct-1.58bit", "ggml-model-i2_s.gguf",
     "published as safetensors; convert with bitnet.cpp to I2_S"},
    /* quality: small chat models under permissive licenses */
    {"qwen2.5-0.5b-instruct", ARIA_TIER_QUALITY, 0.49, "Apache-2.0",
     "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q8_0.gguf", ""},
    {"qwen2.5-1.5b-instruct", ARIA_TIER_QUALITY, 1.54, "Apache-2.0",
     "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf", ""},
    {"qwen3-1.7b", ARIA_TIER_QUALITY, 1.7, "Apache-2.0", "Qwen/Qwen3-1.7B-GGUF",
     "Qwen3-1.7B-Q8_0.gguf", ""},
    {"smollm3-3b", ARIA_TIER_QUALITY, 3.1, "Apache-2.0", "ggml-org/SmolLM3-3B-GGUF",
     "SmolLM3-Q4_K_M.gguf", ""},
    {"phi-4-mini-instruct", ARIA_TIER_QUALITY, 3.8, "MIT", "unsloth/Phi-4-mini-instruct-GGUF",
     "Phi-4-mini-instruct-Q4_K_M.gguf", ""},
    /* specialist: code, reasoning, vision */
    {"qwen2.5-coder-7b-instruct", ARIA_TIER_SPECIALIST, 7.6, "Apache-2.0",
     "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF", "qwen2.5-coder-7b-instruct-q4_k_m.gguf", "code"},
    {"deepseek-r1-distill-qwen-1.5b", ARIA_TIER_SPECIALIST, 1.78, "MIT",
     "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF", "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf",
     "reasoning"},
    {"minicpm-v-4", ARIA_TIER_SPECIALIST, 4.1, "Apache-2.0", "openbmb/MiniCPM-V-4-gguf",
     "ggml-model-Q4_K_M.gguf", "vision; its image encoder (mmproj) is not yet run by ARIA"},
};

int ari_license_ok(const char *l)
{
    static const char *const ok[] = {"MIT", "Apache-2.0", "TII-Falcon-2.0"};
    for (size_t i = 0; l && i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(l, ok[i]))
            return 1;
    return 0;
}

static int id_ok(const char *s)
{
    if (!s || !*s || strlen(s) >= 96)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
              *s == '_'))
            return 0;
    return 1;
}

static int file_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 5 && n < 160 && !strchr(s, '/') && s[0] != '.' && !strcmp(s + n - 5, ".gguf");
}

/* Checks one entry; "" when it passes, else the problem. */
static const char *check(const ari_catalog_entry *e)
{
    if (!id_ok(e->id))
        return "id must be 1-95 characters of a-z, 0-9, '-', '.', '_'";
    if (!e->tier)
        return "tier must be efficiency, quality or specialist";
    if (!ari_license_ok(e->license))
        return "license is not MIT, Apache-2.0 or TII-Falcon-2.0: refused by the license gate";
    if (!file_ok(e->file))
        return "file must be a plain *.gguf file name";
    if (strncmp(e->url, "https://", 8) && strncmp(e->url, "http://", 7))
        return "url must be http:// or https://";
    if (e->sha256[0] && strspn(e->sha256, "0123456789abcdef") != 64)
        return "sha256 must be 64 lowercase hex digits";
    return "";
}

aria_err ari_catalog_load(const char *path, ari_catalog *out, aria_msg *why)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path) {
        size_t n = sizeof builtin / sizeof builtin[0];
        out->e = calloc(n, sizeof *out->e);
        if (!out->e)
            return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            ari_catalog_entry *e = &out->e[i];
            const seed *s = &builtin[i];
            snprintf(e->id, sizeof e->id, "%s", s->id);
            e->tier = s->tier;
            e->params_b = s->params_b;
            snprintf(e->license, sizeof e->license, "%s", s->license);
            snprintf(e->repo, sizeof e->repo, "%s", s->repo);
            snprintf(e->file, sizeof e->file, "%s", s->file);
            snprintf(e->url, sizeof e->url, HF "%s/resolve/main/%s", s->repo, s->file);
            snprintf(e->note, sizeof e->note, "%s", s->note);
            const char *p = check(e);
            if (*p) {
                free(out->e);
                out->e = NULL;
                return aria_fail(why, ARIA_ERR_PERMISSION, "built-in catalog: entry '%s': %s",
                                 e->id, p);
            }
        }
        out->n = n;
        return ARIA_OK;
    }
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s:%d: %s", path, je.line, je.text);
    if (!json_is_array(root)) {
        json_decref(root);
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: a catalog is a JSON array of entries", path);
    }
    size_t n = json_array_size(root);
    out->e = calloc(n ? n : 1, sizeof *out->e);
    if (!out->e) {
        json_decref(root);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(root, i);
        ari_catalog_entry *e = &out->e[i];
        const char *id = json_string_value(json_object_get(o, "id"));
#define STR(f, key) snprintf(e->f, sizeof e->f, "%s", json_string_value(json_object_get(o, key)) ? json_string_value(json_object_get(o, key)) : "")
        STR(id, "id");
        STR(license, "license");
        STR(repo, "repo");
        STR(file, "file");
        STR(url, "url");
        STR(sha256, "sha256");
        STR(note, "note");
#undef STR
        const char *tier = json_string_value(json_object_get(o, "tier"));
        e->tier = tier ? ari_tier_parse(tier, strlen(tier)) : 0;
        e->params_b = json_number_value(json_object_get(o, "params_b"));
        json_t *sz = json_object_get(o, "size");
        e->size = json_is_integer(sz) && json_integer_value(sz) > 0 ? (uint64_t)json_integer_value(sz) : 0;
        if (!e->url[0] && e->repo[0] && e->file[0])
            snprintf(e->url, sizeof e->url, HF "%s/resolve/main/%s", e->repo, e->file);
        const char *p = json_is_object(o) ? check(e) : "not a JSON object";
        for (size_t k = 0; !*p && k < i; k++)
            if (!strcmp(out->e[k].id, e->id))
                p = "id appears twice";
        if (*p) {
            aria_fail(why, ARIA_ERR_PERMISSION, "%s: entry %zu '%s': %s", path, i + 1,
                      id ? id : "?", p);
            json_decref(root);
            free(out->e);
            out->e = NULL;
            return ARIA_ERR_PERMISSION;
        }
    }
    out->n = n;
    json_decref(root);
    return ARIA_OK;
}

void ari_catalog_free(ari_catalog *c)
{
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

const ari_catalog_entry *ari_catalog_find(const ari_catalog *c, const char *id)
{
    for (size_t i = 0; c && id && i < c->n; i++)
        if (!strcmp(c->e[i].id, id))
            return &c->e[i];
    return NULL;
}
