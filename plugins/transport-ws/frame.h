/* frame.h — the ARIA frame header (docs/protocol.md, section 1.1), as pure
 * functions shared by the transport and the fuzz target.
 *
 *   byte 0     kind: 0 TEXT, 1 BINARY, 2 PING, 3 PONG
 *   bytes 1-3  reserved, 0
 *   bytes 4-7  payload length, uint32 little-endian
 */
#ifndef ARIA_WS_FRAME_H
#define ARIA_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define ARIA_WS_HEADER 8

enum { ARIA_WS_TEXT = 0, ARIA_WS_BINARY = 1, ARIA_WS_PING = 2, ARIA_WS_PONG = 3 };

typedef struct aria_ws_frame {
    uint8_t kind;
    uint32_t len; /* payload bytes */
} aria_ws_frame;

enum {
    ARIA_WS_NEED_MORE = 0,  /* not a whole frame yet */
    ARIA_WS_BAD_KIND = -1,  /* unknown kind */
    ARIA_WS_BAD_RESERVED = -2,
    ARIA_WS_TOO_LARGE = -3  /* announced length over the limit */
};

static inline void aria_ws_frame_header(uint8_t h[ARIA_WS_HEADER], uint8_t kind, uint32_t len)
{
    h[0] = kind;
    h[1] = h[2] = h[3] = 0;
    h[4] = (uint8_t)len;
    h[5] = (uint8_t)(len >> 8);
    h[6] = (uint8_t)(len >> 16);
    h[7] = (uint8_t)(len >> 24);
}

/* Checks the header at buf (n bytes available). Returns an ARIA_WS_* error
 * (< 0) as soon as the header is wrong, ARIA_WS_NEED_MORE while the header
 * or payload is incomplete, else the whole frame's size (header + payload).
 * The header is checked before the payload arrives, so an oversized frame
 * is refused without waiting for (or allocating) it. */
static inline long aria_ws_frame_parse(const uint8_t *buf, size_t n, uint64_t max,
                                       aria_ws_frame *out)
{
    if (n < ARIA_WS_HEADER)
        return ARIA_WS_NEED_MORE;
    if (buf[0] > ARIA_WS_PONG)
        return ARIA_WS_BAD_KIND;
    if (buf[1] | buf[2] | buf[3])
        return ARIA_WS_BAD_RESERVED;
    uint32_t len = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
                   (uint32_t)buf[7] << 24;
    if (len > max)
        return ARIA_WS_TOO_LARGE;
    out->kind = buf[0];
    out->len = len;
    if (n - ARIA_WS_HEADER < len)
        return ARIA_WS_NEED_MORE;
    return (long)(ARIA_WS_HEADER + (size_t)len);
}

#endif
