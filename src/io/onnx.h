/*
 * io/onnx.h - ONNX import and export (internal; the public face is foil/model.h).
 */
#ifndef FOIL_IO_ONNX_H
#define FOIL_IO_ONNX_H

#include "foil/tensor.h"
#include "nn/graph.h"

/* Parse an ONNX model file into a finalized graph (ops found, attributes
 * checked). Errors name the file, the node and the problem. */
foil_status foil_onnx_load(const char *path, foil_graph **out);

/* Write the graph, with its current weights, as an ONNX model (atomically). */
foil_status foil_onnx_save(const foil_graph *g, const char *path);

/* Read one serialized TensorProto (the .pb files of ONNX's test data). */
foil_status foil_onnx_read_tensor(const char *path, foil_tensor *out);

#endif
