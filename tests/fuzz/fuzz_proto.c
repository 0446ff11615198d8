/* libFuzzer target: the peer protocol's receiving side — frames
 * reassembled from a byte stream (the transport's frame header), then each
 * TEXT payload through the message parser and, for hello/caps, the
 * envelope check (version, id against key, signature, timestamp, shape);
 * each BINARY payload through the activation frame parser; ledger records
 * and block headers (ledger_record, stage_sign, block_header) through their
 * parsers, the canonical bytes, the hashes and the signature checks. */
#include "frame.h"
#include "ledger_json.h"
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What a node does with a parsed message beyond its shape. */
static void deeper(const ari_msg_in *m)
{
    aria_msg why;
    if (!strcmp(m->type, "hello") || !strcmp(m->type, "caps")) {
        ari_hello h;
        if (ari_proto_open(m, 1700000000000LL, &h, &why) == ARIA_OK)
            ari_hello_free(&h);
    } else if (!strcmp(m->type, "ledger_record") || !strcmp(m->type, "stage_sign")) {
        aria_ledger_record r;
        if (ari_record_parse(json_object_get(m->obj, "record"), &r, &why) == ARIA_OK) {
            uint8_t b[ARIA_LEDGER_SIGNED_MAX], h[ARIA_HASH_BYTES];
            (void)aria_ledger_signed_bytes(&r, b);
            aria_ledger_record_hash(&r, h);
            for (uint32_t i = 0; i < r.n_stages; i++)
                (void)aria_ledger_check_stage(&r, i);
            json_decref(ari_record_json(&r));
        }
    } else if (!strcmp(m->type, "block_header")) {
        aria_ledger_block b;
        if (ari_block_parse(json_object_get(m->obj, "block"), &b, &why) == ARIA_OK) {
            uint8_t h[ARIA_HASH_BYTES];
            aria_ledger_block_hash(&b, h);
            (void)aria_ledger_check_block(&b);
            json_decref(ari_block_json(&b));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* frames: the way the transport walks a stream, with a 1 MiB limit */
    size_t off = 0;
    while (off < size) {
        aria_ws_frame f;
        long r = aria_ws_frame_parse(data + off, size - off, 1u << 20, &f);
        if (r <= 0)
            break; /* incomplete or refused */
        if (f.kind == ARIA_WS_TEXT) {
            ari_msg_in m;
            aria_msg why;
            if (ari_proto_parse(data + off + ARIA_WS_HEADER, f.len, &m, &why) == ARIA_OK) {
                deeper(&m);
                json_decref(m.obj);
            }
        } else if (f.kind == ARIA_WS_BINARY) {
            ari_frame af;
            aria_msg why;
            if (ari_frame_parse(data + off + ARIA_WS_HEADER, f.len, &af, &why) == ARIA_OK) {
                volatile int32_t sum = 0; /* touch every token and the last activation byte */
                for (uint32_t i = 0; i < af.n_tokens; i++)
                    sum += ari_frame_token(&af, i);
                sum += af.embd[(size_t)af.n_tokens * af.n_embd * (af.dtype ? 2 : 4) - 1];
                (void)sum;
            }
        }
        off += (size_t)r;
    }
    /* and the whole input as one message, and as one activation frame */
    ari_msg_in m;
    aria_msg why;
    ari_frame af;
    (void)ari_frame_parse(data, size, &af, &why);
    if (ari_proto_parse(data, size, &m, &why) == ARIA_OK) {
        deeper(&m);
        json_decref(m.obj);
    }
    return 0;
}
