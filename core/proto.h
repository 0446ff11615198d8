/* proto.h — the ARIA peer protocol's messages (docs/protocol.md), as pure
 * functions: parse and check a control message, build and open the signed
 * HELLO/CAPS envelope, sign and check the handshake's AUTH proof. Nothing
 * here does I/O or keeps state, so all of it is tested and fuzzed alone. */
#ifndef ARI_PROTO_H
#define ARI_PROTO_H

#include "aria/backend.h"
#include "aria/common.h"

#include <jansson.h>
#include <stdint.h>

#define ARI_PROTO_MAJOR 2
#define ARI_PROTO_MINOR 2
#define ARI_PROTO_SUBPROTOCOL "aria.v2"
#define ARI_PROTO_MAX_BODY (64 * 1024) /* a HELLO/CAPS body */
#define ARI_PROTO_MAX_SKEW_MS 120000   /* HELLO timestamps older or newer are stale */
#define ARI_PROTO_MAX_PEERS_LIST 64    /* entries in one "peers" message */
#define ARI_PROTO_MAX_RID 64           /* request id length */

/* A parsed, checked control message: the JSON object and its type. */
typedef struct ari_msg_in {
    json_t *obj; /* owned */
    const char *type;
} ari_msg_in;

/* Parses one TEXT frame: a JSON object whose "type" is a known message type,
 * with every field that type requires present and of the right kind and
 * size. On error *why names the first bad field. */
aria_err ari_proto_parse(const void *data, size_t len, ari_msg_in *out, aria_msg *why);

/* A verified HELLO or CAPS body. */
typedef struct ari_hello {
    json_t *body; /* owned: the parsed body object */
    char id[41];
    uint8_t pk[32];
    uint8_t nonce[32];
    int64_t ts_ms;
    int64_t seq;
    int major, minor;
} ari_hello;

/* Signs body (a JSON object) as a message of type "hello" or "caps":
 * {"type":T,"body":"<body as compact JSON>","sig":"<hex>"}. Returns a
 * malloc'd string, or NULL when out of memory. */
char *ari_proto_seal(const char *type, json_t *body, const uint8_t sk[64]);

/* Opens the sealed body of a parsed hello/caps message: version, id against
 * key, signature, then timestamp against now_ms (Unix ms). *why says which
 * check failed. The caller checks replay (nonce) and, for CAPS, that the key
 * is the one of the HELLO. */
aria_err ari_proto_open(const ari_msg_in *m, int64_t now_ms, ari_hello *out, aria_msg *why);
void ari_hello_free(ari_hello *h);

/* The AUTH proof: the signer's signature over the other side's nonce and
 * both ids ("aria.v2/auth\n" || nonce || verifier_id || signer_id). */
void ari_proto_auth_sign(const uint8_t sk[64], const uint8_t their_nonce[32],
                         const char *their_id, const char *my_id, char sig_hex[129]);
int ari_proto_auth_check(const uint8_t signer_pk[32], const char *sig_hex,
                         const uint8_t my_nonce[32], const char *my_id, const char *signer_id);

/* Hex of n bytes into out (2n+1), and back (exactly 2n hex digits). */
void ari_hex(const uint8_t *b, size_t n, char *out);
int ari_unhex(const char *s, uint8_t *out, size_t n);

/* ---- pipeline activation frames (BINARY messages) ----
 * A 48-byte little-endian header, then n_tokens token ids (u32), then
 * n_tokens * n_embd activations (f32 or f16):
 *   0 magic "APL1"  4 version  8 sid[16]  24 pos0  28 n_tokens  32 n_embd
 *   36 dtype (aria_dtype)  40 flags  44 compute_us (microseconds the stages
 *   so far spent computing this frame: the driver's measure of the wire) */
#define ARI_SID_LEN 16
#define ARI_FRAME_HDR 48
#define ARI_FRAME_MAGIC 0x314c5041u /* "APL1" */
#define ARI_FRAME_VERSION 1
#define ARI_FRAME_SAMPLE 1u /* the last stage samples after this frame */
#define ARI_FRAME_MAX_TOKENS 65536
#define ARI_FRAME_MAX_EMBD 65536
#define ARI_FRAME_MAX_LAYERS 4096

typedef struct ari_frame {
    uint8_t sid[ARI_SID_LEN];
    uint32_t pos0, n_tokens, n_embd, dtype, flags, compute_us;
    const uint8_t *tokens; /* into the parsed bytes; read with ari_frame_token */
    const uint8_t *embd;   /* into the parsed bytes; may be unaligned */
} ari_frame;

/* Bytes of a frame of these dimensions. */
uint64_t ari_frame_size(uint32_t n_tokens, uint32_t n_embd, uint32_t dtype);
/* Writes the 48-byte header of f (its pointers are not used). */
void ari_frame_header(uint8_t *buf, const ari_frame *f);
/* Checks a received frame: magic, version, dtype, flags, sizes against len
 * (exactly), token ids; *why names the first problem. */
aria_err ari_frame_parse(const void *data, size_t len, ari_frame *out, aria_msg *why);
int32_t ari_frame_token(const ari_frame *f, uint32_t i);

/* Wall clock, Unix milliseconds. */
int64_t ari_wall_ms(void);

#endif
