/* gguf.c — parses and validates a GGUF file over a read-only map.
 *
 * The parser is a cursor over [base, base + size) that refuses to move past
 * the end: every read goes through cur_take, which checks the remaining
 * length first, so a truncated or hostile file fails with the offset of the
 * first field that does not fit. */
#include <aria/gguf.h>
#include <aria/kernel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_STRING (1u << 24) /* 16 MiB: no key or token is longer */
#define GGUF_MAX_NAME 256

static const aria_type_info type_infos[] = {
    [ARIA_T_F32] = {"F32", 1, 4},
    [ARIA_T_F16] = {"F16", 1, 2},
    [ARIA_T_Q4_0] = {"Q4_0", 32, 18},
    [ARIA_T_Q4_1] = {"Q4_1", 32, 20},
    [ARIA_T_Q5_0] = {"Q5_0", 32, 22},
    [ARIA_T_Q5_1] = {"Q5_1", 32, 24},
    [ARIA_T_Q8_0] = {"Q8_0", 32, 34},
    [ARIA_T_Q8_1] = {"Q8_1", 32, 36},
    [ARIA_T_Q2_K] = {"Q2_K", 256, 84},
    [ARIA_T_Q3_K] = {"Q3_K", 256, 110},
    [ARIA_T_Q4_K] = {"Q4_K", 256, 144},
    [ARIA_T_Q5_K] = {"Q5_K", 256, 176},
    [ARIA_T_Q6_K] = {"Q6_K", 256, 210},
    [ARIA_T_Q8_K] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},
    [18] = {"IQ3_XXS", 256, 98},
    [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},
    [21] = {"IQ3_S", 256, 110},
    [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136},
    [24] = {"I8", 1, 1},
    [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},
    [27] = {"I64", 1, 8},
    [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},
    [ARIA_T_BF16] = {"BF16", 1, 2},
    [ARIA_T_TQ1_0] = {"TQ1_0", 256, 54},
    [ARIA_T_TQ2_0] = {"TQ2_0", 256, 66},
};

/* bitnet.cpp's I2_S: stored as type 36, 4 elements per byte, then 32 bytes
 * holding the tensor's f32 scale (padded). Its size is not a per-block one. */
#define GGUF_FILE_I2_S 36
static const aria_type_info i2s_info = {"I2_S", 4, 1};

const aria_type_info *aria_type_info_get(uint32_t type)
{
    if (type == ARIA_T_I2_S)
        return &i2s_info;
    if (type < sizeof type_infos / sizeof type_infos[0] && type_infos[type].name)
        return &type_infos[type];
    return NULL;
}

typedef struct priv {
    int own_map; /* munmap on close */
    char *names; /* tensor name storage */
    aria_gguf_kv *kv;
    aria_gguf_tensor *tensors;
} priv;

typedef struct cursor {
    const uint8_t *base;
    uint64_t size, pos;
    aria_msg *why;
} cursor;

static int cur_take(cursor *c, uint64_t n, const uint8_t **out, const char *what)
{
    if (n > c->size - c->pos) {
        aria_fail(c->why, ARIA_ERR_FORMAT,
                  "truncated at byte %llu: %s needs %llu bytes, %llu left",
                  (unsigned long long)c->pos, what, (unsigned long long)n,
                  (unsigned long long)(c->size - c->pos));
        return -1;
    }
    *out = c->base + c->pos;
    c->pos += n;
    return 0;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int cur_u32(cursor *c, uint32_t *v, const char *what)
{
    const uint8_t *p;
    if (cur_take(c, 4, &p, what))
        return -1;
    *v = rd32(p);
    return 0;
}

static int cur_u64(cursor *c, uint64_t *v, const char *what)
{
    const uint8_t *p;
    if (cur_take(c, 8, &p, what))
        return -1;
    *v = rd64(p);
    return 0;
}

static int cur_str(cursor *c, aria_gguf_str *s, const char *what)
{
    uint64_t at = c->pos, len;
    const uint8_t *p;
    if (cur_u64(c, &len, what))
        return -1;
    if (len > GGUF_MAX_STRING) {
        aria_fail(c->why, ARIA_ERR_FORMAT, "%s at byte %llu has length %llu (limit %u)", what,
                  (unsigned long long)at, (unsigned long long)len, GGUF_MAX_STRING);
        return -1;
    }
    if (cur_take(c, len, &p, what))
        return -1;
    s->ptr = (const char *)p;
    s->len = len;
    return 0;
}

static uint64_t vtype_size(uint32_t t)
{
    switch (t) {
    case ARIA_GGUF_U8: case ARIA_GGUF_I8: case ARIA_GGUF_BOOL: return 1;
    case ARIA_GGUF_U16: case ARIA_GGUF_I16: return 2;
    case ARIA_GGUF_U32: case ARIA_GGUF_I32: case ARIA_GGUF_F32: return 4;
    case ARIA_GGUF_U64: case ARIA_GGUF_I64: case ARIA_GGUF_F64: return 8;
    }
    return 0;
}

static int key_ok(aria_gguf_str k)
{
    if (k.len == 0 || k.len > GGUF_MAX_NAME)
        return 0;
    for (uint64_t i = 0; i < k.len; i++)
        if ((unsigned char)k.ptr[i] < 0x20)
            return 0;
    return 1;
}

static int parse_kv(cursor *c, aria_gguf_kv *kv, uint64_t idx)
{
    uint64_t at = c->pos;
    if (cur_str(c, &kv->key, "metadata key"))
        return -1;
    if (!key_ok(kv->key)) {
        aria_fail(c->why, ARIA_ERR_FORMAT, "metadata key %llu at byte %llu is empty, too long "
                  "or has control characters", (unsigned long long)idx, (unsigned long long)at);
        return -1;
    }
    if (cur_u32(c, &kv->type, "metadata type"))
        return -1;
    uint64_t start = c->pos;
    const uint8_t *p;
    if (kv->type == ARIA_GGUF_STRING) {
        aria_gguf_str s;
        if (cur_str(c, &s, "string value"))
            return -1;
        kv->data = c->base + start;
    } else if (kv->type == ARIA_GGUF_ARRAY) {
        if (cur_u32(c, &kv->arr_type, "array type") || cur_u64(c, &kv->arr_n, "array length"))
            return -1;
        kv->data = c->base + c->pos;
        if (kv->arr_type == ARIA_GGUF_STRING) {
            /* Each element is at least its 8-byte length. */
            if (kv->arr_n > (c->size - c->pos) / 8) {
                aria_fail(c->why, ARIA_ERR_FORMAT, "array '%.*s' claims %llu strings, more than "
                          "the file can hold", (int)kv->key.len, kv->key.ptr,
                          (unsigned long long)kv->arr_n);
                return -1;
            }
            for (uint64_t i = 0; i < kv->arr_n; i++) {
                aria_gguf_str s;
                if (cur_str(c, &s, "array string"))
                    return -1;
            }
        } else {
            uint64_t es = vtype_size(kv->arr_type);
            if (!es) {
                aria_fail(c->why, ARIA_ERR_FORMAT, "array '%.*s' has element type %u, which is "
                          "not a GGUF scalar or string type", (int)kv->key.len, kv->key.ptr,
                          kv->arr_type);
                return -1;
            }
            if (kv->arr_n > (c->size - c->pos) / es) {
                aria_fail(c->why, ARIA_ERR_FORMAT, "array '%.*s' claims %llu elements, more than "
                          "the file can hold", (int)kv->key.len, kv->key.ptr,
                          (unsigned long long)kv->arr_n);
                return -1;
            }
            if (cur_take(c, kv->arr_n * es, &p, "array data"))
                return -1;
        }
    } else {
        uint64_t es = vtype_size(kv->type);
        if (!es) {
            aria_fail(c->why, ARIA_ERR_FORMAT, "metadata '%.*s' has unknown type %u",
                      (int)kv->key.len, kv->key.ptr, kv->type);
            return -1;
        }
        if (cur_take(c, es, &p, "metadata value"))
            return -1;
        kv->data = p;
        if (kv->type == ARIA_GGUF_BOOL && *p > 1) {
            aria_fail(c->why, ARIA_ERR_FORMAT, "metadata '%.*s' is a bool holding %u",
                      (int)kv->key.len, kv->key.ptr, *p);
            return -1;
        }
    }
    /* For arrays, data starts at the first element, after the type and
     * count: size counts the elements' bytes only. */
    kv->size = c->pos - (uint64_t)(kv->data - c->base);
    return 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const aria_gguf_tensor *x = *(const aria_gguf_tensor *const *)a;
    const aria_gguf_tensor *y = *(const aria_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const aria_gguf_tensor *const *)a)->name,
                  (*(const aria_gguf_tensor *const *)b)->name);
}

/* Tensor byte size, or 0 with a message when the shape does not fit. */
static uint64_t tensor_bytes(const aria_gguf_tensor *t, aria_msg *why)
{
    const aria_type_info *ti = aria_type_info_get(t->type);
    if (t->type == ARIA_T_I2_S) {
        if (t->n_elements % 4) {
            aria_fail(why, ARIA_ERR_FORMAT, "tensor '%s': I2_S with %llu elements (not a "
                      "multiple of 4)", t->name, (unsigned long long)t->n_elements);
            return 0;
        }
        return t->n_elements / 4 + 32;
    }
    if (t->ne[0] % ti->block) {
        aria_fail(why, ARIA_ERR_FORMAT, "tensor '%s': row of %llu elements is not a whole "
                  "number of %s blocks of %u", t->name, (unsigned long long)t->ne[0], ti->name,
                  ti->block);
        return 0;
    }
    return t->n_elements / ti->block * ti->block_bytes;
}

static aria_err parse(aria_gguf *g, priv *pv, aria_msg *why)
{
    cursor c = {g->base, g->file_size, 0, why};
    uint32_t magic;
    if (cur_u32(&c, &magic, "magic"))
        return ARIA_ERR_FORMAT;
    if (magic != GGUF_MAGIC)
        return aria_fail(why, ARIA_ERR_FORMAT, "not a GGUF file (bad magic)");
    if (cur_u32(&c, &g->version, "version"))
        return ARIA_ERR_FORMAT;
    if (g->version == 1)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED, "GGUF version 1 is not supported (2 and 3 "
                         "are); convert the file again with a current converter");
    if (g->version != 2 && g->version != 3) {
        uint32_t sw = __builtin_bswap32(g->version);
        if (sw == 2 || sw == 3)
            return aria_fail(why, ARIA_ERR_UNSUPPORTED, "big-endian GGUF files are not "
                             "supported");
        return aria_fail(why, ARIA_ERR_UNSUPPORTED, "GGUF version %u is not supported (2 and 3 "
                         "are)", g->version);
    }
    if (cur_u64(&c, &g->n_tensors, "tensor count") || cur_u64(&c, &g->n_kv, "metadata count"))
        return ARIA_ERR_FORMAT;
    /* A key-value pair takes at least 8 + 1 + 4 + 1 bytes, a tensor 8 + 1 +
     * 4 + 8 + 4 + 8: refuse counts the file cannot hold before allocating. */
    if (g->n_kv > (g->file_size - c.pos) / 14)
        return aria_fail(why, ARIA_ERR_FORMAT, "metadata count %llu is more than the file can "
                         "hold", (unsigned long long)g->n_kv);
    if (g->n_tensors > (g->file_size - c.pos) / 33)
        return aria_fail(why, ARIA_ERR_FORMAT, "tensor count %llu is more than the file can "
                         "hold", (unsigned long long)g->n_tensors);
    pv->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *pv->kv);
    pv->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *pv->tensors);
    if (!pv->kv || !pv->tensors)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory for %llu tensors",
                         (unsigned long long)g->n_tensors);
    g->kv = pv->kv;
    g->tensors = pv->tensors;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (parse_kv(&c, &pv->kv[i], i))
            return ARIA_ERR_FORMAT;
        for (uint64_t j = 0; j < i; j++)
            if (pv->kv[j].key.len == pv->kv[i].key.len &&
                memcmp(pv->kv[j].key.ptr, pv->kv[i].key.ptr, pv->kv[i].key.len) == 0)
                return aria_fail(why, ARIA_ERR_FORMAT, "duplicate metadata key '%.*s'",
                                 (int)pv->kv[i].key.len, pv->kv[i].key.ptr);
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const aria_gguf_kv *al = aria_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != ARIA_GGUF_U32)
            return aria_fail(why, ARIA_ERR_FORMAT, "general.alignment is not a u32");
        g->alignment = rd32(al->data);
        if (g->alignment == 0 || (g->alignment & (g->alignment - 1)) || g->alignment > (1u << 20))
            return aria_fail(why, ARIA_ERR_FORMAT, "general.alignment %u is not a power of two "
                             "up to 1 MiB", g->alignment);
    }

    /* Tensor infos. Names are copied (NUL-terminated) into one block. */
    aria_gguf_str *names = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *names);
    if (!names)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    uint64_t name_bytes = 0;
    aria_err rc = ARIA_OK;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        aria_gguf_tensor *t = &pv->tensors[i];
        uint64_t at = c.pos;
        if (cur_str(&c, &names[i], "tensor name")) {
            rc = ARIA_ERR_FORMAT;
            goto out;
        }
        if (!key_ok(names[i]) || memchr(names[i].ptr, 0, names[i].len)) {
            rc = aria_fail(why, ARIA_ERR_FORMAT, "tensor %llu at byte %llu has an empty, "
                           "over-long or malformed name", (unsigned long long)i,
                           (unsigned long long)at);
            goto out;
        }
        name_bytes += names[i].len + 1;
        if (cur_u32(&c, &t->n_dims, "tensor dimension count")) {
            rc = ARIA_ERR_FORMAT;
            goto out;
        }
        if (t->n_dims < 1 || t->n_dims > ARIA_GGUF_MAX_DIMS) {
            rc = aria_fail(why, ARIA_ERR_FORMAT, "tensor '%.*s' has %u dimensions (1 to %d "
                           "allowed)", (int)names[i].len, names[i].ptr, t->n_dims,
                           ARIA_GGUF_MAX_DIMS);
            goto out;
        }
        t->n_elements = 1;
        for (uint32_t d = 0; d < ARIA_GGUF_MAX_DIMS; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (cur_u64(&c, &t->ne[d], "tensor dimension")) {
                rc = ARIA_ERR_FORMAT;
                goto out;
            }
            if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) ||
                t->n_elements > (1ull << 48) / t->ne[d]) {
                rc = aria_fail(why, ARIA_ERR_FORMAT, "tensor '%.*s' has an empty or huge "
                               "dimension %u (%llu)", (int)names[i].len, names[i].ptr, d,
                               (unsigned long long)t->ne[d]);
                goto out;
            }
            t->n_elements *= t->ne[d];
        }
        uint32_t raw;
        if (cur_u32(&c, &raw, "tensor type") || cur_u64(&c, &t->offset, "tensor offset")) {
            rc = ARIA_ERR_FORMAT;
            goto out;
        }
        /* ARIA's own ids (>= 1000) never appear in files. */
        t->type = raw == GGUF_FILE_I2_S ? ARIA_T_I2_S : raw;
        if (raw >= ARIA_T_I2_S || !aria_type_info_get(t->type)) {
            rc = aria_fail(why, ARIA_ERR_UNSUPPORTED, "tensor '%.*s' has unknown type %u",
                           (int)names[i].len, names[i].ptr, raw);
            goto out;
        }
        if (t->offset % g->alignment) {
            rc = aria_fail(why, ARIA_ERR_FORMAT, "tensor '%.*s' offset %llu is not aligned to "
                           "%u", (int)names[i].len, names[i].ptr,
                           (unsigned long long)t->offset, g->alignment);
            goto out;
        }
    }
    g->data_offset = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors && g->data_offset > g->file_size) {
        rc = aria_fail(why, ARIA_ERR_FORMAT, "truncated: the tensor data section would start "
                       "at byte %llu of %llu", (unsigned long long)g->data_offset,
                       (unsigned long long)g->file_size);
        goto out;
    }
    pv->names = malloc(name_bytes ? name_bytes : 1);
    if (!pv->names) {
        rc = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        goto out;
    }
    char *np = pv->names;
    uint64_t avail = g->file_size > g->data_offset ? g->file_size - g->data_offset : 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        aria_gguf_tensor *t = &pv->tensors[i];
        memcpy(np, names[i].ptr, names[i].len);
        np[names[i].len] = '\0';
        t->name = np;
        np += names[i].len + 1;
        if (!(t->nbytes = tensor_bytes(t, why))) {
            rc = ARIA_ERR_FORMAT;
            goto out;
        }
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            rc = aria_fail(why, ARIA_ERR_FORMAT, "tensor '%s' (%llu bytes at offset %llu) "
                           "runs past the end of the file (%llu data bytes): truncated?",
                           t->name, (unsigned long long)t->nbytes,
                           (unsigned long long)t->offset, (unsigned long long)avail);
            goto out;
        }
        t->data = g->base + g->data_offset + t->offset;
    }
    /* Duplicate names and overlapping data: sort by offset, check neighbours. */
    if (g->n_tensors > 1) {
        const aria_gguf_tensor **by = malloc(g->n_tensors * sizeof *by);
        if (!by) {
            rc = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (uint64_t i = 0; i < g->n_tensors; i++)
            by[i] = &pv->tensors[i];
        qsort(by, g->n_tensors, sizeof *by, cmp_offset);
        for (uint64_t i = 1; i < g->n_tensors && rc == ARIA_OK; i++)
            if (by[i - 1]->offset + by[i - 1]->nbytes > by[i]->offset)
                rc = aria_fail(why, ARIA_ERR_FORMAT, "tensors '%s' and '%s' overlap",
                               by[i - 1]->name, by[i]->name);
        qsort(by, g->n_tensors, sizeof *by, cmp_name);
        for (uint64_t i = 1; i < g->n_tensors && rc == ARIA_OK; i++)
            if (strcmp(by[i - 1]->name, by[i]->name) == 0)
                rc = aria_fail(why, ARIA_ERR_FORMAT, "duplicate tensor name '%s'", by[i]->name);
        free(by);
        if (rc != ARIA_OK)
            goto out;
    }
out:
    free(names);
    return rc;
}

static aria_err open_common(aria_gguf *g, aria_msg *why)
{
    priv *pv = calloc(1, sizeof *pv);
    if (!pv)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    g->priv_ = pv;
    return parse(g, pv, why);
}

aria_err aria_gguf_open_mem(const void *data, size_t size, aria_gguf **out, aria_msg *why)
{
    *out = NULL;
    aria_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    g->base = data;
    g->file_size = size;
    aria_err rc = open_common(g, why);
    if (rc != ARIA_OK) {
        aria_gguf_close(g);
        return rc;
    }
    *out = g;
    return ARIA_OK;
}

aria_err aria_gguf_open(const char *path, aria_gguf **out, aria_msg *why)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return aria_fail(why, errno == ENOENT ? ARIA_ERR_NOT_FOUND : ARIA_ERR_IO,
                         "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return aria_fail(why, ARIA_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 24) {
        close(fd);
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: not a GGUF file (%lld bytes)", path,
                         (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return aria_fail(why, ARIA_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    aria_msg inner = {{0}};
    aria_gguf *g = NULL;
    aria_err rc = aria_gguf_open_mem(map, (size_t)st.st_size, &g, &inner);
    if (rc != ARIA_OK) {
        munmap(map, (size_t)st.st_size);
        return aria_fail(why, rc, "%s: %s", path, inner.text);
    }
    ((priv *)g->priv_)->own_map = 1;
    *out = g;
    return ARIA_OK;
}

typedef struct span {
    uint64_t lo, hi;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

uint64_t aria_gguf_map_only(aria_gguf *g, const aria_gguf_tensor *const *keep, size_t n)
{
    priv *pv = g->priv_;
    if (!pv || !pv->own_map)
        return g->file_size;
    const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
    const uint64_t top = (g->file_size + pg - 1) / pg * pg;
    span *sp = malloc((n + 1) * sizeof *sp);
    if (!sp)
        return g->file_size; /* keeping everything is always correct */
    size_t k = 0;
    sp[k++] = (span){0, (g->data_offset + pg - 1) / pg * pg}; /* header, metadata */
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        uint64_t lo = (uint64_t)((const uint8_t *)keep[i]->data - g->base);
        uint64_t hi = lo + keep[i]->nbytes;
        sp[k++] = (span){lo / pg * pg, (hi + pg - 1) / pg * pg};
    }
    qsort(sp, k, sizeof *sp, span_cmp);
    uint64_t at = 0, mapped = 0;
    for (size_t i = 0; i <= k; i++) {
        uint64_t lo = i < k ? sp[i].lo : top, hi = i < k ? sp[i].hi : top;
        if (lo > at) {
            /* Not munmap: the hole stays reserved (no access, no file pages),
             * so that nothing else is mapped there before close unmaps the
             * whole range. */
            mmap((void *)(g->base + at), (size_t)(lo - at), PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
            at = lo;
        }
        if (hi > at) {
            mapped += hi - at;
            at = hi;
        }
    }
    free(sp);
    return mapped;
}

void aria_gguf_close(aria_gguf *g)
{
    if (!g)
        return;
    priv *pv = g->priv_;
    if (pv) {
        if (pv->own_map)
            munmap((void *)g->base, g->file_size);
        free(pv->names);
        free(pv->kv);
        free(pv->tensors);
        free(pv);
    }
    free(g);
}

int aria_gguf_str_eq(aria_gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

const aria_gguf_kv *aria_gguf_find(const aria_gguf *g, const char *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (aria_gguf_str_eq(g->kv[i].key, key))
            return &g->kv[i];
    return NULL;
}

/* A number of type t at p, as int64 (with *is_u for values above INT64_MAX)
 * or as double. Returns -1 for non-numbers. */
static int num_at(uint32_t t, const uint8_t *p, int64_t *iv, double *dv, int *is_float)
{
    *is_float = 0;
    switch (t) {
    case ARIA_GGUF_U8: *iv = p[0]; break;
    case ARIA_GGUF_I8: *iv = (int8_t)p[0]; break;
    case ARIA_GGUF_U16: *iv = (uint16_t)(p[0] | p[1] << 8); break;
    case ARIA_GGUF_I16: *iv = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case ARIA_GGUF_U32: *iv = rd32(p); break;
    case ARIA_GGUF_I32: *iv = (int32_t)rd32(p); break;
    case ARIA_GGUF_U64: {
        uint64_t u = rd64(p);
        if (u > INT64_MAX)
            return -1;
        *iv = (int64_t)u;
        break;
    }
    case ARIA_GGUF_I64: *iv = (int64_t)rd64(p); break;
    case ARIA_GGUF_F32: {
        uint32_t u = rd32(p);
        float f;
        memcpy(&f, &u, 4);
        *dv = f;
        *is_float = 1;
        break;
    }
    case ARIA_GGUF_F64: {
        uint64_t u = rd64(p);
        memcpy(dv, &u, 8);
        *is_float = 1;
        break;
    }
    default: return -1;
    }
    if (!*is_float)
        *dv = (double)*iv;
    return 0;
}

aria_err aria_gguf_get_i64(const aria_gguf *g, const char *key, int64_t *out)
{
    const aria_gguf_kv *kv = aria_gguf_find(g, key);
    if (!kv)
        return ARIA_ERR_NOT_FOUND;
    int64_t iv;
    double dv;
    int isf;
    if (num_at(kv->type, kv->data, &iv, &dv, &isf) || isf)
        return ARIA_ERR_FORMAT;
    *out = iv;
    return ARIA_OK;
}

aria_err aria_gguf_get_u64(const aria_gguf *g, const char *key, uint64_t *out)
{
    int64_t v;
    aria_err rc = aria_gguf_get_i64(g, key, &v);
    if (rc == ARIA_OK && v < 0)
        rc = ARIA_ERR_FORMAT;
    if (rc == ARIA_OK)
        *out = (uint64_t)v;
    return rc;
}

aria_err aria_gguf_get_u32(const aria_gguf *g, const char *key, uint32_t *out)
{
    uint64_t v;
    aria_err rc = aria_gguf_get_u64(g, key, &v);
    if (rc == ARIA_OK && v > UINT32_MAX)
        rc = ARIA_ERR_FORMAT;
    if (rc == ARIA_OK)
        *out = (uint32_t)v;
    return rc;
}

aria_err aria_gguf_get_f32(const aria_gguf *g, const char *key, float *out)
{
    const aria_gguf_kv *kv = aria_gguf_find(g, key);
    if (!kv)
        return ARIA_ERR_NOT_FOUND;
    int64_t iv;
    double dv;
    int isf;
    if (num_at(kv->type, kv->data, &iv, &dv, &isf))
        return ARIA_ERR_FORMAT;
    *out = (float)dv;
    return ARIA_OK;
}

aria_err aria_gguf_get_bool(const aria_gguf *g, const char *key, int *out)
{
    const aria_gguf_kv *kv = aria_gguf_find(g, key);
    if (!kv)
        return ARIA_ERR_NOT_FOUND;
    if (kv->type != ARIA_GGUF_BOOL)
        return ARIA_ERR_FORMAT;
    *out = kv->data[0] != 0;
    return ARIA_OK;
}

aria_err aria_gguf_get_str(const aria_gguf *g, const char *key, aria_gguf_str *out)
{
    const aria_gguf_kv *kv = aria_gguf_find(g, key);
    if (!kv)
        return ARIA_ERR_NOT_FOUND;
    if (kv->type != ARIA_GGUF_STRING)
        return ARIA_ERR_FORMAT;
    out->len = rd64(kv->data);
    out->ptr = (const char *)kv->data + 8;
    return ARIA_OK;
}

static aria_err arr_num(const aria_gguf_kv *kv, uint64_t i, int64_t *iv, double *dv, int *isf)
{
    if (kv->type != ARIA_GGUF_ARRAY || kv->arr_type == ARIA_GGUF_STRING)
        return ARIA_ERR_FORMAT;
    if (i >= kv->arr_n)
        return ARIA_ERR_RANGE;
    uint64_t es = vtype_size(kv->arr_type);
    return num_at(kv->arr_type, kv->data + i * es, iv, dv, isf) ? ARIA_ERR_FORMAT : ARIA_OK;
}

aria_err aria_gguf_arr_f32(const aria_gguf_kv *kv, uint64_t i, float *out)
{
    int64_t iv;
    double dv;
    int isf;
    aria_err rc = arr_num(kv, i, &iv, &dv, &isf);
    if (rc == ARIA_OK)
        *out = (float)dv;
    return rc;
}

aria_err aria_gguf_arr_i64(const aria_gguf_kv *kv, uint64_t i, int64_t *out)
{
    int64_t iv;
    double dv;
    int isf;
    aria_err rc = arr_num(kv, i, &iv, &dv, &isf);
    if (rc == ARIA_OK && isf)
        rc = ARIA_ERR_FORMAT;
    if (rc == ARIA_OK)
        *out = iv;
    return rc;
}

aria_err aria_gguf_arr_strings(const aria_gguf_kv *kv, aria_gguf_str *out)
{
    if (kv->type != ARIA_GGUF_ARRAY || kv->arr_type != ARIA_GGUF_STRING)
        return ARIA_ERR_FORMAT;
    const uint8_t *p = kv->data;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        out[i].len = rd64(p);
        out[i].ptr = (const char *)p + 8;
        p += 8 + out[i].len;
    }
    return ARIA_OK;
}

const aria_gguf_tensor *aria_gguf_tensor_find(const aria_gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}
