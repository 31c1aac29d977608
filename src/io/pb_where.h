/*
 * io/pb_where.h - where a protobuf message breaks (internal).
 *
 * protobuf-c's unpack says only that parsing failed. foilPbWhere walks
 * the wire format along the message's descriptors (onnx.proto's, generated
 * by protoc-c) and describes the first place where it breaks: a tag or
 * varint cut short, a length running past the end of its enclosing
 * message, a wire type the field cannot have, a field number 0, a group.
 */
#ifndef FOIL_IO_PB_WHERE_H
#define FOIL_IO_PB_WHERE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Write "byte OFFSET in PATH: PROBLEM" (PATH like graph.node[3].attribute[0])
 * to buf and return 1, or return 0 when every field is well framed (the
 * problem is then in a value, which protobuf-c does not name). */
int foilPbWhere(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, char *buf,
                  size_t buf_len);

#endif
