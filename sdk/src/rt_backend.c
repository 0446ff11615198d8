/* rt_backend.c — the backend vtable's slots on the shared runtime: a model
 * is an aria_llm plus its tokenizer and a thread pool; a session is a KV
 * cache, a sampler and the tokens so far. */
#include <aria/chat.h>
#include <aria/gguf.h>
#include <aria/llm.h>
#include <aria/pool.h>
#include <aria/quant.h>
#include <aria/rt.h>
#include <aria/sampler.h>
#include <aria/tokenizer.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CTX 4096

struct aria_model {
    aria_rt *rt;
    aria_llm *llm;
    aria_tokenizer *tok; /* NULL unless the model holds layer 0 */
    aria_pool *pool;
    pthread_mutex_t mu;  /* one forward at a time on the pool */
    uint32_t n_ctx;
    void *accel; /* rt->accel's state for this model, or NULL */
    char id[128];
    char name[96];
};

struct aria_session {
    aria_model *m;
    aria_llm_ctx *ctx;
    int32_t *tokens; /* every position's token, when known (first stage) */
    uint32_t cap_tokens;
};

/* ---- probe ------------------------------------------------------------- */

static int is_ternary(uint32_t t)
{
    return t == ARIA_T_TQ1_0 || t == ARIA_T_TQ2_0 || t == ARIA_T_I2_S;
}

aria_err aria_rt_inspect(const char *path, aria_probe *out, int *ternary, aria_msg *why)
{
    aria_gguf *g;
    aria_err e = aria_gguf_open(path, &g, why);
    if (e != ARIA_OK)
        return e;
    aria_llm_hparams hp;
    aria_msg inner = {{0}};
    if ((e = aria_llm_hparams_read(g, &hp, &inner)) != ARIA_OK) {
        aria_gguf_close(g);
        return aria_fail(why, e, "%s: %s", path, inner.text);
    }
    uint64_t by_type[64] = {0}, total = 0, tern = 0, elems = 0; /* by_type: parameters */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const aria_gguf_tensor *t = &g->tensors[i];
        total += t->nbytes;
        if (t->n_dims < 2)
            continue;
        by_type[t->type == ARIA_T_I2_S ? 36 : t->type % 64] += t->n_elements;
        elems += t->n_elements;
        if (is_ternary(t->type))
            tern += t->n_elements;
    }
    uint32_t dom = 0;
    for (uint32_t t = 1; t < 64; t++)
        if (by_type[t] > by_type[dom])
            dom = t;
    const aria_type_info *ti = aria_type_info_get(dom == 36 ? ARIA_T_I2_S : dom);
    memset((char *)out + sizeof out->hdr, 0, sizeof *out - sizeof out->hdr);
    out->n_layers = hp.n_layer;
    out->n_ctx_train = hp.n_ctx_train;
    out->weight_bytes = total;
    out->kv_bytes_per_tok = (uint64_t)hp.n_layer * 2 * hp.n_head_kv * hp.head_dim * sizeof(float);
    snprintf(out->arch, sizeof out->arch, "%s", hp.arch);
    snprintf(out->format, sizeof out->format, "%s", ti ? ti->name : "?");
    if (ternary)
        *ternary = tern * 2 > elems;
    aria_gguf_close(g);
    return ARIA_OK;
}

/* ---- models ------------------------------------------------------------ */

static const aria_host *kernel_host; /* for the kernels callback below */
static const aria_kernel_vt *kernels_of(const char *family)
{
    return kernel_host ? kernel_host->kernels(family) : NULL;
}

aria_err aria_rt_load(void *ctx, const aria_load_params *p, aria_model **out, aria_msg *why)
{
    aria_rt *rt = ctx;
    *out = NULL;
    aria_model *m = calloc(1, sizeof *m);
    if (!m)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    m->rt = rt;
    kernel_host = rt->host;
    aria_llm_opts o = {.layer_first = p->layer_first, .layer_end = p->layer_end,
                       .kernels = rt->accel ? NULL : kernels_of, .no_kernels = rt->accel != NULL};
    aria_err e = aria_llm_load(p->path, &o, &m->llm, why);
    if (e != ARIA_OK) {
        free(m);
        return e;
    }
    if (m->llm->layer_first == 0 && (e = aria_tok_load(m->llm->gguf, &m->tok, why)) != ARIA_OK)
        goto fail;
    uint32_t threads = p->n_threads ? p->n_threads : rt->host->n_threads;
    if ((e = aria_pool_new(threads ? (int)threads : 1, &m->pool)) != ARIA_OK) {
        aria_fail(why, e, "cannot start %u threads", threads);
        goto fail;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->n_ctx = p->n_ctx ? p->n_ctx : m->llm->hp.n_ctx_train;
    if (!p->n_ctx && m->n_ctx > DEFAULT_CTX)
        m->n_ctx = DEFAULT_CTX;
    if (rt->accel && (e = rt->accel->open(rt->accel->user, m->llm, &m->n_ctx, &m->accel, why)) !=
                         ARIA_OK) {
        pthread_mutex_destroy(&m->mu);
        aria_pool_free(m->pool);
        goto fail;
    }
    const char *base = strrchr(p->path, '/');
    snprintf(m->id, sizeof m->id, "%s", p->model_id ? p->model_id : base ? base + 1 : p->path);
    aria_gguf_str nm;
    if (aria_gguf_get_str(m->llm->gguf, "general.name", &nm) == ARIA_OK && nm.len)
        snprintf(m->name, sizeof m->name, "%.*s", (int)(nm.len < 95 ? nm.len : 95), nm.ptr);
    else
        snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : p->path);
    if (p->progress)
        p->progress(p->progress_user, 1.0f);
    *out = m;
    return ARIA_OK;
fail:
    aria_tok_free(m->tok);
    aria_llm_free(m->llm);
    free(m);
    return e;
}

void aria_rt_unload(aria_model *m)
{
    if (!m)
        return;
    if (m->accel)
        m->rt->accel->close(m->accel);
    aria_pool_free(m->pool);
    pthread_mutex_destroy(&m->mu);
    aria_tok_free(m->tok);
    aria_llm_free(m->llm);
    free(m);
}

aria_err aria_rt_model_info(aria_model *m, aria_model_info *out)
{
    const aria_llm *l = m->llm;
    memset((char *)out + sizeof out->hdr, 0, sizeof *out - sizeof out->hdr);
    snprintf(out->id, sizeof out->id, "%s", m->id);
    snprintf(out->arch, sizeof out->arch, "%s", l->hp.arch);
    snprintf(out->name, sizeof out->name, "%s", m->name);
    snprintf(out->format, sizeof out->format, "%s", l->format);
    out->tiers = m->rt->tiers;
    out->n_layers = l->hp.n_layer;
    out->layer_first = l->layer_first;
    out->layer_end = l->layer_end;
    out->n_embd = l->hp.n_embd;
    out->n_vocab = l->hp.n_vocab;
    out->n_ctx_train = l->hp.n_ctx_train;
    out->n_ctx = m->n_ctx;
    out->tok_bos = m->tok ? aria_tok_bos(m->tok) : -1;
    out->tok_eos = m->tok ? aria_tok_eos(m->tok) : -1;
    out->tok_eot = m->tok ? aria_tok_eot(m->tok) : -1;
    out->has_chat_template = aria_gguf_find(l->gguf, "tokenizer.chat_template") != NULL;
    out->n_params = l->n_params;
    out->weight_bytes = l->weight_bytes;
    out->kv_bytes_per_tok = aria_llm_kv_bytes_per_pos(l);
    return ARIA_OK;
}

/* ---- sessions ---------------------------------------------------------- */

aria_err aria_rt_session_new(aria_model *m, const aria_session_params *p, aria_session **out,
                             aria_msg *why)
{
    *out = NULL;
    aria_session *s = calloc(1, sizeof *s);
    if (!s)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    s->m = m;
    uint32_t n_ctx = p && p->n_ctx ? p->n_ctx : m->n_ctx;
    aria_err e;
    if (m->accel) {
        aria_llm_exec x = {0};
        if (n_ctx > m->n_ctx)
            e = aria_fail(why, ARIA_ERR_RANGE, "a context of %u positions: the model was compiled "
                          "for %u", n_ctx, m->n_ctx);
        else if ((e = m->rt->accel->session(m->accel, n_ctx, &x, why)) == ARIA_OK)
            e = aria_llm_ctx_new_exec(m->llm, n_ctx, &x, &s->ctx, why);
    } else {
        e = aria_llm_ctx_new(m->llm, n_ctx, m->pool, &s->ctx, why);
    }
    s->cap_tokens = n_ctx;
    s->tokens = malloc(n_ctx * sizeof *s->tokens);
    if (e == ARIA_OK && !s->tokens)
        e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    if (e != ARIA_OK) {
        aria_rt_session_free(s);
        return e;
    }
    *out = s;
    return ARIA_OK;
}

void aria_rt_session_free(aria_session *s)
{
    if (!s)
        return;
    aria_llm_ctx_free(s->ctx);
    free(s->tokens);
    free(s);
}

uint32_t aria_rt_session_pos(aria_session *s)
{
    return aria_llm_ctx_pos(s->ctx);
}

aria_err aria_rt_session_truncate(aria_session *s, uint32_t n_pos)
{
    aria_llm_ctx_truncate(s->ctx, n_pos);
    return ARIA_OK;
}

/* ---- text -------------------------------------------------------------- */

aria_err aria_rt_tokenize(aria_model *m, const char *text, size_t len, uint32_t flags,
                          int32_t *out, size_t cap, size_t *n_out)
{
    if (!m->tok)
        return ARIA_ERR_UNSUPPORTED;
    return aria_tok_encode(m->tok, text, len, flags, out, cap, n_out);
}

aria_err aria_rt_token_piece(aria_model *m, int32_t token, char *buf, size_t cap, size_t *len)
{
    if (!m->tok)
        return ARIA_ERR_UNSUPPORTED;
    return aria_tok_piece(m->tok, token, buf, cap, len);
}

aria_err aria_rt_chat_format(aria_model *m, const aria_chat_msg *msgs, size_t n,
                             int add_generation_prompt, char *buf, size_t cap, size_t *len,
                             aria_msg *why)
{
    aria_gguf_str t = {NULL, 0};
    aria_gguf_get_str(m->llm->gguf, "tokenizer.chat_template", &t);
    char eos[64] = "";
    size_t el = 0;
    if (m->tok && aria_tok_eos(m->tok) >= 0 &&
        aria_tok_piece_special(m->tok, aria_tok_eos(m->tok), eos, sizeof eos - 1, &el) == ARIA_OK)
        eos[el] = '\0';
    return aria_chat_format(aria_chat_detect(t.ptr, t.len), msgs, n, add_generation_prompt,
                            eos[0] ? eos : NULL, buf, cap, len, why);
}

/* ---- compute ----------------------------------------------------------- */

/* One forward pass at a time on the model's pool. idle: the pool's workers
 * sleep at once afterwards instead of spinning for the next section — when
 * what comes next is elsewhere (another stage of a pipeline, the end of a
 * request), so that their spinning does not take the cores from it. */
static aria_err locked_forward(aria_session *s, const int32_t *tokens, const float *embd,
                               uint32_t n, float *embd_out, int logits_all, int idle,
                               uint32_t n_threads, aria_msg *why)
{
    pthread_mutex_lock(&s->m->mu);
    aria_pool_limit(s->m->pool, (int)n_threads);
    uint32_t pos = aria_llm_ctx_pos(s->ctx);
    aria_err e = aria_llm_forward(s->ctx, tokens, embd, n, embd_out, logits_all, why);
    if (e == ARIA_OK && tokens && pos + n <= s->cap_tokens)
        memcpy(s->tokens + pos, tokens, n * sizeof *tokens);
    if (idle)
        aria_pool_idle(s->m->pool);
    aria_pool_limit(s->m->pool, 0);
    pthread_mutex_unlock(&s->m->mu);
    return e;
}

aria_err aria_rt_forward(aria_session *s, const aria_batch *in, aria_forward_out *out,
                         aria_msg *why)
{
    const aria_llm *l = s->m->llm;
    if (in->pos0 != aria_llm_ctx_pos(s->ctx))
        return aria_fail(why, ARIA_ERR_INVALID, "batch starts at position %u, the session is at %u",
                         in->pos0, aria_llm_ctx_pos(s->ctx));
    const float *embd = NULL;
    float *tmp = NULL, *embd_out = NULL;
    const size_t n_el = (size_t)in->n_tokens * l->hp.n_embd;
    if (in->embd) {
        if (in->embd_dtype == ARIA_DT_F16) {
            if (!(tmp = malloc(n_el * sizeof *tmp)))
                return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < n_el; i++)
                tmp[i] = aria_f16_to_f32(((const aria_f16 *)in->embd)[i]);
            embd = tmp;
        } else {
            embd = in->embd;
        }
    }
    int last = l->layer_end == l->hp.n_layer;
    float *ebuf = NULL;
    if (!last) {
        if (!out || !out->embd) {
            free(tmp);
            return aria_fail(why, ARIA_ERR_INVALID, "a stage that is not the last needs out->embd");
        }
        if (out->embd_dtype == ARIA_DT_F16) {
            if (!(ebuf = malloc(n_el * sizeof *ebuf))) {
                free(tmp);
                return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
            }
            embd_out = ebuf;
        } else {
            embd_out = out->embd;
        }
    }
    aria_err e = locked_forward(s, in->tokens, embd, in->n_tokens, embd_out, (int)in->logits_all,
                                1, ARIA_HAS(in, aria_batch, n_threads) ? in->n_threads : 0, why);
    if (e == ARIA_OK && ebuf)
        for (size_t i = 0; i < n_el; i++)
            ((aria_f16 *)out->embd)[i] = aria_f32_to_f16(ebuf[i]);
    if (e == ARIA_OK && last && out && out->logits) {
        uint32_t nl;
        const float *lg = aria_llm_logits(s->ctx, &nl);
        memcpy(out->logits, lg, (size_t)nl * l->hp.n_vocab * sizeof(float));
    }
    free(tmp);
    free(ebuf);
    return e;
}

aria_err aria_rt_sample(aria_session *s, const aria_sampling *sampling, const int32_t *history,
                        size_t n_history, int32_t *token, float *logprob, aria_logprob *top,
                        uint32_t *n_top)
{
    const aria_llm *l = s->m->llm;
    if (l->layer_end != l->hp.n_layer)
        return ARIA_ERR_UNSUPPORTED;
    uint32_t nl;
    const float *lg = aria_llm_logits(s->ctx, &nl);
    if (!nl)
        return ARIA_ERR_INVALID;
    aria_sampler *smp;
    aria_err e = aria_sampler_new(sampling, l->hp.n_vocab, &smp);
    if (e != ARIA_OK)
        return e;
    if (!history && l->layer_first == 0) {
        history = s->tokens;
        n_history = aria_llm_ctx_pos(s->ctx);
    }
    *token = aria_sampler_sample(smp, lg + (size_t)(nl - 1) * l->hp.n_vocab, history, n_history,
                                 logprob, top, n_top);
    aria_sampler_free(smp);
    return ARIA_OK;
}

/* Holds back text that may be the start of a stop string. */
typedef struct stopper {
    char buf[1024];
    size_t n;
} stopper;

/* Appends piece; returns 1 and emits up to the match when a stop string
 * appears. Emits (through *emit_len bytes of buf) what can no longer start
 * one. */
static int stop_scan(stopper *st, const char *piece, size_t len, const aria_gen_params *p,
                     size_t *emit_len)
{
    if (len > sizeof st->buf - st->n)
        len = sizeof st->buf - st->n;
    memcpy(st->buf + st->n, piece, len);
    st->n += len;
    for (size_t i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        if (!sl || sl > st->n)
            continue;
        for (size_t at = 0; at + sl <= st->n; at++)
            if (!memcmp(st->buf + at, p->stop[i], sl)) {
                *emit_len = at;
                return 1;
            }
    }
    size_t hold = 0;
    for (size_t i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        for (size_t k = sl > 1 ? sl - 1 : 0; k > hold; k--)
            if (k <= st->n && !memcmp(st->buf + st->n - k, p->stop[i], k)) {
                hold = k;
                break;
            }
    }
    *emit_len = st->n - hold;
    return 0;
}

/* The token after the positions a step evaluated: sampled here, or by the
 * tail of a pipeline. */
typedef struct next_tok {
    int32_t tok;
    float lp;
    uint32_t n_top;
    aria_logprob top[ARIA_MAX_LOGPROBS];
} next_tok;

/* The rest of a pipeline: its hidden states, in the tail's dtype. */
typedef struct tailer {
    aria_tail_fn fn;
    void *user;
    uint32_t dtype;
    float *f32;
    void *wire;
    size_t cap; /* positions both buffers hold */
    uint32_t n_threads; /* the request's thread cap (0: all) */
} tailer;

/* Evaluates n tokens; with a tail, hands the hidden states on and receives
 * the next token in *nt. */
static aria_err step(aria_session *s, tailer *tl, const int32_t *toks, uint32_t n, next_tok *nt,
                     aria_msg *why)
{
    if (!tl->fn)
        return locked_forward(s, toks, NULL, n, NULL, 0, 0, tl->n_threads, why);
    const size_t n_embd = s->m->llm->hp.n_embd;
    if (n > tl->cap) {
        size_t el = tl->dtype == ARIA_DT_F16 ? sizeof(aria_f16) : sizeof(float);
        float *f = realloc(tl->f32, (size_t)n * n_embd * sizeof *f);
        if (f)
            tl->f32 = f;
        void *w = f && tl->dtype == ARIA_DT_F16 ? realloc(tl->wire, (size_t)n * n_embd * el) : f;
        if (!f || !w)
            return aria_fail(why, ARIA_ERR_NOMEM, "out of memory for %u positions", n);
        tl->wire = w;
        tl->cap = n;
    }
    uint32_t pos0 = aria_llm_ctx_pos(s->ctx);
    aria_err e = locked_forward(s, toks, NULL, n, tl->f32, 0, 1, tl->n_threads, why);
    if (e != ARIA_OK)
        return e;
    if (tl->dtype == ARIA_DT_F16)
        for (size_t i = 0; i < (size_t)n * n_embd; i++)
            ((aria_f16 *)tl->wire)[i] = aria_f32_to_f16(tl->f32[i]);
    nt->n_top = 0;
    return tl->fn(tl->user, pos0, n, toks, tl->dtype == ARIA_DT_F16 ? tl->wire : tl->f32,
                  &nt->tok, &nt->lp, nt->top, &nt->n_top, why);
}

aria_err aria_rt_generate(aria_session *s, const int32_t *prompt, size_t n_prompt,
                          const aria_gen_params *p, aria_gen_result *res, aria_msg *why)
{
    aria_model *m = s->m;
    const aria_llm *l = m->llm;
    memset((char *)res + sizeof res->hdr, 0, sizeof *res - sizeof res->hdr);
    tailer tail = {0};
    if (ARIA_HAS(p, aria_gen_params, n_threads))
        tail.n_threads = p->n_threads;
    if (ARIA_HAS(p, aria_gen_params, tail_dtype) && p->tail) {
        tail.fn = p->tail;
        tail.user = p->tail_user;
        tail.dtype = p->tail_dtype == ARIA_DT_F16 ? ARIA_DT_F16 : ARIA_DT_F32;
    }
    if (l->layer_first != 0 || !m->tok || (l->layer_end != l->hp.n_layer) != !!tail.fn)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         tail.fn ? "a pipeline's tail follows only the first stage of a model"
                               : "generate needs the whole model, or a tail for the rest");
    aria_err e = aria_sampling_check(&p->sampling, why);
    if (e != ARIA_OK)
        return e;
    aria_sampler *smp;
    if ((e = aria_sampler_new(&p->sampling, l->hp.n_vocab, &smp)) != ARIA_OK)
        return aria_fail(why, e, "cannot create a sampler");
    aria_llm_ctx_set_cancel(s->ctx, p->cancel);
    const uint32_t start = aria_llm_ctx_pos(s->ctx);
    /* An empty text prompt (BOS alone) begins a document: SentencePiece's
     * space prefix on the first word is not part of what a user reads. */
    int strip_space = start == 0 && n_prompt <= 1 && !strcmp(aria_tok_type_name(m->tok), "spm");
    uint64_t t0 = m->rt->host->now_ns();
    next_tok nt = {0};
    if (n_prompt) {
        e = step(s, &tail, prompt, (uint32_t)n_prompt, &nt, why);
        if (e != ARIA_OK) {
            free(tail.f32);
            if (tail.wire != tail.f32)
                free(tail.wire);
            aria_sampler_free(smp);
            res->finish = e == ARIA_ERR_CANCELLED ? ARIA_FINISH_CANCELLED : ARIA_FINISH_ERROR;
            return e == ARIA_ERR_CANCELLED ? ARIA_OK : e;
        }
    }
    res->n_prompt = (uint32_t)n_prompt;
    uint64_t t1 = m->rt->host->now_ns();
    res->prompt_ns = t1 - t0;
    aria_detok dt = {0};
    stopper st = {.n = 0};
    char text[512];
    aria_logprob top[ARIA_MAX_LOGPROBS];
    uint32_t max = p->max_tokens ? p->max_tokens : UINT32_MAX;
    int done = 0;
    while (!done) {
        if (res->n_generated >= max) {
            res->finish = ARIA_FINISH_LENGTH;
            break;
        }
        if (p->cancel && __atomic_load_n(p->cancel, __ATOMIC_RELAXED)) {
            res->finish = ARIA_FINISH_CANCELLED;
            break;
        }
        uint32_t pos = aria_llm_ctx_pos(s->ctx), nl;
        float lp = 0;
        uint32_t n_top = 0;
        int32_t tok;
        if (tail.fn) {
            if (!pos) { /* an empty prompt: nothing was evaluated */
                e = aria_fail(why, ARIA_ERR_INVALID, "a pipeline needs a prompt");
                res->finish = ARIA_FINISH_ERROR;
                break;
            }
            tok = nt.tok;
            lp = nt.lp;
            n_top = nt.n_top < ARIA_MAX_LOGPROBS ? nt.n_top : ARIA_MAX_LOGPROBS;
            memcpy(top, nt.top, n_top * sizeof *top);
        } else {
            const float *lg = aria_llm_logits(s->ctx, &nl);
            tok = aria_sampler_sample(smp, lg + (size_t)(nl - 1) * l->hp.n_vocab, s->tokens, pos,
                                      &lp, top, &n_top);
        }
        int eog = !p->ignore_eos && aria_tok_is_eog(m->tok, tok);
        size_t tl = 0;
        if (!eog) {
            tl = aria_detok_push(&dt, m->tok, tok, text, sizeof text);
            if (strip_space && tl && text[0] == ' ') {
                memmove(text, text + 1, --tl);
                strip_space = 0;
            } else if (tl) {
                strip_space = 0;
            }
        } else {
            tl = aria_detok_flush(&dt, text, sizeof text);
        }
        /* The last token allowed, or the last the context holds: nothing
         * follows, so withheld text goes out now. */
        int last = res->n_generated + 1 >= max || pos + 1 >= aria_llm_ctx_n_ctx(s->ctx);
        if (last && !eog)
            tl += aria_detok_flush(&dt, text + tl, sizeof text - tl);
        size_t emit = 0;
        int stopped = stop_scan(&st, text, tl, p, &emit);
        if ((eog || last) && !stopped)
            emit = st.n;
        aria_token_event ev = {.hdr = {sizeof ev, 1}, .token = tok, .index = res->n_generated,
                               .text = st.buf, .text_len = emit, .logprob = lp,
                               .n_top = n_top, .top = top};
        res->n_generated++;
        if (eog || stopped) {
            res->finish = ARIA_FINISH_STOP;
            if (p->on_token && (emit || !eog))
                p->on_token(p->user, &ev);
            break;
        }
        if (p->on_token && p->on_token(p->user, &ev)) {
            res->finish = ARIA_FINISH_CANCELLED;
            break;
        }
        memmove(st.buf, st.buf + emit, st.n - emit);
        st.n -= emit;
        if (res->n_generated >= max) { /* nothing reads the last token's logits */
            res->finish = ARIA_FINISH_LENGTH;
            break;
        }
        if (pos + 1 >= aria_llm_ctx_n_ctx(s->ctx)) {
            res->finish = ARIA_FINISH_CONTEXT;
            break;
        }
        e = step(s, &tail, &tok, 1, &nt, why);
        if (e != ARIA_OK) {
            res->finish = e == ARIA_ERR_CANCELLED ? ARIA_FINISH_CANCELLED : ARIA_FINISH_ERROR;
            done = 1;
            if (e == ARIA_ERR_CANCELLED)
                e = ARIA_OK;
        }
    }
    res->gen_ns = m->rt->host->now_ns() - t1;
    pthread_mutex_lock(&m->mu); /* the request is over: the workers sleep */
    aria_pool_idle(m->pool);
    pthread_mutex_unlock(&m->mu);
    free(tail.f32);
    if (tail.wire != tail.f32)
        free(tail.wire);
    aria_llm_ctx_set_cancel(s->ctx, NULL);
    aria_sampler_free(smp);
    return res->finish == ARIA_FINISH_ERROR ? e : ARIA_OK;
}
