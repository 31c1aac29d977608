/*
 * cli/cmd_train.c - `foil train`: train a classifier and write it as ONNX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/dp_options.h"
#include "foil/manifest.h"
#include "core/dist.h"
#include "foil/arch.h"
#include "foil/data.h"
#include "foil/text.h"
#include "foil/train.h"

static int run_train(int argc, char **argv);

const cli_command cli_train = {
    "train", "train a classifier on a dataset and write it as ONNX",
    "--arch ARCH|FILE.onnx --data DATA [--labels FILE | --label-column NAME] --output MODEL.onnx [options]",
    "Trains a built-in architecture (mlp, cnn-small, lenet5, cnn-tanh, resnet-mini;\n"
    "for text text-cnn, text-lstm, bow-logreg on a file of LABEL<TAB>MESSAGE lines,\n"
    "such as the SMS Spam Collection, its tokenizer written beside the model as\n"
    "MODEL.tokenizer.json)\n"
    "or the architecture of an ONNX file (its weights re-initialized) on DATA: a\n"
    "built-in dataset (fashion-mnist, digits, breast-cancer, wine) or your files (IDX or NPY\n"
    "pair with --labels, CSV with --label-column). Tabular models normalize their\n"
    "input with the training set's mean and standard deviation inside the graph,\n"
    "so the ONNX model takes raw features. --fine-tune keeps an ONNX file's\n"
    "weights and trains only the linear layer that makes its logits (transfer\n"
    "learning's fine-tuning). Validates on the test split after each\n"
    "epoch. With --checkpoint, saves progress atomically at every epoch end (and\n"
    "every --checkpoint-every steps); --resume continues a killed run and ends\n"
    "with the same weights as an uninterrupted one (same seed and --threads).\n"
    "\n"
    "Adversarial training (--adv pgd|fgsm-rs|trades --eps E): each step trains on\n"
    "Linf adversarial examples of the batch: PGD (Madry et al. 2018; --adv-steps,\n"
    "default 7, of --adv-step, default 2.5 E / steps), FGSM with a random start\n"
    "(Wong et al. 2020; one step of 1.25 E, checked every epoch for catastrophic\n"
    "overfitting, which stops the run and keeps the epoch before), or TRADES\n"
    "(Zhang et al. 2019; --trades-beta, default 6, 10 steps). --eps-warmup N grows\n"
    "eps over the first N epochs. --holdout N keeps the last N training examples\n"
    "out of training to measure PGD accuracy every epoch; --keep-best ends with\n"
    "the most robust epoch's weights (early stopping; implies --holdout 1000).\n"
    "Then attack the model: foil attack --model OUT --attack autoattack --eps E.\n"
    "\n"
    "Certified training (--adv ibp --eps E): interval bound propagation (Gowal et\n"
    "al. 2018). No attack: each step bounds the logits over the Linf box of\n"
    "radius eps_t around every example, and trains on kappa CE(clean) + (1 -\n"
    "kappa) CE(worst case), the worst case from the bounds with the margin folded\n"
    "into the last layer. The schedule, step by step: --eps-warmup N epochs of\n"
    "clean training (default epochs / 20), then over --eps-ramp M epochs (default\n"
    "half of the rest) eps_t grows linearly from 0 to --ibp-train-eps (default\n"
    "1.1 E, as the paper trains) and kappa from 1 to --kappa-final (default 0.5).\n"
    "Adam (--optimizer adam --lr 5e-4), a batch of 100 or more and a long ramp\n"
    "suit it. Supports Conv, Gemm, Relu, MaxPool, Flatten/Reshape and Add/Sub/\n"
    "Mul/Div by constants (mlp, cnn-small, lenet5; not resnet-mini's BatchNorm).\n"
    "Then verify it: foil verify --model OUT --eps E --method ibp,crown.\n"
    "\n"
    "Defensive distillation (Papernot et al. 2016): train a teacher with\n"
    "--temperature T, then a student with --distill TEACHER.onnx --temperature T\n"
    "on the teacher's soft labels softmax(logits / T). Both are written as\n"
    "trained and run at temperature 1, where their logits are T times sharper:\n"
    "a saturated softmax whose cross-entropy gradients vanish. That is gradient\n"
    "masking, not robustness (Carlini and Wagner 2016): attack on the logits,\n"
    "foil attack --params loss=margin or --attack apgd-dlr, and see it go.\n"
    "\n"
    "Gaussian noise augmentation (--noise-sigma S): every training example gets\n"
    "noise of standard deviation S, unclipped, drawn afresh each epoch (Cohen et\n"
    "al. 2019), so that the model classifies noisy inputs well enough for\n"
    "randomized smoothing. Then certify it: foil certify --model OUT --sigma S.\n"
    "\n"
    "Differentially private training (--dp, DP-SGD of Abadi et al. 2016): each\n"
    "step takes every training example independently with probability q = batch\n"
    "/ N (round(N / batch) steps an epoch), clips each example's gradient to L2\n"
    "norm --max-grad-norm C (default 1), adds Gaussian noise of standard\n"
    "deviation S C to the sum (--noise-multiplier S, or --target-epsilon E to\n"
    "choose S for the run) and divides by q N. After training it reports the\n"
    "(epsilon, --delta) spent (default delta 1e-5; RDP accounting with Balle et\n"
    "al. 2020's conversion). Models must keep examples apart: mlp, cnn-small,\n"
    "lenet5, cnn-tanh, not resnet-mini's BatchNorm. Without augmentation, --adv,\n"
    "--distill, --temperature, --fine-tune, --checkpoint or MPI ranks. The noise\n"
    "must be secret: without --seed, --dp draws the run's seed from /dev/urandom.\n"
    "cnn-tanh is the end-to-end CNN Tramer and Boneh 2021 train with DP-SGD on\n"
    "Fashion-MNIST (Papernot et al. 2020's, with tanh), as their code does with\n"
    "--momentum 0.9 --schedule constant --max-grad-norm 0.1, and from their grid\n"
    "--batch 2048 --lr 4 (the rate scales with the batch: 0.5 per 256).",
    run_train,
    CLI_DISTRIBUTED,
};

static int parse_sizes(const char *text, int64_t *out, int max)
{
    int n = 0;
    const char *p = text;
    while (*p && n < max) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 1 || v > 1 << 20) return -1;
        out[n++] = v;
        if (*end == ',') p = end + 1;
        else if (*end == '\0') p = end;
        else return -1;
    }
    return *p ? -1 : n;
}

static int parse_optimizer(const char *name, const char *schedule, foil_optim_config *cfg)
{
    if (strcmp(name, "adam") == 0) *cfg = foil_optim_defaults(FOIL_OPT_ADAM);
    else if (strcmp(name, "sgd") == 0) *cfg = foil_optim_defaults(FOIL_OPT_SGD);
    else return -1;
    if (strcmp(schedule, "constant") == 0) cfg->schedule = FOIL_LR_CONSTANT;
    else if (strcmp(schedule, "cosine") == 0) cfg->schedule = FOIL_LR_COSINE;
    else if (strcmp(schedule, "step") == 0) cfg->schedule = FOIL_LR_STEP;
    else return -2;
    return 0;
}

/* A float option as the user wrote it (0.1, not 0.10000000149). */
static double as_given(float v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", v);
    return strtod(buf, NULL);
}

static int64_t first_epoch(const foil_train_report *r) { return r->resumed_epoch > 0 ? r->resumed_epoch : 0; }

/* Index into r->epoch of the epoch whose weights were written: the last,
 * the most robust one kept, or the one before catastrophic overfitting. */
static int64_t written_epoch(const foil_train_report *r)
{
    if (r->best_epoch >= 0) return r->best_epoch - first_epoch(r);
    if (r->catastrophic_epoch > first_epoch(r)) return r->catastrophic_epoch - 1 - first_epoch(r);
    return r->epochs - 1;
}

static void print_json(const foil_train_report *r, const foil_train_options *o, const char *output)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", output);
    cJSON *epochs = cJSON_AddArrayToObject(root, "epochs");
    for (int64_t i = 0; i < r->epochs; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "train_loss", r->epoch[i].train_loss);
        cJSON_AddNumberToObject(e, "train_accuracy", r->epoch[i].train_accuracy);
        cJSON_AddNumberToObject(e, "val_accuracy", r->epoch[i].val_accuracy);
        cJSON_AddNumberToObject(e, "seconds", r->epoch[i].seconds);
        cJSON_AddNumberToObject(e, "images_per_second", r->epoch[i].images_per_second);
        if (o->dp.enabled) {
            cJSON_AddNumberToObject(e, "dp_clipped", r->epoch[i].dp_clipped);
            cJSON_AddNumberToObject(e, "dp_epsilon", r->epoch[i].dp_epsilon);
        }
        if (o->adv.mode != FOIL_ADV_NONE) {
            cJSON_AddNumberToObject(e, "eps", as_given((float)r->epoch[i].eps));
            if (r->epoch[i].robust_accuracy >= 0)
                cJSON_AddNumberToObject(e, "holdout_pgd_accuracy", r->epoch[i].robust_accuracy);
            if (o->adv.mode == FOIL_ADV_IBP) {
                cJSON_AddNumberToObject(e, "kappa", r->epoch[i].kappa);
                if (r->epoch[i].ibp_verified >= 0)
                    cJSON_AddNumberToObject(e, "ibp_verified_train", r->epoch[i].ibp_verified);
            }
            if (r->epoch[i].probe_pgd_accuracy >= 0) {
                cJSON_AddNumberToObject(e, "probe_pgd_accuracy", r->epoch[i].probe_pgd_accuracy);
                cJSON_AddNumberToObject(e, "probe_fgsm_accuracy", r->epoch[i].probe_fgsm_accuracy);
            }
        }
        cJSON_AddItemToArray(epochs, e);
    }
    cJSON_AddNumberToObject(root, "val_accuracy", r->epochs ? r->epoch[written_epoch(r)].val_accuracy : -1);
    cJSON_AddNumberToObject(root, "seconds", r->seconds);
    if (o->adv.mode != FOIL_ADV_NONE) {
        cJSON *adv = cJSON_AddObjectToObject(root, "adversarial_training");
        cJSON_AddStringToObject(adv, "mode", foil_adv_mode_name(o->adv.mode));
        cJSON_AddNumberToObject(adv, "eps", as_given(o->adv.eps));
        cJSON_AddNumberToObject(adv, "holdout", (double)o->adv.holdout);
        if (o->adv.mode == FOIL_ADV_IBP) {
            cJSON_AddNumberToObject(adv, "train_eps", as_given(o->adv.train_eps));
            cJSON_AddNumberToObject(adv, "warmup_epochs", (double)o->adv.warmup_epochs);
            cJSON_AddNumberToObject(adv, "ramp_epochs", (double)o->adv.ramp_epochs);
            cJSON_AddNumberToObject(adv, "kappa_final", as_given(o->adv.kappa_final));
        }
        if (r->epochs && (r->best_epoch >= 0 || r->catastrophic_epoch >= 0))
            cJSON_AddNumberToObject(adv, "kept_epoch", (double)(first_epoch(r) + written_epoch(r) + 1));
        if (r->catastrophic_epoch >= 0)
            cJSON_AddNumberToObject(adv, "catastrophic_overfitting_epoch", (double)r->catastrophic_epoch + 1);
    }
    if (o->dp.enabled) {
        cJSON *dp = cJSON_AddObjectToObject(root, "dp");
        cJSON_AddNumberToObject(dp, "epsilon", r->dp.epsilon);
        cJSON_AddNumberToObject(dp, "delta", r->dp.delta);
        cJSON_AddNumberToObject(dp, "noise_multiplier", r->dp.noise_multiplier);
        cJSON_AddNumberToObject(dp, "sample_rate", r->dp.sample_rate);
        cJSON_AddNumberToObject(dp, "steps", (double)r->dp.steps);
        cJSON_AddNumberToObject(dp, "examples", (double)r->dp.examples);
        cJSON_AddNumberToObject(dp, "max_grad_norm", r->dp.max_grad_norm);
        cJSON_AddNumberToObject(dp, "rdp_order", r->dp.order);
        cJSON_AddStringToObject(dp, "accountant", "rdp, balle2020 conversion");
        if (o->dp.target_epsilon > 0) cJSON_AddNumberToObject(dp, "target_epsilon", o->dp.target_epsilon);
    }
    if (r->resumed_epoch >= 0) {
        cJSON_AddNumberToObject(root, "resumed_epoch", (double)r->resumed_epoch);
        cJSON_AddNumberToObject(root, "resumed_step", (double)r->resumed_step);
    }
    char *text = cJSON_PrintUnformatted(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

/* IBP's options; NOT_GIVEN / INT_NOT_GIVEN until the command line sets them. */
#define NOT_GIVEN (-1e300)
#define INT_NOT_GIVEN INT64_MIN
typedef struct ibp_cli {
    double train_eps, kappa_final;
    int64_t ramp;
} ibp_cli;

static int adv_options(const char *mode, double eps, double step, int64_t steps, double beta, int64_t warmup,
                       int64_t holdout, int64_t eval_steps, int keep_best, const ibp_cli *ibp, int64_t epochs,
                       foil_adv_options *a)
{
    memset(a, 0, sizeof *a);
    a->kappa_final = 0.5f;
    const int ibp_given = ibp->train_eps != NOT_GIVEN || ibp->kappa_final != NOT_GIVEN || ibp->ramp != INT_NOT_GIVEN;
    if (!mode) {
        if (eps || step || steps || beta || warmup != INT_NOT_GIVEN || holdout >= 0 || eval_steps || keep_best || ibp_given)
            return cli_usage_error(&cli_train, "--eps, --adv-step(s), --trades-beta, --eps-warmup, --eps-ramp, "
                                   "--ibp-train-eps, --kappa-final, --holdout, --eval-steps and --keep-best belong "
                                   "to adversarial training: add --adv MODE");
        return CLI_OK;
    }
    int m = foil_adv_mode_parse(mode);
    if (m < 0) return cli_usage_error(&cli_train, "--adv must be pgd, fgsm-rs, trades or ibp, not '%s'", mode);
    if (m != FOIL_ADV_IBP && ibp_given)
        return cli_usage_error(&cli_train, "--ibp-train-eps, --eps-ramp and --kappa-final are for --adv ibp");
    if (m == FOIL_ADV_IBP && (step || steps || beta))
        return cli_usage_error(&cli_train, "--adv ibp runs no attack: --adv-step(s) and --trades-beta do not apply");
    if (m == FOIL_ADV_IBP) {
        if (ibp->train_eps != NOT_GIVEN && !(ibp->train_eps > 0))
            return cli_usage_error(&cli_train, "--ibp-train-eps must be > 0");
        if (ibp->kappa_final != NOT_GIVEN && !(ibp->kappa_final >= 0 && ibp->kappa_final <= 1))
            return cli_usage_error(&cli_train, "--kappa-final must lie in [0, 1]");
        if (ibp->ramp != INT_NOT_GIVEN && ibp->ramp < 1) return cli_usage_error(&cli_train, "--eps-ramp must be at least 1");
        if (warmup == INT_NOT_GIVEN) warmup = epochs / 20;
        if (warmup >= epochs)
            return cli_usage_error(&cli_train, "--eps-warmup %lld leaves none of the %lld epochs for IBP training",
                                   (long long)warmup, (long long)epochs);
        a->train_eps = (float)(ibp->train_eps != NOT_GIVEN ? ibp->train_eps : 1.1 * eps);
        a->kappa_final = (float)(ibp->kappa_final != NOT_GIVEN ? ibp->kappa_final : 0.5);
        a->ramp_epochs = ibp->ramp != INT_NOT_GIVEN ? ibp->ramp : (epochs - warmup) / 2 > 1 ? (epochs - warmup) / 2 : 1;
    }
    if (warmup == INT_NOT_GIVEN) warmup = 0;
    if (!(eps > 0)) return cli_usage_error(&cli_train, "--adv needs --eps E > 0 (the Linf budget, in input units)");
    if (step < 0 || steps < 0 || steps > 1000 || beta < 0 || warmup < 0 || eval_steps < 0 || eval_steps > 1000)
        return cli_usage_error(&cli_train, "--adv-step, --trades-beta and --eps-warmup must be >= 0, --adv-steps and "
                               "--eval-steps in [0, 1000]");
    if (m == FOIL_ADV_FGSM_RS && steps > 1)
        return cli_usage_error(&cli_train, "--adv fgsm-rs takes one step; --adv-steps is for pgd and trades");
    if (m != FOIL_ADV_TRADES && beta)
        return cli_usage_error(&cli_train, "--trades-beta is for --adv trades");
    a->mode = (foil_adv_mode)m;
    a->eps = (float)eps;
    a->step = (float)step;
    a->steps = (int)steps;
    a->beta = (float)beta;
    a->warmup_epochs = warmup;
    a->holdout = holdout >= 0 ? holdout : keep_best ? 1000 : 0;
    a->eval_steps = (int)eval_steps;
    a->keep_best = keep_best;
    return CLI_OK;
}

/* Options that do not decide the weights (where the model is written, how
 * progress is checkpointed and shown: a resumed run writes the same bytes
 * as an uninterrupted one), left out of the recorded command. 1: takes a
 * value. */
static int operational_option(const char *arg, int *takes_value)
{
    static const struct {
        const char *name;
        int value;
    } ops[] = {{"--output", 1}, {"--checkpoint", 1}, {"--checkpoint-every", 1}, {"--resume", 0},
               {"--quiet", 0},  {"--json", 0}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const size_t n = strlen(ops[i].name);
        if (strncmp(arg, ops[i].name, n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
            *takes_value = ops[i].value && arg[n] == '\0';
            return 1;
        }
    }
    return 0;
}

/* Which data and which command made the model, in its ONNX metadata: the
 * manifest's hash (with --manifest) and this command line without its
 * operational options, each argument that holds a space or a quote in
 * single quotes. */
static foil_status record_provenance(foil_model *model, int argc, char **argv, const char *manifest_path,
                                     const foil_manifest *manifest)
{
    size_t len = 8;
    for (int i = 0; i < argc; i++) len += 4 * strlen(argv[i]) + 3;
    char *command = malloc(len), *p = command;
    if (!command) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    p += sprintf(p, "foil");
    for (int i = 0; i < argc; i++) {
        int takes_value = 0;
        if (operational_option(argv[i], &takes_value)) {
            i += takes_value;
            continue;
        }
        const int quote = strpbrk(argv[i], " \t'\"") != NULL;
        *p++ = ' ';
        if (quote) *p++ = '\'';
        for (const char *c = argv[i]; *c; c++) {
            if (quote && *c == '\'') p += sprintf(p, "'\\''"); /* ' -> '\'' */
            else *p++ = *c;
        }
        if (quote) *p++ = '\'';
    }
    *p = '\0';
    foil_status st = foil_model_set_metadata(model, "foil.training_command", command);
    free(command);
    if (!st && manifest) st = foil_model_set_metadata(model, "foil.data_manifest", manifest_path);
    if (!st && manifest) st = foil_model_set_metadata(model, "foil.data_manifest_sha256", manifest->sha256);
    return st;
}

/* A text architecture's data: the messages of data->data split 80/20,
 * tokenized by the tokenizer --tokenizer asks for (fitted on the training
 * messages only). */
static foil_status load_text(const foil_data_spec *data, const char *tokenizer, const char *arch, int64_t max_length,
                             int64_t vocab_size, foil_dataset *train, foil_dataset *test, foil_tokenizer **tok)
{
    foil_text_dataset tr = {0}, te = {0};
    foil_status st = cli_text_split(data->data, data->seed, &tr, &te);
    if (!st) st = cli_text_tokenizer(tokenizer, arch, max_length, vocab_size, &tr, tok);
    if (!st) st = foil_text_encode(&tr, *tok, train);
    if (!st) st = foil_text_encode(&te, *tok, test);
    foil_text_dataset_free(&tr);
    foil_text_dataset_free(&te);
    return st;
}

static int run_train(int argc, char **argv)
{
    const char *arch = NULL, *output = NULL, *optimizer = "sgd", *schedule = "cosine", *hidden_text = NULL;
    const char *checkpoint = NULL, *bounds = NULL, *manifest_path = NULL;
    foil_data_spec data = {0};
    int64_t epochs = 2, batch = 64, crop_pad = 0, checkpoint_every = 0, limit = 0;
    double lr = -1, momentum = 0.9, weight_decay = 0, gamma = 0.1;
    int64_t step_size = 1;
    int flip = 0, resume = 0, json = 0, keep_best = 0, fine_tune = 0;
    const char *tokenizer = NULL;
    int64_t max_length = 0, vocab_size = 0;
    const char *adv = NULL, *teacher_path = NULL;
    double temperature = 0, noise_sigma = 0;
    double adv_eps = 0, adv_step = 0, trades_beta = 0;
    int64_t adv_steps = 0, eps_warmup = INT_NOT_GIVEN, holdout = -1, eval_steps = 0;
    ibp_cli ibp = {NOT_GIVEN, NOT_GIVEN, INT_NOT_GIVEN};
    cli_dp_args dpa = CLI_DP_ARGS_INIT;
    cli_option opts[] = {
        {"--arch", OPT_STRING, &arch, "ARCH", "mlp, cnn-small, lenet5, cnn-tanh, resnet-mini, or an ONNX file", 1,
         0},
        {"--fine-tune", OPT_FLAG, &fine_tune, NULL, "keep --arch FILE.onnx's weights and train only the layer that "
         "makes its logits", 0, 0},
        CLI_DATA_OPTIONS(data),
        {"--bounds", OPT_STRING, &bounds, "LOW,HIGH", "input range of the images (default 0,1)", 0, 0},
        {"--output", OPT_STRING, &output, "FILE", "write the trained model as ONNX", 1, 0},
        {"--epochs", OPT_INT, &epochs, "N", "passes over the training set (default 2)", 0, 0},
        {"--batch", OPT_INT, &batch, "N", "minibatch size (default 64)", 0, 0},
        {"--limit", OPT_INT, &limit, "N", "train on the first N training examples only", 0, 0},
        {"--optimizer", OPT_STRING, &optimizer, "NAME", "sgd (default, momentum 0.9) or adam", 0, 0},
        {"--lr", OPT_FLOAT, &lr, "RATE", "learning rate (default: sgd 0.05, adam 1e-3)", 0, 0},
        {"--momentum", OPT_FLOAT, &momentum, "M", "SGD momentum (default 0.9)", 0, 0},
        {"--weight-decay", OPT_FLOAT, &weight_decay, "W", "L2 weight decay (default 0)", 0, 0},
        {"--schedule", OPT_STRING, &schedule, "NAME", "cosine (default), constant, or step", 0, 0},
        {"--step-size", OPT_INT, &step_size, "EPOCHS", "step schedule: decay every this many epochs (1)", 0, 0},
        {"--gamma", OPT_FLOAT, &gamma, "G", "step schedule: decay factor (0.1)", 0, 0},
        {"--crop-pad", OPT_INT, &crop_pad, "P", "augment: random crop after padding P pixels", 0, 0},
        {"--flip", OPT_FLAG, &flip, NULL, "augment: random horizontal flip", 0, 0},
        {"--tokenizer", OPT_STRING, &tokenizer, "KIND|FILE", "text: bytes (text-cnn's default), words (the others'), "
         "or a tokenizer file", 0, 0},
        {"--max-length", OPT_INT, &max_length, "L", "text: tokens per message (bytes 160, words 64)", 0, 0},
        {"--vocab-size", OPT_INT, &vocab_size, "V", "text, words: the V - 2 most frequent words (20000)", 0, 0},
        {"--hidden", OPT_STRING, &hidden_text, "SIZES", "mlp hidden sizes, e.g. 128,64 (0: none, a softmax regression)", 0, 0},
        {"--checkpoint", OPT_STRING, &checkpoint, "FILE", "checkpoint file", 0, 0},
        {"--manifest", OPT_STRING, &manifest_path, "FILE", "refuse DATA unless it matches this manifest "
         "(foil manifest); its hash goes into the model's metadata", 0, 0},
        {"--checkpoint-every", OPT_INT, &checkpoint_every, "STEPS", "also checkpoint every STEPS steps", 0, 0},
        {"--resume", OPT_FLAG, &resume, NULL, "continue from --checkpoint if it exists", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the per-epoch results as JSON", 0, 0},
        {"--adv", OPT_STRING, &adv, "MODE", "adversarial training: pgd, fgsm-rs, trades, or ibp (certified)", 0, 0},
        {"--eps", OPT_FLOAT, &adv_eps, "E", "--adv: Linf budget, in input units", 0, 0},
        {"--adv-steps", OPT_INT, &adv_steps, "N", "--adv pgd/trades: attack steps per batch (7 / 10)", 0, 0},
        {"--adv-step", OPT_FLOAT, &adv_step, "S", "--adv: attack step size (2.5 E / steps; fgsm-rs 1.25 E)", 0, 0},
        {"--trades-beta", OPT_FLOAT, &trades_beta, "B", "--adv trades: weight of the KL term (6)", 0, 0},
        {"--eps-warmup", OPT_INT, &eps_warmup, "EPOCHS", "--adv: grow eps linearly over these epochs; --adv ibp: "
         "clean epochs before the ramp (epochs / 20)", 0, 0},
        {"--eps-ramp", OPT_INT, &ibp.ramp, "EPOCHS", "--adv ibp: eps and kappa ramp over these epochs (half of the "
         "epochs after the warm-up)", 0, 0},
        {"--ibp-train-eps", OPT_FLOAT, &ibp.train_eps, "E", "--adv ibp: the eps trained at (1.1 x --eps)", 0, 0},
        {"--kappa-final", OPT_FLOAT, &ibp.kappa_final, "K", "--adv ibp: weight of the clean loss after the ramp "
         "(0.5)", 0, 0},
        {"--holdout", OPT_INT, &holdout, "N", "--adv: hold out the last N training examples to measure PGD "
         "accuracy each epoch", 0, 0},
        {"--eval-steps", OPT_INT, &eval_steps, "N", "--adv: PGD steps of that measurement (10)", 0, 0},
        {"--keep-best", OPT_FLAG, &keep_best, NULL, "--adv: end with the most robust epoch's weights", 0, 0},
        {"--temperature", OPT_FLOAT, &temperature, "T", "train on softmax(logits / T) (defensive distillation)", 0, 0},
        {"--noise-sigma", OPT_FLOAT, &noise_sigma, "S", "Gaussian noise augmentation for randomized smoothing "
         "(certify at the same sigma)", 0, 0},
        {"--distill", OPT_STRING, &teacher_path, "TEACHER.onnx", "learn the teacher's soft labels at --temperature",
         0, 0},
        CLI_DP_OPTIONS(dpa),
    };
    cli_common common;
    int rc = cli_parse(&cli_train, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc || (rc = cli_parse_bounds(&cli_train, bounds, &data))) return rc;
    foil_train_options o;
    foil_train_defaults(&o);
    int perr = parse_optimizer(optimizer, schedule, &o.optim);
    if (perr == -1) return cli_usage_error(&cli_train, "--optimizer must be adam or sgd, not '%s'", optimizer);
    if (perr == -2) return cli_usage_error(&cli_train, "--schedule must be constant, cosine or step, not '%s'", schedule);
    if (epochs < 1 || epochs > 256) return cli_usage_error(&cli_train, "--epochs must be between 1 and 256");
    if (batch < 1 || batch > 65536) return cli_usage_error(&cli_train, "--batch must be between 1 and 65536");
    if (crop_pad < 0 || crop_pad > 64) return cli_usage_error(&cli_train, "--crop-pad must be between 0 and 64");
    if (limit < 0 || checkpoint_every < 0 || step_size < 1)
        return cli_usage_error(&cli_train, "--limit, --checkpoint-every and --step-size must be positive");
    if (resume && !checkpoint) return cli_usage_error(&cli_train, "--resume needs --checkpoint FILE");
    if (lr != -1 && !(lr > 0)) return cli_usage_error(&cli_train, "--lr must be positive");
    if (momentum < 0 || momentum >= 1 || weight_decay < 0 || gamma <= 0)
        return cli_usage_error(&cli_train, "--momentum must lie in [0, 1), --weight-decay >= 0, --gamma > 0");
    int64_t hidden[16];
    int n_hidden = 0;
    /* --hidden 0: no hidden layer, the mlp is a softmax regression */
    if (hidden_text && strcmp(hidden_text, "0") != 0 && (n_hidden = parse_sizes(hidden_text, hidden, 16)) <= 0)
        return cli_usage_error(&cli_train, "--hidden expects positive sizes separated by commas, e.g. 128,64, "
                               "or 0 for none");
    if (lr > 0) o.optim.lr = lr;
    o.optim.momentum = momentum;
    o.optim.weight_decay = weight_decay;
    o.optim.step_size = step_size;
    o.optim.gamma = gamma;
    o.epochs = epochs;
    o.batch = batch;
    o.crop_pad = crop_pad;
    o.flip = flip;
    o.seed = (uint64_t)common.seed;
    o.checkpoint = checkpoint;
    o.checkpoint_every = checkpoint_every;
    o.resume = resume;
    o.quiet = common.quiet;
    o.log_epochs = !common.quiet;
    if ((rc = adv_options(adv, adv_eps, adv_step, adv_steps, trades_beta, eps_warmup, holdout, eval_steps, keep_best,
                          &ibp, epochs, &o.adv)))
        return rc;
    if (temperature < 0 || temperature > 1000 || (temperature > 0 && temperature < 1e-3))
        return cli_usage_error(&cli_train, "--temperature must lie in [0.001, 1000]");
    if (teacher_path && !(temperature > 0))
        return cli_usage_error(&cli_train, "--distill needs --temperature T (the teacher's, e.g. 100)");
    if (teacher_path && adv) return cli_usage_error(&cli_train, "--distill and --adv cannot be combined");
    o.temperature = (float)temperature;
    if (!(noise_sigma >= 0) || noise_sigma > 100) return cli_usage_error(&cli_train, "--noise-sigma must lie in [0, 100]");
    o.noise_sigma = (float)noise_sigma;
    if (fine_tune && (!cli_is_onnx_path(arch) || adv || teacher_path))
        return cli_usage_error(&cli_train, "--fine-tune takes a trained --arch FILE.onnx, without --adv or --distill");
    o.last_layer_only = fine_tune;
    if ((rc = cli_dp_parse(&cli_train, &dpa, &o.dp))) return rc;
    if (o.dp.enabled && (crop_pad > 0 || flip || noise_sigma > 0))
        return cli_usage_error(&cli_train, "--dp does not support augmentation (--crop-pad, --flip, --noise-sigma)");
    if (o.dp.enabled && (adv || teacher_path || temperature > 0 || fine_tune || checkpoint))
        return cli_usage_error(&cli_train, "--dp cannot be combined with --adv, --distill, --temperature, "
                               "--fine-tune or --checkpoint: its privacy accounting would not hold for them");
    if ((rc = cli_dp_seed(&cli_train, &o.dp, argc, argv, &common))) return rc;
    o.seed = (uint64_t)common.seed;
    cli_apply_common(&common);

    data.seed = (uint64_t)common.seed;
    foil_dataset train = {0}, test = {0};
    foil_model *model = NULL;
    foil_train_report report;
    foil_manifest manifest = {0};
    foil_status st = manifest_path ? foil_manifest_read(manifest_path, &manifest) : FOIL_OK;
    if (!st && manifest_path) st = foil_manifest_verify(&manifest, manifest_path, &data);
    foil_tokenizer *tok = NULL;
    const int text = arch && foil_arch_is_text(arch);
    if (!st && text) st = load_text(&data, tokenizer, arch, max_length, vocab_size, &train, &test, &tok);
    else if (!st) st = foil_data_load(&data, FOIL_SPLIT_TRAIN, &train);
    if (!st && !text) st = foil_data_load(&data, FOIL_SPLIT_TEST, &test);
    if (!st && limit && limit < train.x.shape[0]) {
        train.x.shape[0] = limit; /* a prefix: the data stays where it is */
        train.x.numel = limit * foil_dataset_example_size(&train);
        train.y.shape[0] = train.y.numel = limit;
    }
    foil_model *teacher = NULL;
    if (!st && teacher_path) st = foil_model_load(teacher_path, &teacher);
    o.teacher = teacher;
    if (!st && text) st = cli_build_text_arch(arch, tok, train.classes, (uint64_t)common.seed, &model);
    else if (!st) st = cli_build_arch(arch, &train, hidden_text ? hidden : NULL, n_hidden, (uint64_t)common.seed, fine_tune,
                                      &model);
    if (!st) st = foil_train(model, &train, &test, &o, &report);
    if (!st) st = record_provenance(model, argc, argv, manifest_path, manifest_path ? &manifest : NULL);
    foil_manifest_free(&manifest);
    /* Under mpirun every rank ends with the same weights; rank 0 writes them. */
    if (!st && foilDistRank() == 0) st = foil_model_save(model, output);
    char tok_path[4096] = "";
    if (tok) cli_tokenizer_beside(output, tok_path, sizeof tok_path);
    if (!st && tok && foilDistRank() == 0) st = foil_tokenizer_save(tok, tok_path);
    foil_tokenizer_free(tok);
    if (st) rc = cli_fail(&cli_train, st);
    else if (foilDistRank() != 0) rc = CLI_OK; /* rank 0 reports */
    else if (json) print_json(&report, &o, output);
    else if (!common.quiet && report.epochs == 0)
        printf("%s: the checkpoint has already finished all %lld epochs; model written to %s\n", checkpoint,
               (long long)epochs, output);
    else if (!common.quiet) {
        int64_t first = first_epoch(&report), kept = written_epoch(&report);
        printf("trained %s on %s%s%s: validation accuracy %.2f%% after %lld epochs (%.1f s); model written to %s\n",
               arch, train.name, o.adv.mode ? " adversarially with " : "",
               o.adv.mode ? foil_adv_mode_name(o.adv.mode) : "", 100 * report.epoch[kept].val_accuracy,
               (long long)(first + kept + 1), report.seconds, output);
        if (tok_path[0]) printf("tokenizer written to %s\n", tok_path);
        if (report.best_epoch >= 0)
            printf("kept epoch %lld, the most robust on the %lld held-out training examples (PGD-%d accuracy "
                   "%.2f%%)\n", (long long)report.best_epoch + 1, (long long)o.adv.holdout,
                   o.adv.eval_steps ? o.adv.eval_steps : 10, 100 * report.epoch[kept].robust_accuracy);
        if (o.dp.enabled)
            printf("DP-SGD: epsilon %.4g at delta %g (RDP, Balle et al. 2020 conversion; sigma %.4g, q %.4g, %lld "
                   "steps)\n", report.dp.epsilon, report.dp.delta, report.dp.noise_multiplier, report.dp.sample_rate,
                   (long long)report.dp.steps);
        if (o.adv.mode == FOIL_ADV_IBP)
            printf("verify it: foil verify --model %s --data %s --eps %g --method ibp,crown\n", output, data.data,
                   o.adv.eps);
        else if (o.adv.mode)
            printf("evaluate it under attack: foil attack --model %s --data %s --attack pgd,autoattack --eps %g\n",
                   output, data.data, o.adv.eps);
    }
    foil_model_free(model);
    foil_model_free(teacher);
    foil_dataset_free(&train);
    foil_dataset_free(&test);
    return rc;
}
