/*
 * io/onnx.h - ONNX import and export (internal; the public face is foil/model.h).
 */
#ifndef FOIL_IO_ONNX_H
#define FOIL_IO_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "foil/tensor.h"
#include "nn/graph.h"

/* Parse an ONNX model file into a finalized graph (ops found, attributes
 * checked). Errors name the file, the node and the problem. */
foil_status foilOnnxLoad(const char *path, FoilGraph **out);

/* The same, from bytes in memory; `path` names them in messages. */
foil_status foilOnnxLoadBuffer(const void *data, size_t len, const char *path, FoilGraph **out);

/* Serialize the graph, with its current weights, into a malloc'd buffer. */
foil_status foilOnnxSaveBuffer(const FoilGraph *g, uint8_t **data, size_t *len);

/* Write the graph, with its current weights, as an ONNX model (atomically). */
foil_status foilOnnxSave(const FoilGraph *g, const char *path);

/* Read one serialized TensorProto (the .pb files of ONNX's test data). */
foil_status foilOnnxReadTensor(const char *path, foil_tensor *out);

#endif
