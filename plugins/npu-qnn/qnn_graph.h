/* qnn_graph.h — a llama-family model as a QNN graph on the HTP backend:
 * built through the API (backendCreate, deviceCreate, contextCreate,
 * graphCreate, tensorCreateGraphTensor, graphAddNode, graphFinalize) from
 * npu_graph.c's walk, and run with graphExecute. Inputs, outputs and the
 * caller's KV cache follow npu_graph.h (index tensors are INT_32). Every
 * tensor is FLOAT_32; the graph asks the HTP for FLOAT16 precision, as
 * Qualcomm's float models do. */
#ifndef QNG_GRAPH_H
#define QNG_GRAPH_H

#include "npu_graph.h"
#include "qnn_runtime.h"

typedef struct qng_model qng_model;

typedef struct qng_stats {
    size_t n_tensors, n_nodes;
    size_t static_bytes; /* weights and constants handed to the backend */
} qng_stats;

/* Builds and finalizes the graph of m for n_ctx positions. Blocks (the HTP
 * prepares the graph). fp16: ask for FLOAT16 precision. */
aria_err qng_build(qnr_runtime *rt, const aria_llm *m, uint32_t n_ctx, int fp16, qng_model **out,
                   qng_stats *stats, aria_msg *why);
void qng_free(qng_model *g);

uint32_t qng_n_ctx(const qng_model *g);

/* One run for the session whose cache is k (npu_kv_begin done): writes the
 * logits ([n_vocab]) and each layer's present_* into present[2l + v]
 * ([Hkv][hd]). Serialized per model. Blocks. */
aria_err qng_execute(qng_model *g, npu_kv *k, float *logits, float *const *present,
                     aria_msg *why);

#endif
