/* download.h — fetching a model file over HTTP(S) with libcurl: resumable
 * (a DEST.part is continued with a Range request), with a progress bar,
 * size and SHA-256 checked, and renamed to DEST only when whole and right,
 * so a half-downloaded file is never taken for a model. */
#ifndef ARI_DOWNLOAD_H
#define ARI_DOWNLOAD_H

#include <aria/common.h>

#include <stdint.h>
#include <stdio.h>

typedef struct ari_download {
    const char *url;
    const char *dest;      /* final path; DEST.part while downloading */
    uint64_t size;         /* expected bytes; 0: what the server says */
    const char *sha256;    /* expected hex digest; NULL or "": not checked */
    FILE *progress;        /* progress bar here (stderr), or NULL */
    char sha256_out[65];   /* the digest of what was written */
    uint64_t bytes;        /* file size at the end */
    uint64_t resumed_from; /* bytes already there when this run started */
} ari_download;

/* SHA-256 of a whole file, hex. */
aria_err ari_sha256_file(const char *path, char hex[65], aria_msg *why);

aria_err ari_download_run(ari_download *d, aria_msg *why);

#endif
