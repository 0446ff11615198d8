/* router.h — the smart router: which model answers a query. Pure functions
 * of their arguments (no I/O, no globals), so they are tested on tables.
 *
 * 1. ari_classify reads the query's text and says what kind it is:
 *    vision    the query carries an image;
 *    code      code fences, source-like lines, programming vocabulary;
 *    reasoning maths, puzzles, "step by step", proofs, word problems;
 *    multilingual  mostly letters outside ASCII, or common function words
 *              of other languages and few English ones;
 *    chat      everything else.
 *    The first that matches in that order wins (a Spanish question about
 *    code is code). Each rule is documented in router.c and docs/api.md.
 * 2. ari_route walks the class's chain from [router] (steps MODEL or
 *    TIER:MODEL), skipping models not served and tiers the profile leaves
 *    dark; with no chain, the class's default tier order. The first model
 *    left is chosen, the others are the fallbacks, and the reason says why. */
#ifndef ARI_ROUTER_H
#define ARI_ROUTER_H

#include <stddef.h>
#include <stdint.h>

typedef enum ari_class {
    ARI_CLASS_CODE = 0,
    ARI_CLASS_REASONING,
    ARI_CLASS_VISION,
    ARI_CLASS_MULTILINGUAL,
    ARI_CLASS_CHAT,
    ARI_N_CLASSES
} ari_class;

extern const char *const ari_class_names[ARI_N_CLASSES];

/* The class of a query (its user text, concatenated) and a short reason
 * ("code fence", "3 programming words", ...). */
ari_class ari_classify(const char *text, int has_image, char *why, size_t cap);

/* A tier's name ("efficiency", "quality", "specialist") for one aria_tier
 * bit, and back (0 for an unknown name). */
const char *ari_tier_name(uint32_t bit);
uint32_t ari_tier_parse(const char *s, size_t len);
/* "efficiency+quality": the names of every tier bit set. */
void ari_tier_list(uint32_t tiers, char *buf, size_t cap);

/* Tier bits (aria_tier) a profile lights up; 0 for an unknown name. */
uint32_t ari_profile_tiers(const char *profile);
/* RAM a profile needs, in GiB (0: none). */
unsigned ari_profile_min_ram_gb(const char *profile);

typedef struct ari_route_model {
    const char *id;
    uint32_t tiers;  /* aria_tier bits */
    uint64_t bytes;  /* size, to prefer the smaller where nothing else decides */
} ari_route_model;

#define ARI_ROUTE_MAX_FALLBACKS 8

typedef struct ari_route {
    ari_class cls;
    long chosen; /* index into the models, or -1: nothing can answer */
    long fallbacks[ARI_ROUTE_MAX_FALLBACKS];
    int n_fallbacks;
    char reason[320];
} ari_route;

/* chain: the class's [router] list ("a, quality:b", may be NULL or empty);
 * tiers: the profile's. Models outside the profile's tiers are used only
 * when no model inside them is served (the reason says so). */
void ari_route_pick(ari_class cls, const char *chain, uint32_t tiers, const ari_route_model *m,
                    size_t n, ari_route *out);

#endif
