/*
 * foil/scan.h - finding poison in a training set from a model trained on
 * it (ART's poison filtering defences).
 *
 * Both scans read each training example's penultimate features (the input
 * of the logits' linear layer; foil_model_load_features) from a model
 * trained on the possibly poisoned set, and look at each label's examples
 * apart: a backdoor teaches the model a feature, the trigger, that the
 * poisoned examples of the target label share and the clean ones lack.
 *
 *   spectral     Tran, Li and Madry 2018, spectral signatures: per label,
 *                the features centred on their mean, their top right
 *                singular vector v, and each example's score
 *                ((r_i - mean) . v)^2; the 1.5 eps n_label highest
 *                scores of every label are flagged, eps the largest share
 *                of a label that may be poison (the paper's epsilon).
 *   clustering   Chen et al. 2018, activation clustering: per label, the
 *                features projected on their top `dims` principal
 *                components (the paper uses ICA; ART's default is PCA too),
 *                split in two by k-means (k-means++ seeding, the best of
 *                `restarts`), and the smaller cluster flagged when it holds
 *                at most `size_threshold` of the label (the paper's
 *                relative-size analysis; ART's ActivationDefence default
 *                of 0.35). With a trusted reference (examples known to be
 *                clean, e.g. held-out data; foil's addition, not the
 *                paper's), the decision is by the reference instead of by
 *                size: its examples of the label, projected the same way,
 *                go to the nearer cluster's centre, and a cluster holding
 *                less than a fifth of the reference's share that it holds
 *                of the label's data is flagged. A trigger is what the
 *                clean examples lack, so its cluster draws none of them;
 *                the size rule cannot see a poison that is half its label
 *                or more (an all-to-one backdoor on 10% of a ten-class
 *                set), and flags the smaller of two natural sub-groups of
 *                a clean label.
 *   loss         a loss-based outlier filter: per label, each example's
 *                cross-entropy under the model (pass the classifier, not
 *                its features), the 1.5 eps n highest flagged. A flipped
 *                label fights what the rest of its class taught the model,
 *                so its loss stays high; a backdoor's poison is learned
 *                and is not found this way.
 *
 * The eigenvectors come from a cyclic Jacobi eigendecomposition of the
 * features' covariance in double (features of up to 4,096 dimensions).
 *
 * STRIP (below) scans inputs, not training data: it flags triggered inputs
 * to a model at inference.
 */
#ifndef FOIL_SCAN_H
#define FOIL_SCAN_H

#include <stdint.h>

#include "foil/model.h"
#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum foil_scan_method { FOIL_SCAN_SPECTRAL = 0, FOIL_SCAN_CLUSTERING = 1, FOIL_SCAN_LOSS = 2 } foil_scan_method;

/* "spectral", "clustering", "loss"; parse: FOIL_ERR_ARG naming s. */
const char *foil_scan_method_name(foil_scan_method m);
foil_status foil_scan_method_parse(const char *s, foil_scan_method *m);

typedef struct foil_scan_options {
    foil_scan_method method;
    double eps;              /* spectral, loss: 0 < eps <= 0.66 (0: 0.1) */
    int64_t dims;            /* clustering: principal components kept (0: 10) */
    double size_threshold;   /* clustering: 0 < t < 1 (0: 0.35) */
    int64_t restarts;        /* clustering: k-means runs, the lowest inertia kept (0: 10) */
    const foil_tensor *trusted_x; /* clustering: a trusted clean reference shaped like x (NULL: the size rule) */
    const int64_t *trusted_y;     /* its labels */
    uint64_t seed;
} foil_scan_options;

typedef struct foil_scan_result {
    int64_t n;
    uint8_t *flagged;        /* per example: 1 = taken for poison */
    double *score;           /* per example: spectral score, loss, or for clustering the share of its label in its cluster */
    int64_t n_flagged;
} foil_scan_result;

/* Scan n examples x (N, ...) with labels y in [0, classes) by the features
 * `features` gives them (a foil_model_load_features model; for loss, the
 * classifier itself). */
foil_status foil_scan_data(foil_model *features, const foil_tensor *x, const int64_t *y, int64_t classes,
                           const foil_scan_options *o, foil_scan_result *r);

void foil_scan_result_free(foil_scan_result *r);

/* STRIP (Gao et al. 2019), at inference, no training data needed: each
 * input x_i is blended with `overlays` clean images p drawn from pool,
 * alpha x_i + (1 - alpha) p (alpha 0.5, as TrojanZoo's STRIP; the paper
 * adds the two images), and its score is the mean entropy, in bits, of the
 * model's softmax over the blends. A backdoored model keeps answering the
 * target on a triggered input whatever is blended in: low entropy. The
 * pool images come from seed and the input's index (the same input at the
 * same index gets the same blends, whichever others come with it). */
typedef struct foil_strip_options {
    int64_t overlays;        /* blends per input (0: 100) */
    double alpha;            /* the input's weight in a blend, 0 < alpha < 1 (0: 0.5) */
    int64_t batch;           /* inputs blended and classified together (0: 10) */
    uint64_t seed;
} foil_strip_options;

/* entropy: one per input of x (N, ...); pool: clean images of x's shape. */
foil_status foil_strip_entropy(foil_model *m, const foil_tensor *x, const foil_tensor *pool,
                               const foil_strip_options *o, double *entropy);

/* Neural Cleanse (Wang et al. 2019), on the model alone and some clean
 * images: for every class t, the smallest trigger that sends the images to
 * t, a mask m (H x W, in [0, 1]) and a pattern p (the image's shape, in the
 * input range) applied as (1 - m) x + m p, found by Adam on
 * CE(model(x'), t) + lambda |m|_1 over batches of the images, lambda
 * adjusted as the paper does (times 1.5 after `patience` checks at or above
 * the target success, divided by 1.5^1.5 after as many below). A
 * backdoor's target needs a far smaller mask than the other classes: the
 * anomaly index of each class is |norm - median| / (1.4826 MAD) over the
 * classes' mask norms, and a class below the median with an index above 2
 * is flagged. */
enum { FOIL_CLEANSE_DEFAULT_STEPS = 1200 };

typedef struct foil_cleanse_options {
    int64_t steps;           /* Adam steps per class (0: FOIL_CLEANSE_DEFAULT_STEPS; at 400 the norms were still
                              * noisy enough that a clean Fashion-MNIST cnn-small showed an anomaly index of 2.34,
                              * at 1200 1.68; but over four seeds and image sets at 1200 its Bag class ranged from
                              * 2.14 to 4.15: the index varies with both, README's audit section) */
    int64_t batch;           /* images per step (0: 32) */
    double init_cost;        /* lambda's start (0: 1e-3) */
    double target_success;   /* the share of images a trigger must send to t (0: 0.99) */
    double lr;               /* Adam's step size (0: 0.1, the paper's) */
    uint64_t seed;
    int quiet;
} foil_cleanse_options;

typedef struct foil_cleanse_result {
    int64_t classes;
    double *norm;            /* per class: L1 norm of the smallest mask reaching the target success (INFINITY: none) */
    double *success;         /* its success on the images */
    double *anomaly;         /* per class: the anomaly index */
    int64_t flagged;         /* the class flagged, or -1 */
    double flagged_anomaly;  /* the largest anomaly index below the median (0 when none) */
    double median, mad;      /* the finite norms' median and 1.4826 x their median absolute deviation (NaN: fewer
                              * than 3 finite norms), so a class is flagged below median - 2 mad */
    foil_tensor mask;        /* (classes, H, W): each class's mask */
    foil_tensor pattern;     /* (classes, ...): each class's pattern, the images' shape */
} foil_cleanse_result;

/* images: clean images (N, C, H, W) or (N, H, W); lower, upper: one
 * image's input range each. */
foil_status foil_neural_cleanse(foil_model *m, const foil_tensor *images, const float *lower, const float *upper,
                                const foil_cleanse_options *o, foil_cleanse_result *r);
void foil_cleanse_result_free(foil_cleanse_result *r);

#ifdef __cplusplus
}
#endif

#endif
