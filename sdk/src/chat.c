/* chat.c — the template families, recognized by their markers. */
#include <aria/chat.h>

#include <stdio.h>
#include <string.h>

static int has(const char *t, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(t + i, needle, n))
            return 1;
    return 0;
}

aria_chat_kind aria_chat_detect(const char *t, size_t len)
{
    if (!t || !len)
        return ARIA_CHAT_PLAIN;
    if (has(t, len, "<|start_header_id|>"))
        return ARIA_CHAT_LLAMA3;
    if (has(t, len, "<|im_start|>"))
        return ARIA_CHAT_CHATML;
    if (has(t, len, "<|end|>") && has(t, len, "<|user|>"))
        return ARIA_CHAT_PHI3;
    if (has(t, len, "<|assistant|>") && has(t, len, "<|user|>"))
        return ARIA_CHAT_FALCON3;
    if (has(t, len, "[INST]"))
        return ARIA_CHAT_LLAMA2;
    if (has(t, len, "Assistant: ") && has(t, len, "<|eot_id|>"))
        return ARIA_CHAT_BITNET;
    return ARIA_CHAT_PLAIN;
}

const char *aria_chat_kind_name(aria_chat_kind k)
{
    static const char *const names[] = {"plain", "llama3", "chatml", "falcon3",
                                        "phi3",  "llama2", "bitnet"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "plain";
}

/* Appends to buf within cap, counting the full length in *len. */
typedef struct out {
    char *buf;
    size_t cap, len;
} out;

static void put(out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->len + n < o->cap)
        memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static const char *role_of(const aria_chat_msg *m)
{
    return m->role ? m->role : "user";
}

aria_err aria_chat_format(aria_chat_kind k, const aria_chat_msg *msgs, size_t n,
                          int add_gen, const char *eos, char *buf, size_t cap, size_t *len,
                          aria_msg *why)
{
    out o = {buf, cap, 0};
    for (size_t i = 0; i < n; i++) {
        const char *r = role_of(&msgs[i]), *c = msgs[i].content ? msgs[i].content : "";
        if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant") && strcmp(r, "tool"))
            return aria_fail(why, ARIA_ERR_INVALID, "message %zu has role '%s' (system, user, "
                             "assistant or tool)", i, r);
        int sys = !strcmp(r, "system"), asst = !strcmp(r, "assistant");
        switch (k) {
        case ARIA_CHAT_LLAMA3:
            put(&o, "<|start_header_id|>");
            put(&o, r);
            put(&o, "<|end_header_id|>\n\n");
            put(&o, c);
            put(&o, "<|eot_id|>");
            break;
        case ARIA_CHAT_CHATML:
            put(&o, "<|im_start|>");
            put(&o, r);
            put(&o, "\n");
            put(&o, c);
            put(&o, "<|im_end|>\n");
            break;
        case ARIA_CHAT_FALCON3:
            put(&o, "<|");
            put(&o, r);
            put(&o, "|>\n");
            put(&o, c);
            put(&o, "\n");
            break;
        case ARIA_CHAT_PHI3:
            put(&o, "<|");
            put(&o, r);
            put(&o, "|>\n");
            put(&o, c);
            put(&o, "<|end|>\n");
            break;
        case ARIA_CHAT_LLAMA2:
            /* a system message opens the first [INST] block */
            if (sys) {
                put(&o, "[INST] <<SYS>>\n");
                put(&o, c);
                put(&o, "\n<</SYS>>\n\n");
            } else if (asst) {
                put(&o, " ");
                put(&o, c);
                put(&o, eos ? eos : "</s>");
            } else {
                if (!(i > 0 && !strcmp(role_of(&msgs[i - 1]), "system")))
                    put(&o, "[INST] ");
                put(&o, c);
                put(&o, " [/INST]");
            }
            break;
        case ARIA_CHAT_BITNET:
            put(&o, sys ? "System: " : asst ? "Assistant: " : "User: ");
            put(&o, c);
            put(&o, "<|eot_id|>");
            break;
        default:
            put(&o, sys ? "System: " : asst ? "Assistant: " : "User: ");
            put(&o, c);
            put(&o, "\n");
            break;
        }
    }
    if (add_gen) {
        switch (k) {
        case ARIA_CHAT_LLAMA3: put(&o, "<|start_header_id|>assistant<|end_header_id|>\n\n"); break;
        case ARIA_CHAT_CHATML: put(&o, "<|im_start|>assistant\n"); break;
        case ARIA_CHAT_FALCON3:
        case ARIA_CHAT_PHI3: put(&o, "<|assistant|>\n"); break;
        case ARIA_CHAT_LLAMA2: break;
        case ARIA_CHAT_BITNET: put(&o, "Assistant: "); break;
        default: put(&o, "Assistant:"); break;
        }
    }
    *len = o.len;
    if (o.len >= cap)
        return ARIA_ERR_RANGE;
    buf[o.len] = '\0';
    return ARIA_OK;
}
