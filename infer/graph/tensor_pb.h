/* Internal to infer/: ONNX TensorProto <-> inf_tensor, for initializers, Constant
 * nodes, tensor attributes and the .pb files of the ONNX test data. */
#ifndef INF_TENSOR_PB_H
#define INF_TENSOR_PB_H

#include <stddef.h>

#include "onnx.pb-c.h"
#include "graph.h"

/* Fills t's dtype, dims and a malloc'd copy of the data (t->is_const set). Returns
 * VP_EUNSUP for external data or a dtype the engine lacks, VP_EMODEL for sizes that
 * disagree; err gets the reason. */
int inf_tensor_from_proto(const Onnx__TensorProto *tp, inf_tensor *t, char *err, size_t errlen);

/* Reads a whole file into a malloc'd buffer; -errno on failure. */
int inf_read_file(const char *path, uint8_t **buf, size_t *len);

#endif
