/* aria/gguf.h — a GGUF reader (versions 2 and 3), part of libaria-sdk.
 *
 * The file is memory-mapped and nothing is copied: strings, arrays and
 * tensor data point into the map. Every count, size, offset and string in
 * the file is checked against the file's size while the header is parsed, so
 * once aria_gguf_open succeeds every pointer it hands out is in bounds. A
 * malformed file gets one error naming the problem and its byte offset.
 *
 * A reader is immutable after open: any number of threads may use it. */
#ifndef ARIA_GGUF_H
#define ARIA_GGUF_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types, as numbered in the file. */
typedef enum aria_gguf_vtype {
    ARIA_GGUF_U8 = 0,
    ARIA_GGUF_I8 = 1,
    ARIA_GGUF_U16 = 2,
    ARIA_GGUF_I16 = 3,
    ARIA_GGUF_U32 = 4,
    ARIA_GGUF_I32 = 5,
    ARIA_GGUF_F32 = 6,
    ARIA_GGUF_BOOL = 7,
    ARIA_GGUF_STRING = 8,
    ARIA_GGUF_ARRAY = 9,
    ARIA_GGUF_U64 = 10,
    ARIA_GGUF_I64 = 11,
    ARIA_GGUF_F64 = 12
} aria_gguf_vtype;

/* A string inside the map: not NUL-terminated. */
typedef struct aria_gguf_str {
    const char *ptr;
    uint64_t len;
} aria_gguf_str;

typedef struct aria_gguf_kv {
    aria_gguf_str key;
    uint32_t type;     /* aria_gguf_vtype */
    uint32_t arr_type; /* element type when type is ARRAY */
    uint64_t arr_n;    /* element count when type is ARRAY */
    const uint8_t *data; /* the value (for arrays: the first element) */
    uint64_t size;       /* bytes at data: the value, or all array elements */
} aria_gguf_kv;

#define ARIA_GGUF_MAX_DIMS 4

typedef struct aria_gguf_tensor {
    const char *name;   /* NUL-terminated copy, owned by the reader */
    uint32_t n_dims;
    uint32_t type;      /* ggml type id as stored (see aria_type) */
    uint64_t ne[ARIA_GGUF_MAX_DIMS]; /* elements per dimension, ne[0] fastest; 1 past n_dims */
    uint64_t n_elements;
    uint64_t offset;    /* from the start of the data section */
    uint64_t nbytes;    /* size of its data */
    const void *data;   /* in the map */
} aria_gguf_tensor;

typedef struct aria_gguf {
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    uint64_t n_tensors;
    const aria_gguf_kv *kv;
    const aria_gguf_tensor *tensors;
    uint64_t data_offset; /* where the tensor data section starts */
    uint64_t file_size;
    const uint8_t *base;  /* the mapped file */
    /* private */
    void *priv_;
} aria_gguf;

/* Facts about a ggml tensor type: elements per block and bytes per block.
 * Returns NULL for an unknown id. */
typedef struct aria_type_info {
    const char *name;
    uint32_t block;
    uint32_t block_bytes;
} aria_type_info;
const aria_type_info *aria_type_info_get(uint32_t type);

/* Opens and validates path. *out is a new reader the caller closes. */
aria_err aria_gguf_open(const char *path, aria_gguf **out, aria_msg *why);

/* The same over a buffer the caller keeps alive (tests, fuzzing). */
aria_err aria_gguf_open_mem(const void *data, size_t size, aria_gguf **out, aria_msg *why);

void aria_gguf_close(aria_gguf *g);

/* For a file opened with aria_gguf_open: unmaps every page of the tensor
 * data that none of the n tensors in keep[] uses (its address range stays
 * reserved, inaccessible, until close), so that only the header (metadata,
 * vocabulary) and those tensors stay mapped from the file. Reading another
 * tensor's data afterwards faults. Returns the bytes still mapped (the
 * file's size for a buffer opened with aria_gguf_open_mem: nothing done). */
uint64_t aria_gguf_map_only(aria_gguf *g, const aria_gguf_tensor *const *keep, size_t n);

/* Metadata lookup by exact key; NULL if absent. */
const aria_gguf_kv *aria_gguf_find(const aria_gguf *g, const char *key);

/* Typed getters. Integers of any width and sign convert when the value fits;
 * they return ARIA_ERR_NOT_FOUND when the key is absent and ARIA_ERR_FORMAT
 * when its type does not convert (bool to int does not). */
aria_err aria_gguf_get_u64(const aria_gguf *g, const char *key, uint64_t *out);
aria_err aria_gguf_get_u32(const aria_gguf *g, const char *key, uint32_t *out);
aria_err aria_gguf_get_i64(const aria_gguf *g, const char *key, int64_t *out);
aria_err aria_gguf_get_f32(const aria_gguf *g, const char *key, float *out);
aria_err aria_gguf_get_bool(const aria_gguf *g, const char *key, int *out);
aria_err aria_gguf_get_str(const aria_gguf *g, const char *key, aria_gguf_str *out);

/* Element i of an array of numbers, converted as above. */
aria_err aria_gguf_arr_f32(const aria_gguf_kv *kv, uint64_t i, float *out);
aria_err aria_gguf_arr_i64(const aria_gguf_kv *kv, uint64_t i, int64_t *out);

/* Fills out[0..kv->arr_n) with the strings of an array of strings (checked
 * at open, so this cannot fail on a valid reader except for the type). */
aria_err aria_gguf_arr_strings(const aria_gguf_kv *kv, aria_gguf_str *out);

/* A tensor by name; NULL if absent. */
const aria_gguf_tensor *aria_gguf_tensor_find(const aria_gguf *g, const char *name);

/* Compares a gguf string with a C string. */
int aria_gguf_str_eq(aria_gguf_str s, const char *c);


/* ---- writing ------------------------------------------------------------
 * A writer collects metadata and tensors, then writes a GGUF v3 file in one
 * go, to PATH.tmp and renamed over PATH, so a reader never sees half a file.
 * Tensor data is borrowed: it must stay valid until write returns. */
typedef struct aria_gguf_writer aria_gguf_writer;

aria_gguf_writer *aria_gguf_writer_new(void);
void aria_gguf_writer_free(aria_gguf_writer *w);

/* Each setter replaces an existing key of the same name. */
aria_err aria_gguf_set_str(aria_gguf_writer *w, const char *key, const char *val);
aria_err aria_gguf_set_u32(aria_gguf_writer *w, const char *key, uint32_t val);
aria_err aria_gguf_set_i32(aria_gguf_writer *w, const char *key, int32_t val);
aria_err aria_gguf_set_f32(aria_gguf_writer *w, const char *key, float val);
aria_err aria_gguf_set_bool(aria_gguf_writer *w, const char *key, int val);
/* An array of n numbers of type elem_type (aria_gguf_vtype), n * size bytes. */
aria_err aria_gguf_set_arr(aria_gguf_writer *w, const char *key, uint32_t elem_type,
                           const void *data, uint64_t n);
aria_err aria_gguf_set_arr_str(aria_gguf_writer *w, const char *key, const char *const *strs,
                               uint64_t n);
/* Copies one key-value pair from a reader, whatever its type. */
aria_err aria_gguf_copy_kv(aria_gguf_writer *w, const aria_gguf_kv *kv);

/* Adds a tensor: ne[0..n_dims) elements per dimension, type an aria_type
 * (I2_S is written with its file id 36), data of nbytes (checked against the
 * shape). */
aria_err aria_gguf_add_tensor(aria_gguf_writer *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne, const void *data,
                              uint64_t nbytes, aria_msg *why);

aria_err aria_gguf_write(aria_gguf_writer *w, const char *path, aria_msg *why);
/* The file as one malloc'd buffer (tests and fuzz seeds). */
aria_err aria_gguf_write_mem(aria_gguf_writer *w, uint8_t **buf, size_t *len, aria_msg *why);

/* Bytes a tensor of this type and shape occupies, or 0 if the row length is
 * not a whole number of blocks. */
uint64_t aria_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_GGUF_H */
