/*
 * io/pb_where.c - where a protobuf message breaks (io/pb_where.h).
 *
 * The wire format: a message is a run of fields, each a varint tag
 * (field_number << 3 | wire_type) and a payload: a varint (wire type 0), 8
 * bytes (1), a varint length and that many bytes (2: strings, bytes,
 * sub-messages, packed arrays) or 4 bytes (5). Wire types 3 and 4 are the
 * deprecated groups, which onnx.proto does not use.
 */
#include <stdio.h>
#include <string.h>

#include "io/pb_where.h"

enum { MAX_DEPTH = 64, MAX_COUNTED_FIELDS = 64 };

typedef struct walk {
    const uint8_t *base; /* the whole buffer: offsets are reported from its start */
    char *buf;
    size_t buf_len;
} walk;

/* Read a varint at base[*pos], not past end; 0 if cut short or over 10 bytes. */
static int read_varint(const uint8_t *base, size_t *pos, size_t end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *pos < end; shift += 7) {
        uint8_t b = base[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* The wire type a field of this type is written with (packed arrays aside). */
static unsigned natural_wire_type(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT: return 5;
    case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE: return 1;
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES: case PROTOBUF_C_TYPE_MESSAGE: return 2;
    default: return 0; /* the varint types: ints, bool, enum */
    }
}

/* Whether a packed array's bytes [pos, end) are whole elements of wire type `wire`. */
static int packed_fits(const uint8_t *base, size_t pos, size_t end, unsigned wire)
{
    if (wire == 5) return (end - pos) % 4 == 0;
    if (wire == 1) return (end - pos) % 8 == 0;
    uint64_t v;
    while (pos < end)
        if (!read_varint(base, &pos, end, &v)) return 0;
    return 1;
}

static int fail(walk *w, size_t at, const char *path, const char *problem)
{
    snprintf(w->buf, w->buf_len, "byte %zu in %s: %s", at, *path ? path : "the model", problem);
    return 1;
}

static int walk_message(walk *w, const ProtobufCMessageDescriptor *desc, size_t pos, size_t end, const char *path,
                        int depth);

/* Descend into a sub-message field, its path extended by name[index]. */
static int walk_child(walk *w, const ProtobufCFieldDescriptor *f, unsigned index, size_t pos, size_t end,
                      const char *path, int depth)
{
    char child[512];
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        snprintf(child, sizeof child, "%s%s%s[%u]", path, *path ? "." : "", f->name, index);
    else snprintf(child, sizeof child, "%s%s%s", path, *path ? "." : "", f->name);
    return walk_message(w, f->descriptor, pos, end, child, depth + 1);
}

static int walk_message(walk *w, const ProtobufCMessageDescriptor *desc, size_t pos, size_t end, const char *path,
                        int depth)
{
    char problem[256];
    unsigned seen[MAX_COUNTED_FIELDS] = {0}; /* occurrences by field index: the [i] of repeated fields */
    if (depth > MAX_DEPTH) return 0; /* not inspected further: claim nothing about it */
    while (pos < end) {
        size_t at = pos;
        uint64_t tag, len = 0;
        if (!read_varint(w->base, &pos, end, &tag)) return fail(w, at, path, "a field tag is cut short");
        unsigned wire = (unsigned)(tag & 7);
        uint64_t number = tag >> 3;
        if (number == 0 || number > 0x1fffffff) return fail(w, at, path, "a field tag has field number 0 or too large");
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, (unsigned)number);
        const char *name = f ? f->name : "unknown";
        size_t need = wire == 1 ? 8 : wire == 5 ? 4 : 0;
        if (wire == 0 && !read_varint(w->base, &pos, end, &len)) {
            snprintf(problem, sizeof problem, "the value of field '%s' (%llu) is cut short", name,
                     (unsigned long long)number);
            return fail(w, at, path, problem);
        }
        if (wire == 2) {
            if (!read_varint(w->base, &pos, end, &len)) {
                snprintf(problem, sizeof problem, "the length of field '%s' (%llu) is cut short", name,
                         (unsigned long long)number);
                return fail(w, at, path, problem);
            }
            if (len > end - pos) {
                snprintf(problem, sizeof problem, "field '%s' (%llu) declares %llu bytes but only %zu remain before "
                         "byte %zu", name, (unsigned long long)number, (unsigned long long)len, end - pos, end);
                return fail(w, at, path, problem);
            }
            need = (size_t)len;
        }
        if (wire == 3 || wire == 4 || wire > 5) {
            snprintf(problem, sizeof problem, "field '%s' (%llu) has wire type %u (%s)", name,
                     (unsigned long long)number, wire, wire > 5 ? "no such wire type" : "groups are not supported");
            return fail(w, at, path, problem);
        }
        if (need > end - pos) {
            snprintf(problem, sizeof problem, "field '%s' (%llu) needs %zu bytes but only %zu remain", name,
                     (unsigned long long)number, need, end - pos);
            return fail(w, at, path, problem);
        }
        if (f) {
            unsigned want = natural_wire_type(f->type);
            int packed = f->label == PROTOBUF_C_LABEL_REPEATED && wire == 2 && want != 2;
            if (wire != want && !packed) {
                snprintf(problem, sizeof problem, "field '%s' (%llu) has wire type %u, expected %u", name,
                         (unsigned long long)number, wire, want);
                return fail(w, at, path, problem);
            }
            if (packed && !packed_fits(w->base, pos, pos + need, want)) {
                snprintf(problem, sizeof problem, "packed field '%s' (%llu) of %zu bytes does not hold whole %s",
                         name, (unsigned long long)number, need, want == 0 ? "varints" : "elements");
                return fail(w, at, path, problem);
            }
            size_t k = (size_t)(f - desc->fields);
            unsigned index = k < MAX_COUNTED_FIELDS ? seen[k]++ : 0;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && walk_child(w, f, index, pos, pos + need, path, depth)) return 1;
        }
        pos += need;
    }
    return 0;
}

int foilPbWhere(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, char *buf, size_t buf_len)
{
    walk w = {data, buf, buf_len};
    return walk_message(&w, desc, 0, len, "", 0);
}
