"""The foil Python package against the foil CLI (tests/test_python.sh runs it).

Environment (as ctest sets it): FOIL_BIN, FOIL_ATTACK_MODEL (cnn-small on
Fashion-MNIST), FOIL_SOURCE_DIR, FOIL_BUILD_DIR, FOIL_LIBRARY. Runs under
pytest or plain unittest.
"""
import ctypes
import gzip
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import foil

FASHION_TEST = pathlib.Path("/usr/share/datasets/fashion-mnist")
EXAMPLES = 20


def env(name):
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest(f"{name} is not set (run through tests/test_python.sh)")
    return value


def read_idx(path, header, count, size):
    with gzip.open(path, "rb") as f:
        f.read(header)
        return np.frombuffer(f.read(count * size), dtype=np.uint8)


def fashion_mnist_test(count):
    """The first `count` Fashion-MNIST test images in [0, 1] (N, 1, 28, 28) and their labels."""
    images = read_idx(FASHION_TEST / "t10k-images-idx3-ubyte.gz", 16, count, 784)
    labels = read_idx(FASHION_TEST / "t10k-labels-idx1-ubyte.gz", 8, count, 1)
    return (images.reshape(count, 1, 28, 28).astype(np.float32) / 255), labels.astype(np.int64)


def run_foil(*args):
    """`foil ARGS...`: its stdout; a failure shows its stderr."""
    done = subprocess.run([env("FOIL_BIN"), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"foil {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


class WithData(unittest.TestCase):
    """A temporary directory holding x.npy and y.npy: the same examples for the CLI and Python."""

    @classmethod
    def setUpClass(cls):
        if not (FASHION_TEST / "t10k-images-idx3-ubyte.gz").exists():
            raise unittest.SkipTest("dataset-fashion-mnist is not installed")
        cls.model_path = env("FOIL_ATTACK_MODEL")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = pathlib.Path(cls.tmp.name)
        cls.x, cls.y = fashion_mnist_test(EXAMPLES)
        np.save(cls.dir / "x.npy", cls.x)
        np.save(cls.dir / "y.npy", cls.y)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return str(self.dir / name)


class TestModel(WithData):
    def test_predict_matches_foil_predict(self):
        run_foil("predict", "--model", self.model_path, "--input", self.path("x.npy"), "--output",
                 self.path("logits.npy"))
        with foil.Model(self.model_path) as model:
            logits = model.predict(self.x)
            self.assertEqual(logits.dtype, np.float32)
            self.assertEqual(logits.shape, (EXAMPLES, model.n_classes))
        np.testing.assert_array_equal(logits, np.load(self.path("logits.npy")))

    def test_gradient_matches_foil_grad(self):
        run_foil("grad", "--model", self.model_path, "--input", self.path("x.npy"), "--labels", self.path("y.npy"),
                 "--output", self.path("grad.npy"))
        with foil.Model(self.model_path) as model:
            grad = model.gradient(self.x, self.y)
        self.assertEqual(grad.shape, self.x.shape)
        np.testing.assert_array_equal(grad, np.load(self.path("grad.npy")))

    def test_model_describes_itself(self):
        with foil.Model(self.model_path) as model:
            self.assertEqual(model.n_classes, 10)
            self.assertEqual(model.kind, "onnx")
            self.assertEqual(model.input_shape[-2:], (28, 28))

    def test_bad_model_file_raises_foil_error_naming_it(self):
        bad = self.dir / "bad.onnx"
        bad.write_text("not an ONNX model\n")
        with self.assertRaises(foil.FoilError) as caught:
            foil.Model(bad)
        self.assertIn("bad.onnx", str(caught.exception))

    def test_closed_model_refuses(self):
        model = foil.Model(self.model_path)
        model.close()
        with self.assertRaises(ValueError):
            model.predict(self.x)


class TestAttack(WithData):
    def test_pgd_matches_the_cli_exactly(self):
        """Same examples, seed, batch and threads (OMP_NUM_THREADS from the
        environment, inherited by the CLI): the same adversarial examples,
        bit for bit, and the same summary as --json."""
        out = run_foil("attack", "--model", self.model_path, "--data", self.path("x.npy"), "--labels",
                       self.path("y.npy"), "--bounds", "0,1", "--attack", "pgd", "--eps", "0.1", "--seed", "3",
                       "--batch", "8", "--out", self.path("adv.npy"), "--json", "--quiet")
        cli = json.loads(out)
        with foil.Model(self.model_path) as model:
            result = foil.attack(model, self.x, self.y, attack="pgd", eps=0.1, seed=3, batch=8)
        self.assertTrue(np.array_equal(result.adversarial, np.load(self.path("adv.npy"))))
        for key, value in cli.items():
            if key in ("seconds", "images_per_second"):
                continue
            if isinstance(value, float):  # cJSON prints 15 significant digits
                self.assertTrue(math.isclose(getattr(result, key), value, rel_tol=1e-14), key)
            else:
                self.assertEqual(getattr(result, key), value, key)
        self.assertGreater(result.success_rate, 0)
        self.assertEqual(result.attacked.sum(), np.sum(result.clean_pred == self.y))
        self.assertLessEqual(result.norms.max(), np.float32(0.1) * (1 + 1e-6))

    def test_labels_may_be_one_hot(self):
        with foil.Model(self.model_path) as model:
            by_class = foil.attack(model, self.x[:4], self.y[:4], eps=0.05, steps=3, seed=1)
            by_one_hot = foil.attack(model, self.x[:4], np.eye(10)[self.y[:4]], eps=0.05, steps=3, seed=1)
        np.testing.assert_array_equal(by_class.adversarial, by_one_hot.adversarial)

    def test_unknown_attack_raises_foil_error(self):
        with foil.Model(self.model_path) as model, self.assertRaises(foil.FoilError) as caught:
            foil.attack(model, self.x[:2], self.y[:2], attack="no-such-attack")
        self.assertIn("no-such-attack", str(caught.exception))

    def test_progress_callback_reaches_total(self):
        calls = []
        with foil.Model(self.model_path) as model:
            result = foil.attack(model, self.x, self.y, eps=0.05, steps=2, batch=4,
                                 progress=lambda label, done, total: calls.append((label, done, total)))
        self.assertTrue(calls)
        label, done, total = calls[-1]
        self.assertEqual(label, "pgd")
        self.assertEqual(total, int(result.attacked.sum()))
        self.assertEqual(done, total)
        self.assertEqual([d for _, d, _ in calls], sorted(d for _, d, _ in calls))

    def test_progress_callback_exception_propagates(self):
        def fail(label, done, total):
            raise KeyError("stop")
        with foil.Model(self.model_path) as model, self.assertRaises(KeyError):
            foil.attack(model, self.x[:4], self.y[:4], eps=0.05, steps=2, progress=fail)


class TestConstraintsAndFitSet(WithData):
    def test_immutable_and_integer_features_hold(self):
        features = self.x[0].size
        fixed = np.zeros(features, bool)
        fixed[: features // 2] = True          # the top half of each image may not change
        whole = np.zeros(features, bool)
        whole[-28:] = True                     # the bottom row stays 0 or 1
        with foil.Model(self.model_path) as model:
            r = foil.attack(model, self.x, self.y, eps=0.6, steps=10, seed=2, immutable=fixed, integer=whole)
        x = self.x.reshape(len(self.x), -1)
        adv = r.adversarial.reshape(len(self.x), -1)
        np.testing.assert_array_equal(adv[:, fixed], x[:, fixed])
        moved = adv[:, ~fixed & ~whole] != x[:, ~fixed & ~whole]
        self.assertTrue(moved.any(), "the free features never moved: the check would be empty")
        # an integer feature keeps its value or takes a whole one (0 or 1 here)
        changed = adv[:, whole] != x[:, whole]
        self.assertTrue(changed.any(), "no integer feature moved: the check would be empty")
        np.testing.assert_array_equal(adv[:, whole][changed], np.round(adv[:, whole][changed]))
        with foil.Model(self.model_path) as model, self.assertRaises(ValueError):
            foil.attack(model, self.x, self.y, eps=0.1, immutable=fixed[:10])

    def test_universal_learns_on_the_fit_set(self):
        with foil.Model(self.model_path) as model:
            with self.assertRaises(foil.FoilError) as caught:
                foil.attack(model, self.x[10:], self.y[10:], attack="universal", eps=0.2)
            self.assertIn("fit", str(caught.exception))
            r = foil.attack(model, self.x[10:], self.y[10:], attack="universal", eps=0.2, seed=0,
                            fit_x=self.x[:10], fit_y=self.y[:10])
        self.assertEqual(r.examples, len(self.x) - 10)
        self.assertTrue(np.all(np.abs(r.adversarial - self.x[10:]) <= 0.2 + 1e-6))
        self.assertGreater(int(r.attacked.sum()), 0)


class TestRegistry(unittest.TestCase):
    def test_attacks_lists_the_registry(self):
        by_name = {a.name: a for a in foil.attacks()}
        self.assertIn("pgd", by_name)
        self.assertIn("linf", by_name["pgd"].norms)
        self.assertFalse(by_name["pgd"].black_box)
        self.assertTrue(by_name["square"].black_box)
        self.assertTrue(by_name["pgd"].paper)

    def test_library_version_has_the_expected_major(self):
        self.assertEqual(int(foil.library_version().split(".")[0]), foil._lib.EXPECTED_MAJOR)


class TestStructLayout(unittest.TestCase):
    """Each ctypes mirror has the C struct's size and every field its offset
    and size, as a C program compiled against include/foil says."""

    def test_mirrors_match_the_c_headers(self):
        from foil import _lib
        source = ["#include <stddef.h>", "#include <stdio.h>", "#include \"foil/evasion.h\"",
                  "#include \"foil/eval.h\"", "int main(void) {"]
        expected = []
        for mirror, c_name in _lib.MIRRORED.items():
            source.append(f'printf("{c_name} %zu\\n", sizeof({c_name}));')
            expected.append(f"{c_name} {ctypes.sizeof(mirror)}")
            for field, *_ in mirror._fields_:  # offset and size: padding can hide a wrong type's size
                source.append(f'printf("{c_name}.{field} %zu %zu\\n", offsetof({c_name}, {field}), '
                              f'sizeof((({c_name} *)0)->{field}));')
                expected.append(f"{c_name}.{field} {getattr(mirror, field).offset} {getattr(mirror, field).size}")
        source.append("return 0; }")
        with tempfile.TemporaryDirectory() as tmp:
            c_file, program = pathlib.Path(tmp, "sizes.c"), pathlib.Path(tmp, "sizes")
            c_file.write_text("\n".join(source) + "\n")
            cc = os.environ.get("CC", "cc")
            subprocess.run([cc, "-I", os.path.join(env("FOIL_SOURCE_DIR"), "include"), "-I",
                            os.path.join(env("FOIL_BUILD_DIR"), "include"), "-o", str(program), str(c_file)],
                           check=True)
            actual = subprocess.run([str(program)], check=True, capture_output=True, text=True).stdout.split("\n")
        self.assertEqual([line for line in actual if line], expected)


class TestArtAdapter(WithData):
    def test_foil_evasion_speaks_arts_interface(self):
        """ART's names, one-hot y, y=None meaning the model's predictions."""
        from foil.art import FoilEvasion
        with foil.Model(self.model_path) as model:
            evasion = FoilEvasion(model, "pgd", eps=0.05, eps_step=0.01, max_iter=5, norm=np.inf, batch_size=8)
            x_adv = evasion.generate(self.x, np.eye(10)[self.y])
            direct = foil.attack(model, self.x, self.y, eps=0.05, step_size=0.01, steps=5, batch=8)
            np.testing.assert_array_equal(x_adv, direct.adversarial)
            on_predictions = evasion.generate(self.x)
            self.assertEqual(evasion.result.clean_accuracy, 1.0)  # labels = the model's own predictions
            self.assertEqual(on_predictions.shape, self.x.shape)

    def test_art_compute_success_agrees(self):
        """ART's compute_success counts adv_pred != clean_pred over the
        examples given; on the examples foil attacked (clean prediction
        correct) that is foil's success_rate."""
        try:
            import art.utils
        except ImportError:
            self.skipTest("ART (adversarial-robustness-toolbox) is not importable")
        from foil.art import FoilEvasion, classifier
        with foil.Model(self.model_path) as model:
            evasion = FoilEvasion(model, "pgd", eps=0.1, batch_size=8)
            x_adv = evasion.generate(self.x, self.y)
            art_classifier = classifier(model, nb_classes=10, input_shape=(1, 28, 28), clip_values=(0, 1))
            attacked = evasion.result.attacked
            rate = art.utils.compute_success(art_classifier, self.x[attacked], self.y[attacked], x_adv[attacked])
        self.assertAlmostEqual(rate, evasion.result.success_rate, places=12)


class TestReadmeExample(WithData):
    """README.md's Python example, as written, between its markers."""

    def test_readme_example_runs(self):
        readme = pathlib.Path(env("FOIL_SOURCE_DIR"), "README.md").read_text()
        found = re.search(r"<!-- python-example[^>]*-->\s*```python\n(.*?)```", readme, re.S)
        self.assertIsNotNone(found, "README.md lacks the <!-- python-example --> code block")
        self.assertLessEqual(len(found.group(1).strip().splitlines()), 12)
        os.symlink(self.model_path, self.dir / "model.onnx")
        done = subprocess.run([sys.executable, "-c", found.group(1)], cwd=self.dir, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("robust accuracy", done.stdout)
        self.assertEqual(np.load(self.dir / "adversarial.npy").shape, self.x.shape)


if __name__ == "__main__":
    unittest.main()
