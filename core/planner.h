/* planner.h — pipelines of layer ranges. Pure functions of their arguments
 * (no I/O, no locks, no clock, no globals, no allocation), so they are
 * tested on tables.
 *
 * A model has n_layers transformer layers. A node holds one contiguous range
 * [first, end) of them (the holder of layer 0 also has the embeddings, the
 * holder of the last layer the output head) and runs exactly that range,
 * never a part of it.
 *
 * 1. ari_plan_pipeline picks, among the ranges that nodes advertise, a chain
 *    of stages that tiles [0, n_layers): the fewest stages first (each hop
 *    is a network round of activations, the thing that hurts most), then
 *    the lowest estimated seconds per token. Each stage keeps replicas, the
 *    other nodes of the identical range, for failover.
 * 2. ari_plan_split proposes how nodes that want to share a model cut it:
 *    layers in proportion to speed, within each node's memory.
 *
 * Layer numbers start at 0. Ranges in structs are half-open [first, end);
 * messages name layers inclusively ("layers 4..6" is 4, 5 and 6). */
#ifndef ARI_PLANNER_H
#define ARI_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#define ARI_PLAN_MAX_STAGES        64
#define ARI_PLAN_MAX_REPLICAS      8
/* The deepest model a plan covers. The planner's work space lives on the
 * stack (about 18 bytes a layer), so it needs a bound; today's largest
 * models have a few hundred layers. */
#define ARI_PLAN_MAX_LAYERS        1024
/* Seconds per token assumed for a whole model on a node whose speed is not
 * measured yet (a modest CPU on a small model); a stage of k layers is
 * assumed to take k / n_layers of it, so an unmeasured node holding few
 * layers does not look as slow as one holding them all. */
#define ARI_PLAN_UNKNOWN_S_PER_TOK 0.1

/* One node's advertised range of the model. */
typedef struct ari_stage_offer {
    const char *node;    /* node id: opaque to the planner, only for the caller's messages */
    uint32_t first, end; /* layers held, [first, end) */
    double tok_per_s;    /* measured tokens/s for this range; <= 0 or not finite: unknown */
    double load;         /* (active + queue) / slots; < 0 or NaN is taken as 0 */
    uint32_t rtt_us;     /* round trip to it in microseconds; 0: unknown or this node */
    int usable;          /* 0: skip it (dead, refused, excluded by failover) */
} ari_stage_offer;

/* The estimated seconds per token of one offer as a stage:
 *   t * (1 + load) + rtt_us / 1e6
 * with t = 1 / tok_per_s when measured, else
 *   ARI_PLAN_UNKNOWN_S_PER_TOK * (end - first) / n_layers.
 * Load scales only the compute part: a queue delays the work, not the wire.
 * An unknown rtt counts as 0. */
double ari_plan_stage_cost(const ari_stage_offer *o, uint32_t n_layers);

typedef struct ari_plan_stage {
    uint32_t first, end;                    /* the layers this stage runs, [first, end) */
    size_t primary;                         /* index into offers: the node that runs it */
    size_t replicas[ARI_PLAN_MAX_REPLICAS]; /* other offers of the identical range, best first */
    size_t n_replicas;                      /* how many of replicas[] are set */
    double cost;                            /* the primary's ari_plan_stage_cost */
} ari_plan_stage;

typedef struct ari_plan {
    size_t n_stages; /* stage[0 .. n_stages) in layer order */
    ari_plan_stage stage[ARI_PLAN_MAX_STAGES];
    double cost; /* estimated seconds per token: the sum of the stages' costs */
} ari_plan;

/* Plans the pipeline for a model of n_layers layers from n offers. Offers
 * with first >= end, end > n_layers or usable == 0 are ignored.
 *
 * Among the plans with the fewest stages the one of lowest cost wins. On
 * equal (stages, cost), the plan whose last stage starts at the lower layer
 * wins, then the lower offer index, and so on backwards along the chain: the
 * result depends only on the offers and their order. A stage's primary is
 * the lowest-cost offer of its range (lower index on a tie).
 *
 * replication is the number of copies of each stage wanted (the primary
 * included; 0 is taken as 1): each stage keeps up to replication - 1
 * (at most ARI_PLAN_MAX_REPLICAS) replicas, the usable offers of its
 * identical range ordered by cost, then index; fewer if fewer exist.
 *
 * Returns 0 with *out filled and a one-line summary in why, or -1 with
 * out->n_stages = 0 and a one-line reason in why: n_layers is 0 or above
 * ARI_PLAN_MAX_LAYERS, the first layers that no usable node holds ("no node
 * holds layers 4..6 of 12"), ranges that cover every layer but do not line
 * up, or more than ARI_PLAN_MAX_STAGES stages needed. why may be NULL.
 *
 * Time O(B * n + S * n * R) for B reachable layer boundaries, S stages and R
 * replicas; about 18 KiB of stack. */
int ari_plan_pipeline(uint32_t n_layers, const ari_stage_offer *offers, size_t n,
                      uint32_t replication, ari_plan *out, char *why, size_t cap);

/* A node that proposes to hold part of a model. */
typedef struct ari_split_node {
    const char *node;   /* node id, for messages */
    double tok_per_s;   /* its speed on this model: the tokens/s it would run all n_layers at
                           (a rate r measured on k layers is r * k / n_layers). Only ratios
                           between nodes matter, so any common unit will do; > 0 */
    uint64_t mem_bytes; /* memory it gives to this model */
} ari_split_node;

/* Cuts [0, n_layers) into one contiguous range per node, in the given order:
 * node i gets [first[i], end[i]) and end[i] == first[i + 1].
 *
 * Why proportional: a pipeline's time per token is the sum of its stage
 * times (latency) and its token rate is set by the slowest stage
 * (throughput); layers in proportion to speed make the stage times equal,
 * so one slow node does not hold back the rest.
 *
 * A node holding c layers needs c * layer_bytes, plus extra_first if it holds
 * layer 0 (the embeddings) and extra_last if it holds the last layer (the
 * output head). Each node gets its share of the layers in proportion to
 * speed, no more than its memory holds and no less than 1; what a capped
 * node cannot take goes to the others, again in proportion to speed, until
 * nothing moves. Shares are rounded by largest remainder (lower index on a
 * tie).
 *
 * A node gets no layers (first[i] == end[i]) when its memory holds no layer
 * at all (or no layer with the embeddings or head that its place would give
 * it), or when there are more nodes than layers: then the slowest go without
 * (the later one of equal speeds first).
 *
 * Returns 0 with a one-line summary in why, or -1 with a one-line reason
 * in why (why may be NULL): n_layers is 0, no nodes, a speed that is not a
 * positive number, or the memory of the nodes together cannot hold the
 * model. first and end must hold n entries each; on -1 their contents are
 * unspecified. */
int ari_plan_split(uint32_t n_layers, uint64_t layer_bytes, uint64_t extra_first,
                   uint64_t extra_last, const ari_split_node *nodes, size_t n, uint32_t *first,
                   uint32_t *end, char *why, size_t cap);

#endif
