/* catalog.h — the models the network knows: id, tier, size, license and
 * where to download them. Built in (16 models), or read from a JSON file
 * ([models] catalog). A license gate refuses every entry whose license is
 * not MIT, Apache-2.0 or the TII Falcon License 2.0, naming the entry. */
#ifndef ARI_CATALOG_H
#define ARI_CATALOG_H

#include <aria/common.h>

#include <stddef.h>
#include <stdint.h>

typedef struct ari_catalog_entry {
    char id[96];
    uint32_t tier;       /* one aria_tier bit */
    double params_b;     /* parameters, billions */
    char license[48];    /* "MIT", "Apache-2.0", "TII-Falcon-2.0" */
    char repo[160];      /* source repository (Hugging Face) */
    char file[160];      /* file name in the repository and on disk */
    char url[512];       /* download URL */
    uint64_t size;       /* bytes; 0: not known */
    char sha256[65];     /* hex; "": not known */
    char note[160];
} ari_catalog_entry;

typedef struct ari_catalog {
    ari_catalog_entry *e;
    size_t n;
} ari_catalog;

/* Whether a license passes the gate. */
int ari_license_ok(const char *license);

/* The built-in catalog, or the JSON file path (an array of objects with the
 * fields above; tier as "efficiency", "quality" or "specialist"). Any entry
 * refused by the license gate or malformed fails the whole load with one
 * line naming it (FILE: entry N 'ID': problem). */
aria_err ari_catalog_load(const char *path, ari_catalog *out, aria_msg *why);
void ari_catalog_free(ari_catalog *c);
const ari_catalog_entry *ari_catalog_find(const ari_catalog *c, const char *id);

#endif
