/* aria/tokenizer.h — tokenizers from GGUF metadata (tokenizer.ggml.*).
 *
 * Three models, as llama.cpp defines them:
 *   spm   SentencePiece-style (llama): merges by score, byte fallback;
 *   bpe   byte-level BPE (gpt2 family) with the pre-tokenizer regexes that
 *         tokenizer.ggml.pre names, run by PCRE2;
 *   wpm   WordPiece (bert): NFD, lower case, greedy longest match.
 * Control and user-defined tokens are split out of the text first (control
 * ones only with ARIA_TOK_PARSE_SPECIAL).
 *
 * A tokenizer borrows the strings of its GGUF reader: keep the reader open
 * while the tokenizer is used. It is immutable after load: any number of
 * threads may use it. */
#ifndef ARIA_TOKENIZER_H
#define ARIA_TOKENIZER_H

#include "backend.h"
#include "gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aria_tokenizer aria_tokenizer;

aria_err aria_tok_load(const aria_gguf *g, aria_tokenizer **out, aria_msg *why);
void aria_tok_free(aria_tokenizer *t);

/* Text to ids. flags: ARIA_TOK_ADD_BOS / ADD_EOS (honoured when the model
 * asks for them: tokenizer.ggml.add_bos_token, or the model type's default),
 * ARIA_TOK_FORCE_BOS, ARIA_TOK_PARSE_SPECIAL. When cap is too small returns
 * ARIA_ERR_RANGE with *n_out set to the count needed. */
aria_err aria_tok_encode(const aria_tokenizer *t, const char *text, size_t len, uint32_t flags,
                         int32_t *out, size_t cap, size_t *n_out);

/* The bytes a token stands for ("" for control tokens). ARIA_ERR_RANGE with
 * *len set when cap is too small; ARIA_ERR_INVALID for an id out of range. */
aria_err aria_tok_piece(const aria_tokenizer *t, int32_t id, char *buf, size_t cap, size_t *len);
/* The same, but control tokens render as their text ("<|eot_id|>"). */
aria_err aria_tok_piece_special(const aria_tokenizer *t, int32_t id, char *buf, size_t cap,
                                size_t *len);

uint32_t aria_tok_n_vocab(const aria_tokenizer *t);
int32_t aria_tok_bos(const aria_tokenizer *t); /* -1 when none */
int32_t aria_tok_eos(const aria_tokenizer *t);
int32_t aria_tok_eot(const aria_tokenizer *t);
int32_t aria_tok_unk(const aria_tokenizer *t);
/* True for the tokens that end a generation (EOS, EOT and their kin). */
int aria_tok_is_eog(const aria_tokenizer *t, int32_t id);
const char *aria_tok_type_name(const aria_tokenizer *t); /* "spm", "bpe", "wpm" */
/* The pre-tokenizer in use, and a note when tokenizer.ggml.pre was unknown
 * and the default was used instead ("" otherwise). */
const char *aria_tok_pre_name(const aria_tokenizer *t);
const char *aria_tok_note(const aria_tokenizer *t);

/* Streaming detokenization: push returns only whole UTF-8 characters and
 * keeps an incomplete one for the next token; bytes that can never become
 * valid are replaced by U+FFFD. flush writes what is left. */
typedef struct aria_detok {
    unsigned char pend[8];
    size_t n;
} aria_detok;

size_t aria_detok_push(aria_detok *d, const aria_tokenizer *t, int32_t id, char *out, size_t cap);
size_t aria_detok_flush(aria_detok *d, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
