/* tokenizer.c — SPM, BPE and WordPiece from GGUF metadata, matching
 * llama.cpp's tokenizers token for token (tests/test_tokenizer.c checks the
 * conformance vectors in ../shared/vocab). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <aria/tokenizer.h>

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

enum { T_SPM = 1, T_BPE = 2, T_WPM = 3 };
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

#define MAX_RE 8

struct aria_tokenizer {
    int type;
    uint32_t n;
    aria_gguf_str *text;
    float *score;
    int32_t *ttype;
    /* text -> id, open addressing */
    int32_t *slots;
    uint32_t mask;
    /* BPE merges: (left id, right id) -> rank */
    uint64_t *mkeys;
    int32_t *mranks;
    uint32_t mmask;
    int32_t bos, eos, eot, unk, pad;
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    int32_t byte_tok[256]; /* SPM <0xXX> tokens; BPE byte-level single chars */
    pcre2_code *re[MAX_RE];
    int n_re;
    int32_t *special; /* control/user/unknown tokens, longest text first */
    uint32_t n_special;
    uint32_t max_len; /* longest token text, bytes */
    char pre[32];
    char note[160];
    uint8_t *is_eog;
};

/* ---- hashing ----------------------------------------------------------- */

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int32_t lookup(const aria_tokenizer *t, const char *s, size_t n)
{
    for (uint32_t i = fnv(s, n) & t->mask;; i = (i + 1) & t->mask) {
        int32_t id = t->slots[i];
        if (id < 0)
            return -1;
        if (t->text[id].len == n && !memcmp(t->text[id].ptr, s, n))
            return id;
    }
}

static uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static int32_t merge_rank(const aria_tokenizer *t, int32_t a, int32_t b)
{
    if (!t->mkeys)
        return -1;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (uint32_t i = (uint32_t)mix64(key) & t->mmask;; i = (i + 1) & t->mmask) {
        if (t->mranks[i] < 0)
            return -1;
        if (t->mkeys[i] == key)
            return t->mranks[i];
    }
}

/* ---- GPT-2 byte-level mapping ------------------------------------------ */

static uint32_t byte_cp[256];  /* byte -> code point */
static int16_t cp_byte[512];   /* code point (< 512) -> byte, -1 none */

static void init_bytes(void)
{
    if (byte_cp['!'])
        return;
    int extra = 0;
    for (int i = 0; i < 512; i++)
        cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        byte_cp[b] = printable ? (uint32_t)b : 256u + (uint32_t)extra++;
        cp_byte[byte_cp[b]] = (int16_t)b;
    }
}

static size_t put_cp(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the UTF-8 character at s (1 for an invalid lead byte). */
static size_t utf8_len(const char *s, size_t left)
{
    unsigned char c = (unsigned char)s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return n <= left ? n : 1;
}

/* ---- pre-tokenizers ---------------------------------------------------- */

static const char RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
static const char RE_LLAMA3[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct pre_def {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    const char *re[MAX_RE];
    int ignore_merges;
} pre_def;

static const pre_def pre_defs[] = {
    {"llama3|llama-v3|llama-bpe|falcon3|dbrx|smaug-bpe|pixtral|superbpe", {RE_LLAMA3}, 1},
    {"qwen2|stablelm2|hunyuan|megrez|deepseek-r1-qwen", {RE_QWEN2}, 0},
    {"gpt-2|gpt2|mpt|olmo|jais|phi-2", {RE_GPT2}, 0},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva", {"\\p{N}", RE_GPT2}, 0},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, 0},
    {"deepseek-coder",
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
      "\\p{N}"},
     0},
    {"deepseek-llm",
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+", "\\p{N}+"},
     0},
    /* llama.cpp's default for BPE vocabularies without a known pre-tokenizer */
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0},
};

static int name_in(const char *names, const char *s, size_t n)
{
    for (const char *p = names; *p;) {
        size_t l = strcspn(p, "|");
        if (l == n && !memcmp(p, s, n))
            return 1;
        p += l + (p[l] == '|');
    }
    return 0;
}

/* ---- loading ----------------------------------------------------------- */

void aria_tok_free(aria_tokenizer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_re; i++)
        pcre2_code_free(t->re[i]);
    free(t->text);
    free(t->score);
    free(t->ttype);
    free(t->slots);
    free(t->mkeys);
    free(t->mranks);
    free(t->special);
    free(t->is_eog);
    free(t);
}

static int cmp_special_len(const void *a, const void *b, void *arg);
static const aria_tokenizer *sort_tok;
static int cmp_special(const void *a, const void *b)
{
    return cmp_special_len(a, b, (void *)sort_tok);
}
static int cmp_special_len(const void *a, const void *b, void *arg)
{
    const aria_tokenizer *t = arg;
    uint64_t la = t->text[*(const int32_t *)a].len, lb = t->text[*(const int32_t *)b].len;
    if (la != lb)
        return la > lb ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

static int32_t get_id(const aria_gguf *g, const char *key, int32_t def, uint32_t n)
{
    uint32_t v;
    if (aria_gguf_get_u32(g, key, &v) != ARIA_OK)
        return def;
    return v < n ? (int32_t)v : -1;
}

aria_err aria_tok_load(const aria_gguf *g, aria_tokenizer **out, aria_msg *why)
{
    *out = NULL;
    init_bytes();
    aria_gguf_str model;
    if (aria_gguf_get_str(g, "tokenizer.ggml.model", &model) != ARIA_OK)
        return aria_fail(why, ARIA_ERR_FORMAT, "no tokenizer (tokenizer.ggml.model is missing)");
    const aria_gguf_kv *tk = aria_gguf_find(g, "tokenizer.ggml.tokens");
    if (!tk || tk->type != ARIA_GGUF_ARRAY || tk->arr_type != ARIA_GGUF_STRING || !tk->arr_n ||
        tk->arr_n > (1u << 24))
        return aria_fail(why, ARIA_ERR_FORMAT, "tokenizer.ggml.tokens is missing or not a list of "
                         "strings");
    aria_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    aria_err e = ARIA_OK;
    if (aria_gguf_str_eq(model, "llama"))
        t->type = T_SPM;
    else if (aria_gguf_str_eq(model, "gpt2"))
        t->type = T_BPE;
    else if (aria_gguf_str_eq(model, "bert"))
        t->type = T_WPM;
    else {
        e = aria_fail(why, ARIA_ERR_UNSUPPORTED, "tokenizer model '%.*s' is not supported (llama, "
                      "gpt2, bert are)", (int)(model.len > 40 ? 40 : model.len), model.ptr);
        goto fail;
    }
    const uint32_t n = t->n = (uint32_t)tk->arr_n;
    t->text = malloc(n * sizeof *t->text);
    t->score = calloc(n, sizeof *t->score);
    t->ttype = malloc(n * sizeof *t->ttype);
    t->is_eog = calloc(n, 1);
    uint32_t cap = 1;
    while (cap < n * 2)
        cap <<= 1;
    t->mask = cap - 1;
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->text || !t->score || !t->ttype || !t->slots || !t->is_eog) {
        e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory for %u tokens", n);
        goto fail;
    }
    aria_gguf_arr_strings(tk, t->text);
    memset(t->slots, 0xff, cap * sizeof *t->slots);
    for (uint32_t i = 0; i < n; i++) {
        t->ttype[i] = TT_NORMAL;
        if (t->text[i].len > t->max_len)
            t->max_len = (uint32_t)t->text[i].len;
        uint32_t s = fnv(t->text[i].ptr, t->text[i].len) & t->mask;
        int dup = 0;
        for (; t->slots[s] >= 0; s = (s + 1) & t->mask)
            if (t->text[t->slots[s]].len == t->text[i].len &&
                !memcmp(t->text[t->slots[s]].ptr, t->text[i].ptr, t->text[i].len))
                dup = 1;
        if (!dup) /* the first of duplicate texts wins, as in llama.cpp's map */
            t->slots[s] = (int32_t)i;
    }
    const aria_gguf_kv *sc = aria_gguf_find(g, "tokenizer.ggml.scores");
    const aria_gguf_kv *ty = aria_gguf_find(g, "tokenizer.ggml.token_type");
    if ((sc && sc->arr_n != n) || (ty && ty->arr_n != n)) {
        e = aria_fail(why, ARIA_ERR_FORMAT, "tokenizer has %u tokens but %llu scores and %llu types",
                      n, sc ? (unsigned long long)sc->arr_n : 0ull,
                      ty ? (unsigned long long)ty->arr_n : 0ull);
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        int64_t v;
        if (sc && aria_gguf_arr_f32(sc, i, &t->score[i]) != ARIA_OK) {
            e = aria_fail(why, ARIA_ERR_FORMAT, "tokenizer.ggml.scores is not numeric");
            goto fail;
        }
        if (ty && aria_gguf_arr_i64(ty, i, &v) == ARIA_OK && v >= 1 && v <= 6)
            t->ttype[i] = (int32_t)v;
    }
    for (int b = 0; b < 256; b++) {
        char buf[8];
        size_t l;
        if (t->type == T_SPM) {
            static const char hex[] = "0123456789ABCDEF";
            buf[0] = '<', buf[1] = '0', buf[2] = 'x', buf[3] = hex[b >> 4], buf[4] = hex[b & 15],
            buf[5] = '>';
            l = 6;
        } else {
            l = put_cp(buf, byte_cp[b]);
        }
        t->byte_tok[b] = lookup(t, buf, l);
    }
    /* special ids and defaults per model type, as llama.cpp */
    int spm = t->type == T_SPM, wpm = t->type == T_WPM;
    t->bos = get_id(g, "tokenizer.ggml.bos_token_id", spm ? 1 : wpm ? 101 : 11, n);
    t->eos = get_id(g, "tokenizer.ggml.eos_token_id", spm ? 2 : wpm ? 102 : 11, n);
    t->unk = get_id(g, "tokenizer.ggml.unknown_token_id", spm ? 0 : wpm ? 100 : -1, n);
    t->pad = get_id(g, "tokenizer.ggml.padding_token_id", -1, n);
    t->eot = get_id(g, "tokenizer.ggml.eot_token_id", -1, n);
    int b;
    t->add_bos = aria_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b) == ARIA_OK ? b : spm || wpm;
    t->add_eos = aria_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b) == ARIA_OK ? b : wpm;
    t->add_space_prefix =
        aria_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b) == ARIA_OK ? b : spm;
    static const char *const eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "</s>",
                                            "<|eom_id|>"};
    for (size_t i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++) {
        int32_t id = lookup(t, eog_texts[i], strlen(eog_texts[i]));
        if (id >= 0 && (t->ttype[id] == TT_CONTROL || t->ttype[id] == TT_USER)) {
            t->is_eog[id] = 1;
            if (t->eot < 0 && strcmp(eog_texts[i], "</s>") && strcmp(eog_texts[i], "<|endoftext|>"))
                t->eot = id;
        }
    }
    if (t->eos >= 0)
        t->is_eog[t->eos] = 1;
    if (t->eot >= 0)
        t->is_eog[t->eot] = 1;

    /* special tokens to split out of text, longest first */
    t->special = malloc(n * sizeof *t->special);
    if (!t->special) {
        e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++)
        if ((t->ttype[i] == TT_CONTROL || t->ttype[i] == TT_USER || t->ttype[i] == TT_UNKNOWN) &&
            t->text[i].len)
            t->special[t->n_special++] = (int32_t)i;
    sort_tok = t;
    qsort(t->special, t->n_special, sizeof *t->special, cmp_special);

    if (t->type == T_BPE) {
        const aria_gguf_kv *mg = aria_gguf_find(g, "tokenizer.ggml.merges");
        if (!mg || mg->type != ARIA_GGUF_ARRAY || mg->arr_type != ARIA_GGUF_STRING) {
            e = aria_fail(why, ARIA_ERR_FORMAT, "BPE tokenizer without tokenizer.ggml.merges");
            goto fail;
        }
        aria_gguf_str *ms = malloc((mg->arr_n ? mg->arr_n : 1) * sizeof *ms);
        uint32_t mc = 1;
        while (mc < mg->arr_n * 2 + 2)
            mc <<= 1;
        t->mmask = mc - 1;
        t->mkeys = malloc(mc * sizeof *t->mkeys);
        t->mranks = malloc(mc * sizeof *t->mranks);
        if (!ms || !t->mkeys || !t->mranks) {
            free(ms);
            e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory for merges");
            goto fail;
        }
        memset(t->mranks, 0xff, mc * sizeof *t->mranks);
        aria_gguf_arr_strings(mg, ms);
        for (uint64_t i = 0; i < mg->arr_n; i++) {
            /* "left right": split at the first space after position 0 */
            const char *sp = ms[i].len > 1 ? memchr(ms[i].ptr + 1, ' ', ms[i].len - 1) : NULL;
            if (!sp) {
                e = aria_fail(why, ARIA_ERR_FORMAT, "merge %llu is not 'LEFT RIGHT'",
                              (unsigned long long)i);
                free(ms);
                goto fail;
            }
            int32_t a = lookup(t, ms[i].ptr, (size_t)(sp - ms[i].ptr));
            int32_t c = lookup(t, sp + 1, ms[i].len - (size_t)(sp - ms[i].ptr) - 1);
            if (a < 0 || c < 0)
                continue; /* names a token the vocabulary lacks: never applicable */
            uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)c;
            uint32_t s = (uint32_t)mix64(key) & t->mmask;
            while (t->mranks[s] >= 0 && t->mkeys[s] != key)
                s = (s + 1) & t->mmask;
            if (t->mranks[s] < 0) {
                t->mkeys[s] = key;
                t->mranks[s] = (int32_t)i;
            }
        }
        free(ms);
        aria_gguf_str pre = {"default", 7};
        aria_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
        const pre_def *pd = &pre_defs[sizeof pre_defs / sizeof pre_defs[0] - 1];
        int found = 0;
        for (size_t i = 0; i < sizeof pre_defs / sizeof pre_defs[0]; i++)
            if (name_in(pre_defs[i].names, pre.ptr, pre.len)) {
                pd = &pre_defs[i];
                found = 1;
                break;
            }
        snprintf(t->pre, sizeof t->pre, "%.*s", (int)(pre.len < 31 ? pre.len : 31), pre.ptr);
        if (!found)
            snprintf(t->note, sizeof t->note, "unknown pre-tokenizer '%s': using the default",
                     t->pre);
        t->ignore_merges = pd->ignore_merges;
        for (int i = 0; i < MAX_RE && pd->re[i]; i++) {
            int err;
            PCRE2_SIZE off;
            t->re[i] = pcre2_compile((PCRE2_SPTR)pd->re[i], PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, NULL);
            if (!t->re[i]) {
                e = aria_fail(why, ARIA_ERR_INTERNAL, "pre-tokenizer regex %d does not compile", i);
                goto fail;
            }
            pcre2_jit_compile(t->re[i], PCRE2_JIT_COMPLETE);
            t->n_re = i + 1;
        }
    }
    *out = t;
    return ARIA_OK;
fail:
    aria_tok_free(t);
    return e;
}

/* ---- output buffer ----------------------------------------------------- */

typedef struct ids {
    int32_t *v;
    size_t n, cap;
} ids;

static void emit(ids *o, int32_t id)
{
    if (o->n < o->cap)
        o->v[o->n] = id;
    o->n++;
}

/* ---- SPM --------------------------------------------------------------- */

typedef struct sym {
    int prev, next;
    const char *text;
    size_t n;
} sym;

typedef struct bigram {
    int left, right;
    float score;
    size_t size;
} bigram;

typedef struct heap {
    bigram *v;
    size_t n, cap;
} heap;

static int bg_before(const bigram *a, const bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(heap *h, bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = b;
    while (i && bg_before(&h->v[i], &h->v[(i - 1) / 2])) {
        bigram tmp = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    return 0;
}

static bigram heap_pop(heap *h)
{
    bigram top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && bg_before(&h->v[l], &h->v[m]))
            m = l;
        if (r < h->n && bg_before(&h->v[r], &h->v[m]))
            m = r;
        if (m == i)
            break;
        bigram tmp = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = tmp;
        i = m;
    }
    return top;
}

static void spm_bigram(const aria_tokenizer *t, sym *s, heap *h, int l, int r)
{
    if (l < 0 || r < 0)
        return;
    int32_t id = lookup(t, s[l].text, s[l].n + s[r].n);
    if (id < 0)
        return;
    heap_push(h, (bigram){l, r, t->score[id], s[l].n + s[r].n});
}

/* Emits the tokens of one merged symbol: itself, or its bytes. */
static void spm_resegment(const aria_tokenizer *t, const char *p, size_t n, ids *o)
{
    int32_t id = lookup(t, p, n);
    if (id >= 0) {
        emit(o, id);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t b = t->byte_tok[(uint8_t)p[i]];
        emit(o, b >= 0 ? b : t->unk);
    }
}

static aria_err spm_encode(const aria_tokenizer *t, const char *text, size_t len, int prefix,
                           ids *o)
{
    /* ' ' -> U+2581, with the leading space when asked */
    size_t cap = (len + 1) * 3;
    char *buf = malloc(cap);
    sym *s = malloc((len + 1) * sizeof *s);
    heap h = {0};
    if (!buf || !s) {
        free(buf);
        free(s);
        return ARIA_ERR_NOMEM;
    }
    size_t bl = 0;
    if (prefix)
        memcpy(buf, "\xe2\x96\x81", 3), bl = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            memcpy(buf + bl, "\xe2\x96\x81", 3), bl += 3;
        else
            buf[bl++] = text[i];
    }
    int ns = 0;
    for (size_t i = 0; i < bl;) {
        size_t l = utf8_len(buf + i, bl - i);
        s[ns] = (sym){ns - 1, ns + 1, buf + i, l};
        ns++;
        i += l;
    }
    if (ns)
        s[ns - 1].next = -1;
    for (int i = 1; i < ns; i++)
        spm_bigram(t, s, &h, i - 1, i);
    while (h.n) {
        bigram b = heap_pop(&h);
        sym *l = &s[b.left], *r = &s[b.right];
        if (!l->n || !r->n || l->n + r->n != b.size)
            continue; /* stale: one side merged since */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        spm_bigram(t, s, &h, l->prev, b.left);
        spm_bigram(t, s, &h, b.left, l->next);
    }
    for (int i = 0; ns && i >= 0; i = s[i].next)
        spm_resegment(t, s[i].text, s[i].n, o);
    free(h.v);
    free(buf);
    free(s);
    return ARIA_OK;
}

/* ---- BPE --------------------------------------------------------------- */

typedef struct span {
    size_t a, b;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int span_add(spans *s, size_t a, size_t b)
{
    if (a >= b)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){a, b};
    return 0;
}

/* Each regex splits every current piece into its matches and the gaps
 * between them, as llama.cpp's unicode_regex_split does. */
static aria_err pre_split(const aria_tokenizer *t, const char *text, size_t len, spans *out)
{
    spans cur = {0};
    if (span_add(&cur, 0, len))
        return ARIA_ERR_NOMEM;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md) {
        free(cur.v);
        return ARIA_ERR_NOMEM;
    }
    for (int r = 0; r < t->n_re; r++) {
        spans next = {0};
        for (size_t i = 0; i < cur.n; i++) {
            size_t a = cur.v[i].a, b = cur.v[i].b, pos = a;
            while (pos < b) {
                int rc = pcre2_match(t->re[r], (PCRE2_SPTR)text + a, b - a, pos - a,
                                     PCRE2_NO_UTF_CHECK, md, NULL);
                if (rc < 0)
                    break;
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                size_t ms = a + ov[0], me = a + ov[1];
                if (me == ms) { /* empty match: step one character */
                    pos = ms + utf8_len(text + ms, b - ms);
                    continue;
                }
                span_add(&next, pos, ms);
                span_add(&next, ms, me);
                pos = me;
            }
            span_add(&next, pos, b);
        }
        free(cur.v);
        cur = next;
    }
    pcre2_match_data_free(md);
    *out = cur;
    return ARIA_OK;
}

static aria_err bpe_word(const aria_tokenizer *t, const char *w, size_t n, ids *o)
{
    /* byte-level: each byte becomes its printable code point */
    char *m = malloc(n * 2 + 1);
    int32_t *tok = malloc((n + 1) * sizeof *tok);
    size_t *off = malloc((n + 1) * sizeof *off), *ln = malloc((n + 1) * sizeof *ln);
    if (!m || !tok || !off || !ln) {
        free(m);
        free(tok);
        free(off);
        free(ln);
        return ARIA_ERR_NOMEM;
    }
    size_t ml = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        off[k] = ml;
        ln[k] = put_cp(m + ml, byte_cp[(uint8_t)w[i]]);
        ml += ln[k];
        k++;
    }
    int32_t whole = t->ignore_merges ? lookup(t, m, ml) : -1;
    if (whole >= 0) {
        emit(o, whole);
        goto done;
    }
    /* symbols start as the mapped bytes, merged by lowest rank */
    for (size_t i = 0; i < k; i++)
        tok[i] = lookup(t, m + off[i], ln[i]);
    while (k > 1) {
        int32_t best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < k; i++) {
            if (tok[i] < 0 || tok[i + 1] < 0)
                continue;
            int32_t r = merge_rank(t, tok[i], tok[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) {
                best = r;
                at = i;
            }
        }
        if (best < 0)
            break;
        ln[at] += ln[at + 1];
        tok[at] = lookup(t, m + off[at], ln[at]);
        memmove(off + at + 1, off + at + 2, (k - at - 2) * sizeof *off);
        memmove(ln + at + 1, ln + at + 2, (k - at - 2) * sizeof *ln);
        memmove(tok + at + 1, tok + at + 2, (k - at - 2) * sizeof *tok);
        k--;
    }
    for (size_t i = 0; i < k; i++) {
        if (tok[i] >= 0) {
            emit(o, tok[i]);
            continue;
        }
        /* not in the vocabulary: each byte of the symbol that is */
        for (size_t j = 0; j < ln[i]; j++) {
            int32_t b = lookup(t, m + off[i] + j, 1);
            if (b >= 0)
                emit(o, b);
        }
    }
done:
    free(m);
    free(tok);
    free(off);
    free(ln);
    return ARIA_OK;
}

static aria_err bpe_encode(const aria_tokenizer *t, const char *text, size_t len, ids *o)
{
    spans sp = {0};
    aria_err e = pre_split(t, text, len, &sp);
    for (size_t i = 0; e == ARIA_OK && i < sp.n; i++)
        e = bpe_word(t, text + sp.v[i].a, sp.v[i].b - sp.v[i].a, o);
    free(sp.v);
    return e;
}

/* ---- WordPiece --------------------------------------------------------- */

static int is_chinese(ucs4_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static void wpm_word(const aria_tokenizer *t, const char *w, size_t n, ids *o)
{
    if (!n)
        return;
    char *word = malloc(n + 3);
    if (!word)
        return;
    memcpy(word, "\xe2\x96\x81", 3);
    memcpy(word + 3, w, n);
    size_t wl = n + 3, start = o->n;
    for (size_t i = 0; i < wl;) {
        int matched = 0;
        size_t j = i + t->max_len + 1 < wl ? i + t->max_len + 1 : wl;
        for (; j > i; j--) {
            int32_t id = lookup(t, word + i, j - i);
            if (id >= 0) {
                emit(o, id);
                matched = 1;
                i = j;
                break;
            }
        }
        if (!matched) {
            o->n = start;
            break;
        }
    }
    if (o->n == start)
        emit(o, t->unk);
    free(word);
}

static aria_err wpm_encode(const aria_tokenizer *t, const char *text, size_t len, ids *o)
{
    size_t nl = 0;
    uint32_t *cp = u8_to_u32((const uint8_t *)text, len, NULL, &nl);
    size_t dl = 0;
    uint32_t *nfd = cp ? u32_normalize(UNINORM_NFD, cp, nl, NULL, &dl) : NULL;
    free(cp);
    if (!nfd && len)
        return ARIA_ERR_FORMAT;
    char *word = malloc(len * 4 + 8);
    if (!word) {
        free(nfd);
        return ARIA_ERR_NOMEM;
    }
    size_t wl = 0;
    for (size_t i = 0; i < dl; i++) {
        ucs4_t c = nfd[i];
        if (uc_is_property_white_space(c)) {
            wpm_word(t, word, wl, o);
            wl = 0;
            continue;
        }
        /* control characters go, and so do accents once NFD has split them
         * from their letters (BERT's uncased normalization) */
        if (c == 0 || c == 0xFFFD || uc_is_general_category(c, UC_CATEGORY_C) ||
            uc_is_general_category(c, UC_CATEGORY_Mn))
            continue;
        char u[4];
        size_t ul = put_cp(u, uc_tolower(c));
        if (uc_is_general_category(c, UC_CATEGORY_P) ||
            (c < 0x7F && uc_is_general_category(c, UC_CATEGORY_S)) || is_chinese(c)) {
            wpm_word(t, word, wl, o);
            wpm_word(t, u, ul, o);
            wl = 0;
        } else {
            memcpy(word + wl, u, ul);
            wl += ul;
        }
    }
    wpm_word(t, word, wl, o);
    free(word);
    free(nfd);
    return ARIA_OK;
}

/* ---- encode ------------------------------------------------------------ */

/* Invalid UTF-8 becomes U+FFFD, byte by byte, as llama.cpp reads it: the
 * regex engine and the normalizer only ever see valid text. */
static char *sanitize(const char *text, size_t len, size_t *out_len)
{
    char *s = malloc(len * 3 + 1);
    if (!s)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        ucs4_t c;
        int n = u8_mbtouc(&c, (const uint8_t *)text + i, len - i);
        if (n <= 0)
            n = 1;
        if (c == 0xFFFD && !(n == 3 && !memcmp(text + i, "\xef\xbf\xbd", 3))) {
            memcpy(s + w, "\xef\xbf\xbd", 3);
            w += 3;
            i += 1;
            continue;
        }
        memcpy(s + w, text + i, (size_t)n);
        w += (size_t)n;
        i += (size_t)n;
    }
    *out_len = w;
    return s;
}

static aria_err encode_text(const aria_tokenizer *t, const char *text, size_t len, int prev_special,
                            ids *o)
{
    if (t->type == T_SPM)
        return spm_encode(t, text, len, t->add_space_prefix && prev_special, o);
    aria_err e = ARIA_OK;
    char *clean = NULL;
    if (u8_check((const uint8_t *)text, len)) {
        if (!(clean = sanitize(text, len, &len)))
            return ARIA_ERR_NOMEM;
        text = clean;
    }
    e = t->type == T_BPE ? bpe_encode(t, text, len, o) : wpm_encode(t, text, len, o);
    free(clean);
    return e;
}

aria_err aria_tok_encode(const aria_tokenizer *t, const char *text, size_t len, uint32_t flags,
                         int32_t *out, size_t cap, size_t *n_out)
{
    ids o = {out, 0, cap};
    if (t->bos >= 0 && ((flags & ARIA_TOK_FORCE_BOS) || ((flags & ARIA_TOK_ADD_BOS) && t->add_bos)))
        emit(&o, t->bos);
    int prev_special = 1;
    size_t pos = 0;
    aria_err e = ARIA_OK;
    while (pos < len && e == ARIA_OK) {
        /* the earliest special token in the rest of the text (longest first
         * among those starting at the same place) */
        size_t best_at = len, best_len = 0;
        int32_t best = -1;
        for (uint32_t k = 0; k < t->n_special; k++) {
            int32_t id = t->special[k];
            if (!(flags & ARIA_TOK_PARSE_SPECIAL) &&
                (t->ttype[id] == TT_CONTROL || t->ttype[id] == TT_UNKNOWN))
                continue;
            const aria_gguf_str *s = &t->text[id];
            if (s->len > len - pos)
                continue;
            const char *hit = memmem(text + pos, best_at - pos + s->len > len - pos
                                                     ? len - pos
                                                     : best_at - pos + s->len,
                                     s->ptr, s->len);
            if (hit && ((size_t)(hit - text) < best_at ||
                        ((size_t)(hit - text) == best_at && s->len > best_len))) {
                best_at = (size_t)(hit - text);
                best_len = s->len;
                best = id;
            }
        }
        if (best_at > pos) {
            e = encode_text(t, text + pos, best_at - pos, prev_special, &o);
            prev_special = 0;
        }
        if (best >= 0) {
            emit(&o, best);
            prev_special = 1;
            pos = best_at + best_len;
        } else {
            pos = len;
        }
    }
    if (e == ARIA_OK && (flags & ARIA_TOK_ADD_EOS) && t->add_eos && t->eos >= 0)
        emit(&o, t->eos);
    *n_out = o.n;
    if (e != ARIA_OK)
        return e;
    return o.n > cap ? ARIA_ERR_RANGE : ARIA_OK;
}

/* ---- decode ------------------------------------------------------------ */

static aria_err piece(const aria_tokenizer *t, int32_t id, char *buf, size_t cap, size_t *len,
                      int special)
{
    if (id < 0 || (uint32_t)id >= t->n)
        return ARIA_ERR_INVALID;
    const aria_gguf_str *s = &t->text[id];
    char tmp[512];
    size_t n = 0;
    int tt = t->ttype[id];
    if ((tt == TT_CONTROL || tt == TT_UNUSED) && !special) {
        n = 0;
    } else if (tt == TT_CONTROL || tt == TT_USER || tt == TT_UNKNOWN) {
        n = s->len < sizeof tmp ? s->len : sizeof tmp;
        memcpy(tmp, s->ptr, n);
    } else if (tt == TT_BYTE && t->type == T_SPM && s->len == 6) {
        tmp[0] = (char)strtol((char[3]){s->ptr[3], s->ptr[4], 0}, NULL, 16);
        n = 1;
    } else if (t->type == T_BPE) {
        for (size_t i = 0; i < s->len && n < sizeof tmp;) {
            size_t l = utf8_len(s->ptr + i, s->len - i);
            ucs4_t c = 0;
            u8_mbtouc(&c, (const uint8_t *)s->ptr + i, l);
            if (c < 512 && cp_byte[c] >= 0)
                tmp[n++] = (char)cp_byte[c];
            else
                for (size_t j = 0; j < l && n < sizeof tmp; j++)
                    tmp[n++] = s->ptr[i + j];
            i += l;
        }
    } else {
        /* SPM and WordPiece: U+2581 is a space */
        for (size_t i = 0; i < s->len && n < sizeof tmp;) {
            if (i + 2 < s->len && !memcmp(s->ptr + i, "\xe2\x96\x81", 3)) {
                tmp[n++] = ' ';
                i += 3;
            } else {
                tmp[n++] = s->ptr[i++];
            }
        }
    }
    *len = n;
    if (n > cap)
        return ARIA_ERR_RANGE;
    memcpy(buf, tmp, n);
    return ARIA_OK;
}

aria_err aria_tok_piece(const aria_tokenizer *t, int32_t id, char *buf, size_t cap, size_t *len)
{
    return piece(t, id, buf, cap, len, 0);
}

aria_err aria_tok_piece_special(const aria_tokenizer *t, int32_t id, char *buf, size_t cap,
                                size_t *len)
{
    return piece(t, id, buf, cap, len, 1);
}

uint32_t aria_tok_n_vocab(const aria_tokenizer *t) { return t->n; }
int32_t aria_tok_bos(const aria_tokenizer *t) { return t->bos; }
int32_t aria_tok_eos(const aria_tokenizer *t) { return t->eos; }
int32_t aria_tok_eot(const aria_tokenizer *t) { return t->eot; }
int32_t aria_tok_unk(const aria_tokenizer *t) { return t->unk; }
int aria_tok_is_eog(const aria_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n && t->is_eog[id];
}
const char *aria_tok_type_name(const aria_tokenizer *t)
{
    return t->type == T_SPM ? "spm" : t->type == T_BPE ? "bpe" : "wpm";
}
const char *aria_tok_pre_name(const aria_tokenizer *t) { return t->pre; }
const char *aria_tok_note(const aria_tokenizer *t) { return t->note; }

/* ---- streaming --------------------------------------------------------- */

/* Moves whole characters from d->pend into out; an invalid byte becomes
 * U+FFFD. Returns bytes written. */
static size_t drain(aria_detok *d, char *out, size_t cap, int final)
{
    size_t w = 0, i = 0;
    while (i < d->n) {
        unsigned char c = d->pend[i];
        size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        size_t have = 1;
        while (need > 1 && have < need && i + have < d->n && (d->pend[i + have] & 0xC0) == 0x80)
            have++;
        if (need && have == need) {
            if (w + need > cap)
                break;
            memcpy(out + w, d->pend + i, need);
            w += need;
            i += need;
        } else if (need > 1 && i + have == d->n && !final) {
            break; /* may complete with the next token */
        } else {
            if (w + 3 > cap)
                break;
            memcpy(out + w, "\xef\xbf\xbd", 3);
            w += 3;
            i += have;
        }
    }
    memmove(d->pend, d->pend + i, d->n - i);
    d->n -= i;
    return w;
}

size_t aria_detok_push(aria_detok *d, const aria_tokenizer *t, int32_t id, char *out, size_t cap)
{
    char p[512];
    size_t pl = 0, w = 0;
    if (piece(t, id, p, sizeof p, &pl, 0) != ARIA_OK)
        return 0;
    for (size_t i = 0; i < pl; i++) {
        if (d->n == sizeof d->pend)
            w += drain(d, out + w, cap - w, 1);
        d->pend[d->n++] = (unsigned char)p[i];
        if (d->n >= 4 || (unsigned char)p[i] < 0x80)
            w += drain(d, out + w, cap - w, 0);
    }
    w += drain(d, out + w, cap - w, 0);
    return w;
}

size_t aria_detok_flush(aria_detok *d, char *out, size_t cap)
{
    return drain(d, out, cap, 1);
}
