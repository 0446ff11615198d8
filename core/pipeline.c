/* pipeline.c — pipeline stages and their driver (see pipeline.h). */
#include "pipeline.h"

#include "host.h"
#include "ledger_json.h"
#include "log.h"

#include "aria/sampler.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REBUILDS 4                      /* a request survives this many lost stages */
#define OPEN_WAIT_NS (30ull * 1000000000ull) /* stages have this long to take a slot */
#define CHUNK_BYTES (1u << 20)              /* a prompt's frames stay below this */
#define QUEUE_MAX_BYTES (512ull << 20)      /* frames waiting at one stage */
#define MAX_EXCLUDED 64

/* ---- shared ----------------------------------------------------------------- */

typedef struct qframe {
    struct qframe *next;
    size_t len;
    uint8_t data[];
} qframe;

/* A stage this node runs for a driver. */
typedef struct stage {
    struct stage *next;
    ari_pipes *ps;
    uint8_t sid[ARI_SID_LEN];
    char sid_hex[2 * ARI_SID_LEN + 1];
    char driver[ARI_ID_LEN + 1], prev[ARI_ID_LEN + 1], next_id[ARI_ID_LEN + 1];
    char model[256];
    uint32_t first, end, n_ctx, dtype;
    aria_sampling smp;
    uint64_t deadline;
    qframe *qh, *qt;
    size_t q_bytes;
    int closing, overflow, refused;
    volatile int cancel;
    uint32_t done_pos; /* positions run so far */
    json_t *sign_req;  /* a record the driver asks this stage to sign */
} stage;

typedef struct pstage {
    char node[ARI_ID_LEN + 1];
    uint32_t first, end;
} pstage;

/* A pipeline driven from here. Fields below "events" are under ps->mu. */
struct ari_pipe {
    struct ari_pipe *next;
    ari_pipes *ps;
    ari_pipe_params p;
    char model[256];
    size_t el; /* bytes of one activation */
    uint8_t sid[ARI_SID_LEN];
    char sid_hex[2 * ARI_SID_LEN + 1];
    size_t n_st; /* st[0] is this node */
    pstage st[ARI_PLAN_MAX_STAGES];
    /* history: every position's token and the hidden state sent for it */
    int32_t *toks;
    uint8_t *acts;
    size_t n_pos, cap_pos;
    char excl[MAX_EXCLUDED][ARI_ID_LEN + 1];
    size_t n_excl;
    unsigned rebuilds;
    /* generated tokens' round trips through the other stages */
    uint64_t n_steps, step_ns, step_compute_us, step_hops;
    /* events */
    size_t n_ready;
    int failed, status;
    char msg[512];
    char lost[ARI_ID_LEN + 1];
    int have_tok;
    uint32_t tok_pos;
    int32_t tok;
    float lp;
    uint32_t compute_us;
    uint32_t n_top;
    aria_logprob top[ARIA_MAX_LOGPROBS];
    uint64_t compute_us_total; /* over every token the last stage sent */
    int signed_at;             /* the stage whose signature arrived, or -1 */
    uint8_t sig[ARIA_SIG_BYTES];
    pthread_cond_t cv;
};

struct ari_pipes {
    ari_pipe_net net;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a stage ended */
    stage *stages;
    size_t n_stages;
    ari_pipe *pipes;
    size_t n_pipes;
    int stopping;
};

static void wait_a_bit(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t until_ns)
{
    uint64_t now = ari_now_ns(), step = 100ull * 1000000ull;
    if (until_ns > now && until_ns - now < step)
        step = until_ns - now;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + step;
    ts.tv_sec += (time_t)(ns / 1000000000ull);
    ts.tv_nsec = (long)(ns % 1000000000ull);
    pthread_cond_timedwait(cv, mu, &ts);
}

static aria_err send_json(ari_pipes *ps, const char *to, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (o)
        json_decref(o);
    if (!s)
        return ARIA_ERR_NOMEM;
    aria_err e = ps->net.send(ps->net.user, to, s, strlen(s), ARIA_MSG_TEXT);
    free(s);
    return e;
}

ari_pipes *ari_pipes_new(const ari_pipe_net *net)
{
    ari_pipes *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->net = *net;
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    return ps;
}

void ari_pipes_stop(ari_pipes *ps)
{
    if (!ps)
        return;
    pthread_mutex_lock(&ps->mu);
    ps->stopping = 1;
    for (stage *s = ps->stages; s; s = s->next) {
        s->closing = 1;
        s->cancel = 1;
    }
    pthread_cond_broadcast(&ps->cv);
    while (ps->n_stages)
        wait_a_bit(&ps->cv, &ps->mu, ari_now_ns() + 100000000ull);
    pthread_mutex_unlock(&ps->mu);
}

void ari_pipes_free(ari_pipes *ps)
{
    if (!ps)
        return;
    ari_pipes_stop(ps);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    free(ps);
}

void ari_pipes_count(ari_pipes *ps, uint32_t *stages, uint32_t *driven)
{
    pthread_mutex_lock(&ps->mu);
    *stages = (uint32_t)ps->n_stages;
    *driven = (uint32_t)ps->n_pipes;
    pthread_mutex_unlock(&ps->mu);
}

/* ---- stages run for others ------------------------------------------------- */

static stage *find_stage(ari_pipes *ps, const uint8_t sid[ARI_SID_LEN])
{
    for (stage *s = ps->stages; s; s = s->next)
        if (!memcmp(s->sid, sid, ARI_SID_LEN))
            return s;
    return NULL;
}

static void stage_fail(stage *s, int status, const char *lost, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void stage_fail(stage *s, int status, const char *lost, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ari_warn("pipeline", "stage %.8s (%s layers %u..%u) for %.12s: %s", s->sid_hex, s->model,
             s->first, s->end - 1, s->driver, msg);
    json_t *o = json_pack("{s:s,s:s,s:i,s:s}", "type", "stage_error", "sid", s->sid_hex,
                          "status", status, "message", msg);
    if (o && lost && *lost)
        json_object_set_new(o, "lost", json_string(lost));
    send_json(s->ps, s->driver, o);
}

/* splitmix64: a per-position seed, so that a sampled token depends only on
 * the seed, the position and the logits (a replay samples the same). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* JSON has no infinities: a token of probability 0 reports -1e30. */
static double finite_lp(float lp)
{
    return isfinite(lp) ? (double)lp : -1e30;
}

typedef struct stage_run {
    ari_lease l;
    aria_model_info info;
    int last;
    void *in;       /* aligned copy of a frame's activations */
    size_t in_cap;
    uint8_t *out;   /* the next frame */
    size_t out_cap;
    int32_t *hist;  /* last stage: the token at every position */
    size_t hist_cap;
} stage_run;

static int grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = need + need / 2 + 64;
    void *q = realloc(*p, c);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Runs one frame. Returns 0, or -1 after telling the driver. */
static int run_frame(stage *s, stage_run *r, const uint8_t *data, size_t len)
{
    ari_frame f;
    aria_msg why = {{0}};
    if (ari_frame_parse(data, len, &f, &why) != ARIA_OK) { /* checked on arrival */
        stage_fail(s, 400, NULL, "%s", why.text);
        return -1;
    }
    const aria_backend_vt *vt = r->l.vt;
    if (f.n_embd != r->info.n_embd) {
        stage_fail(s, 400, NULL, "a frame %u wide; the model's hidden state is %u", f.n_embd,
                   r->info.n_embd);
        return -1;
    }
    uint32_t pos = vt->session_pos(r->l.sess);
    if (f.pos0 < pos && vt->session_truncate(r->l.sess, f.pos0) != ARIA_OK) {
        stage_fail(s, 500, NULL, "cannot rewind the session to position %u", f.pos0);
        return -1;
    }
    if (f.pos0 > pos) {
        stage_fail(s, 400, NULL, "a frame at position %u; the session is at %u", f.pos0, pos);
        return -1;
    }
    if ((uint64_t)f.pos0 + f.n_tokens > r->l.n_ctx) {
        stage_fail(s, 400, NULL, "positions up to %u pass the context of %u",
                   f.pos0 + f.n_tokens, r->l.n_ctx);
        return -1;
    }
    size_t in_bytes = (size_t)f.n_tokens * f.n_embd * (f.dtype == ARIA_DT_F16 ? 2 : 4);
    if (grow(&r->in, &r->in_cap, in_bytes)) {
        stage_fail(s, 500, NULL, "out of memory");
        return -1;
    }
    memcpy(r->in, f.embd, in_bytes);
    aria_batch b = {.hdr = {sizeof b, 1}, .n_tokens = f.n_tokens, .pos0 = f.pos0,
                    .embd = r->in, .embd_dtype = f.dtype,
                    .n_threads = s->ps->net.stage_threads};
    aria_forward_out o = {.hdr = {sizeof o, 1}, .embd_dtype = s->dtype};
    uint64_t out_len = 0;
    ari_frame of = f;
    of.dtype = s->dtype;
    if (!r->last) {
        out_len = ari_frame_size(f.n_tokens, f.n_embd, s->dtype);
        if (grow((void **)&r->out, &r->out_cap, (size_t)out_len)) {
            stage_fail(s, 500, NULL, "out of memory");
            return -1;
        }
        memcpy(r->out + ARI_FRAME_HDR, f.tokens, 4ull * f.n_tokens);
        o.embd = r->out + ARI_FRAME_HDR + 4ull * f.n_tokens;
    }
    uint64_t t0 = ari_now_ns();
    if (vt->forward(r->l.sess, &b, r->last ? NULL : &o, &why) != ARIA_OK) {
        stage_fail(s, 500, NULL, "forward failed: %s", why.text);
        return -1;
    }
    s->done_pos = f.pos0 + f.n_tokens;
    uint64_t us = f.compute_us + (ari_now_ns() - t0) / 1000;
    if (us > UINT32_MAX)
        us = UINT32_MAX;
    if (!r->last) {
        of.compute_us = (uint32_t)us;
        ari_frame_header(r->out, &of);
        aria_err e = s->ps->net.send(s->ps->net.user, s->next_id, r->out, (size_t)out_len,
                                     ARIA_MSG_BINARY);
        if (e != ARIA_OK) {
            stage_fail(s, 502, s->next_id, "cannot send to the next stage %.12s: %s", s->next_id,
                       aria_strerror(e));
            return -1;
        }
        return 0;
    }
    size_t n_hist = (size_t)f.pos0 + f.n_tokens;
    if (grow((void **)&r->hist, &r->hist_cap, n_hist * sizeof *r->hist)) {
        stage_fail(s, 500, NULL, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < f.n_tokens; i++)
        r->hist[f.pos0 + i] = ari_frame_token(&f, i);
    if (!(f.flags & ARI_FRAME_SAMPLE))
        return 0;
    aria_sampling smp = s->smp;
    smp.seed = mix(s->smp.seed ^ mix(n_hist));
    int32_t tok = 0;
    float lp = 0;
    aria_logprob top[ARIA_MAX_LOGPROBS];
    uint32_t n_top = 0;
    if (vt->sample(r->l.sess, &smp, r->hist, n_hist, &tok, &lp, top, &n_top) != ARIA_OK) {
        stage_fail(s, 500, NULL, "sampling failed");
        return -1;
    }
    us = f.compute_us + (ari_now_ns() - t0) / 1000; /* the draw is this stage's work too */
    json_t *o2 = json_pack("{s:s,s:s,s:i,s:i,s:f,s:I}", "type", "stage_token", "sid",
                           s->sid_hex, "pos", (int)(n_hist - 1), "token", (int)tok, "lp",
                           finite_lp(lp), "compute_us", (json_int_t)us);
    if (o2 && n_top) {
        json_t *t = json_array();
        for (uint32_t k = 0; k < n_top && k < ARIA_MAX_LOGPROBS; k++)
            json_array_append_new(t, json_pack("[i,f]", (int)top[k].token, finite_lp(top[k].logprob)));
        json_object_set_new(o2, "top", t);
    }
    return send_json(s->ps, s->driver, o2) == ARIA_OK ? 0 : -1; /* else the driver is gone */
}

static int status_of(aria_err e)
{
    return e == ARIA_ERR_BUSY        ? 429
           : e == ARIA_ERR_NOT_FOUND ? 404
           : e == ARIA_ERR_INVALID   ? 400
                                     : 503;
}

/* The driver asks this stage to sign the ledger record of the inference it
 * took part in. The stage signs only a record that names it with the range
 * it ran, the session's model, and no more tokens than it ran; it builds
 * the signed bytes itself from the record's fields. */
static void sign_for_driver(stage *s, json_t *req)
{
    ari_pipes *ps = s->ps;
    aria_ledger_record r;
    aria_msg why = {{0}};
    const char *bad = NULL;
    if (ari_record_parse(json_object_get(req, "record"), &r, &why) != ARIA_OK)
        bad = why.text;
    uint32_t me = r.n_stages;
    for (uint32_t i = 0; !bad && i < r.n_stages; i++)
        if (!memcmp(r.stages[i].node_pubkey, ps->net.self_pk, ARIA_PUBKEY_BYTES))
            me = i;
    if (!bad && me == r.n_stages)
        bad = "the record does not name this node";
    else if (!bad && (r.stages[me].layer_first != s->first || r.stages[me].layer_end != s->end))
        bad = "the record names another layer range than this stage ran";
    else if (!bad && strcmp(r.model_id, s->model))
        bad = "the record names another model than this stage ran";
    else if (!bad && (uint64_t)r.tokens_in + r.tokens_out > (uint64_t)s->done_pos + 1)
        bad = "the record counts more tokens than this stage ran";
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX], sig[ARIA_SIG_BYTES];
    size_t n = bad ? 0 : aria_ledger_signed_bytes(&r, bytes);
    if (!bad && !n)
        bad = "the record does not encode";
    if (!bad && (!ps->net.sign || ps->net.sign(ps->net.user, bytes, n, sig) != ARIA_OK))
        bad = "this node cannot sign";
    if (bad) {
        ari_warn("pipeline", "stage %.8s: refusing to sign the record: %s", s->sid_hex, bad);
        send_json(ps, s->driver,
                  json_pack("{s:s,s:s,s:i,s:s}", "type", "stage_error", "sid", s->sid_hex,
                            "status", 400, "message", bad));
        return;
    }
    char sh[2 * ARIA_SIG_BYTES + 1];
    ari_hex(sig, sizeof sig, sh);
    send_json(ps, s->driver,
              json_pack("{s:s,s:s,s:s}", "type", "stage_signed", "sid", s->sid_hex, "sig", sh));
}

static void *stage_main(void *arg)
{
    stage *s = arg;
    ari_pipes *ps = s->ps;
    stage_run r = {0};
    aria_msg why = {{0}};
    int leased = 0;
    if (s->refused) {
        stage_fail(s, 429, NULL, "this node runs as many pipeline stages as it takes (%u)",
                   ps->net.max_stages);
        goto out;
    }
    uint64_t until = ari_now_ns() + OPEN_WAIT_NS;
    aria_err e = ps->net.acquire(ps->net.user, s->model, s->first, s->end, &s->cancel,
                                 until < s->deadline ? until : s->deadline, &r.l, &why);
    if (e != ARIA_OK) {
        stage_fail(s, status_of(e), NULL, "%s", why.text);
        goto out;
    }
    leased = 1;
    r.info.hdr = (aria_vt_hdr){sizeof r.info, 1};
    r.l.vt->model_info(r.l.m, &r.info);
    r.last = r.info.layer_end == r.info.n_layers;
    if (r.last != !s->next_id[0]) {
        stage_fail(s, 400, NULL, r.last ? "the last stage cannot have a next one"
                                        : "a stage before the last needs a next one");
        goto out;
    }
    if (!r.last && !ps->net.ready(ps->net.user, s->next_id)) {
        stage_fail(s, 502, s->next_id, "not connected to the next stage %.12s", s->next_id);
        goto out;
    }
    if (send_json(ps, s->driver,
                  json_pack("{s:s,s:s,s:i}", "type", "stage_ready", "sid", s->sid_hex, "n_embd",
                            (int)r.info.n_embd)) != ARIA_OK)
        goto out;
    ari_debug("pipeline", "stage %.8s: %s layers %u..%u for %.12s, next %.12s", s->sid_hex,
              s->model, s->first, s->end - 1, s->driver, r.last ? "(last)" : s->next_id);
    for (;;) {
        pthread_mutex_lock(&ps->mu);
        while (!s->qh && !s->closing && !s->overflow && !s->sign_req &&
               ari_now_ns() < s->deadline)
            wait_a_bit(&ps->cv, &ps->mu, s->deadline);
        json_t *sreq = s->sign_req;
        s->sign_req = NULL;
        if (sreq) {
            pthread_mutex_unlock(&ps->mu);
            sign_for_driver(s, sreq);
            json_decref(sreq);
            continue;
        }
        qframe *q = s->closing || s->overflow ? NULL : s->qh;
        if (q) {
            s->qh = q->next;
            if (!s->qh)
                s->qt = NULL;
            s->q_bytes -= q->len;
        }
        int overflow = s->overflow;
        pthread_mutex_unlock(&ps->mu);
        if (!q) {
            if (overflow)
                stage_fail(s, 413, NULL, "more than %llu MiB of frames waiting",
                           (unsigned long long)(QUEUE_MAX_BYTES >> 20));
            else if (!s->closing)
                stage_fail(s, 504, NULL, "the session outlived its time");
            break;
        }
        int rc = run_frame(s, &r, q->data, q->len);
        free(q);
        if (rc)
            break;
    }
out:
    if (leased)
        ps->net.release(ps->net.user, &r.l);
    free(r.in);
    free(r.out);
    free(r.hist);
    pthread_mutex_lock(&ps->mu);
    for (stage **pp = &ps->stages; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    ps->n_stages--;
    while (s->qh) {
        qframe *q = s->qh;
        s->qh = q->next;
        free(q);
    }
    if (s->sign_req)
        json_decref(s->sign_req);
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    free(s);
    return NULL;
}

static void sampling_from(json_t *o, aria_sampling *s)
{
    memset(s, 0, sizeof *s);
    s->hdr = (aria_vt_hdr){sizeof *s, 1};
    s->top_p = 1.0f;
    s->repeat_penalty = 1.0f;
    s->repeat_last_n = 64;
#define NUM(k, f) \
    if (json_is_number(json_object_get(o, k))) \
        s->f = (float)json_number_value(json_object_get(o, k));
#define INT(k, f) \
    if (json_is_integer(json_object_get(o, k))) \
        s->f = (int32_t)json_integer_value(json_object_get(o, k));
    NUM("temperature", temperature)
    INT("top_k", top_k)
    NUM("top_p", top_p)
    NUM("min_p", min_p)
    NUM("repeat_penalty", repeat_penalty)
    INT("repeat_last_n", repeat_last_n)
    NUM("frequency_penalty", frequency_penalty)
    NUM("presence_penalty", presence_penalty)
#undef NUM
#undef INT
    json_t *seed = json_object_get(o, "seed");
    if (json_is_string(seed))
        s->seed = strtoull(json_string_value(seed), NULL, 16);
    json_t *nl = json_object_get(o, "n_logprobs");
    if (json_is_integer(nl) && json_integer_value(nl) >= 0)
        s->n_logprobs = (uint32_t)json_integer_value(nl);
}

static json_t *sampling_json(const aria_sampling *s)
{
    char seed[17];
    snprintf(seed, sizeof seed, "%016llx", (unsigned long long)s->seed);
    return json_pack("{s:f,s:i,s:f,s:f,s:f,s:i,s:f,s:f,s:s,s:i}", "temperature",
                     (double)s->temperature, "top_k", (int)s->top_k, "top_p", (double)s->top_p,
                     "min_p", (double)s->min_p, "repeat_penalty", (double)s->repeat_penalty,
                     "repeat_last_n", (int)s->repeat_last_n, "frequency_penalty",
                     (double)s->frequency_penalty, "presence_penalty",
                     (double)s->presence_penalty, "seed", seed, "n_logprobs",
                     (int)s->n_logprobs);
}

static int stage_open(ari_pipes *ps, const char *from, json_t *o, aria_msg *why)
{
    uint8_t sid[ARI_SID_LEN];
    ari_unhex(json_string_value(json_object_get(o, "sid")), sid, sizeof sid);
    if (find_stage(ps, sid)) {
        aria_fail(why, ARIA_ERR_FORMAT, "stage_open of a session that is open already");
        return -1;
    }
    stage *s = calloc(1, sizeof *s);
    if (!s)
        return 0;
    s->ps = ps;
    memcpy(s->sid, sid, sizeof sid);
    ari_hex(sid, sizeof sid, s->sid_hex);
    snprintf(s->driver, sizeof s->driver, "%s", from);
    snprintf(s->prev, sizeof s->prev, "%s", json_string_value(json_object_get(o, "prev")));
    snprintf(s->next_id, sizeof s->next_id, "%s", json_string_value(json_object_get(o, "next")));
    snprintf(s->model, sizeof s->model, "%s", json_string_value(json_object_get(o, "model")));
    s->first = (uint32_t)json_integer_value(json_object_get(o, "first"));
    s->end = (uint32_t)json_integer_value(json_object_get(o, "end"));
    s->n_ctx = (uint32_t)json_integer_value(json_object_get(o, "n_ctx"));
    s->dtype = strcmp(json_string_value(json_object_get(o, "dtype")), "f16") ? ARIA_DT_F32
                                                                             : ARIA_DT_F16;
    sampling_from(json_object_get(o, "sampling"), &s->smp);
    if (aria_sampling_check(&s->smp, why) != ARIA_OK) {
        free(s);
        return -1;
    }
    s->deadline = ari_now_ns() + (uint64_t)json_integer_value(json_object_get(o, "ttl_ms")) *
                                     1000000ull;
    s->refused = ps->stopping || ps->n_stages >= ps->net.max_stages;
    s->next = ps->stages;
    ps->stages = s;
    ps->n_stages++;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, stage_main, s) != 0) {
        ps->stages = s->next;
        ps->n_stages--;
        free(s);
    }
    pthread_attr_destroy(&at);
    return 0;
}

/* ---- drivers ------------------------------------------------------------------ */

static ari_pipe *find_pipe(ari_pipes *ps, const char *sid_hex)
{
    for (ari_pipe *pp = ps->pipes; pp; pp = pp->next)
        if (!strcmp(pp->sid_hex, sid_hex))
            return pp;
    return NULL;
}

static int stage_of(const ari_pipe *pp, const char *node)
{
    for (size_t i = 1; i < pp->n_st; i++)
        if (!strcmp(pp->st[i].node, node))
            return (int)i;
    return -1;
}

int ari_pipes_on_text(ari_pipes *ps, const char *from, const ari_msg_in *m, aria_msg *why)
{
    const char *t = m->type;
    json_t *o = m->obj;
    const char *sid_hex = json_string_value(json_object_get(o, "sid"));
    pthread_mutex_lock(&ps->mu);
    int rc = 0;
    if (!strcmp(t, "stage_open")) {
        rc = stage_open(ps, from, o, why);
    } else if (!strcmp(t, "stage_sign")) {
        uint8_t sid[ARI_SID_LEN];
        ari_unhex(sid_hex, sid, sizeof sid);
        stage *s = find_stage(ps, sid);
        if (s && !strcmp(s->driver, from) && !s->sign_req) {
            s->sign_req = json_incref(o);
            pthread_cond_broadcast(&ps->cv);
        }
    } else if (!strcmp(t, "stage_close")) {
        uint8_t sid[ARI_SID_LEN];
        ari_unhex(sid_hex, sid, sizeof sid);
        stage *s = find_stage(ps, sid);
        if (s && !strcmp(s->driver, from)) {
            s->closing = 1;
            s->cancel = 1;
            pthread_cond_broadcast(&ps->cv);
        }
    } else {
        ari_pipe *pp = find_pipe(ps, sid_hex);
        int at = pp ? stage_of(pp, from) : -1;
        if (!pp || at < 0) {
            /* a session rebuilt or closed since: its stragglers are dropped */
        } else if (!strcmp(t, "stage_ready")) {
            if ((uint32_t)json_integer_value(json_object_get(o, "n_embd")) != pp->p.n_embd) {
                pp->failed = 1;
                pp->status = 502;
                snprintf(pp->lost, sizeof pp->lost, "%s", from);
                snprintf(pp->msg, sizeof pp->msg, "node %.12s runs %s %lld wide, this node %u",
                         from, pp->model, json_integer_value(json_object_get(o, "n_embd")),
                         pp->p.n_embd);
            } else {
                pp->n_ready++;
            }
        } else if (!strcmp(t, "stage_error")) {
            const char *lost = json_string_value(json_object_get(o, "lost"));
            pp->failed = 1;
            pp->status = (int)json_integer_value(json_object_get(o, "status"));
            snprintf(pp->lost, sizeof pp->lost, "%s", lost ? lost : from);
            snprintf(pp->msg, sizeof pp->msg, "node %.12s: %s", from,
                     json_string_value(json_object_get(o, "message")));
        } else if (!strcmp(t, "stage_token") && (size_t)at == pp->n_st - 1) {
            json_t *top = json_object_get(o, "top");
            pp->tok_pos = (uint32_t)json_integer_value(json_object_get(o, "pos"));
            pp->tok = (int32_t)json_integer_value(json_object_get(o, "token"));
            pp->lp = (float)json_number_value(json_object_get(o, "lp"));
            pp->compute_us = (uint32_t)json_integer_value(json_object_get(o, "compute_us"));
            pp->compute_us_total += pp->compute_us;
            pp->n_top = (uint32_t)json_array_size(top);
            for (uint32_t k = 0; k < pp->n_top; k++) {
                pp->top[k].token = (int32_t)json_integer_value(json_array_get(json_array_get(top, k), 0));
                pp->top[k].logprob = (float)json_number_value(json_array_get(json_array_get(top, k), 1));
            }
            pp->have_tok = 1;
        } else if (!strcmp(t, "stage_token")) {
            aria_fail(why, ARIA_ERR_FORMAT, "a token from a stage that is not the last");
            rc = -1;
        } else if (!strcmp(t, "stage_signed") && at > 0 && pp->signed_at == -2) {
            ari_unhex(json_string_value(json_object_get(o, "sig")), pp->sig, sizeof pp->sig);
            pp->signed_at = at;
        }
        if (pp)
            pthread_cond_broadcast(&pp->cv);
    }
    pthread_mutex_unlock(&ps->mu);
    return rc;
}

int ari_pipes_on_frame(ari_pipes *ps, const char *from, const void *data, size_t len,
                       aria_msg *why)
{
    ari_frame f;
    if (ari_frame_parse(data, len, &f, why) != ARIA_OK)
        return -1;
    pthread_mutex_lock(&ps->mu);
    stage *s = find_stage(ps, f.sid);
    int rc = 0;
    if (!s) {
        /* a session closed since: dropped */
    } else if (strcmp(s->prev, from)) {
        aria_fail(why, ARIA_ERR_FORMAT,
                  "an activation frame for session %.8s from a node that is not its previous "
                  "stage", s->sid_hex);
        rc = -1;
    } else if (s->q_bytes + len > QUEUE_MAX_BYTES) {
        s->overflow = 1;
        pthread_cond_broadcast(&ps->cv);
    } else {
        qframe *q = malloc(sizeof *q + len);
        if (q) {
            q->next = NULL;
            q->len = len;
            memcpy(q->data, data, len);
            if (s->qt)
                s->qt->next = q;
            else
                s->qh = q;
            s->qt = q;
            s->q_bytes += len;
            pthread_cond_broadcast(&ps->cv);
        } else {
            s->overflow = 1;
        }
    }
    pthread_mutex_unlock(&ps->mu);
    return rc;
}

void ari_pipes_peer_gone(ari_pipes *ps, const char *id)
{
    pthread_mutex_lock(&ps->mu);
    for (ari_pipe *pp = ps->pipes; pp; pp = pp->next)
        if (stage_of(pp, id) > 0 && !pp->failed) {
            pp->failed = 1;
            pp->status = 502;
            snprintf(pp->lost, sizeof pp->lost, "%s", id);
            snprintf(pp->msg, sizeof pp->msg, "node %.12s went away", id);
            pthread_cond_broadcast(&pp->cv);
        }
    for (stage *s = ps->stages; s; s = s->next)
        if (!strcmp(s->driver, id)) {
            s->closing = 1;
            s->cancel = 1;
        }
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
}

/* Asks the stages of the current plan to close. */
static void close_stages(ari_pipe *pp)
{
    for (size_t i = 1; i < pp->n_st; i++)
        send_json(pp->ps, pp->st[i].node,
                  json_pack("{s:s,s:s}", "type", "stage_close", "sid", pp->sid_hex));
}

static int excluded(const ari_pipe *pp, const char *node)
{
    for (size_t i = 0; i < pp->n_excl; i++)
        if (!strcmp(pp->excl[i], node))
            return 1;
    return 0;
}

static void exclude(ari_pipe *pp, const char *node)
{
    if (node[0] && !excluded(pp, node) && pp->n_excl < MAX_EXCLUDED)
        snprintf(pp->excl[pp->n_excl++], sizeof pp->excl[0], "%s", node);
}

/* Waits for cond on pp (under ps->mu) or failure, cancel, deadline or
 * limit. Returns ARIA_OK when cond held, ARIA_ERR_CLOSED on failure. */
static aria_err wait_for(ari_pipe *pp, int (*cond)(const ari_pipe *), uint64_t limit_ns)
{
    ari_pipes *ps = pp->ps;
    uint64_t until = pp->p.deadline_ns && pp->p.deadline_ns < limit_ns ? pp->p.deadline_ns
                                                                        : limit_ns;
    aria_err e = ARIA_OK;
    pthread_mutex_lock(&ps->mu);
    for (;;) {
        if (cond(pp))
            break;
        if (pp->failed) {
            e = ARIA_ERR_CLOSED;
            break;
        }
        if (pp->p.cancel && *pp->p.cancel) {
            e = ARIA_ERR_CANCELLED;
            break;
        }
        if (ari_now_ns() >= until) {
            e = ARIA_ERR_TIMEOUT;
            break;
        }
        wait_a_bit(&pp->cv, &ps->mu, until);
    }
    pthread_mutex_unlock(&ps->mu);
    return e;
}

static int all_ready(const ari_pipe *pp)
{
    return pp->n_ready + 1 >= pp->n_st;
}

static int got_token(const ari_pipe *pp)
{
    return pp->have_tok && pp->tok_pos + 1 == pp->n_pos;
}

/* Plans the stages after this node's and opens them: ARIA_OK, or the reason
 * in why. Tries again without the nodes that refuse. */
static aria_err build(ari_pipe *pp, aria_msg *why)
{
    ari_pipes *ps = pp->ps;
    enum { CAP = 256 };
    ari_stage_offer *of = calloc(CAP, sizeof *of);
    char(*ids)[ARI_ID_LEN + 1] = calloc(CAP, sizeof *ids);
    aria_err e = ARIA_ERR_NOMEM;
    if (!of || !ids)
        goto out;
    char refused[600] = "";
    for (int attempt = 0; attempt < 8; attempt++) {
        snprintf(ids[0], sizeof ids[0], "%s", ps->net.self);
        of[0] = (ari_stage_offer){.node = ids[0], .first = 0, .end = pp->p.my_end, .usable = 1};
        size_t n = 1 + ps->net.offers(ps->net.user, pp->model, pp->p.n_layers, of + 1, ids + 1,
                                      CAP - 1);
        for (size_t i = 1; i < n; i++) {
            of[i].node = ids[i];
            if (of[i].first == 0 || excluded(pp, ids[i]))
                of[i].usable = 0; /* this node is the first stage */
        }
        ari_plan plan;
        char pw[256];
        if (ari_plan_pipeline(pp->p.n_layers, of, n, pp->p.replication, &plan, pw, sizeof pw)) {
            e = aria_fail(why, ARIA_ERR_UNAVAILABLE, "%s%s%s", pw, refused[0] ? "; " : "",
                          refused);
            goto out;
        }
        uint8_t sid[ARI_SID_LEN];
        randombytes_buf(sid, sizeof sid);
        pthread_mutex_lock(&ps->mu);
        pp->n_st = plan.n_stages;
        for (size_t i = 0; i < plan.n_stages; i++) {
            const ari_plan_stage *st = &plan.stage[i];
            snprintf(pp->st[i].node, sizeof pp->st[i].node, "%s", ids[st->primary]);
            pp->st[i].first = st->first;
            pp->st[i].end = st->end;
        }
        memcpy(pp->sid, sid, sizeof sid);
        ari_hex(sid, sizeof sid, pp->sid_hex);
        pp->n_ready = 0;
        pp->failed = 0;
        pp->have_tok = 0;
        pp->lost[0] = '\0';
        pp->msg[0] = '\0';
        pthread_mutex_unlock(&ps->mu);
        uint64_t ttl_ms = pp->p.deadline_ns > ari_now_ns()
                              ? (pp->p.deadline_ns - ari_now_ns()) / 1000000ull + 1000
                              : 3600000;
        for (size_t i = 1; i < pp->n_st; i++) {
            json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:i,s:s,s:I}", "type",
                                  "stage_open", "sid", pp->sid_hex, "model", pp->model, "first",
                                  (int)pp->st[i].first, "end", (int)pp->st[i].end, "prev",
                                  pp->st[i - 1].node, "next",
                                  i + 1 < pp->n_st ? pp->st[i + 1].node : "", "n_ctx",
                                  (int)pp->p.n_ctx, "dtype",
                                  pp->p.dtype == ARIA_DT_F16 ? "f16" : "f32", "ttl_ms",
                                  (json_int_t)(ttl_ms > 86400000 ? 86400000 : ttl_ms));
            if (o && i + 1 == pp->n_st)
                json_object_set_new(o, "sampling", sampling_json(&pp->p.sampling));
            if (send_json(ps, pp->st[i].node, o) != ARIA_OK) {
                pthread_mutex_lock(&ps->mu);
                if (!pp->failed) {
                    pp->failed = 1;
                    snprintf(pp->lost, sizeof pp->lost, "%s", pp->st[i].node);
                    snprintf(pp->msg, sizeof pp->msg, "cannot reach node %.12s", pp->st[i].node);
                }
                pthread_mutex_unlock(&ps->mu);
                break;
            }
        }
        e = wait_for(pp, all_ready, ari_now_ns() + OPEN_WAIT_NS);
        if (e == ARIA_OK)
            goto out;
        close_stages(pp);
        if (e != ARIA_ERR_CLOSED) {
            aria_fail(why, e, e == ARIA_ERR_CANCELLED ? "cancelled"
                                                      : "the stages did not open in time");
            goto out;
        }
        pthread_mutex_lock(&ps->mu);
        char lost[ARI_ID_LEN + 1];
        memcpy(lost, pp->lost, sizeof lost);
        size_t o = strlen(refused);
        snprintf(refused + o, sizeof refused - o, "%s%s", o ? "; " : "", pp->msg);
        pthread_mutex_unlock(&ps->mu);
        ari_warn("pipeline", "%s: a stage refused (%s); planning without node %.12s",
                 pp->model, pp->msg, lost);
        exclude(pp, lost);
    }
    e = aria_fail(why, ARIA_ERR_UNAVAILABLE, "no stages would open: %s", refused);
out:
    free(of);
    free(ids);
    return e;
}

aria_err ari_pipe_open(ari_pipes *ps, const ari_pipe_params *p, ari_pipe **out, aria_msg *why)
{
    *out = NULL;
    if (!ps)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "this node has no peers to run layers %u..%u",
                         p->my_end, p->n_layers - 1);
    ari_pipe *pp = calloc(1, sizeof *pp);
    if (!pp)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    pp->ps = ps;
    pp->p = *p;
    pp->signed_at = -1;
    snprintf(pp->model, sizeof pp->model, "%s", p->model);
    pp->p.model = pp->model;
    pp->el = p->dtype == ARIA_DT_F16 ? 2 : 4;
    pthread_cond_init(&pp->cv, NULL);
    pthread_mutex_lock(&ps->mu);
    pp->next = ps->pipes;
    ps->pipes = pp;
    ps->n_pipes++;
    pthread_mutex_unlock(&ps->mu);
    aria_err e = build(pp, why);
    if (e != ARIA_OK) {
        pp->n_st = 0; /* build closed what it opened */
        ari_pipe_close(pp);
        return e;
    }
    char d[512];
    ari_pipe_describe(pp, d, sizeof d);
    ari_info("pipeline", "%s: %zu stages %s (%s frames)", pp->model, pp->n_st, d,
             p->dtype == ARIA_DT_F16 ? "f16" : "f32");
    *out = pp;
    return ARIA_OK;
}

/* Sends positions [from, n_pos) to the second stage, in frames below
 * CHUNK_BYTES, and waits for the token after the last. */
static aria_err run(ari_pipe *pp, size_t from, aria_msg *why)
{
    ari_pipes *ps = pp->ps;
    size_t row = (size_t)pp->p.n_embd * pp->el;
    size_t per = CHUNK_BYTES / (row + 4);
    if (per < 1)
        per = 1;
    if (per > ARI_FRAME_MAX_TOKENS)
        per = ARI_FRAME_MAX_TOKENS;
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t t0 = ari_now_ns();
    for (size_t at = from; at < pp->n_pos;) {
        size_t n = pp->n_pos - at < per ? pp->n_pos - at : per;
        ari_frame f = {.pos0 = (uint32_t)at, .n_tokens = (uint32_t)n, .n_embd = pp->p.n_embd,
                       .dtype = pp->p.dtype, .flags = at + n == pp->n_pos ? ARI_FRAME_SAMPLE : 0};
        memcpy(f.sid, pp->sid, sizeof f.sid);
        size_t len = (size_t)ari_frame_size(f.n_tokens, f.n_embd, f.dtype);
        if (grow((void **)&buf, &cap, len)) {
            free(buf);
            return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        }
        ari_frame_header(buf, &f);
        memcpy(buf + ARI_FRAME_HDR, pp->toks + at, 4 * n);
        memcpy(buf + ARI_FRAME_HDR + 4 * n, pp->acts + at * row, n * row);
        aria_err e = ps->net.send(ps->net.user, pp->st[1].node, buf, len, ARIA_MSG_BINARY);
        if (e != ARIA_OK) {
            pthread_mutex_lock(&ps->mu);
            if (!pp->failed) {
                pp->failed = 1;
                snprintf(pp->lost, sizeof pp->lost, "%s", pp->st[1].node);
                snprintf(pp->msg, sizeof pp->msg, "cannot send to node %.12s: %s",
                         pp->st[1].node, aria_strerror(e));
            }
            pthread_mutex_unlock(&ps->mu);
            break;
        }
        at += n;
    }
    free(buf);
    aria_err e = wait_for(pp, got_token, UINT64_MAX);
    if (e == ARIA_OK && pp->n_pos - from == 1) { /* one generated token */
        pp->n_steps++;
        pp->step_ns += ari_now_ns() - t0;
        pthread_mutex_lock(&ps->mu);
        pp->step_compute_us += pp->compute_us;
        pthread_mutex_unlock(&ps->mu);
        pp->step_hops += pp->n_st; /* to each stage after this one, and back */
    }
    if (e == ARIA_ERR_TIMEOUT)
        aria_fail(why, e, "the pipeline did not answer before the request's deadline");
    return e;
}

aria_err ari_pipe_tail(void *user, uint32_t pos0, uint32_t n_tokens, const int32_t *tokens,
                       const void *embd, int32_t *token, float *logprob, aria_logprob *top,
                       uint32_t *n_top, aria_msg *why)
{
    ari_pipe *pp = user;
    ari_pipes *ps = pp->ps;
    if (pos0 > pp->n_pos)
        return aria_fail(why, ARIA_ERR_INVALID, "position %u after %zu", pos0, pp->n_pos);
    size_t row = (size_t)pp->p.n_embd * pp->el;
    size_t need = (size_t)pos0 + n_tokens;
    if (need > pp->cap_pos) {
        size_t cap = need * 2 + 16;
        int32_t *t = realloc(pp->toks, cap * sizeof *t);
        if (t)
            pp->toks = t;
        uint8_t *a = t ? realloc(pp->acts, cap * row) : NULL;
        if (!t || !a)
            return aria_fail(why, ARIA_ERR_NOMEM, "out of memory for %zu positions", need);
        pp->acts = a;
        pp->cap_pos = cap;
    }
    memcpy(pp->toks + pos0, tokens, n_tokens * sizeof *tokens);
    memcpy(pp->acts + (size_t)pos0 * row, embd, n_tokens * row);
    pp->n_pos = need;
    aria_err e = run(pp, pos0, why);
    while (e == ARIA_ERR_CLOSED) {
        pthread_mutex_lock(&ps->mu);
        char lost[ARI_ID_LEN + 1], msg[512];
        memcpy(lost, pp->lost, sizeof lost);
        memcpy(msg, pp->msg, sizeof msg);
        int at = stage_of(pp, lost);
        uint32_t first = at > 0 ? pp->st[at].first : 0, end = at > 0 ? pp->st[at].end : 0;
        pthread_mutex_unlock(&ps->mu);
        close_stages(pp);
        if (pp->rebuilds >= MAX_REBUILDS)
            return aria_fail(why, ARIA_ERR_UNAVAILABLE,
                             "pipeline for %s lost a stage %u times; last: %s", pp->model,
                             pp->rebuilds + 1, msg);
        pp->rebuilds++;
        exclude(pp, lost);
        ari_warn("pipeline", "%s: lost the stage of layers %u..%u (%s); rebuilding, replaying %zu "
                 "positions", pp->model, first, end ? end - 1 : 0, msg, pp->n_pos);
        aria_msg bw = {{0}};
        e = build(pp, &bw);
        if (e != ARIA_OK) {
            pp->n_st = 1;
            if (e == ARIA_ERR_CANCELLED)
                return e;
            return aria_fail(why, ARIA_ERR_UNAVAILABLE,
                             "the pipeline for %s lost the stage of layers %u..%u (%s) and "
                             "cannot be rebuilt: %s", pp->model, first, end ? end - 1 : 0, msg,
                             bw.text);
        }
        char d[512];
        ari_pipe_describe(pp, d, sizeof d);
        ari_info("pipeline", "%s: rebuilt as %s", pp->model, d);
        e = run(pp, 0, why);
    }
    if (e != ARIA_OK)
        return e;
    pthread_mutex_lock(&ps->mu);
    *token = pp->tok;
    *logprob = pp->lp;
    *n_top = pp->n_top;
    memcpy(top, pp->top, pp->n_top * sizeof *top);
    pp->have_tok = 0;
    pthread_mutex_unlock(&ps->mu);
    return ARIA_OK;
}

void ari_pipe_describe(const ari_pipe *pp, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < pp->n_st && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%.12s:%u-%u", i ? "," : "",
                         i ? pp->st[i].node : "self", pp->st[i].first, pp->st[i].end - 1);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

unsigned ari_pipe_rebuilds(const ari_pipe *pp)
{
    return pp->rebuilds;
}

uint32_t ari_pipe_stages(const ari_pipe *pp, char (*ids)[ARI_ID_LEN + 1], uint32_t *first,
                         uint32_t *end, uint32_t cap)
{
    uint32_t n = 0;
    for (size_t i = 0; i < pp->n_st && n < cap; i++, n++) {
        snprintf(ids[n], sizeof ids[n], "%s", i ? pp->st[i].node : pp->ps->net.self);
        first[n] = pp->st[i].first;
        end[n] = pp->st[i].end;
    }
    return n;
}

uint64_t ari_pipe_compute_us(const ari_pipe *pp)
{
    pthread_mutex_lock(&pp->ps->mu);
    uint64_t us = pp->compute_us_total;
    pthread_mutex_unlock(&pp->ps->mu);
    return us;
}

static int got_sig(const ari_pipe *pp)
{
    return pp->signed_at >= 0;
}

aria_err ari_pipe_sign(ari_pipe *pp, uint32_t i, const aria_ledger_record *r,
                       uint8_t sig[ARIA_SIG_BYTES], aria_msg *why)
{
    ari_pipes *ps = pp->ps;
    if (i == 0 || i >= pp->n_st)
        return aria_fail(why, ARIA_ERR_RANGE, "stage %u of %zu", i, pp->n_st);
    pthread_mutex_lock(&ps->mu);
    pp->signed_at = -2;
    pthread_mutex_unlock(&ps->mu);
    aria_err e = send_json(ps, pp->st[i].node,
                           json_pack("{s:s,s:s,s:o}", "type", "stage_sign", "sid", pp->sid_hex,
                                     "record", ari_record_json(r)));
    if (e == ARIA_OK)
        e = wait_for(pp, got_sig, ari_now_ns() + 10ull * 1000000000ull);
    pthread_mutex_lock(&ps->mu);
    int at = pp->signed_at;
    pp->signed_at = -1;
    if (at == (int)i)
        memcpy(sig, pp->sig, ARIA_SIG_BYTES);
    pthread_mutex_unlock(&ps->mu);
    if (e != ARIA_OK || at != (int)i)
        return aria_fail(why, e != ARIA_OK ? e : ARIA_ERR_INTERNAL,
                         "stage %u (node %.12s) did not sign the ledger record%s%s", i,
                         pp->st[i].node, pp->failed ? ": " : "", pp->failed ? pp->msg : "");
    return ARIA_OK;
}

void ari_pipe_close(ari_pipe *pp)
{
    if (!pp)
        return;
    ari_pipes *ps = pp->ps;
    close_stages(pp);
    if (pp->n_steps) {
        double wall = (double)pp->step_ns / 1e6 / (double)pp->n_steps;
        double comp = (double)pp->step_compute_us / 1e3 / (double)pp->n_steps;
        double hops = (double)pp->step_hops / (double)pp->n_steps;
        ari_info("pipeline",
                 "%s: %llu tokens through the other stages: %.3f ms a token, %.3f ms of it "
                 "computing; overhead %.3f ms per hop (%.0f hops a token)",
                 pp->model, (unsigned long long)pp->n_steps, wall, comp, (wall - comp) / hops,
                 hops);
    }
    pthread_mutex_lock(&ps->mu);
    for (ari_pipe **q = &ps->pipes; *q; q = &(*q)->next)
        if (*q == pp) {
            *q = pp->next;
            break;
        }
    ps->n_pipes--;
    pthread_mutex_unlock(&ps->mu);
    pthread_cond_destroy(&pp->cv);
    free(pp->toks);
    free(pp->acts);
    free(pp);
}
