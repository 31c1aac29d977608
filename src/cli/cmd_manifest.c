/*
 * cli/cmd_manifest.c - `foil manifest`: write or check a dataset's
 * integrity manifest (foil/manifest.h).
 */
#include <stdio.h>

#include "cli/cli.h"
#include "foil/manifest.h"

static int run_manifest(int argc, char **argv);

const cli_command cli_manifest = {
    "manifest", "write a dataset's manifest (SHA-256 of its files and examples), or check data against one",
    "--data DATA [--labels FILE] (--out MANIFEST.json | --check MANIFEST.json)",
    "Hashes every file DATA is read from (SHA-256 of its bytes) and every\n"
    "example as foil loads it (SHA-256 of its float32 values and its int64\n"
    "label), over the whole dataset (a built-in one's training split, then\n"
    "its test split), and writes them with the dataset's own hash (of the\n"
    "example hashes, in order) to --out as JSON (schema foil-manifest/1).\n"
    "--check compares DATA with a manifest: it names every file whose bytes\n"
    "changed and the first example that did, and exits 1 if anything\n"
    "differs. `foil train --manifest M` makes the same check before it\n"
    "trains, and writes the manifest's hash and its own command line into\n"
    "the model's ONNX metadata, so a pipeline can prove which data made\n"
    "which model.",
    run_manifest,
    0,
};

static int run_manifest(int argc, char **argv)
{
    foil_data_spec data = {0};
    const char *out = NULL, *check = NULL;
    cli_option opts[] = {
        CLI_DATA_OPTIONS(data),
        {"--out", OPT_STRING, &out, "FILE", "write the manifest there", 0, 0},
        {"--check", OPT_STRING, &check, "FILE", "check DATA against this manifest", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_manifest, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    if (!out == !check) return cli_usage_error(&cli_manifest, "give one of --out (write) and --check (compare)");
    cli_apply_common(&common);
    data.seed = (uint64_t)common.seed;
    foil_manifest m;
    foil_status st;
    if (check) {
        st = foil_manifest_read(check, &m);
        if (!st) st = foil_manifest_verify(&m, check, &data);
        if (!st && !common.quiet)
            printf("%s matches %s: %lld examples, %d files, sha256 %s\n", data.data, check, (long long)m.examples,
                   m.n_files, m.sha256);
    } else {
        st = foil_manifest_create(&data, &m);
        if (!st) st = foil_manifest_write(&m, out);
        if (!st && !common.quiet)
            printf("%s: %lld examples, %lld classes, %d files; sha256 %s; wrote %s\n", data.data,
                   (long long)m.examples, (long long)m.classes, m.n_files, m.sha256, out);
    }
    foil_manifest_free(&m);
    return st ? cli_fail(&cli_manifest, st) : CLI_OK;
}
