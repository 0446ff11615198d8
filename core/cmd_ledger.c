/* cmd_ledger.c — `aria-core ledger verify|show|stats|export|rewards`: the
 * node's provenance ledger, read through the ledger plugin (the node may be
 * running: SQLite's WAL lets readers in beside it). */
#include "cmds.h"
#include "identity.h"
#include "ledger_json.h"
#include "proto.h"
#include "rewards.h"

#include <aria/ledger.h>

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "usage: aria-core ledger verify\n"
    "       aria-core ledger show [--from SEQ] [--limit N] [--blocks] [--json]\n"
    "       aria-core ledger stats [--json]\n"
    "       aria-core ledger export [--from SEQ] [FILE]\n"
    "       aria-core ledger rewards [--period SECONDS] [--slot SECONDS] [--json]\n"
    "\n"
    "The provenance ledger of this node ([ledger] path, default DATA_DIR/ledger.db):\n"
    "  verify   checks every record's hash, chain link and stage signatures, every\n"
    "           block's Merkle root, link and signature, and every spot-check's\n"
    "           signature; names the first bad record or block (exit 1)\n"
    "  show     records from SEQ (default: the last N, N default 20), or blocks\n"
    "  stats    totals: records, blocks, tokens, energy by source, per model and\n"
    "           per node, spot-checks\n"
    "  export   every record, block and spot-check as JSON lines (to FILE or\n"
    "           stdout); each line has \"kind\": record, block or check\n"
    "  rewards  each node's reward for the last SECONDS (default 86400):\n"
    "           base rate ([ledger] reward_base_rate) x completed inferences x\n"
    "           quality (uptime in SLOT-second slots, default 3600; latency; spot-\n"
    "           check pass rate) x efficiency (energy per inference against the\n"
    "           network's mean, 0.5..2); docs/ledger.md has the formula\n"
    "\n"
    "  --ledger FILE   another ledger database than the node's\n";

typedef struct led {
    ari_ctx c;
    const aria_ledger_vt *vt;
    aria_ledger *l;
    char path[4200];
} led;

static int led_open(led *d, const ari_opts *o, const char *path)
{
    memset(d, 0, sizeof *d);
    int rc = ari_ctx_open(&d->c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET);
    if (rc)
        return rc;
    const ari_iface *f = ari_registry_iface(&d->c.reg, ARIA_IFACE_LEDGER, 0);
    if (!f) {
        fprintf(stderr, "aria-core ledger: no ledger plugin in %s\n", d->c.plugins_dir);
        ari_ctx_close(&d->c);
        return 1;
    }
    d->vt = f->vt;
    const char *cp = ari_config_get(d->c.cfg, "ledger", "path");
    if (path)
        snprintf(d->path, sizeof d->path, "%s", path);
    else if (cp && cp[0])
        snprintf(d->path, sizeof d->path, "%s", cp);
    else
        snprintf(d->path, sizeof d->path, "%s/ledger.db", d->c.data_dir);
    struct stat st;
    if (stat(d->path, &st) != 0) {
        fprintf(stderr, "aria-core ledger: no ledger at %s (%s)\n", d->path, strerror(errno));
        ari_ctx_close(&d->c);
        return 1;
    }
    aria_ledger_opts lo = {.hdr = {sizeof lo, ARIA_LEDGER_VERSION}, .path = d->path};
    aria_msg why = {{0}};
    if (d->vt->open(f->plugin ? f->plugin->ctx : NULL, &lo, &d->l, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core ledger: %s\n", why.text);
        ari_ctx_close(&d->c);
        return 1;
    }
    return 0;
}

static void led_close(led *d)
{
    d->vt->close(d->l);
    ari_ctx_close(&d->c);
}

static void short_id(const uint8_t pk[32], char out[13])
{
    char id[ARI_ID_LEN + 1];
    ari_node_id(pk, id);
    memcpy(out, id, 12);
    out[12] = 0;
}

static void when(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- verify ---------------------------------------------------------------- */

static int do_verify(led *d)
{
    aria_ledger_report rep = {.hdr = {sizeof rep, ARIA_LEDGER_VERSION}};
    aria_err e = d->vt->verify(d->l, &rep);
    if (e == ARIA_OK) {
        printf("%s: %" PRIu64 " record%s, %" PRIu64 " block%s: every hash, link, signature and "
               "Merkle root verifies\n",
               d->path, rep.n_records, rep.n_records == 1 ? "" : "s", rep.n_blocks,
               rep.n_blocks == 1 ? "" : "s");
        return 0;
    }
    if (e == ARIA_ERR_SIGNATURE) {
        printf("%s: FAILED: %s\n", d->path, rep.detail);
        if (rep.first_bad_seq)
            printf("  first bad record: %" PRIu64 "\n", rep.first_bad_seq);
        if (rep.first_bad_height)
            printf("  first bad block: %" PRIu64 "\n", rep.first_bad_height);
        return 1;
    }
    fprintf(stderr, "aria-core ledger verify: %s: %s\n", d->path,
            rep.detail[0] ? rep.detail : aria_strerror(e));
    return 1;
}

/* ---- show / export ----------------------------------------------------------- */

typedef struct walk {
    FILE *out;
    int json, kind;
    uint64_t n, limit;
} walk;

static int show_record(void *u, const aria_ledger_record *r)
{
    walk *w = u;
    if (w->limit && w->n >= w->limit)
        return 1;
    w->n++;
    if (w->json) {
        json_t *o = ari_record_json(r);
        if (w->kind)
            json_object_set_new(o, "kind", json_string("record"));
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (s)
            fprintf(w->out, "%s\n", s);
        free(s);
        return 0;
    }
    char t[32], nodes[ARIA_LEDGER_MAX_STAGES * 24] = "";
    when(r->timestamp_ms, t, sizeof t);
    size_t len = 0;
    for (uint32_t i = 0; i < r->n_stages && len < sizeof nodes - 24; i++) {
        char sid[13];
        short_id(r->stages[i].node_pubkey, sid);
        len += (size_t)snprintf(nodes + len, sizeof nodes - len, "%s%s:%u-%u", i ? "," : "", sid,
                                r->stages[i].layer_first, r->stages[i].layer_end - 1);
    }
    char idh[33];
    ari_hex(r->id, sizeof r->id, idh);
    fprintf(w->out, "%6" PRIu64 "  %s  %-24.24s %5u %5u %9" PRIu64 " %-9s %8.1f  %s  %.8s\n",
            r->seq, t, r->model_id, r->tokens_in, r->tokens_out, r->energy_mj,
            ari_energy_source_name(r->energy_source), (double)r->latency_us / 1000.0, nodes,
            idh);
    return 0;
}

static int export_check(void *u, const aria_ledger_check *c)
{
    walk *w = u;
    json_t *o = ari_check_json(c);
    json_object_set_new(o, "kind", json_string("check"));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s)
        fprintf(w->out, "%s\n", s);
    free(s);
    w->n++;
    return 0;
}

/* The number of records: the seq of the last one (binary search on get). */
static uint64_t n_records(led *d)
{
    aria_ledger_record r = {.hdr = {sizeof r, ARIA_LEDGER_VERSION}};
    uint64_t lo = 0, hi = 1;
    while (d->vt->get(d->l, hi, &r) == ARIA_OK && hi < (UINT64_MAX >> 2)) {
        lo = hi;
        hi *= 2;
    }
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (d->vt->get(d->l, mid, &r) == ARIA_OK)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t n_blocks(led *d)
{
    aria_ledger_block b = {.hdr = {sizeof b, ARIA_LEDGER_VERSION}};
    uint64_t h = 0;
    while (d->vt->get_block(d->l, h + 1, &b) == ARIA_OK)
        h++;
    return h;
}

static int do_show(led *d, uint64_t from, uint64_t limit, int blocks, int json)
{
    walk w = {.out = stdout, .json = json, .limit = limit ? limit : 20};
    if (blocks) {
        uint64_t nb = n_blocks(d);
        uint64_t h0 = from ? from : (nb > w.limit ? nb - w.limit + 1 : 1);
        if (!json)
            printf("%6s  %-19s  %-13s %-12s  %-16s  %s\n", "height", "sealed (UTC)", "records",
                   "sealer", "merkle root", "hash");
        for (uint64_t h = h0; h <= nb && h < h0 + w.limit; h++) {
            aria_ledger_block b = {.hdr = {sizeof b, ARIA_LEDGER_VERSION}};
            if (d->vt->get_block(d->l, h, &b) != ARIA_OK)
                break;
            if (json) {
                json_t *o = ari_block_json(&b);
                char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
                json_decref(o);
                if (s)
                    printf("%s\n", s);
                free(s);
                continue;
            }
            char t[32], sealer[13], mr[65], hh[65], range[40];
            when(b.timestamp_ms, t, sizeof t);
            short_id(b.sealer_pubkey, sealer);
            ari_hex(b.merkle_root, 32, mr);
            ari_hex(b.hash, 32, hh);
            snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, b.first_seq, b.last_seq);
            printf("%6" PRIu64 "  %s  %-13s %s  %.16s  %.16s\n", h, t, range, sealer, mr, hh);
        }
        return 0;
    }
    uint64_t n = n_records(d);
    if (!from)
        from = n > w.limit ? n - w.limit + 1 : 1;
    if (!json)
        printf("%6s  %-19s  %-24s %5s %5s %9s %-9s %8s  %s  %s\n", "seq", "time (UTC)", "model",
               "in", "out", "energy mJ", "source", "ms", "stages (node:layers)", "id");
    aria_err e = d->vt->iterate(d->l, from, show_record, &w);
    if (e != ARIA_OK) {
        fprintf(stderr, "aria-core ledger show: %s: %s\n", d->path, aria_strerror(e));
        return 1;
    }
    if (!json && !w.n)
        printf("(no records from %" PRIu64 "; the ledger holds %" PRIu64 ")\n", from, n);
    return 0;
}

static int do_export(led *d, uint64_t from, const char *file)
{
    FILE *out = file && strcmp(file, "-") ? fopen(file, "w") : stdout;
    if (!out) {
        fprintf(stderr, "aria-core ledger export: %s: %s\n", file, strerror(errno));
        return 1;
    }
    walk w = {.out = out, .json = 1, .kind = 1};
    aria_err e = d->vt->iterate(d->l, from ? from : 1, show_record, &w);
    uint64_t nr = w.n, nb = 0;
    for (uint64_t h = 1; e == ARIA_OK; h++, nb++) {
        aria_ledger_block b = {.hdr = {sizeof b, ARIA_LEDGER_VERSION}};
        if (d->vt->get_block(d->l, h, &b) != ARIA_OK)
            break;
        json_t *o = ari_block_json(&b);
        json_object_set_new(o, "kind", json_string("block"));
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (s)
            fprintf(out, "%s\n", s);
        free(s);
    }
    w.n = 0;
    if (e == ARIA_OK && ARIA_HAS(d->vt, aria_ledger_vt, iterate_checks) && d->vt->iterate_checks)
        e = d->vt->iterate_checks(d->l, export_check, &w);
    int bad = ferror(out);
    if (out != stdout && fclose(out) != 0)
        bad = 1;
    if (e != ARIA_OK || bad) {
        fprintf(stderr, "aria-core ledger export: %s\n",
                bad ? "write failed" : aria_strerror(e));
        return 1;
    }
    fprintf(stderr, "exported %" PRIu64 " records, %" PRIu64 " blocks, %" PRIu64 " spot-checks\n",
            nr, nb, w.n);
    return 0;
}

/* ---- stats and rewards --------------------------------------------------------- */

#define MAX_NODES 1024
#define MAX_MODELS 256

typedef struct node_acc {
    uint8_t pk[32];
    uint64_t records, tokens_out;
    double energy_mj; /* its share: a record's energy split over its stages */
    uint64_t checks, passed;
    double *ms_tok; /* per record, for the median */
    size_t n_ms, cap_ms;
    uint8_t *slot_seen; /* which slots of the period it served in */
} node_acc;

typedef struct acc {
    node_acc nodes[MAX_NODES];
    size_t n_nodes;
    struct {
        char id[128];
        uint64_t records, tokens_in, tokens_out;
    } models[MAX_MODELS];
    size_t n_models;
    uint64_t records, tokens_in, tokens_out, energy[3];
    int64_t t_from, t_to, slot_ms; /* rewards: the period; stats: 0 */
    uint32_t n_slots;
    int oom;
} acc;

static node_acc *node_of(acc *a, const uint8_t pk[32])
{
    for (size_t i = 0; i < a->n_nodes; i++)
        if (!memcmp(a->nodes[i].pk, pk, 32))
            return &a->nodes[i];
    if (a->n_nodes == MAX_NODES)
        return NULL;
    node_acc *n = &a->nodes[a->n_nodes++];
    memset(n, 0, sizeof *n);
    memcpy(n->pk, pk, 32);
    if (a->n_slots && !(n->slot_seen = calloc(a->n_slots, 1)))
        a->oom = 1;
    return n;
}

static int acc_record(void *u, const aria_ledger_record *r)
{
    acc *a = u;
    if (a->slot_ms && (r->timestamp_ms < a->t_from || r->timestamp_ms >= a->t_to))
        return 0;
    a->records++;
    a->tokens_in += r->tokens_in;
    a->tokens_out += r->tokens_out;
    a->energy[r->energy_source < 3 ? r->energy_source : 0] += r->energy_mj;
    size_t m = 0;
    while (m < a->n_models && strcmp(a->models[m].id, r->model_id))
        m++;
    if (m == a->n_models && m < MAX_MODELS)
        snprintf(a->models[a->n_models++].id, sizeof a->models[m].id, "%s", r->model_id);
    if (m < a->n_models) {
        a->models[m].records++;
        a->models[m].tokens_in += r->tokens_in;
        a->models[m].tokens_out += r->tokens_out;
    }
    for (uint32_t i = 0; i < r->n_stages; i++) {
        node_acc *n = node_of(a, r->stages[i].node_pubkey);
        if (!n)
            continue;
        n->records++;
        n->tokens_out += r->tokens_out;
        n->energy_mj += (double)r->energy_mj / r->n_stages;
        if (a->n_slots && n->slot_seen) {
            int64_t s = (r->timestamp_ms - a->t_from) / a->slot_ms;
            if (s >= 0 && s < a->n_slots)
                n->slot_seen[s] = 1;
        }
        if (r->tokens_out) {
            if (n->n_ms == n->cap_ms) {
                size_t cap = n->cap_ms ? 2 * n->cap_ms : 64;
                double *v = realloc(n->ms_tok, cap * sizeof *v);
                if (!v) {
                    a->oom = 1;
                    continue;
                }
                n->ms_tok = v;
                n->cap_ms = cap;
            }
            n->ms_tok[n->n_ms++] = (double)r->latency_us / 1000.0 / r->tokens_out;
        }
    }
    return 0;
}

static int acc_check(void *u, const aria_ledger_check *c)
{
    acc *a = u;
    if (a->slot_ms && (c->timestamp_ms < a->t_from || c->timestamp_ms >= a->t_to))
        return 0;
    node_acc *n = node_of(a, c->peer_pubkey);
    if (n) {
        n->checks++;
        n->passed += c->passed != 0;
    }
    return 0;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *v, size_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void acc_free(acc *a)
{
    for (size_t i = 0; i < a->n_nodes; i++) {
        free(a->nodes[i].ms_tok);
        free(a->nodes[i].slot_seen);
    }
    free(a);
}

static int fill(led *d, acc *a)
{
    aria_err e = d->vt->iterate(d->l, 1, acc_record, a);
    if (e == ARIA_OK && ARIA_HAS(d->vt, aria_ledger_vt, iterate_checks) && d->vt->iterate_checks)
        e = d->vt->iterate_checks(d->l, acc_check, a);
    if (e != ARIA_OK || a->oom) {
        fprintf(stderr, "aria-core ledger: %s: %s\n", d->path,
                a->oom ? "out of memory" : aria_strerror(e));
        return 1;
    }
    return 0;
}

static int do_stats(led *d, int json)
{
    acc *a = calloc(1, sizeof *a);
    if (!a || fill(d, a)) {
        free(a);
        return 1;
    }
    uint64_t nb = n_blocks(d), et = a->energy[0] + a->energy[1] + a->energy[2];
    if (json) {
        json_t *models = json_array(), *nodes = json_array();
        for (size_t i = 0; i < a->n_models; i++)
            json_array_append_new(models, json_pack("{s:s,s:I,s:I,s:I}", "model", a->models[i].id,
                                                    "records", (json_int_t)a->models[i].records,
                                                    "tokens_in",
                                                    (json_int_t)a->models[i].tokens_in,
                                                    "tokens_out",
                                                    (json_int_t)a->models[i].tokens_out));
        for (size_t i = 0; i < a->n_nodes; i++) {
            char id[ARI_ID_LEN + 1];
            ari_node_id(a->nodes[i].pk, id);
            json_array_append_new(
                nodes, json_pack("{s:s,s:I,s:f,s:I,s:I}", "node", id, "records",
                                 (json_int_t)a->nodes[i].records, "energy_mj",
                                 a->nodes[i].energy_mj, "checks", (json_int_t)a->nodes[i].checks,
                                 "checks_passed", (json_int_t)a->nodes[i].passed));
        }
        json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I},s:f,s:o,s:o}", "ledger",
                              d->path, "records", (json_int_t)a->records, "blocks",
                              (json_int_t)nb, "tokens_in", (json_int_t)a->tokens_in,
                              "tokens_out", (json_int_t)a->tokens_out, "energy_mj", "measured",
                              (json_int_t)a->energy[ARIA_ENERGY_MEASURED], "estimated",
                              (json_int_t)a->energy[ARIA_ENERGY_ESTIMATED], "unknown",
                              (json_int_t)a->energy[ARIA_ENERGY_UNKNOWN],
                              "mj_per_inference",
                              a->records ? (double)et / (double)a->records : 0.0, "models",
                              models, "nodes", nodes);
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        json_decref(o);
        if (s)
            printf("%s\n", s);
        free(s);
        acc_free(a);
        return 0;
    }
    printf("ledger      %s\n", d->path);
    printf("records     %" PRIu64 " in %" PRIu64 " block%s\n", a->records, nb, nb == 1 ? "" : "s");
    printf("tokens      %" PRIu64 " in, %" PRIu64 " out\n", a->tokens_in, a->tokens_out);
    printf("energy      %.3f J (measured %.3f J, estimated %.3f J); %.1f mJ per inference\n",
           (double)et / 1e3, (double)a->energy[ARIA_ENERGY_MEASURED] / 1e3,
           (double)a->energy[ARIA_ENERGY_ESTIMATED] / 1e3,
           a->records ? (double)et / (double)a->records : 0.0);
    printf("\n%-32s %8s %10s %10s\n", "model", "records", "tokens in", "tokens out");
    for (size_t i = 0; i < a->n_models; i++)
        printf("%-32.32s %8" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", a->models[i].id,
               a->models[i].records, a->models[i].tokens_in, a->models[i].tokens_out);
    printf("\n%-12s %8s %12s %8s %8s\n", "node", "records", "energy mJ", "checks", "passed");
    for (size_t i = 0; i < a->n_nodes; i++) {
        char sid[13];
        short_id(a->nodes[i].pk, sid);
        printf("%-12s %8" PRIu64 " %12.0f %8" PRIu64 " %8" PRIu64 "\n", sid, a->nodes[i].records,
               a->nodes[i].energy_mj, a->nodes[i].checks, a->nodes[i].passed);
    }
    acc_free(a);
    return 0;
}

static int do_rewards(led *d, int64_t period_s, int64_t slot_s, int json)
{
    acc *a = calloc(1, sizeof *a);
    if (!a)
        return 1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    a->t_to = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + 1;
    a->t_from = a->t_to - period_s * 1000;
    a->slot_ms = slot_s * 1000;
    a->n_slots = (uint32_t)((period_s + slot_s - 1) / slot_s);
    if (fill(d, a)) {
        acc_free(a);
        return 1;
    }
    ari_reward_in *in = calloc(a->n_nodes ? a->n_nodes : 1, sizeof *in);
    ari_reward_out *out = calloc(a->n_nodes ? a->n_nodes : 1, sizeof *out);
    if (!in || !out) {
        free(in);
        free(out);
        acc_free(a);
        return 1;
    }
    for (size_t i = 0; i < a->n_nodes; i++) {
        node_acc *n = &a->nodes[i];
        char id[ARI_ID_LEN + 1];
        ari_node_id(n->pk, id);
        snprintf(in[i].node, sizeof in[i].node, "%s", id);
        in[i].completed = n->records;
        in[i].period_slots = a->n_slots;
        for (uint32_t s = 0; s < a->n_slots && n->slot_seen; s++)
            in[i].active_slots += n->slot_seen[s];
        in[i].ms_per_token = median(n->ms_tok, n->n_ms);
        in[i].mj_per_inference = n->records ? n->energy_mj / (double)n->records : 0;
        in[i].checks = (uint32_t)n->checks;
        in[i].checks_passed = (uint32_t)n->passed;
    }
    double base = ari_config_get_double(d->c.cfg, "ledger", "reward_base_rate", 1.0);
    aria_msg why = {{0}};
    int rc = 0;
    if (ari_rewards(in, a->n_nodes, base, out, &why) != 0) {
        fprintf(stderr, "aria-core ledger rewards: %s\n", why.text);
        rc = 1;
    } else if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < a->n_nodes; i++)
            json_array_append_new(
                arr, json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "node", out[i].node,
                               "completed", (json_int_t)in[i].completed, "uptime", out[i].uptime,
                               "latency_score", out[i].latency_score, "pass_rate",
                               out[i].pass_rate, "quality", out[i].quality, "efficiency",
                               out[i].efficiency, "reward", out[i].reward));
        json_t *o = json_pack("{s:I,s:I,s:f,s:o}", "period_s", (json_int_t)period_s, "slot_s",
                              (json_int_t)slot_s, "base_rate", base, "nodes", arr);
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        json_decref(o);
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        printf("rewards over the last %" PRId64 " s (slots of %" PRId64 " s), base rate %g\n",
               period_s, slot_s, base);
        printf("%-12s %9s %7s %8s %6s %8s %10s %12s\n", "node", "completed", "uptime", "latency",
               "pass", "quality", "efficiency", "reward");
        for (size_t i = 0; i < a->n_nodes; i++)
            printf("%-12.12s %9" PRIu64 " %7.3f %8.3f %6.3f %8.3f %10.3f %12.3f\n", out[i].node,
                   in[i].completed, out[i].uptime, out[i].latency_score, out[i].pass_rate,
                   out[i].quality, out[i].efficiency, out[i].reward);
        if (!a->n_nodes)
            printf("(no records in the period)\n");
    }
    free(in);
    free(out);
    acc_free(a);
    return rc;
}

/* ---- the command --------------------------------------------------------------- */

static int num_arg(const char *flag, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || !v[0] || v[0] == '-' || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "aria-core ledger: %s needs a number from %llu to %llu, not '%s'\n", flag,
                (unsigned long long)lo, (unsigned long long)hi, v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

int ari_cmd_ledger(int argc, char **argv, const ari_opts *o)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1], *file = NULL, *path = NULL;
    uint64_t from = 0, limit = 0, period = 86400, slot = 3600;
    int json = 0, blocks = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--blocks")) {
            blocks = 1;
        } else if (!strcmp(a, "--ledger") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(a, "--from") || !strcmp(a, "--limit") || !strcmp(a, "--period") ||
                   !strcmp(a, "--slot")) {
            uint64_t *dst = !strcmp(a, "--from")    ? &from
                            : !strcmp(a, "--limit") ? &limit
                            : !strcmp(a, "--period") ? &period
                                                     : &slot;
            if (num_arg(a, i + 1 < argc ? argv[i + 1] : NULL, 1,
                        dst == &period || dst == &slot ? 366ull * 86400 : UINT32_MAX * 1ull,
                        dst) != 0)
                return 2;
            i++;
        } else if (a[0] != '-' && !strcmp(sub, "export") && !file) {
            file = a;
        } else {
            fprintf(stderr, "aria-core ledger %s: unexpected '%s' (see aria-core ledger --help)\n",
                    sub, a);
            return 2;
        }
    }
    if (strcmp(sub, "verify") && strcmp(sub, "show") && strcmp(sub, "stats") &&
        strcmp(sub, "export") && strcmp(sub, "rewards")) {
        fprintf(stderr, "aria-core ledger: unknown subcommand '%s' (verify, show, stats, export, "
                        "rewards)\n",
                sub);
        return 2;
    }
    if (slot > period) {
        fprintf(stderr, "aria-core ledger rewards: --slot is longer than --period\n");
        return 2;
    }
    led d;
    int rc = led_open(&d, o, path);
    if (rc)
        return rc;
    if (!strcmp(sub, "verify"))
        rc = do_verify(&d);
    else if (!strcmp(sub, "show"))
        rc = do_show(&d, from, limit, blocks, json);
    else if (!strcmp(sub, "stats"))
        rc = do_stats(&d, json);
    else if (!strcmp(sub, "export"))
        rc = do_export(&d, from, file);
    else
        rc = do_rewards(&d, (int64_t)period, (int64_t)slot, json);
    led_close(&d);
    return rc;
}
