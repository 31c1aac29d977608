/*
 * io/vnnlib.c - the VNN-LIB property parser (foil/vnnlib.h is the design:
 * what is read, what a property means, the limits).
 *
 * Two steps. The text becomes a tree of S-expressions (an iterative reader,
 * depth-limited, every node with its line); then the top-level commands are
 * read in order: declarations, input bounds, and output formulas, which are
 * turned into disjunctive normal form over atoms (A - B <= 0) and finally
 * into the spec rows C_r . Y <= d_r. It is not an SMT-LIB reader: no let,
 * no arithmetic terms, no strict comparisons, no define-fun.
 */
#include <ctype.h>
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/vnnlib.h"
#include "io/file.h"

enum {
    MAX_DEPTH = 100,
    MAX_TOKEN = 256,
    MAX_VARS = 1 << 24,
    MAX_DISJUNCTS = 65536,
    MAX_COEFS = 1 << 26,
};
#define MAX_FILE ((size_t)1 << 30)

typedef struct Node {
    int list;               /* 1: ( ... ), 0: a token */
    int line;
    const char *tok;        /* token text (not NUL-terminated) */
    int len;
    int64_t child, next;    /* first child, next sibling: indices, -1 none */
} Node;

/* An atom A - B <= 0 over outputs; a term is a Y index or a constant. */
typedef struct Atom {
    int64_t ya, yb;         /* -1: a constant */
    float ca_lo, ca_hi, cb_lo, cb_hi;
} Atom;

/* A formula in DNF: n disjuncts, disjunct i is atoms[off[i] .. off[i+1]). */
typedef struct Dnf {
    int64_t n, n_atoms;
    int64_t *off, *atoms;
} Dnf;

typedef struct Parser {
    const char *name;
    const char *text;
    size_t len;
    Node *nodes;
    int64_t n_nodes, cap_nodes;
    Atom *atoms;
    int64_t n_atoms, cap_atoms;
    uint8_t *x_decl, *y_decl;   /* declared flags, by index (grown) */
    int64_t x_cap, y_cap, n_x, n_y, max_x, max_y;
    float *lo, *hi, *lo_in, *hi_in; /* by X index (grown with x_decl) */
    uint8_t *has_lo, *has_hi;
    Dnf out;                    /* the conjunction of the output asserts so far */
} Parser;

static foil_status perr(const Parser *p, int line, foil_status code, const char *fmt, const char *a, int alen)
{
    char what[MAX_TOKEN + 8];
    if (a) snprintf(what, sizeof what, "%.*s", alen, a);
    else what[0] = 0;
    char msg[512];
    snprintf(msg, sizeof msg, fmt, what);
    return foil_error(code, "%s:%d: %s", p->name, line, msg);
}

static foil_status nomem(const Parser *p) { return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", p->name); }

/* ---- step 1: the S-expression tree ---- */

static int64_t new_node(Parser *p, int list, int line, const char *tok, int len)
{
    if (p->n_nodes == p->cap_nodes) {
        int64_t cap = p->cap_nodes ? 2 * p->cap_nodes : 1024;
        Node *n = realloc(p->nodes, (size_t)cap * sizeof *n);
        if (!n) return -1;
        p->nodes = n;
        p->cap_nodes = cap;
    }
    p->nodes[p->n_nodes] = (Node){list, line, tok, len, -1, -1};
    return p->n_nodes++;
}

/* Reads the whole text into a list of top-level nodes (a virtual root, node 0). */
static foil_status read_tree(Parser *p)
{
    int64_t stack[MAX_DEPTH + 1], last[MAX_DEPTH + 1];
    int depth = 0, line = 1;
    int open_line[MAX_DEPTH + 1];
    if (new_node(p, 1, 1, NULL, 0) < 0) return nomem(p);
    stack[0] = 0, last[0] = -1, open_line[0] = 1;
    for (size_t i = 0; i < p->len;) {
        unsigned char c = (unsigned char)p->text[i];
        if (c == '\n') {
            line++, i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        if (c == ';') {
            while (i < p->len && p->text[i] != '\n') i++;
            continue;
        }
        int64_t node;
        if (c == ')') {
            if (depth == 0) return perr(p, line, FOIL_ERR_FORMAT, "unexpected ')'", NULL, 0);
            depth--, i++;
            continue;
        }
        if (c == '(') {
            if (depth == MAX_DEPTH)
                return perr(p, line, FOIL_ERR_FORMAT, "nesting deeper than 100 levels", NULL, 0);
            node = new_node(p, 1, line, p->text + i, 1);
            i++;
        } else if (c == '|' || c == '"') {
            return perr(p, line, FOIL_ERR_UNSUPPORTED, "quoted symbols and strings are not supported", NULL, 0);
        } else if (c < 0x21 || c > 0x7e) {
            return foil_error(FOIL_ERR_FORMAT, "%s:%d: unexpected byte 0x%02x", p->name, line, c);
        } else {
            size_t j = i;
            while (j < p->len && p->text[j] > 0x20 && p->text[j] < 0x7f && p->text[j] != '(' && p->text[j] != ')' &&
                   p->text[j] != ';' && p->text[j] != '|' && p->text[j] != '"')
                j++;
            if (j - i > MAX_TOKEN) return perr(p, line, FOIL_ERR_FORMAT, "a token longer than 256 characters", NULL, 0);
            node = new_node(p, 0, line, p->text + i, (int)(j - i));
            i = j;
        }
        if (node < 0) return nomem(p);
        int64_t parent = stack[depth];
        if (last[depth] < 0) p->nodes[parent].child = node;
        else p->nodes[last[depth]].next = node;
        last[depth] = node;
        if (p->nodes[node].list) {
            depth++;
            stack[depth] = node, last[depth] = -1, open_line[depth] = line;
        }
    }
    if (depth > 0) return perr(p, open_line[depth], FOIL_ERR_FORMAT, "'(' is never closed", NULL, 0);
    return FOIL_OK;
}

/* ---- step 2: commands ---- */

static int tok_is(const Node *n, const char *s) { return !n->list && (int)strlen(s) == n->len && !memcmp(n->tok, s, (size_t)n->len); }

static int64_t count_children(const Parser *p, const Node *n)
{
    int64_t k = 0;
    for (int64_t c = n->child; c >= 0; c = p->nodes[c].next) k++;
    return k;
}

/* X_i or Y_j: kind 'X' / 'Y' and index, or 0 when the token is not one. */
static int var_of(const Node *n, int64_t *index)
{
    if (n->list || n->len < 3 || (n->tok[0] != 'X' && n->tok[0] != 'Y') || n->tok[1] != '_') return 0;
    if (n->len > 3 && n->tok[2] == '0') return 0; /* no leading zeros: one name per variable */
    int64_t v = 0;
    for (int i = 2; i < n->len; i++) {
        if (!isdigit((unsigned char)n->tok[i])) return 0;
        v = v * 10 + (n->tok[i] - '0');
        if (v >= MAX_VARS) return -1;
    }
    *index = v;
    return n->tok[0];
}

/* A decimal constant: -?digits(.digits)?([eE][+-]?digits)?, rounded down and
 * up to float. 0: not a number; -1: out of float range. */
static int number_of(const Node *n, float *lo, float *hi)
{
    if (n->list) return 0;
    const char *s = n->tok;
    int i = 0, digits = 0;
    if (i < n->len && s[i] == '-') i++;
    while (i < n->len && isdigit((unsigned char)s[i])) i++, digits++;
    if (i < n->len && s[i] == '.') {
        i++;
        while (i < n->len && isdigit((unsigned char)s[i])) i++, digits++;
    }
    if (!digits) return 0;
    if (i < n->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n->len && (s[i] == '+' || s[i] == '-')) i++;
        int e = 0;
        while (i < n->len && isdigit((unsigned char)s[i])) i++, e++;
        if (!e) return 0;
    }
    if (i != n->len) return 0;
    char buf[MAX_TOKEN + 1];
    memcpy(buf, s, (size_t)n->len);
    buf[n->len] = 0;
    int mode = fegetround();
    fesetround(FE_DOWNWARD);
    float a = strtof(buf, NULL);
    fesetround(FE_UPWARD);
    float b = strtof(buf, NULL);
    fesetround(mode);
    if (!isfinite(a) || !isfinite(b)) return -1;
    *lo = a, *hi = b;
    return 1;
}

static foil_status grow_vars(Parser *p, int kind, int64_t index)
{
    int64_t *cap = kind == 'X' ? &p->x_cap : &p->y_cap;
    if (index < *cap) return FOIL_OK;
    int64_t n = *cap ? *cap : 64;
    while (n <= index) n *= 2;
    if (kind == 'X') {
        uint8_t *d = realloc(p->x_decl, (size_t)n), *hl = realloc(p->has_lo, (size_t)n);
        if (d) p->x_decl = d;
        if (hl) p->has_lo = hl;
        uint8_t *hh = realloc(p->has_hi, (size_t)n);
        if (hh) p->has_hi = hh;
        float *f[4] = {realloc(p->lo, (size_t)n * sizeof(float)), NULL, NULL, NULL};
        if (f[0]) p->lo = f[0];
        f[1] = realloc(p->hi, (size_t)n * sizeof(float));
        if (f[1]) p->hi = f[1];
        f[2] = realloc(p->lo_in, (size_t)n * sizeof(float));
        if (f[2]) p->lo_in = f[2];
        f[3] = realloc(p->hi_in, (size_t)n * sizeof(float));
        if (f[3]) p->hi_in = f[3];
        if (!d || !hl || !hh || !f[0] || !f[1] || !f[2] || !f[3]) return nomem(p);
        memset(p->x_decl + *cap, 0, (size_t)(n - *cap));
        memset(p->has_lo + *cap, 0, (size_t)(n - *cap));
        memset(p->has_hi + *cap, 0, (size_t)(n - *cap));
    } else {
        uint8_t *d = realloc(p->y_decl, (size_t)n);
        if (!d) return nomem(p);
        p->y_decl = d;
        memset(p->y_decl + *cap, 0, (size_t)(n - *cap));
    }
    *cap = n;
    return FOIL_OK;
}

static foil_status declare(Parser *p, const Node *cmd)
{
    const Node *name = cmd->child >= 0 && p->nodes[cmd->child].next >= 0 ? &p->nodes[p->nodes[cmd->child].next] : NULL;
    const Node *type = name && name->next >= 0 ? &p->nodes[name->next] : NULL;
    if (!name || !type || type->next >= 0)
        return perr(p, cmd->line, FOIL_ERR_FORMAT, "declare-const takes a name and a sort", NULL, 0);
    int64_t index = 0;
    int kind = var_of(name, &index);
    if (kind < 0) return perr(p, name->line, FOIL_ERR_UNSUPPORTED, "variable '%s': index too large (at most 2^24 variables)", name->tok, name->len);
    if (!kind)
        return perr(p, name->line, FOIL_ERR_UNSUPPORTED, "variable '%s': names must be X_<index> (inputs) or Y_<index> (outputs)", name->tok, name->len);
    if (!tok_is(type, "Real")) return perr(p, type->line, FOIL_ERR_UNSUPPORTED, "variable sort '%s': only Real is supported", type->list ? "(...)" : type->tok, type->list ? 5 : type->len);
    /* X_0 .. X_i must all be declared, each taking 24 bytes at least: an
     * index beyond that is an error now, not an allocation of its size */
    if ((uint64_t)index >= p->len / 16)
        return perr(p, name->line, FOIL_ERR_FORMAT, "variable '%s': the file is too short to declare every variable below it", name->tok, name->len);
    foil_status st = grow_vars(p, kind, index);
    if (st) return st;
    uint8_t *decl = kind == 'X' ? p->x_decl : p->y_decl;
    if (decl[index]) return perr(p, name->line, FOIL_ERR_FORMAT, "'%s' is declared twice", name->tok, name->len);
    decl[index] = 1;
    if (kind == 'X') {
        p->n_x++;
        if (index + 1 > p->max_x) p->max_x = index + 1;
        p->has_lo[index] = p->has_hi[index] = 0;
    } else {
        p->n_y++;
        if (index + 1 > p->max_y) p->max_y = index + 1;
    }
    return FOIL_OK;
}

/* A term: a declared variable or a constant. kind 'X', 'Y' or 'C'. */
static foil_status term(const Parser *p, const Node *n, int *kind, int64_t *index, float *lo, float *hi)
{
    if (n->list) return perr(p, n->line, FOIL_ERR_UNSUPPORTED, "a comparison's operands must be variables or constants, not a list", NULL, 0);
    int k = var_of(n, index);
    if (k > 0) {
        const uint8_t *decl = k == 'X' ? p->x_decl : p->y_decl;
        int64_t cap = k == 'X' ? p->x_cap : p->y_cap;
        if (*index >= cap || !decl[*index]) return perr(p, n->line, FOIL_ERR_FORMAT, "'%s' is not declared", n->tok, n->len);
        *kind = k;
        return FOIL_OK;
    }
    int num = number_of(n, lo, hi);
    if (num < 0) return perr(p, n->line, FOIL_ERR_FORMAT, "constant '%s' is out of float range", n->tok, n->len);
    if (num > 0) {
        *kind = 'C';
        return FOIL_OK;
    }
    return perr(p, n->line, FOIL_ERR_FORMAT, "'%s' is neither a declared variable nor a decimal constant", n->tok, n->len);
}

/* A comparison node's operator: '<' for <=, '>' for >=, 0 for another. */
static int cmp_op(const Parser *p, const Node *n)
{
    if (!n->list || n->child < 0) return 0;
    const Node *op = &p->nodes[n->child];
    return tok_is(op, "<=") ? '<' : tok_is(op, ">=") ? '>' : 0;
}

/* Whether the formula mentions an X / a Y (kinds: bit 1 X, bit 2 Y). */
static int mentions(const Parser *p, const Node *n)
{
    if (!n->list) {
        int64_t i;
        int k = var_of(n, &i);
        return k == 'X' ? 1 : k == 'Y' ? 2 : 0;
    }
    int m = 0;
    for (int64_t c = n->child; c >= 0; c = p->nodes[c].next) m |= mentions(p, &p->nodes[c]);
    return m;
}

static foil_status check_operator(const Parser *p, const Node *n)
{
    if (!n->list)
        return perr(p, n->line, FOIL_ERR_FORMAT, "expected a formula ((<= A B), (>= A B), (and ...), (or ...)), not '%s'", n->tok, n->len);
    if (n->child < 0) return perr(p, n->line, FOIL_ERR_FORMAT, "an empty formula '()'", NULL, 0);
    const Node *op = &p->nodes[n->child];
    if (op->list) return perr(p, n->line, FOIL_ERR_FORMAT, "a formula must start with an operator", NULL, 0);
    if (tok_is(op, "<=") || tok_is(op, ">=") || tok_is(op, "and") || tok_is(op, "or")) {
        if ((tok_is(op, "<=") || tok_is(op, ">=")) && count_children(p, n) != 3)
            return perr(p, n->line, FOIL_ERR_UNSUPPORTED, "'%s' takes exactly two operands here", op->tok, op->len);
        if ((tok_is(op, "and") || tok_is(op, "or")) && count_children(p, n) < 2)
            return perr(p, n->line, FOIL_ERR_FORMAT, "'%s' needs at least one operand", op->tok, op->len);
        return FOIL_OK;
    }
    return perr(p, op->line, FOIL_ERR_UNSUPPORTED, "operator '%s' is not supported (<=, >=, and, or)", op->tok, op->len);
}

/* An input bound: X_i against a constant. */
static foil_status input_bound(Parser *p, const Node *n)
{
    int op = cmp_op(p, n);
    const Node *a = &p->nodes[p->nodes[n->child].next], *b = &p->nodes[a->next];
    int ka, kb;
    int64_t ia = 0, ib = 0;
    float la = 0, ha = 0, lb = 0, hb = 0;
    foil_status st;
    if ((st = term(p, a, &ka, &ia, &la, &ha)) || (st = term(p, b, &kb, &ib, &lb, &hb))) return st;
    if (ka == 'Y' || kb == 'Y') return perr(p, n->line, FOIL_ERR_UNSUPPORTED, "a comparison between an input (X) and an output (Y) is not supported", NULL, 0);
    if (ka == 'X' && kb == 'X') return perr(p, n->line, FOIL_ERR_UNSUPPORTED, "a comparison between two inputs is not supported (only bounds on each X_i)", NULL, 0);
    /* normalize to X op' c: (<= c X) is X >= c */
    int64_t x = ka == 'X' ? ia : ib;
    float c_lo = ka == 'X' ? lb : la, c_hi = ka == 'X' ? hb : ha;
    int upper = (op == '<') == (ka == 'X');
    if (upper) { /* X <= c */
        if (!p->has_hi[x] || c_hi < p->hi[x]) p->hi[x] = c_hi;
        if (!p->has_hi[x] || c_lo < p->hi_in[x]) p->hi_in[x] = c_lo;
        p->has_hi[x] = 1;
    } else {     /* X >= c */
        if (!p->has_lo[x] || c_lo > p->lo[x]) p->lo[x] = c_lo;
        if (!p->has_lo[x] || c_hi > p->lo_in[x]) p->lo_in[x] = c_hi;
        p->has_lo[x] = 1;
    }
    return FOIL_OK;
}

static void dnf_free(Dnf *d)
{
    free(d->off), free(d->atoms);
    *d = (Dnf){0};
}

static foil_status dnf_atom(Parser *p, const Node *n, Dnf *out)
{
    int op = cmp_op(p, n);
    const Node *a = &p->nodes[p->nodes[n->child].next], *b = &p->nodes[a->next];
    int ka, kb;
    int64_t ia = -1, ib = -1;
    float la = 0, ha = 0, lb = 0, hb = 0;
    foil_status st;
    if ((st = term(p, a, &ka, &ia, &la, &ha)) || (st = term(p, b, &kb, &ib, &lb, &hb))) return st;
    if (ka == 'C' && kb == 'C') return perr(p, n->line, FOIL_ERR_UNSUPPORTED, "a comparison of two constants is not supported", NULL, 0);
    if (p->n_atoms == p->cap_atoms) {
        int64_t cap = p->cap_atoms ? 2 * p->cap_atoms : 64;
        Atom *t = realloc(p->atoms, (size_t)cap * sizeof *t);
        if (!t) return nomem(p);
        p->atoms = t, p->cap_atoms = cap;
    }
    Atom at = {ka == 'Y' ? ia : -1, kb == 'Y' ? ib : -1, la, ha, lb, hb};
    if (op == '>') /* A >= B is B - A <= 0 */
        at = (Atom){kb == 'Y' ? ib : -1, ka == 'Y' ? ia : -1, lb, hb, la, ha};
    p->atoms[p->n_atoms] = at;
    out->off = malloc(2 * sizeof *out->off);
    out->atoms = malloc(sizeof *out->atoms);
    if (!out->off || !out->atoms) return dnf_free(out), nomem(p);
    out->n = 1, out->n_atoms = 1;
    out->off[0] = 0, out->off[1] = 1;
    out->atoms[0] = p->n_atoms++;
    return FOIL_OK;
}

/* a := a AND b (the cross product of their disjuncts). */
static foil_status dnf_and(const Parser *p, int line, Dnf *a, const Dnf *b)
{
    if (a->n * b->n > MAX_DISJUNCTS)
        return perr(p, line, FOIL_ERR_UNSUPPORTED, "the output formula has more than 65536 disjuncts in normal form", NULL, 0);
    int64_t n = a->n * b->n, total = a->n_atoms * b->n + b->n_atoms * a->n;
    if (total > MAX_COEFS) return perr(p, line, FOIL_ERR_UNSUPPORTED, "the output formula is too large in normal form", NULL, 0);
    Dnf r = {n, total, malloc((size_t)(n + 1) * sizeof *r.off), malloc((size_t)(total ? total : 1) * sizeof *r.atoms)};
    if (!r.off || !r.atoms) return dnf_free(&r), nomem(p);
    int64_t k = 0, m = 0;
    for (int64_t i = 0; i < a->n; i++)
        for (int64_t j = 0; j < b->n; j++) {
            r.off[m++] = k;
            for (int64_t t = a->off[i]; t < a->off[i + 1]; t++) r.atoms[k++] = a->atoms[t];
            for (int64_t t = b->off[j]; t < b->off[j + 1]; t++) r.atoms[k++] = b->atoms[t];
        }
    r.off[m] = k;
    dnf_free(a);
    *a = r;
    return FOIL_OK;
}

/* a := a OR b. */
static foil_status dnf_or(const Parser *p, int line, Dnf *a, const Dnf *b)
{
    int64_t n = a->n + b->n, total = a->n_atoms + b->n_atoms;
    if (n > MAX_DISJUNCTS)
        return perr(p, line, FOIL_ERR_UNSUPPORTED, "the output formula has more than 65536 disjuncts in normal form", NULL, 0);
    if (total > MAX_COEFS) return perr(p, line, FOIL_ERR_UNSUPPORTED, "the output formula is too large in normal form", NULL, 0);
    int64_t *off = realloc(a->off, (size_t)(n + 1) * sizeof *off);
    if (!off) return nomem(p);
    a->off = off;
    int64_t *at = realloc(a->atoms, (size_t)(total ? total : 1) * sizeof *at);
    if (!at) return nomem(p);
    a->atoms = at;
    for (int64_t j = 0; j < b->n; j++) a->off[a->n + j + 1] = a->n_atoms + b->off[j + 1];
    memcpy(a->atoms + a->n_atoms, b->atoms, (size_t)b->n_atoms * sizeof *at);
    a->n = n, a->n_atoms = total;
    return FOIL_OK;
}

/* An output formula (no X in it) as DNF. */
static foil_status dnf_of(Parser *p, const Node *n, Dnf *out)
{
    foil_status st = check_operator(p, n);
    if (st) return st;
    if (cmp_op(p, n)) return dnf_atom(p, n, out);
    const Node *op = &p->nodes[n->child];
    int is_and = tok_is(op, "and");
    *out = (Dnf){0};
    for (int64_t c = op->next; c >= 0; c = p->nodes[c].next) {
        Dnf sub;
        if ((st = dnf_of(p, &p->nodes[c], &sub))) return dnf_free(out), st;
        if (!out->off) {
            *out = sub;
            continue;
        }
        st = is_and ? dnf_and(p, n->line, out, &sub) : dnf_or(p, n->line, out, &sub);
        dnf_free(&sub);
        if (st) return dnf_free(out), st;
    }
    return FOIL_OK;
}

/* A top-level assert's formula, or one conjunct of a top-level (and). */
static foil_status conjunct(Parser *p, const Node *f)
{
    foil_status st = check_operator(p, f);
    if (st) return st;
    int m = mentions(p, f);
    if (!(m & 1)) {
        if (!(m & 2)) return perr(p, f->line, FOIL_ERR_UNSUPPORTED, "a formula over constants only is not supported", NULL, 0);
        Dnf d;
        if ((st = dnf_of(p, f, &d))) return st;
        if (!p->out.off) {
            p->out = d;
            return FOIL_OK;
        }
        st = dnf_and(p, f->line, &p->out, &d);
        dnf_free(&d);
        return st;
    }
    if (cmp_op(p, f)) return input_bound(p, f);
    const Node *op = &p->nodes[f->child];
    if (tok_is(op, "or"))
        return perr(p, f->line, FOIL_ERR_UNSUPPORTED, "input (X) constraints inside (or ...) are not supported; the inputs must form one box", NULL, 0);
    for (int64_t c = op->next; c >= 0; c = p->nodes[c].next)
        if ((st = conjunct(p, &p->nodes[c]))) return st;
    return FOIL_OK;
}

static foil_status command(Parser *p, const Node *cmd)
{
    if (!cmd->list) return perr(p, cmd->line, FOIL_ERR_FORMAT, "expected a command in parentheses, not '%s'", cmd->tok, cmd->len);
    if (cmd->child < 0) return perr(p, cmd->line, FOIL_ERR_FORMAT, "an empty command '()'", NULL, 0);
    const Node *head = &p->nodes[cmd->child];
    if (tok_is(head, "declare-const")) return declare(p, cmd);
    if (tok_is(head, "assert")) {
        if (head->next < 0 || p->nodes[head->next].next >= 0)
            return perr(p, cmd->line, FOIL_ERR_FORMAT, "assert takes exactly one formula", NULL, 0);
        return conjunct(p, &p->nodes[head->next]);
    }
    if (head->list) return perr(p, cmd->line, FOIL_ERR_FORMAT, "a command must start with its name", NULL, 0);
    return perr(p, head->line, FOIL_ERR_UNSUPPORTED, "command '%s' is not supported (declare-const, assert)", head->tok, head->len);
}

static foil_status finish(Parser *p, foil_vnnlib *v)
{
    if (p->n_x == 0) return foil_error(FOIL_ERR_FORMAT, "%s: no inputs declared (declare-const X_0 Real ...)", p->name);
    if (p->n_y == 0) return foil_error(FOIL_ERR_FORMAT, "%s: no outputs declared (declare-const Y_0 Real ...)", p->name);
    for (int64_t i = 0; i < p->max_x; i++)
        if (!p->x_decl[i]) return foil_error(FOIL_ERR_FORMAT, "%s: X_%lld is not declared but X_%lld is (inputs are X_0 .. X_n-1)", p->name, (long long)i, (long long)(p->max_x - 1));
    for (int64_t i = 0; i < p->max_y; i++)
        if (!p->y_decl[i]) return foil_error(FOIL_ERR_FORMAT, "%s: Y_%lld is not declared but Y_%lld is (outputs are Y_0 .. Y_m-1)", p->name, (long long)i, (long long)(p->max_y - 1));
    for (int64_t i = 0; i < p->max_x; i++) {
        if (!p->has_lo[i] || !p->has_hi[i])
            return foil_error(FOIL_ERR_FORMAT, "%s: input X_%lld has no %s bound (every input needs (>= X_i lo) and (<= X_i hi))", p->name, (long long)i, p->has_lo[i] ? "upper" : "lower");
        if (p->lo[i] > p->hi[i])
            return foil_error(FOIL_ERR_FORMAT, "%s: input X_%lld: the box is empty (lower %.9g > upper %.9g)", p->name, (long long)i, (double)p->lo[i], (double)p->hi[i]);
    }
    if (!p->out.off) return foil_error(FOIL_ERR_FORMAT, "%s: no output constraint (an assert over Y) describes the unsafe region", p->name);
    const int64_t m = p->max_y, rows = p->out.n_atoms;
    if (rows * m > MAX_COEFS) return foil_error(FOIL_ERR_UNSUPPORTED, "%s: the output constraints are too large (%lld rows of %lld outputs)", p->name, (long long)rows, (long long)m);
    v->n_inputs = p->max_x, v->n_outputs = m;
    v->lo = p->lo, v->hi = p->hi, v->lo_in = p->lo_in, v->hi_in = p->hi_in;
    p->lo = p->hi = p->lo_in = p->hi_in = NULL;
    v->n_disjuncts = p->out.n, v->n_rows = rows;
    v->first = p->out.off;
    p->out.off = NULL;
    v->C = calloc((size_t)(rows * m > 0 ? rows * m : 1), sizeof *v->C);
    v->d_lo = malloc((size_t)(rows ? rows : 1) * sizeof *v->d_lo);
    v->d_hi = malloc((size_t)(rows ? rows : 1) * sizeof *v->d_hi);
    if (!v->C || !v->d_lo || !v->d_hi) return nomem(p);
    for (int64_t r = 0; r < rows; r++) {
        const Atom *a = &p->atoms[p->out.atoms[r]];
        /* A - B <= 0  ->  [A]_Y - [B]_Y <= cB - cA */
        double *c = v->C + r * m, dl = 0, dh = 0;
        if (a->ya >= 0) c[a->ya] += 1;
        else dl -= a->ca_hi, dh -= a->ca_lo;
        if (a->yb >= 0) c[a->yb] -= 1;
        else dl += a->cb_lo, dh += a->cb_hi;
        v->d_lo[r] = dl, v->d_hi[r] = dh; /* one constant at most: exact in double */
    }
    return FOIL_OK;
}

void foil_vnnlib_free(foil_vnnlib *v)
{
    if (!v) return;
    free(v->path), free(v->lo), free(v->hi), free(v->lo_in), free(v->hi_in), free(v->first), free(v->C), free(v->d_lo),
        free(v->d_hi);
    free(v);
}

foil_status foil_vnnlib_parse(const char *text, size_t len, const char *name, foil_vnnlib **out)
{
    *out = NULL;
    if (!name) name = "vnnlib";
    if (!text && len) return foil_error(FOIL_ERR_ARG, "foil_vnnlib_parse: no text");
    if (len > MAX_FILE) return foil_error(FOIL_ERR_UNSUPPORTED, "%s: larger than 1 GiB", name);
    Parser p = {.name = name, .text = text, .len = len};
    foil_vnnlib *v = calloc(1, sizeof *v);
    foil_status st = v ? FOIL_OK : nomem(&p);
    if (!st && !(v->path = strdup(name))) st = nomem(&p);
    if (!st) st = read_tree(&p);
    for (int64_t c = st ? -1 : p.nodes[0].child; c >= 0 && !st; c = p.nodes[c].next) st = command(&p, &p.nodes[c]);
    if (!st) st = finish(&p, v);
    free(p.nodes), free(p.atoms), free(p.x_decl), free(p.y_decl), free(p.lo), free(p.hi), free(p.lo_in), free(p.hi_in),
        free(p.has_lo), free(p.has_hi);
    dnf_free(&p.out);
    if (st) {
        foil_vnnlib_free(v);
        return st;
    }
    *out = v;
    return FOIL_OK;
}

foil_status foil_vnnlib_load(const char *path, foil_vnnlib **out)
{
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    foil_status st = foilReadFile(path, MAX_FILE, &buf, &len);
    if (st) return st;
    st = foil_vnnlib_parse((const char *)buf, len, path, out);
    free(buf);
    return st;
}

int64_t foil_vnnlib_unsafe(const foil_vnnlib *p, const float *y)
{
    const int64_t m = p->n_outputs;
    for (int64_t i = 0; i < p->n_disjuncts; i++) {
        int all = 1;
        for (int64_t r = p->first[i]; r < p->first[i + 1] && all; r++) {
            const double *c = p->C + r * m;
            double s = 0, mag = 0;
            for (int64_t j = 0; j < m; j++)
                if (c[j] != 0) s += c[j] * (double)y[j], mag += fabs(c[j] * (double)y[j]);
            /* the sum's rounding: at most m u mag (u = 2^-53), with room */
            double err = (double)(m + 2) * ldexp(mag, -52);
            all = s + err <= p->d_lo[r];
        }
        if (all) return i;
    }
    return -1;
}

const char *foil_vnnlib_answer_name(foil_vnnlib_answer a)
{
    return a == FOIL_VNNLIB_VERIFIED ? "verified" : a == FOIL_VNNLIB_FALSIFIED ? "falsified" : "unknown";
}
