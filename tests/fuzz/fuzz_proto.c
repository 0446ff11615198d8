/* libFuzzer target: the peer protocol's receiving side — frames
 * reassembled from a byte stream (the transport's frame header), then each
 * TEXT payload through the message parser and, for hello/caps, the
 * envelope check (version, id against key, signature, timestamp, shape). */
#include "frame.h"
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
                if (!strcmp(m.type, "hello") || !strcmp(m.type, "caps")) {
                    ari_hello h;
                    if (ari_proto_open(&m, 1700000000000LL, &h, &why) == ARIA_OK)
                        ari_hello_free(&h);
                }
                json_decref(m.obj);
            }
        }
        off += (size_t)r;
    }
    /* and the whole input as one message */
    ari_msg_in m;
    aria_msg why;
    if (ari_proto_parse(data, size, &m, &why) == ARIA_OK) {
        if (!strcmp(m.type, "hello") || !strcmp(m.type, "caps")) {
            ari_hello h;
            if (ari_proto_open(&m, 1700000000000LL, &h, &why) == ARIA_OK)
                ari_hello_free(&h);
        }
        json_decref(m.obj);
    }
    return 0;
}
