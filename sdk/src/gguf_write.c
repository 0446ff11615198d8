/* gguf_write.c — writes GGUF v3 files: metadata in insertion order, tensor
 * infos, then the data section with every tensor aligned to 32 bytes. */
#include <aria/gguf.h>
#include <aria/kernel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN 32

typedef struct wkv {
    char *key;
    uint32_t type;
    uint8_t *val; /* encoded value, as in the file after the type field */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[ARIA_GGUF_MAX_DIMS];
    const void *data;
    uint64_t nbytes, offset;
} wtensor;

struct aria_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

/* A growable byte buffer for encoding. */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put64(buf *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static void putstr(buf *b, const char *s, size_t n)
{
    put64(b, n);
    put(b, s, n);
}

aria_gguf_writer *aria_gguf_writer_new(void)
{
    return calloc(1, sizeof(aria_gguf_writer));
}

void aria_gguf_writer_free(aria_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* Takes ownership of val (even on failure). */
static aria_err set_raw(aria_gguf_writer *w, const char *key, size_t key_len, uint32_t type,
                        uint8_t *val, size_t len)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strlen(w->kv[i].key) == key_len && memcmp(w->kv[i].key, key, key_len) == 0) {
            free(w->kv[i].val);
            w->kv[i].type = type;
            w->kv[i].val = val;
            w->kv[i].len = len;
            return ARIA_OK;
        }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *k = realloc(w->kv, cap * sizeof *k);
        if (!k) {
            free(val);
            return ARIA_ERR_NOMEM;
        }
        w->kv = k;
        w->cap_kv = cap;
    }
    char *kc = strndup(key, key_len);
    if (!kc) {
        free(val);
        return ARIA_ERR_NOMEM;
    }
    w->kv[w->n_kv++] = (wkv){kc, type, val, len};
    return ARIA_OK;
}

static aria_err set_buf(aria_gguf_writer *w, const char *key, uint32_t type, buf *b)
{
    if (b->oom) {
        free(b->p);
        return ARIA_ERR_NOMEM;
    }
    return set_raw(w, key, strlen(key), type, b->p, b->n);
}

aria_err aria_gguf_set_str(aria_gguf_writer *w, const char *key, const char *val)
{
    buf b = {0};
    putstr(&b, val, strlen(val));
    return set_buf(w, key, ARIA_GGUF_STRING, &b);
}

aria_err aria_gguf_set_u32(aria_gguf_writer *w, const char *key, uint32_t val)
{
    buf b = {0};
    put32(&b, val);
    return set_buf(w, key, ARIA_GGUF_U32, &b);
}

aria_err aria_gguf_set_i32(aria_gguf_writer *w, const char *key, int32_t val)
{
    buf b = {0};
    put32(&b, (uint32_t)val);
    return set_buf(w, key, ARIA_GGUF_I32, &b);
}

aria_err aria_gguf_set_f32(aria_gguf_writer *w, const char *key, float val)
{
    uint32_t u;
    memcpy(&u, &val, 4);
    buf b = {0};
    put32(&b, u);
    return set_buf(w, key, ARIA_GGUF_F32, &b);
}

aria_err aria_gguf_set_bool(aria_gguf_writer *w, const char *key, int val)
{
    buf b = {0};
    uint8_t v = val != 0;
    put(&b, &v, 1);
    return set_buf(w, key, ARIA_GGUF_BOOL, &b);
}

static size_t elem_size(uint32_t t)
{
    switch (t) {
    case ARIA_GGUF_U8: case ARIA_GGUF_I8: case ARIA_GGUF_BOOL: return 1;
    case ARIA_GGUF_U16: case ARIA_GGUF_I16: return 2;
    case ARIA_GGUF_U32: case ARIA_GGUF_I32: case ARIA_GGUF_F32: return 4;
    case ARIA_GGUF_U64: case ARIA_GGUF_I64: case ARIA_GGUF_F64: return 8;
    }
    return 0;
}

aria_err aria_gguf_set_arr(aria_gguf_writer *w, const char *key, uint32_t elem_type,
                           const void *data, uint64_t n)
{
    size_t es = elem_size(elem_type);
    if (!es)
        return ARIA_ERR_INVALID;
    buf b = {0};
    put32(&b, elem_type);
    put64(&b, n);
    /* Little-endian hosts only (as the reader): the bytes are the values. */
    put(&b, data, (size_t)n * es);
    return set_buf(w, key, ARIA_GGUF_ARRAY, &b);
}

aria_err aria_gguf_set_arr_str(aria_gguf_writer *w, const char *key, const char *const *strs,
                               uint64_t n)
{
    buf b = {0};
    put32(&b, ARIA_GGUF_STRING);
    put64(&b, n);
    for (uint64_t i = 0; i < n; i++)
        putstr(&b, strs[i], strlen(strs[i]));
    return set_buf(w, key, ARIA_GGUF_ARRAY, &b);
}

aria_err aria_gguf_copy_kv(aria_gguf_writer *w, const aria_gguf_kv *kv)
{
    buf b = {0};
    if (kv->type == ARIA_GGUF_ARRAY) {
        put32(&b, kv->arr_type);
        put64(&b, kv->arr_n);
    }
    put(&b, kv->data, (size_t)kv->size);
    if (b.oom) {
        free(b.p);
        return ARIA_ERR_NOMEM;
    }
    return set_raw(w, kv->key.ptr, (size_t)kv->key.len, kv->type, b.p, b.n);
}

uint64_t aria_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne)
{
    const aria_type_info *ti = aria_type_info_get(type);
    if (!ti || n_dims < 1 || n_dims > ARIA_GGUF_MAX_DIMS)
        return 0;
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        n *= ne[d];
    if (type == ARIA_T_I2_S)
        return n % 4 ? 0 : n / 4 + 32;
    if (ne[0] % ti->block)
        return 0;
    return n / ti->block * ti->block_bytes;
}

aria_err aria_gguf_add_tensor(aria_gguf_writer *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne, const void *data,
                              uint64_t nbytes, aria_msg *why)
{
    uint64_t want = aria_tensor_nbytes(type, n_dims, ne);
    if (!want)
        return aria_fail(why, ARIA_ERR_INVALID, "tensor '%s': shape does not fit type %u",
                         name, type);
    if (want != nbytes)
        return aria_fail(why, ARIA_ERR_INVALID, "tensor '%s': %llu bytes given, shape needs %llu",
                         name, (unsigned long long)nbytes, (unsigned long long)want);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t)
            return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        w->t = t;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name)))
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < n_dims; d++)
        t->ne[d] = ne[d];
    t->data = data;
    t->nbytes = nbytes;
    w->n_t++;
    return ARIA_OK;
}

/* Header, metadata and tensor infos, padded to the data section. */
static aria_err encode_head(aria_gguf_writer *w, buf *b)
{
    put32(b, 0x46554747u);
    put32(b, 3);
    put64(b, w->n_t);
    put64(b, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        putstr(b, w->kv[i].key, strlen(w->kv[i].key));
        put32(b, w->kv[i].type);
        put(b, w->kv[i].val, w->kv[i].len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        putstr(b, t->name, strlen(t->name));
        put32(b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put64(b, t->ne[d]);
        put32(b, t->type == ARIA_T_I2_S ? 36 : t->type);
        put64(b, off);
        t->offset = off;
        off += (t->nbytes + ALIGN - 1) / ALIGN * ALIGN;
    }
    static const uint8_t zeros[ALIGN];
    put(b, zeros, (ALIGN - b->n % ALIGN) % ALIGN);
    return b->oom ? ARIA_ERR_NOMEM : ARIA_OK;
}

aria_err aria_gguf_write_mem(aria_gguf_writer *w, uint8_t **out, size_t *len, aria_msg *why)
{
    buf b = {0};
    static const uint8_t zeros[ALIGN];
    encode_head(w, &b);
    for (size_t i = 0; i < w->n_t; i++) {
        put(&b, w->t[i].data, w->t[i].nbytes);
        put(&b, zeros, (ALIGN - w->t[i].nbytes % ALIGN) % ALIGN);
    }
    if (b.oom) {
        free(b.p);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    }
    *out = b.p;
    *len = b.n;
    return ARIA_OK;
}

aria_err aria_gguf_write(aria_gguf_writer *w, const char *path, aria_msg *why)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return aria_fail(why, ARIA_ERR_INVALID, "%s: path too long", path);
    buf b = {0};
    if (encode_head(w, &b) != ARIA_OK) {
        free(b.p);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(b.p);
        return aria_fail(why, ARIA_ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    static const uint8_t zeros[ALIGN];
    int ok = fwrite(b.p, 1, b.n, f) == b.n;
    free(b.p);
    for (size_t i = 0; ok && i < w->n_t; i++) {
        size_t pad = (ALIGN - w->t[i].nbytes % ALIGN) % ALIGN;
        ok = fwrite(w->t[i].data, 1, w->t[i].nbytes, f) == w->t[i].nbytes &&
             fwrite(zeros, 1, pad, f) == pad;
    }
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            err = errno;
        unlink(tmp);
        return aria_fail(why, ARIA_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return ARIA_OK;
}
