/* identity.h — the node's Ed25519 key pair and the id derived from it.
 *
 * The secret key lives in DATA_DIR/identity.key (64 bytes: libsodium's
 * seed || public key), created on first start with mode 0600. The node id is
 * the lowercase hex of the first 20 bytes of SHA-256(public key): 40
 * characters, so that anyone holding the public key can check an id. */
#ifndef ARI_IDENTITY_H
#define ARI_IDENTITY_H

#include "aria/host.h"

#include <stdint.h>

#define ARI_ID_LEN 40

typedef struct ari_identity {
    uint8_t pk[32];
    uint8_t sk[64];
    char id[ARI_ID_LEN + 1];
} ari_identity;

/* Loads DATA_DIR/identity.key, or creates it (0600) when absent; *created
 * says which. Refuses a file of the wrong size, one that group or others can
 * read, or one whose public half does not match its seed, naming the file. */
aria_err ari_identity_load(const char *data_dir, ari_identity *out, int *created, aria_msg *why);

/* The node id of a public key. */
void ari_node_id(const uint8_t pk[32], char out[ARI_ID_LEN + 1]);

/* Makes the identity the one host->sign uses (the key stays in core). */
void ari_identity_install(aria_host *host, const ari_identity *id);

#endif
