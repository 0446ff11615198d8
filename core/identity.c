/* identity.c — the node's Ed25519 identity (libsodium). */
#include "identity.h"

#include "aria/host.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ari_node_id(const uint8_t pk[32], char out[ARI_ID_LEN + 1])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pk, 32);
    sodium_bin2hex(out, ARI_ID_LEN + 1, h, ARI_ID_LEN / 2);
}

static aria_err finish(ari_identity *out)
{
    /* the public half again from the seed: a damaged file shows here */
    uint8_t pk[32], seed[32], sk[64];
    crypto_sign_ed25519_sk_to_seed(seed, out->sk);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    if (sodium_memcmp(pk, out->sk + 32, 32) != 0)
        return ARIA_ERR_SIGNATURE;
    memcpy(out->pk, pk, 32);
    ari_node_id(out->pk, out->id);
    return ARIA_OK;
}

aria_err ari_identity_load(const char *data_dir, ari_identity *out, int *created, aria_msg *why)
{
    if (sodium_init() < 0)
        return aria_fail(why, ARIA_ERR_INTERNAL, "libsodium cannot initialize");
    char path[4200];
    snprintf(path, sizeof path, "%s/identity.key", data_dir);
    *created = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        uint8_t pk[32];
        crypto_sign_keypair(pk, out->sk);
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (w < 0)
            return aria_fail(why, ARIA_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        ssize_t n = write(w, out->sk, sizeof out->sk);
        int ok = n == (ssize_t)sizeof out->sk && fsync(w) == 0;
        close(w);
        if (!ok || rename(tmp, path) != 0) {
            unlink(tmp);
            return aria_fail(why, ARIA_ERR_IO, "%s: cannot write the new key", path);
        }
        *created = 1;
        return finish(out) == ARIA_OK ? ARIA_OK
                                      : aria_fail(why, ARIA_ERR_INTERNAL, "new key is inconsistent");
    }
    if (fd < 0)
        return aria_fail(why, ARIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return aria_fail(why, ARIA_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return aria_fail(why, ARIA_ERR_PERMISSION,
                         "%s: mode %03o lets others read the secret key; run chmod 600 on it",
                         path, (unsigned)(st.st_mode & 0777));
    }
    if (st.st_size != (off_t)sizeof out->sk) {
        close(fd);
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %lld bytes, an identity key has %zu", path,
                         (long long)st.st_size, sizeof out->sk);
    }
    ssize_t n = read(fd, out->sk, sizeof out->sk);
    close(fd);
    if (n != (ssize_t)sizeof out->sk)
        return aria_fail(why, ARIA_ERR_IO, "%s: short read", path);
    if (finish(out) != ARIA_OK)
        return aria_fail(why, ARIA_ERR_FORMAT,
                         "%s: the public half does not match the secret seed (damaged file)", path);
    return ARIA_OK;
}

static ari_identity host_id;

static aria_err host_sign(const void *msg, size_t len, uint8_t sig[ARIA_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, host_id.sk);
    return ARIA_OK;
}

void ari_identity_install(aria_host *host, const ari_identity *id)
{
    host_id = *id;
    memcpy(host->node_pubkey, id->pk, sizeof host->node_pubkey);
    host->sign = host_sign;
}
