/* ledger_liar — a node that lies about its work, for tests/ledger.sh.
 *
 *   ledger_liar PLUGIN_DIR DATA_DIR BOOTSTRAP_URL MODEL_FILE N SECONDS
 *
 * It is a node like any other as far as its peers can tell: the real
 * transport plugin, its own Ed25519 identity, the handshake, its own ledger
 * through the ledger plugin, the same record code (ari_prov_record). But the
 * N inferences it records never ran: each names a short prompt and an output
 * it made up, for the real model file (so that its hash is right), signed
 * with its key and sent to its peers. It then stays SECONDS seconds to
 * answer the validators' replay requests (truthfully: the prompt it named)
 * and exits 0 when it recorded all N, 1 otherwise. It also sends a block
 * header it never sealed (its hash right, its signature random). A validator that re-runs
 * those prompts must find the outputs wrong. */
#include "identity.h"
#include "ledger_json.h"
#include "log.h"
#include "node.h"
#include "peers.h"
#include "proto.h"
#include "provenance.h"
#include "service.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *no_models(void *u)
{
    (void)u;
    return json_array();
}

static void no_load(void *u, uint32_t *active, uint32_t *slots, uint32_t *queue)
{
    (void)u;
    *active = 0;
    *slots = 1;
    *queue = 0;
}

static void no_serve(void *u, const char *endpoint, json_t *request, const int32_t *resume,
                     size_t n_resume, const ari_peer_sink *sink)
{
    (void)u, (void)endpoint, (void)request, (void)resume, (void)n_resume;
    sink->error(sink->ctx, 503, "model_not_available", NULL, "this node serves nothing");
}

static aria_err no_stage(void *u, const char *model, uint32_t first, uint32_t end,
                         volatile int *cancel, uint64_t deadline_ns, ari_lease *out, aria_msg *why)
{
    (void)u, (void)model, (void)first, (void)end, (void)cancel, (void)deadline_ns, (void)out;
    return aria_fail(why, ARIA_ERR_NOT_FOUND, "this node runs no stages");
}

static void no_release(void *u, ari_lease *l)
{
    (void)u, (void)l;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: ledger_liar PLUGIN_DIR DATA_DIR BOOTSTRAP_URL MODEL_FILE N "
                        "SECONDS\n");
        return 2;
    }
    int n = atoi(argv[5]), secs = atoi(argv[6]);
    char *av[] = {"ledger_liar", "--plugins", argv[1], "--data-dir", argv[2], "--bootstrap",
                  argv[3], "--set", "network.listen=", "--name", "liar", NULL};
    int ac = 11;
    ari_opts o;
    memset(&o, 0, sizeof o);
    if (sodium_init() < 0 || ari_opts_parse(&o, &ac, av) != 0)
        return 2;
    ari_ctx c;
    if (ari_ctx_open(&c, &o, ARI_CTX_DATA_DIR | ARI_CTX_PLUGINS) != 0)
        return 2;
    aria_msg why = {{0}};
    const char *models[] = {argv[4]};
    ari_service *svc = ari_service_new(&c, models, 1, &why);
    ari_identity id;
    int created = 0;
    if (!svc || ari_identity_load(c.data_dir, &id, &created, &why) != ARIA_OK) {
        fprintf(stderr, "ledger_liar: %s\n", why.text);
        return 1;
    }
    ari_identity_install(&c.host, &id);
    ari_prov *prov = ari_prov_open(&c, svc, &why);
    ari_peer_host ph = {.models = no_models, .load = no_load, .serve = no_serve,
                        .stage_acquire = no_stage, .stage_release = no_release};
    ari_peers *peers = prov ? ari_peers_start(&c, &id, &ph, &why) : NULL;
    if (!prov || !peers) {
        fprintf(stderr, "ledger_liar: %s\n", why.text[0] ? why.text : "no ledger or no peers");
        return 1;
    }
    ari_peers_set_prov(peers, prov);
    ari_prov_set_peers(prov, peers);
    int ready = 0;
    for (int t = 0; t < 100 && !ready; t++) {
        json_t *pj = ari_peers_json(peers);
        char *s = json_dumps(pj, 0);
        ready = s && strstr(s, "\"state\": \"ready\"") != NULL;
        free(s);
        json_decref(pj);
        if (!ready)
            usleep(100000);
    }
    const ari_model_desc *d = ari_service_desc(svc, 0);
    const char *base = strrchr(argv[4], '/') ? strrchr(argv[4], '/') + 1 : argv[4];
    int made = 0;
    for (int i = 0; ready && d && i < n; i++) {
        int32_t prompt[3] = {1, 100 + i, 200 + i}; /* a prompt it names... */
        int32_t output[4] = {5, 6, 7, 8};          /* ...and an output it never computed */
        ari_prov_work w;
        memset(&w, 0, sizeof w);
        w.model_id = base;
        w.model_path = argv[4];
        w.prompt = prompt;
        w.n_prompt = 3;
        w.output = output;
        w.n_output = 4;
        aria_sampling_defaults(&w.sampling);
        w.latency_us = 1000;
        w.energy_mj = 1;
        w.energy_source = ARIA_ENERGY_ESTIMATED;
        w.n_stages = 1;
        memcpy(w.stage[0].pk, c.host.node_pubkey, 32);
        w.stage[0].first = d->layer_first;
        w.stage[0].end = d->layer_end;
        if (ari_prov_record(prov, &w, NULL, &why) == ARIA_OK)
            made++;
        else
            fprintf(stderr, "ledger_liar: %s\n", why.text);
    }
    /* and a block header it never sealed: the right hash, a signature by
     * nobody; its peers must refuse it */
    aria_ledger_block b;
    memset(&b, 0, sizeof b);
    b.hdr.struct_size = sizeof b;
    b.height = 7;
    b.first_seq = 1;
    b.last_seq = 2;
    b.timestamp_ms = ari_wall_ms();
    randombytes_buf(b.merkle_root, sizeof b.merkle_root);
    memcpy(b.sealer_pubkey, c.host.node_pubkey, 32);
    aria_ledger_block_hash(&b, b.hash);
    randombytes_buf(b.sig, sizeof b.sig);
    if (ready)
        ari_peers_broadcast_json(peers, json_pack("{s:s,s:o}", "type", "block_header", "block",
                                                  ari_block_json(&b)));
    printf("%s: %d false records sent\n", ready ? "ready" : "no peer", made);
    fflush(stdout);
    sleep((unsigned)secs);
    ari_peers_stop(peers);
    ari_prov_set_peers(prov, NULL);
    ari_prov_free(prov);
    ari_peers_free(peers);
    ari_service_free(svc);
    sodium_memzero(&id, sizeof id);
    ari_ctx_close(&c);
    return made == n ? 0 : 1;
}
