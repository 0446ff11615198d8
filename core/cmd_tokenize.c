/* cmd_tokenize.c — `aria-core tokenize FILE [--no-bos] -- TEXT`: the token
 * ids of TEXT on one line. Works on tokenizer-only GGUF files too: it needs
 * the tokenizer metadata, not the weights. */
#include "cmds.h"

#include <aria/gguf.h>
#include <aria/tokenizer.h>
#include <stdlib.h>
#include <string.h>

static const char tok_usage[] =
    "usage: aria-core tokenize FILE [--no-bos] [--special] -- TEXT\n"
    "\n"
    "Prints the token ids of TEXT, space-separated, on one line, using the\n"
    "tokenizer in the GGUF file FILE.\n"
    "\n"
    "  --no-bos    do not add BOS (added by default when the model wants it)\n"
    "  --special   turn special-token texts such as <|eot_id|> into their ids\n";

int ari_cmd_tokenize(int argc, char **argv)
{
    const char *file = NULL, *text = NULL;
    uint32_t flags = ARIA_TOK_ADD_BOS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            if (i + 2 != argc) {
                fprintf(stderr, "aria-core tokenize: give one TEXT after -- (quote it)\n");
                return 2;
            }
            text = argv[i + 1];
            break;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(tok_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--no-bos")) {
            flags &= ~(uint32_t)ARIA_TOK_ADD_BOS;
        } else if (!strcmp(a, "--special")) {
            flags |= ARIA_TOK_PARSE_SPECIAL;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "aria-core tokenize: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "aria-core tokenize: put the text after -- (see --help)\n");
            return 2;
        }
    }
    if (!file || !text) {
        fprintf(stderr, "aria-core tokenize: %s (see --help)\n",
                !file ? "which FILE?" : "give the TEXT after --");
        return 2;
    }
    aria_gguf *g;
    aria_msg why = {{0}};
    if (aria_gguf_open(file, &g, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core tokenize: %s\n", why.text);
        return 1;
    }
    aria_tokenizer *t = NULL;
    int rc = 1;
    int32_t *ids = NULL;
    if (aria_tok_load(g, &t, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core tokenize: %s: %s\n", file, why.text);
        goto out;
    }
    size_t len = strlen(text), cap = len + 8, n = 0;
    ids = malloc(cap * sizeof *ids);
    if (!ids || aria_tok_encode(t, text, len, flags, ids, cap, &n) != ARIA_OK) {
        fprintf(stderr, "aria-core tokenize: cannot tokenize\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    rc = 0;
out:
    free(ids);
    aria_tok_free(t);
    aria_gguf_close(g);
    return rc;
}
