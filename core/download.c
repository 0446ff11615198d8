/* download.c — resumable, verified, atomic downloads (see download.h). */
#include "download.h"

#include "host.h"

#include <curl/curl.h>
#include <sodium.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

aria_err ari_sha256_file(const char *path, char hex[65], aria_msg *why)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return aria_fail(why, ARIA_ERR_IO, "%s: %s", path, strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char *buf = malloc(1 << 20);
    if (!buf) {
        fclose(f);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    }
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, f)) > 0)
        crypto_hash_sha256_update(&st, buf, n);
    int err = ferror(f);
    fclose(f);
    free(buf);
    if (err)
        return aria_fail(why, ARIA_ERR_IO, "%s: read error", path);
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, out);
    sodium_bin2hex(hex, 65, out, sizeof out);
    return ARIA_OK;
}

typedef struct xfer {
    ari_download *d;
    FILE *out;
    uint64_t start;
    double last_draw;
    int drew;
} xfer;

static size_t on_data(char *p, size_t sz, size_t n, void *u)
{
    xfer *x = u;
    return fwrite(p, sz, n, x->out) == n ? sz * n : 0;
}

static int on_progress(void *u, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    (void)ut;
    (void)un;
    xfer *x = u;
    if (!x->d->progress)
        return 0;
    double t = (double)ari_now_ns() / 1e9;
    if (t - x->last_draw < 0.2 && !(total > 0 && now == total))
        return 0;
    x->last_draw = t;
    uint64_t done = x->start + (uint64_t)now, all = total > 0 ? x->start + (uint64_t)total : 0;
    if (all) {
        int w = 30, fill = (int)((double)done / (double)all * w);
        fprintf(x->d->progress, "\r[%.*s%*s] %5.1f%% %8.1f / %.1f MiB", fill,
                "##############################", w - fill, "", 100.0 * (double)done / (double)all,
                (double)done / 1048576.0, (double)all / 1048576.0);
    } else {
        fprintf(x->d->progress, "\r%8.1f MiB", (double)done / 1048576.0);
    }
    fflush(x->d->progress);
    x->drew = 1;
    return 0;
}

aria_err ari_download_run(ari_download *d, aria_msg *why)
{
    if (sodium_init() < 0)
        return aria_fail(why, ARIA_ERR_INTERNAL, "libsodium did not initialize");
    char part[4200];
    snprintf(part, sizeof part, "%s.part", d->dest);
    struct stat st;
    d->resumed_from = stat(part, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (d->size && d->resumed_from > d->size) { /* not ours to continue */
        unlink(part);
        d->resumed_from = 0;
    }
    aria_err rc = ARIA_OK;
    if (!d->size || d->resumed_from < d->size) {
        FILE *out = fopen(part, "ab");
        if (!out)
            return aria_fail(why, ARIA_ERR_IO, "%s: %s", part, strerror(errno));
        CURL *c = curl_easy_init();
        if (!c) {
            fclose(out);
            return aria_fail(why, ARIA_ERR_INTERNAL, "libcurl did not initialize");
        }
        xfer x = {.d = d, .out = out, .start = d->resumed_from};
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, d->url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "aria-core/" ARIA_VERSION);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* stalled 60 s: give up */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        if (d->resumed_from)
            curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d->resumed_from);
        CURLcode cr = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (x.drew && d->progress)
            fputc('\n', d->progress);
        int werr = fflush(out) != 0 || fsync(fileno(out)) != 0;
        fclose(out);
        if (cr == CURLE_OK && d->resumed_from && code == 200) {
            /* the server ignored the Range: what came is the whole file */
            rc = aria_fail(why, ARIA_ERR_FORMAT, "%s: the server does not resume (HTTP 200 to a "
                           "range request); %s removed, run again to start over", d->url, part);
            unlink(part);
        } else if (cr != CURLE_OK) {
            rc = aria_fail(why, ARIA_ERR_IO, "%s: %s; the bytes so far stay in %s: run the same "
                           "command again to resume", d->url,
                           errbuf[0] ? errbuf : curl_easy_strerror(cr), part);
        } else if (werr) {
            rc = aria_fail(why, ARIA_ERR_IO, "%s: write failed: %s", part, strerror(errno));
        }
        curl_easy_cleanup(c);
        if (rc != ARIA_OK)
            return rc;
    }
    if (stat(part, &st) != 0)
        return aria_fail(why, ARIA_ERR_IO, "%s: %s", part, strerror(errno));
    d->bytes = (uint64_t)st.st_size;
    if (d->size && d->bytes != d->size) {
        unlink(part);
        return aria_fail(why, ARIA_ERR_SIGNATURE, "%s: %llu bytes, the catalog says %llu; "
                         "removed", d->url, (unsigned long long)d->bytes,
                         (unsigned long long)d->size);
    }
    if ((rc = ari_sha256_file(part, d->sha256_out, why)) != ARIA_OK)
        return rc;
    if (d->sha256 && d->sha256[0] && strcmp(d->sha256, d->sha256_out)) {
        unlink(part);
        return aria_fail(why, ARIA_ERR_SIGNATURE, "%s: SHA-256 %s, expected %s; the download is "
                         "removed", d->url, d->sha256_out, d->sha256);
    }
    if (rename(part, d->dest) != 0)
        return aria_fail(why, ARIA_ERR_IO, "%s: %s", d->dest, strerror(errno));
    return ARIA_OK;
}
