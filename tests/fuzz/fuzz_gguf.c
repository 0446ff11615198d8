/* fuzz_gguf.c — libFuzzer target for the GGUF reader: any bytes either
 * parse, with every pointer handed out inside the buffer, or fail cleanly. */
#include <aria/gguf.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so reads past the end hit ASan's redzone. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    aria_gguf *g = NULL;
    aria_msg why;
    if (aria_gguf_open_mem(buf, size, &g, &why) == ARIA_OK) {
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < g->n_kv; i++) {
            const aria_gguf_kv *kv = &g->kv[i];
            sink += kv->key.ptr[kv->key.len - 1];
            if (kv->size)
                sink += kv->data[kv->size - 1];
            if (kv->type == ARIA_GGUF_ARRAY && kv->arr_type == ARIA_GGUF_STRING && kv->arr_n < 100000) {
                aria_gguf_str *s = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *s);
                if (s && aria_gguf_arr_strings(kv, s) == ARIA_OK)
                    for (uint64_t j = 0; j < kv->arr_n; j++)
                        sink += s[j].len ? (uint8_t)s[j].ptr[s[j].len - 1] : 0;
                free(s);
            }
            float f;
            aria_gguf_str s;
            aria_gguf_get_f32(g, "general.alignment", &f);
            aria_gguf_get_str(g, "general.architecture", &s);
        }
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const aria_gguf_tensor *t = &g->tensors[i];
            sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
        }
        (void)sink;
        aria_gguf_close(g);
    }
    free(buf);
    return 0;
}
