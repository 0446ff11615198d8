/* qnn_eval.h — the QNN graph API types, laid out as the public QNN 2.x
 * headers lay them out on LP64 (QnnCommon.h, QnnTypes.h, QnnGraph.h,
 * HTP/QnnHtpGraph.h), and a small reference interpreter for QNN graphs
 * built through QnnTensor_createGraphTensor and QnnGraph_addNode. Used by
 * the fake libQnnHtp.so (fake_qnn.c) and by test_qnn_eval.
 *
 * The interpreter validates what QNN validates when a graph is built
 * (tensor declarations, op package and type, parameter names, kinds and
 * data types, input counts and data types, output dims against the dims
 * the op definition infers, single producers, connectivity at finalize)
 * and executes with f32 reference semantics of the QNN op definitions
 * (package "qti.aisw"): MatMul, ElementWiseAdd, ElementWiseMultiply,
 * ElementWiseDivide, ElementWiseSquareRoot, Sigmoid, ReduceMean, Reshape,
 * Concat, Softmax, Gather.
 *
 * Tensors are Qnn_Tensor_t version 1 (Qnn_TensorV1_t), laid out as the
 * QNN 2.x headers of current SDKs have them: the union also holds a
 * Qnn_TensorV2_t, so Qnn_Tensor_t is 144 bytes (the stride of every
 * Qnn_Tensor_t array), and Qnn_Scalar_t's union holds 8-byte members, so
 * its value sits at offset 8. Early 2.x headers (v1-only union, 4-byte
 * scalars) laid both out smaller. */
#ifndef ARIA_TESTS_QNN_EVAL_H
#define ARIA_TESTS_QNN_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- QnnCommon.h ------------------------------------------------------ */

typedef uint64_t Qnn_ErrorHandle_t;
typedef void *Qnn_Handle_t;
typedef Qnn_Handle_t Qnn_BackendHandle_t;
typedef Qnn_Handle_t Qnn_ContextHandle_t;
typedef Qnn_Handle_t Qnn_DeviceHandle_t;
typedef Qnn_Handle_t Qnn_GraphHandle_t;
typedef Qnn_Handle_t Qnn_LogHandle_t;
typedef Qnn_Handle_t Qnn_MemHandle_t;
typedef Qnn_Handle_t Qnn_ProfileHandle_t;
typedef Qnn_Handle_t Qnn_SignalHandle_t;

#define QNN_SUCCESS                               0
#define QNN_COMMON_ERROR_NOT_SUPPORTED            1000
#define QNN_COMMON_ERROR_MEM_ALLOC                1002
#define QNN_COMMON_ERROR_INVALID_ARGUMENT         1004
#define QNN_COMMON_ERROR_GENERAL                  1100
#define QNN_BACKEND_ERROR_INVALID_HANDLE          4011
#define QNN_CONTEXT_ERROR_INVALID_ARGUMENT        5000
#define QNN_CONTEXT_ERROR_INVALID_HANDLE          5002
#define QNN_GRAPH_ERROR_INVALID_ARGUMENT          6000
#define QNN_GRAPH_ERROR_INVALID_HANDLE            6001
#define QNN_GRAPH_ERROR_INVALID_NAME              6003
#define QNN_GRAPH_ERROR_INVALID_TENSOR            6004
#define QNN_GRAPH_ERROR_INVALID_OP_CONFIG         6005
#define QNN_GRAPH_ERROR_UNCONNECTED_NODE          6007
#define QNN_GRAPH_ERROR_FINALIZE_FAILED           6022
#define QNN_GRAPH_ERROR_GRAPH_NOT_FINALIZED       6023
#define QNN_GRAPH_ERROR_GRAPH_FINALIZED           6024
#define QNN_TENSOR_ERROR_INVALID_HANDLE           7001
#define QNN_TENSOR_ERROR_DOES_NOT_EXIST           7002
#define QNN_TENSOR_ERROR_ALREADY_EXISTS           7003
#define QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM     7004
#define QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM 7005
#define QNN_DEVICE_ERROR_INVALID_HANDLE           14000

/* ---- QnnTypes.h ------------------------------------------------------- */

typedef enum {
    QNN_DATATYPE_INT_8 = 0x0008,
    QNN_DATATYPE_INT_16 = 0x0016,
    QNN_DATATYPE_INT_32 = 0x0032,
    QNN_DATATYPE_INT_64 = 0x0064,
    QNN_DATATYPE_UINT_8 = 0x0108,
    QNN_DATATYPE_UINT_16 = 0x0116,
    QNN_DATATYPE_UINT_32 = 0x0132,
    QNN_DATATYPE_UINT_64 = 0x0164,
    QNN_DATATYPE_FLOAT_16 = 0x0216,
    QNN_DATATYPE_FLOAT_32 = 0x0232,
    QNN_DATATYPE_SFIXED_POINT_8 = 0x0308,
    QNN_DATATYPE_SFIXED_POINT_16 = 0x0316,
    QNN_DATATYPE_SFIXED_POINT_32 = 0x0332,
    QNN_DATATYPE_UFIXED_POINT_8 = 0x0408,
    QNN_DATATYPE_UFIXED_POINT_16 = 0x0416,
    QNN_DATATYPE_UFIXED_POINT_32 = 0x0432,
    QNN_DATATYPE_BOOL_8 = 0x0508,
    QNN_DATATYPE_UNDEFINED = 0x7FFFFFFF
} Qnn_DataType_t;

typedef enum {
    QNN_PRECISION_FLOAT32 = 0,
    QNN_PRECISION_FLOAT16 = 1,
    QNN_PRECISION_UNDEFINED = 0x7FFFFFFF
} Qnn_Precision_t;

typedef enum {
    QNN_TENSOR_TYPE_APP_WRITE = 0,
    QNN_TENSOR_TYPE_APP_READ = 1,
    QNN_TENSOR_TYPE_APP_READWRITE = 2,
    QNN_TENSOR_TYPE_NATIVE = 3,
    QNN_TENSOR_TYPE_STATIC = 4,
    QNN_TENSOR_TYPE_NULL = 5,
    QNN_TENSOR_TYPE_UNDEFINED = 0x7FFFFFFF
} Qnn_TensorType_t;

typedef enum {
    QNN_PARAMTYPE_SCALAR = 0,
    QNN_PARAMTYPE_TENSOR = 1,
    QNN_PARAMTYPE_UNDEFINED = 0xFFFFFFFF
} Qnn_ParamType_t;

typedef enum {
    QNN_DEFINITION_IMPL_GENERATED = 0,
    QNN_DEFINITION_DEFINED = 1,
    QNN_DEFINITION_UNDEFINED = 0x7FFFFFFF
} Qnn_Definition_t;

typedef enum {
    QNN_QUANTIZATION_ENCODING_SCALE_OFFSET = 0,
    QNN_QUANTIZATION_ENCODING_AXIS_SCALE_OFFSET = 1,
    QNN_QUANTIZATION_ENCODING_BW_SCALE_OFFSET = 2,
    QNN_QUANTIZATION_ENCODING_BW_AXIS_SCALE_OFFSET = 3,
    QNN_QUANTIZATION_ENCODING_UNDEFINED = 0x7FFFFFFF
} Qnn_QuantizationEncoding_t;

typedef struct {
    Qnn_DataType_t dataType;
    union {
        float floatValue;
        uint32_t uint32Value;
        int32_t int32Value;
        uint16_t uint16Value;
        int16_t int16Value;
        uint8_t uint8Value;
        int8_t int8Value;
        uint8_t bool8Value;
        double doubleValue;
        uint64_t uint64Value;
        int64_t int64Value;
        const char *stringValue;
    };
} Qnn_Scalar_t;

typedef struct {
    float scale;
    int32_t offset;
} Qnn_ScaleOffset_t;

typedef struct {
    int32_t axis;
    uint32_t numScaleOffsets;
    Qnn_ScaleOffset_t *scaleOffset;
} Qnn_AxisScaleOffset_t;

typedef struct {
    uint32_t bitwidth;
    float scale;
    int32_t offset;
} Qnn_BwScaleOffset_t;

typedef struct {
    uint32_t bitwidth;
    int32_t axis;
    uint32_t numElements;
    float *scales;
    int32_t *offsets;
} Qnn_BwAxisScaleOffset_t;

typedef struct {
    Qnn_Definition_t encodingDefinition;
    Qnn_QuantizationEncoding_t quantizationEncoding;
    union {
        Qnn_ScaleOffset_t scaleOffsetEncoding;
        Qnn_AxisScaleOffset_t axisScaleOffsetEncoding;
        Qnn_BwScaleOffset_t bwScaleOffsetEncoding;
        Qnn_BwAxisScaleOffset_t bwAxisScaleOffsetEncoding;
    };
} Qnn_QuantizeParams_t;

#define QNN_TENSOR_DATA_FORMAT_FLAT_BUFFER 0
typedef uint32_t Qnn_TensorDataFormat_t;

typedef enum {
    QNN_TENSORMEMTYPE_RAW = 0,
    QNN_TENSORMEMTYPE_MEMHANDLE = 1,
    QNN_TENSORMEMTYPE_UNDEFINED = 0x7FFFFFFF
} Qnn_TensorMemType_t;

typedef struct {
    void *data;
    uint32_t dataSize;
} Qnn_ClientBuffer_t;

typedef struct {
    uint32_t id;
    const char *name;
    Qnn_TensorType_t type;
    Qnn_TensorDataFormat_t dataFormat;
    Qnn_DataType_t dataType;
    Qnn_QuantizeParams_t quantizeParams;
    uint32_t rank;
    uint32_t *dimensions;
    Qnn_TensorMemType_t memType;
    union {
        Qnn_ClientBuffer_t clientBuf;
        Qnn_MemHandle_t memHandle;
    };
} Qnn_TensorV1_t;

/* Qnn_TensorV2_t: the fields of version 1, then isDynamicDimensions,
 * sparseParams {type; union {hybridCoo {numSpecifiedElements,
 * numSparseDimensions}}} and isProduced. Only its size matters here. */
typedef struct {
    Qnn_TensorV1_t v1_fields;
    uint8_t *isDynamicDimensions;
    struct {
        uint32_t type;
        uint32_t numSpecifiedElements, numSparseDimensions;
    } sparseParams;
    uint8_t isProduced;
} Qnn_TensorV2_t;

typedef enum {
    QNN_TENSOR_VERSION_1 = 1,
    QNN_TENSOR_VERSION_2 = 2,
    QNN_TENSOR_VERSION_UNDEFINED = 0x7FFFFFFF
} Qnn_TensorVersion_t;

typedef struct {
    Qnn_TensorVersion_t version;
    union {
        Qnn_TensorV1_t v1;
        Qnn_TensorV2_t v2;
    };
} Qnn_Tensor_t;

typedef struct {
    Qnn_ParamType_t paramType;
    const char *name;
    union {
        Qnn_Scalar_t scalarParam;
        Qnn_Tensor_t tensorParam;
    };
} Qnn_Param_t;

typedef struct {
    const char *name;
    const char *packageName;
    const char *typeName;
    uint32_t numOfParams;
    Qnn_Param_t *params;
    uint32_t numOfInputs;
    Qnn_Tensor_t *inputTensors;
    uint32_t numOfOutputs;
    Qnn_Tensor_t *outputTensors;
} Qnn_OpConfigV1_t;

typedef enum {
    QNN_OPCONFIG_VERSION_1 = 1,
    QNN_OPCONFIG_VERSION_UNDEFINED = 0x7FFFFFFF
} Qnn_OpConfigVersion_t;

typedef struct {
    Qnn_OpConfigVersion_t version;
    union {
        Qnn_OpConfigV1_t v1;
    };
} Qnn_OpConfig_t;

/* ---- QnnGraph.h, HTP/QnnHtpGraph.h ------------------------------------ */

typedef enum {
    QNN_GRAPH_CONFIG_OPTION_CUSTOM = 0,
    QNN_GRAPH_CONFIG_OPTION_PRIORITY = 3,
    QNN_GRAPH_CONFIG_OPTION_PROFILE_HANDLE = 4,
    QNN_GRAPH_CONFIG_OPTION_UNDEFINED = 0x7FFFFFFF
} QnnGraph_ConfigOption_t;

typedef struct {
    QnnGraph_ConfigOption_t option;
    union {
        void *customConfig;
        uint32_t priority; /* Qnn_Priority_t */
        Qnn_ProfileHandle_t profileHandle;
    };
} QnnGraph_Config_t;

typedef enum {
    QNN_HTP_GRAPH_OPTIMIZATION_TYPE_SCHEDULE_THRESHOLD = 1,
    QNN_HTP_GRAPH_OPTIMIZATION_TYPE_FINALIZE_RETRIES = 2,
    QNN_HTP_GRAPH_OPTIMIZATION_TYPE_FINALIZE_OPTIMIZATION_FLAG = 3,
    QNN_HTP_GRAPH_OPTIMIZATION_TYPE_ENABLE_DLBC = 4,
    QNN_HTP_GRAPH_OPTIMIZATION_TYPE_UNKNOWN = 0x7fffffff
} QnnHtpGraph_OptimizationType_t;

typedef struct {
    QnnHtpGraph_OptimizationType_t type;
    float floatValue;
} QnnHtpGraph_OptimizationOption_t;

typedef enum {
    QNN_HTP_GRAPH_CONFIG_OPTION_OPTIMIZATION = 1,
    QNN_HTP_GRAPH_CONFIG_OPTION_PRECISION = 2,
    QNN_HTP_GRAPH_CONFIG_OPTION_VTCM_SIZE = 3,
    QNN_HTP_GRAPH_CONFIG_OPTION_FOLD_RELU_ACTIVATION_INTO_CONV_OFF = 4,
    QNN_HTP_GRAPH_CONFIG_OPTION_SHORT_DEPTH_CONV_ON_HMX_OFF = 5,
    QNN_HTP_GRAPH_CONFIG_OPTION_NUM_HVX_THREADS = 6,
    QNN_HTP_GRAPH_CONFIG_OPTION_UNKNOWN = 0x7fffffff
} QnnHtpGraph_ConfigOption_t;

typedef struct {
    QnnHtpGraph_ConfigOption_t option;
    union {
        QnnHtpGraph_OptimizationOption_t optimizationOption;
        Qnn_Precision_t precision;
        uint32_t vtcmSizeInMB;
        bool foldReluActivationIntoConvOff;
        bool shortDepthConvOnHmxOff;
        uint64_t numHvxThreads;
    };
} QnnHtpGraph_CustomConfig_t;

/* LP64 layout, as the headers give it. */
_Static_assert(sizeof(void *) == 8, "LP64 only");
_Static_assert(sizeof(Qnn_Scalar_t) == 16, "Qnn_Scalar_t");
_Static_assert(offsetof(Qnn_Scalar_t, floatValue) == 8, "Qnn_Scalar_t value");
_Static_assert(sizeof(Qnn_TensorV2_t) == 136, "Qnn_TensorV2_t");
_Static_assert(sizeof(Qnn_QuantizeParams_t) == 40, "Qnn_QuantizeParams_t");
_Static_assert(sizeof(Qnn_ClientBuffer_t) == 16, "Qnn_ClientBuffer_t");
_Static_assert(offsetof(Qnn_TensorV1_t, id) == 0, "v1.id");
_Static_assert(offsetof(Qnn_TensorV1_t, name) == 8, "v1.name");
_Static_assert(offsetof(Qnn_TensorV1_t, type) == 16, "v1.type");
_Static_assert(offsetof(Qnn_TensorV1_t, dataFormat) == 20, "v1.dataFormat");
_Static_assert(offsetof(Qnn_TensorV1_t, dataType) == 24, "v1.dataType");
_Static_assert(offsetof(Qnn_TensorV1_t, quantizeParams) == 32, "v1.quantizeParams");
_Static_assert(offsetof(Qnn_TensorV1_t, rank) == 72, "v1.rank");
_Static_assert(offsetof(Qnn_TensorV1_t, dimensions) == 80, "v1.dimensions");
_Static_assert(offsetof(Qnn_TensorV1_t, memType) == 88, "v1.memType");
_Static_assert(offsetof(Qnn_TensorV1_t, clientBuf) == 96, "v1.clientBuf");
_Static_assert(sizeof(Qnn_TensorV1_t) == 112, "Qnn_TensorV1_t");
_Static_assert(offsetof(Qnn_Tensor_t, v1) == 8, "Qnn_Tensor_t.v1");
_Static_assert(sizeof(Qnn_Tensor_t) == 144, "Qnn_Tensor_t (v1 and v2 in the union)");
_Static_assert(offsetof(Qnn_Param_t, name) == 8, "Qnn_Param_t.name");
_Static_assert(offsetof(Qnn_Param_t, scalarParam) == 16, "Qnn_Param_t.scalarParam");
_Static_assert(sizeof(Qnn_Param_t) == 160, "Qnn_Param_t");
_Static_assert(offsetof(Qnn_OpConfigV1_t, numOfParams) == 24, "numOfParams");
_Static_assert(offsetof(Qnn_OpConfigV1_t, params) == 32, "params");
_Static_assert(offsetof(Qnn_OpConfigV1_t, numOfInputs) == 40, "numOfInputs");
_Static_assert(offsetof(Qnn_OpConfigV1_t, inputTensors) == 48, "inputTensors");
_Static_assert(offsetof(Qnn_OpConfigV1_t, numOfOutputs) == 56, "numOfOutputs");
_Static_assert(offsetof(Qnn_OpConfigV1_t, outputTensors) == 64, "outputTensors");
_Static_assert(sizeof(Qnn_OpConfigV1_t) == 72, "Qnn_OpConfigV1_t");
_Static_assert(offsetof(Qnn_OpConfig_t, v1) == 8, "Qnn_OpConfig_t.v1");
_Static_assert(sizeof(Qnn_OpConfig_t) == 80, "Qnn_OpConfig_t");
_Static_assert(sizeof(QnnGraph_Config_t) == 16, "QnnGraph_Config_t");
_Static_assert(offsetof(QnnHtpGraph_CustomConfig_t, precision) == 8, "HTP custom config");
_Static_assert(sizeof(QnnHtpGraph_CustomConfig_t) == 16, "QnnHtpGraph_CustomConfig_t");

/* ---- the interpreter -------------------------------------------------- */

#define QE_MAX_RANK 8

typedef struct qe_graph qe_graph;

/* Every failing call returns a QNN error code and writes a message into
 * err (cap bytes; err may be NULL). */
qe_graph *qe_graph_new(const char *name);
void qe_graph_free(qe_graph *g);
const char *qe_graph_name(const qe_graph *g);
bool qe_graph_finalized(const qe_graph *g);
uint32_t qe_graph_num_tensors(const qe_graph *g);
uint32_t qe_graph_num_nodes(const qe_graph *g);

/* QnnTensor_createGraphTensor: validates and records the tensor, copies a
 * STATIC tensor's client buffer, writes the new id into t->v1.id. */
Qnn_ErrorHandle_t qe_tensor_create(qe_graph *g, Qnn_Tensor_t *t, char *err, size_t cap);

/* QnnGraph_addNode: validates and records the node. */
Qnn_ErrorHandle_t qe_add_node(qe_graph *g, const Qnn_OpConfig_t *op, char *err, size_t cap);

/* QnnGraph_finalize: connectivity, execution order, buffers. */
Qnn_ErrorHandle_t qe_finalize(qe_graph *g, char *err, size_t cap);

/* QnnGraph_execute: inputs/outputs matched by id. */
Qnn_ErrorHandle_t qe_execute(qe_graph *g, const Qnn_Tensor_t *inputs, uint32_t num_inputs,
                             Qnn_Tensor_t *outputs, uint32_t num_outputs, char *err, size_t cap);

/* "FLOAT_32", "INT_32", ... ("0x...." for others, into a static buffer) */
const char *qe_dtype_name(Qnn_DataType_t t);
/* "APP_WRITE", "APP_READ", "NATIVE", "STATIC", ... */
const char *qe_ttype_name(Qnn_TensorType_t t);
/* "[1,32]" into buf; returns buf */
char *qe_dims_str(const uint32_t *dims, uint32_t rank, char *buf, size_t cap);

#endif
