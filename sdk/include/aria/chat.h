/* aria/chat.h — chat templates: turning messages into a model's prompt.
 *
 * GGUF files carry their template as Jinja text (tokenizer.chat_template).
 * Rather than run Jinja, ARIA recognizes the template families its catalog
 * uses by their marker tokens and formats messages the way each family
 * does; a template it does not recognize falls back to a plain
 * "System: / User: / Assistant:" transcript, and says so. */
#ifndef ARIA_CHAT_H
#define ARIA_CHAT_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aria_chat_kind {
    ARIA_CHAT_PLAIN = 0,  /* the fallback */
    ARIA_CHAT_LLAMA3,     /* <|start_header_id|>role<|end_header_id|> ... <|eot_id|> */
    ARIA_CHAT_CHATML,     /* <|im_start|>role ... <|im_end|> (Qwen, SmolLM) */
    ARIA_CHAT_FALCON3,    /* <|system|> <|user|> <|assistant|> */
    ARIA_CHAT_PHI3,       /* <|user|> ... <|end|> */
    ARIA_CHAT_LLAMA2,     /* [INST] ... [/INST] (mistral, llama 2) */
    ARIA_CHAT_BITNET      /* User: ...<|eot_id|>Assistant: (BitNet b1.58 2B4T) */
} aria_chat_kind;

/* The family of a template's text; ARIA_CHAT_PLAIN when NULL or unknown. */
aria_chat_kind aria_chat_detect(const char *tmpl, size_t len);
const char *aria_chat_kind_name(aria_chat_kind k);

/* Formats msgs. eos is the model's EOS text (some families close assistant
 * turns with it). If cap is too small, returns ARIA_ERR_RANGE with *len set
 * to the size needed (excluding the NUL). */
aria_err aria_chat_format(aria_chat_kind k, const aria_chat_msg *msgs, size_t n,
                          int add_generation_prompt, const char *eos, char *buf, size_t cap,
                          size_t *len, aria_msg *why);

#ifdef __cplusplus
}
#endif
#endif
