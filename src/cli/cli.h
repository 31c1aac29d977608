/*
 * cli/cli.h - what the subcommands share: option parsing, exit codes,
 * the common options every command takes.
 *
 * Exit status: 0 success, 1 runtime error (message from libfoil on stderr),
 * 2 usage error (bad or missing option), 3 (foil audit) a --require the
 * model falls short of.
 */
#ifndef FOIL_CLI_H
#define FOIL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "foil/data.h"
#include "foil/evasion.h"
#include "foil/model.h"
#include "foil/status.h"

enum { CLI_OK = 0, CLI_RUNTIME_ERROR = 1, CLI_USAGE_ERROR = 2, CLI_REQUIREMENT_FAILED = 3, CLI_HELP_SHOWN = -1 };

typedef enum { OPT_STRING, OPT_INT, OPT_FLOAT, OPT_FLAG, OPT_LIST } cli_opt_kind;
/* An option that may be given many times (OPT_LIST): its values in order. */
enum { CLI_LIST_MAX = 32 };
typedef struct cli_list {
    const char *items[CLI_LIST_MAX];
    int n;
} cli_list;

typedef struct cli_option {
    const char *name;      /* "--model" */
    cli_opt_kind kind;
    void *dest;            /* const char **, int64_t *, double *, int *, cli_list * */
    const char *metavar;   /* "FILE" (NULL for flags) */
    const char *help;
    int required;
    int seen;              /* set by the parser */
} cli_option;

/* Options every command accepts. */
typedef struct cli_common {
    int64_t seed;
    int64_t threads;
    int quiet;
} cli_common;

/* What a command declares, and main.c enforces (as Redis's command table). */
enum {
    CLI_DISTRIBUTED = 1    /* shares its work between MPI ranks; others refuse to run as more than one */
};

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;     /* argument synopsis after "foil NAME" */
    const char *description;
    int (*run)(int argc, char **argv);
    unsigned flags;        /* CLI_* above */
} cli_command;

/* Parse argv[1..] of command `cmd` against opts plus the common options.
 * Returns CLI_OK, CLI_USAGE_ERROR (message printed) or CLI_HELP_SHOWN. */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_option *opts, int n_opts, cli_common *common);

/* Print "foil CMD: error: MSG" and a hint; returns CLI_USAGE_ERROR. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print libfoil's last error as "foil CMD: MSG"; returns CLI_RUNTIME_ERROR. */
int cli_fail(const cli_command *cmd, foil_status st);

/* "test", "train" or "all" for option opt; a usage error otherwise. */
int cli_parse_split(const cli_command *cmd, const char *opt, const char *name, foil_split *split);

/* A comma-separated list of numbers >= 0 (> 0 when positive; strictly
 * increasing when increasing) for option opt, at most max of them. */
int cli_parse_numbers(const cli_command *cmd, const char *opt, const char *text, int positive, int increasing,
                      double *out, int max, int *count);

/* cli/shard.c: examples split between MPI ranks (core/dist.h), one
 * contiguous block each, its bounds on multiples of align (the model's
 * batch); with one process, everything. */
void cli_shard_block(int64_t n, int64_t align, int64_t *first, int64_t *count);
/* The model's scores on x (run in batches of `batch`), each rank its block;
 * rank 0 receives all of them in logits (allocated), the others nothing. */
foil_status cli_shard_predict(foil_model *model, const foil_tensor *x, int64_t batch, foil_tensor *logits);

/* foil_evasion_run, each rank attacking its block with the whole run's
 * random streams; rank 0 receives the whole result (the others an empty
 * one). */
foil_status cli_shard_attack(const char *name, foil_model *model, const foil_tensor *x, const int64_t *y,
                             const foil_threat *t, const foil_evasion_options *opt, foil_evasion_result *r);

/* Apply --threads (OpenMP and OpenBLAS). */
void cli_apply_common(const cli_common *common);

/* cli/arch_build.c: 1 when arch names an ONNX file. */
int cli_is_onnx_path(const char *arch);
/* The model --arch names: a built-in (mlp with hidden sizes, cnn-small, ...)
 * shaped by train's examples and classes, tabular inputs normalized inside
 * it by train's moments; or an ONNX file, re-initialized from seed unless
 * keep_weights. */
foil_status cli_build_arch(const char *arch, const foil_dataset *train, const int64_t *hidden, int n_hidden,
                           uint64_t seed, int keep_weights, foil_model **model);

/* cli/text_cli.c: text classifiers. */
struct foil_text_dataset;
struct foil_tokenizer;
/* MODEL.onnx -> MODEL.tokenizer.json, where foil writes a text model's tokenizer. */
void cli_tokenizer_beside(const char *model, char *out, size_t n);
/* The labelled messages of path, split 80/20 as foil train splits them. */
foil_status cli_text_split(const char *path, uint64_t seed, struct foil_text_dataset *train,
                           struct foil_text_dataset *test);
/* --tokenizer SPEC: "bytes" or "words" fitted on train (max_length, vocab:
 * 0 for the defaults), or a tokenizer file; NULL: bytes for text-cnn, words
 * otherwise. */
foil_status cli_text_tokenizer(const char *spec, const char *arch, int64_t max_length, int64_t vocab,
                               const struct foil_text_dataset *train, struct foil_tokenizer **out);
/* The built-in text architecture arch over t's ids. */
foil_status cli_build_text_arch(const char *arch, const struct foil_tokenizer *t, int64_t classes, uint64_t seed,
                                foil_model **model);
/* The tokenizer of a text model: `given`, else the file beside the model;
 * used: the path read. */
foil_status cli_find_tokenizer(const char *given, const char *model, struct foil_tokenizer **out, char *used,
                               size_t n);

/* cli/cmd_attack_text.c: `foil attack` with a text attack (run_attack
 * hands it over when --attack names one). */
int cli_run_attack_text(int argc, char **argv);

extern const cli_command cli_predict, cli_grad, cli_train, cli_eval, cli_attack, cli_defend, cli_detect, cli_audit,
    cli_certify, cli_verify, cli_poison, cli_scan, cli_infer;



#include "foil/model.h"
#include "foil/tensor.h"

/* cli/model_source.c: the model an --model, --endpoint or --command option
 * names, with the remote client's settings. */
typedef struct cli_model_source {
    const char *model, *endpoint, *command;
    const char *ensemble;          /* more ONNX files, averaged with --model */
    const char *format, *returns, *input_shape;
    const char *ca_cert;           /* --endpoint https://: the CA file to trust (a self-signed server's certificate) */
    double timeout_s, rate_limit;  /* 0: the default, no limit */
    int64_t retries;               /* -1: the default */
} cli_model_source;
/* The options of a cli_model_source, for a command's option table (n:
 * CLI_MODEL_SOURCE_OPTIONS entries written). */
#define CLI_MODEL_SOURCE_OPTIONS(src)                                                                                 \
    {"--model", OPT_STRING, &(src).model, "FILE", "ONNX classifier", 0, 0},                                          \
    {"--ensemble", OPT_STRING, &(src).ensemble, "FILE,...", "with --model: the ensemble of the models' mean logits",  \
     0, 0},                                                                                                           \
    {"--endpoint", OPT_STRING, &(src).endpoint, "URL", "a model behind HTTP (docs/remote-protocol.md)", 0, 0},       \
    {"--command", OPT_STRING, &(src).command, "CMD", "a model behind a command: NPY in on stdin, out on stdout", 0, 0}, \
    {"--remote-format", OPT_STRING, &(src).format, "FMT", "--endpoint's body: json (default) or npy", 0, 0},          \
    {"--remote-returns", OPT_STRING, &(src).returns, "WHAT", "the remote scores: logits, probabilities or labels", 0, \
     0},                                                                                                              \
    {"--timeout", OPT_FLOAT, &(src).timeout_s, "S", "seconds per remote request (default 30)", 0, 0},                 \
    {"--retries", OPT_INT, &(src).retries, "N", "retries of a failed remote request (default 3)", 0, 0},             \
    {"--rate-limit", OPT_FLOAT, &(src).rate_limit, "R", "at most R remote requests per second", 0, 0},               \
    {"--input-shape", OPT_STRING, &(src).input_shape, "D,...", "a remote model's input, one example (e.g. 1,28,28)",  \
     0, 0},                                                                                                           \
    {"--ca-cert", OPT_STRING, &(src).ca_cert, "PEM", "an https --endpoint: trust this CA (or self-signed) certificate", \
     0, 0}
/* The options naming a labelled dataset (a foil_data_spec's fields). */
#define CLI_DATA_OPTIONS(spec)                                                                                        \
    {"--data", OPT_STRING, &(spec).data, "DATA", "fashion-mnist, digits, breast-cancer, wine, or a file", 1, 0},     \
    {"--labels", OPT_STRING, &(spec).labels, "FILE", "labels for an IDX or NPY --data file", 0, 0},                   \
    {"--label-column", OPT_STRING, &(spec).label_column, "NAME", "label column of a CSV --data file", 0, 0}

/* Which examples a model is judged on, and how its inputs are scaled
 * (cli_data_split, cli_parse_bounds, cli_apply_normalize read them). */
#define CLI_SPLIT_OPTIONS(split, bounds, normalize)                                                                   \
    {"--split", OPT_STRING, &(split), "SPLIT", "test, train or all (default: test for a built-in, all for a file)",   \
     0, 0},                                                                                                           \
    {"--bounds", OPT_STRING, &(bounds), "LOW,HIGH", "input range (default 0,1 for images)", 0, 0},                    \
    {"--normalize", OPT_STRING, &(normalize), "MEAN/STD", "the model's input normalization, moved into it", 0, 0}

/* Open the model: exactly one of model, endpoint, command. */
int cli_open_model(const cli_command *cmd, const cli_model_source *src, foil_model **model);

/* The comma-separated ONNX files of list loaded into members[*n], ...,
 * *n counting them, FOIL_ENSEMBLE_MAX in all at most. On failure those
 * loaded stay for the caller to free. */
foil_status cli_load_model_list(const char *list, foil_model **members, int *n);

/* Open the model and load the float32 --input batch, checking that the
 * model can take it (cli_check_model_input). Prints the error and returns
 * nonzero. */
int cli_load_model_input(const cli_command *cmd, const cli_model_source *source, const char *input_path,
                         foil_model **model, foil_tensor *x);

/* cli/model_options.c: how a model meets its data. Each prints its error
 * and returns nonzero on failure. */
/* --bounds LOW,HIGH (NULL: not given) into spec. */
int cli_parse_bounds(const cli_command *cmd, const char *text, foil_data_spec *spec);
/* --normalize MEAN[,MEAN...]/STD[,STD...] (NULL: not given): prepend it to
 * the model's graph (foil_model_normalize). */
int cli_apply_normalize(const cli_command *cmd, const char *text, foil_model *model);
/* Whether the model takes x (what: the data's name for messages); prints a
 * note on stderr when the examples are fed in the model's declared shape. */
int cli_check_model_input(const cli_command *cmd, const foil_model *model, const foil_tensor *x, const char *what);
/* --split NAME, or when NULL the default: "test" for a built-in dataset,
 * "all" for a user's file (only train splits a user's file). *shown gets
 * the name used. */
int cli_data_split(const cli_command *cmd, const char *name, const char *data, foil_split *split, const char **shown);

/* cli/shard.c: open the model (cli_open_model), load the data, apply
 * --normalize and check that the model takes the data; on every MPI rank,
 * failing everywhere when any rank fails. Prints its error. */
int cli_open_inputs(const cli_command *cmd, const cli_model_source *source, const foil_data_spec *data,
                    foil_split split, const char *normalize, foil_model **model, foil_dataset *d);

/* --limit N: keep the first N examples of d (N <= 0: all of them). */
void cli_limit_examples(foil_dataset *d, int64_t limit);

/* cli/defense_options.c: a declared preprocessing defense. */
typedef struct cli_defense_args {
    const char *preprocess;      /* --preprocess LIST (NULL: no defense) */
    int bpda, no_adaptive;       /* --bpda: the adaptive model alone; --no-adaptive: the plain one alone */
    int64_t eot;                 /* --eot N draws for a randomized defense (0: 16) */
} cli_defense_args;

#define CLI_DEFENSE_OPTIONS(def)                                                                                      \
    {"--preprocess", OPT_STRING, &(def).preprocess, "LIST",                                                          \
     "a preprocessing defense in front of the model, e.g. squeeze:bits=4,median:3; attacked as given and "           \
     "adaptively",                                                                                                    \
     0, 0},                                                                                                           \
    {"--eot", OPT_INT, &(def).eot, "N", "adaptive attack on a randomized --preprocess: EOT over N draws (16)", 0, 0}

/* Put def's preprocessors in front of *model (opened from source, with
 * --normalize applied) and, unless --bpda or --no-adaptive, open the model
 * again behind the same defense for the adaptive attacker: *adaptive
 * differentiates by BPDA, and through EOT when the defense is randomized.
 * With --bpda *model itself is the adaptive one. Nothing happens without
 * --preprocess. On failure both are freed and the error printed. */
int cli_defend_model(const cli_command *cmd, const cli_defense_args *def, const cli_model_source *source,
                     const char *normalize, const foil_dataset *d, uint64_t seed, foil_model **model,
                     foil_model **adaptive);
/* "+bpda", or "+bpda+eot" for a randomized defense: how the adaptive
 * attack's rows are named. */
const char *cli_adaptive_tag(const foil_model *plain);

/* cli/detector_options.c: adversarial-example detectors by name. */
enum { CLI_MAX_DETECTORS = 4 };
struct foil_detector;
typedef struct cli_detector_args {
    const char *squeezers;       /* squeeze's squeezers ("squeeze:bits=4,median:3") */
    double temperature;          /* energy's (1) */
    const char *model_path;      /* mahalanobis: the ONNX file whose layer it reads (NULL: refused) */
    const char *feature_layer;   /* ... the layer (NULL: penultimate) */
    const char *normalize;       /* ... the model's --normalize */
    int64_t fit_limit;           /* ... training examples it fits */
} cli_detector_args;

/* Split a comma list in place into names, each one of known[] (NULL: any);
 * a usage error naming what otherwise. */
int cli_split_list(const cli_command *cmd, char *list, const char *what, const char *const *known, int n_known,
                   const char **names, int max, int *count);
/* The list as detector names: squeeze, max-softmax, energy, mahalanobis. */
int cli_split_detectors(const cli_command *cmd, char *list, const char **names, int *count);
/* The detector `name` on model (borrowed); train: the data it is fitted on
 * (mahalanobis) or whose shape it works on (squeeze). */
int cli_make_detector(const cli_command *cmd, const char *name, const cli_detector_args *da, foil_model *model,
                      const foil_dataset *train, uint64_t seed, struct foil_detector **out);
/* Rows [first, first + count) of t, sharing its memory. */
foil_tensor cli_rows_of(const foil_tensor *t, int64_t first, int64_t count);
#endif
