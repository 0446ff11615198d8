/* ov_eval.h — a small reference interpreter for OpenVINO IR (v10/v11 XML plus
 * a weights blob), used by the fake libopenvino_c.so and by test_ov_eval.
 *
 * It reads the subset of the opsets that ARIA's IR generator emits (see
 * ov_eval.c for the list), validates it the way OpenVINO's IR reader and
 * shape inference would (connectivity, cycles, declared port dims and
 * precisions against inferred ones, element types), and executes it with
 * f32 reference semantics (i64 for shapes and indices).
 *
 * Lifetimes follow OpenVINO: a model borrows the blob (it must stay alive
 * until the model is compiled and freed); a compiled model owns decoded
 * constants and needs neither the blob nor the model afterwards; a request
 * owns its scratch and output buffers and borrows the bound input memory.
 * Every failing call writes a message into err (cap bytes, may be NULL). */
#ifndef ARIA_TESTS_OV_EVAL_H
#define ARIA_TESTS_OV_EVAL_H

#include <stddef.h>
#include <stdint.h>

#define OVE_MAX_RANK 8

typedef enum { OVE_F32, OVE_F16, OVE_I8, OVE_U8, OVE_I32, OVE_I64 } ove_type;

typedef struct {
    ove_type type;
    int rank;
    int64_t dims[OVE_MAX_RANK];
} ove_desc;

typedef struct ove_model ove_model;
typedef struct ove_compiled ove_compiled;
typedef struct ove_request ove_request;

/* "f32", "f16", ... */
const char *ove_type_name(ove_type t);
/* bytes per element: 4, 2, 1, 1, 4, 8 */
size_t ove_type_size(ove_type t);
/* element count (1 for a scalar) */
size_t ove_count(const ove_desc *d);
/* "[4,512,16]" ("[]" for a scalar) into buf; returns buf */
char *ove_dims_str(const ove_desc *d, char *buf, size_t cap);

/* Parse and validate; NULL on error. blob may be NULL (then blob_len 0)
 * only if the IR has no Const. */
ove_model *ove_read(const char *xml, size_t len, const void *blob, size_t blob_len, char *err,
                    size_t cap);
void ove_model_free(ove_model *m);
int ove_model_const_count(const ove_model *m);

/* Decode the constants (reads the blob once more), fold constant
 * subgraphs and fix the evaluation order. The result is independent of m
 * and of the blob. */
ove_compiled *ove_compile(const ove_model *m, char *err, size_t cap);
void ove_compiled_free(ove_compiled *c);

/* Inputs are the Parameters, outputs the Results, both in document order.
 * Names are the tensor names of the port (any of its comma-separated
 * names matches); ove_*_name gives the first. Lookups return -1 if absent. */
int ove_num_inputs(const ove_compiled *c);
int ove_num_outputs(const ove_compiled *c);
const ove_desc *ove_input_desc(const ove_compiled *c, int i);
const ove_desc *ove_output_desc(const ove_compiled *c, int i);
const char *ove_input_name(const ove_compiled *c, int i);
const char *ove_output_name(const ove_compiled *c, int i);
int ove_find_input(const ove_compiled *c, const char *name);
int ove_find_output(const ove_compiled *c, const char *name);

/* A request: output buffers (ove_output_data, in the output's element
 * type) live as long as the request. */
ove_request *ove_request_new(const ove_compiled *c, char *err, size_t cap);
void ove_request_free(ove_request *r);
/* Borrow caller memory holding input i (its desc's type and shape); read
 * at every ove_infer. NULL unbinds. */
void ove_bind_input(ove_request *r, int i, const void *data);
const void *ove_input_data(const ove_request *r, int i);
void *ove_output_data(ove_request *r, int i);
/* 0 on success, -1 with err set. */
int ove_infer(ove_request *r, char *err, size_t cap);

/* IEEE half <-> float (exact decode; encode rounds to nearest even). */
float ove_f16_to_f32(uint16_t h);
uint16_t ove_f32_to_f16(float f);

#endif
