"""VGG-Face: architecture, legacy Keras 2 weights loading, weights-file errors, embeddings, lazy TensorFlow.

The real weights cannot be downloaded here, so the loader is tested on a
full-size file of random values written in the published layout
(:mod:`vgg_fixtures`). Error cases use small "lazy" files (datasets declared,
never written), since the layout is checked from HDF5 metadata alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from facecam.errors import ModelError
from facecam.embedders.vggface import (
    EXPECTED_LAYERS,
    FACE_FRACTION,
    VGG_MEAN_RGB,
    preprocess,
    validate_weights_file,
    weights_fingerprint,
)
from vgg_fixtures import keras2_layer_names, real_face_crops, write_vggface_weights

REPO = Path(__file__).resolve().parents[1]

# Written out here, not imported, so that a wrong table in the module fails the test.
PUBLISHED_KERNELS = [
    (3, 3, 3, 64), (3, 3, 64, 64),
    (3, 3, 64, 128), (3, 3, 128, 128),
    (3, 3, 128, 256), (3, 3, 256, 256), (3, 3, 256, 256),
    (3, 3, 256, 512), (3, 3, 512, 512), (3, 3, 512, 512),
    (3, 3, 512, 512), (3, 3, 512, 512), (3, 3, 512, 512),
    (7, 7, 512, 4096), (1, 1, 4096, 4096), (1, 1, 4096, 2622),
]


def assert_one_line_model_error(excinfo, *fragments: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert "download it again" in message and "--weights PATH" in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A full-size (580 MB) random-valued weights file in the published layout; deleted after this module."""
    path = write_vggface_weights(tmp_path_factory.mktemp("vggface") / "vgg_face_weights.h5", seed=2015)
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def vgg(random_weights):
    from facecam.embedders.vggface import VggFaceEmbedder

    return VggFaceEmbedder(random_weights, runtime="tensorflow")


@pytest.fixture(scope="module")
def real_crops(detector, vgg):
    """(names, aligned crops) of 12 real faces from tests/data, through facecam's read-detect-align path."""
    return real_face_crops(detector, vgg.align_spec)


@pytest.fixture(scope="module")
def reference(vgg, real_crops):
    """TensorFlow fp32 embeddings of the real crops: the reference every runtime is held to."""
    return vgg.embed(real_crops[1])


@pytest.fixture(scope="module")
def ir_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("openvino-cache")


@pytest.fixture(scope="module", params=["openvino-bf16", "openvino-f32"])
def fast_vgg(request, random_weights, ir_cache):
    from facecam.embedders.vggface import VggFaceEmbedder

    return VggFaceEmbedder(random_weights, runtime=request.param, cache_dir=ir_cache)


@pytest.fixture(scope="module")
def bare_model():
    from facecam.embedders.vggface import build_vggface

    return build_vggface(include_head=True)


def face_crop(seed: int) -> np.ndarray:
    """A synthetic 224x224 RGB 'face': skin-coloured ellipse, eyes, mouth on a textured background."""
    import cv2

    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 6)
    skin = tuple(int(v) for v in rng.integers(90, 230, 3))
    cx, cy = 112 + int(rng.integers(-8, 9)), 118 + int(rng.integers(-8, 9))
    cv2.ellipse(image, (cx, cy), (int(rng.integers(55, 70)), int(rng.integers(70, 88))), 0, 0, 360, skin, -1)
    for dx in (-28, 28):
        cv2.circle(image, (cx + dx, cy - 18), int(rng.integers(5, 10)), (30, 30, 30), -1)
    cv2.ellipse(image, (cx, cy + 38), (int(rng.integers(14, 26)), 7), 0, 0, 180, (120, 40, 40), -1)
    return image


def lazy_file(tmp_path, name="weights.h5", **kwargs) -> Path:
    return write_vggface_weights(tmp_path / name, values="lazy", **kwargs)


# --------------------------------------------------------------------------- import time


def test_importing_the_module_does_not_import_tensorflow():
    code = ("import sys, facecam.embedders.vggface as v; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_validating_a_file_does_not_import_tensorflow(tmp_path):
    path = lazy_file(tmp_path, omit_layer=2)
    code = ("import sys\nfrom facecam.embedders.vggface import validate_weights_file\n"
            f"try:\n    validate_weights_file({str(path)!r})\nexcept Exception as e:\n    print(type(e).__name__)\n"
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ModelError", "False"]


# --------------------------------------------------------------------------- architecture


@pytest.mark.slow
def test_full_model_has_the_published_parameter_count_and_layers(bare_model):
    import keras

    assert bare_model.count_params() == 145_002_878
    assert tuple(bare_model.input_shape) == (None, 224, 224, 3)
    assert tuple(bare_model.output_shape) == (None, 2622)
    convs = [layer for layer in bare_model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [tuple(layer.kernel.shape) for layer in convs] == PUBLISHED_KERNELS
    assert [tuple(layer.bias.shape) for layer in convs] == [(k[-1],) for k in PUBLISHED_KERNELS]
    assert [layer for layer in bare_model.layers if layer.weights] == convs
    # Every 3x3 convolution is ZeroPadding2D((1,1)) + a "valid" Conv2D, with ReLU; fc8 is linear.
    for layer in convs:
        assert layer.padding == "valid" and layer.strides == (1, 1)
        assert layer.activation.__name__ == ("linear" if layer.name == "fc8" else "relu")
    paddings = [layer for layer in bare_model.layers if isinstance(layer, keras.layers.ZeroPadding2D)]
    assert len(paddings) == 13 and all(p.padding == ((1, 1), (1, 1)) for p in paddings)
    pools = [layer for layer in bare_model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(pools) == 5 and all(p.pool_size == (2, 2) and p.strides == (2, 2) for p in pools)
    dropouts = [layer for layer in bare_model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in dropouts] == [0.5, 0.5]
    assert tuple(bare_model.get_layer("pool5").output.shape) == (None, 7, 7, 512)
    assert tuple(bare_model.get_layer("fc7").output.shape) == (None, 1, 1, 4096)
    assert bare_model.layers[-1].activation.__name__ == "softmax"


@pytest.mark.slow
def test_model_without_head_ends_at_fc7():
    from facecam.embedders.vggface import build_vggface

    model = build_vggface(include_head=False)
    assert tuple(model.output_shape) == (None, 4096)
    assert model.count_params() == 145_002_878 - (4096 * 2622 + 2622)
    assert len([layer for layer in model.layers if layer.weights]) == 15


# --------------------------------------------------------------------------- loading the published layout


def test_fixture_file_has_the_keras2_legacy_layout(random_weights):
    names = [name for name, _ in keras2_layer_names()]
    with h5py.File(random_weights, "r") as handle:
        assert [n.decode() for n in handle.attrs["layer_names"]] == names
        text = {key: (value.decode() if isinstance(value, bytes) else str(value))
                for key, value in handle.attrs.items() if key != "layer_names"}
        assert text["backend"] == "tensorflow" and text["keras_version"].startswith("2.")
        assert len(names) == 38       # 13 paddings, 16 convolutions, 5 pools, 2 dropouts, flatten, softmax
        # HDF5 lists groups alphabetically: conv2d_10 before conv2d_2. Loading must follow layer_names.
        assert list(handle.keys()).index("conv2d_10") < list(handle.keys()).index("conv2d_2")
        assert list(handle["max_pooling2d_1"].attrs["weight_names"]) == []
        assert handle["conv2d_3/conv2d_3/kernel:0"].shape == (3, 3, 64, 128)
        assert handle["conv2d_3/conv2d_3/kernel:0"].dtype == np.float32
    validate_weights_file(random_weights)     # the stand-in passes the real file's checks


@pytest.mark.slow
def test_loaded_weights_equal_the_files_arrays(vgg, random_weights):
    # every convolution (conv5_1 and conv5_2 have the same shapes: a swap must show), fc7 and the head
    checks = [(ours, f"conv2d_{index}") for index, (ours, _, _) in enumerate(EXPECTED_LAYERS[:13], start=1)]
    checks += [("fc7", "conv2d_15"), ("fc8", "conv2d_16")]
    with h5py.File(random_weights, "r") as handle:
        for ours, theirs in checks:
            layer = vgg.model.get_layer(ours)
            kernel = handle[f"{theirs}/{theirs}/kernel:0"][()]
            bias = handle[f"{theirs}/{theirs}/bias:0"][()]
            assert np.std(kernel) > 0 and np.std(bias) > 0
            np.testing.assert_array_equal(layer.kernel.numpy(), kernel, err_msg=ours)
            np.testing.assert_array_equal(layer.bias.numpy(), bias, err_msg=ours)
        # fc6 (411 MB): compare its first and last rows, and the bias.
        fc6 = vgg.model.get_layer("fc6")
        dataset = handle["conv2d_14/conv2d_14/kernel:0"]
        for row in (0, 6):
            np.testing.assert_array_equal(fc6.kernel.value[row].numpy(), dataset[row])
        np.testing.assert_array_equal(fc6.bias.numpy(), handle["conv2d_14/conv2d_14/bias:0"][()])


@pytest.mark.slow
def test_loading_checks_against_the_models_own_layers(random_weights):
    from facecam.embedders.vggface import build_vggface, load_vggface_weights

    headless = build_vggface(include_head=False)          # 15 weighted layers: the file's 16 do not fit
    with pytest.raises(ModelError) as excinfo:
        load_vggface_weights(headless, random_weights)
    assert_one_line_model_error(excinfo, "found 16 weighted layers, expected 15")
    assert np.count_nonzero(headless.get_layer("conv1_1").kernel.numpy()) == 0   # nothing half-loaded


@pytest.mark.slow
def test_head_is_loaded_and_gives_probabilities(vgg):
    probabilities = vgg.model(preprocess(face_crop(1)[None]), training=False).numpy()
    assert probabilities.shape == (1, 2622)
    assert abs(float(probabilities.sum()) - 1.0) < 1e-4 and float(probabilities.min()) >= 0


# --------------------------------------------------------------------------- embeddings


@pytest.mark.slow
def test_embedder_satisfies_the_protocol(vgg):
    from facecam.embedders.base import Embedder

    assert isinstance(vgg, Embedder)
    assert vgg.name == "vgg-face" and vgg.dim == 4096
    assert vgg.align_spec.size == 224
    # The ArcFace template shrunk by FACE_FRACTION about the centre: 35.24 px eye distance at 112.
    eyes = vgg.align_spec.template[:2]
    assert np.isclose(eyes[1, 0] - eyes[0, 0], (73.5318 - 38.2946) / 112 * 224 * FACE_FRACTION)
    assert "ff0.90" in vgg.version and vgg.version.startswith("vgg-face/")


@pytest.mark.slow
def test_embeddings_are_unit_non_negative_and_deterministic(vgg):
    faces = np.stack([face_crop(1), face_crop(2)])
    first = vgg.embed(faces)
    assert first.shape == (2, 4096) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert float(first.min()) >= 0.0                          # fc7 is taken after its ReLU
    assert 0.05 < float(np.mean(first > 0)) < 0.95            # not degenerate
    # Same crop -> identical embedding; different crops -> different embeddings.
    np.testing.assert_array_equal(vgg.embed(faces), first)
    assert float(np.abs(first[0] - first[1]).max()) > 1e-3
    assert float(first[0] @ first[1]) < 0.9999
    # A single face embeds as in a batch (up to float rounding), and a 3-d input is one face.
    np.testing.assert_allclose(vgg.embed(faces[1]), first[1:], atol=1e-5)


@pytest.mark.slow
def test_traced_once_for_every_batch_size(vgg, monkeypatch):
    faces = np.stack([face_crop(seed) for seed in range(10, 14)])
    results = {n: vgg.embed(faces[:n]) for n in (1, 3, 4)}
    assert vgg.trace_count == 1
    monkeypatch.setattr(vgg, "batch_size", 3)
    chunked = vgg.embed(faces)                                # 4 faces in chunks of 3 and 1
    assert vgg.trace_count == 1
    for n, embedding in results.items():
        assert embedding.shape == (n, 4096)
        np.testing.assert_allclose(embedding, chunked[:n], atol=1e-5)


@pytest.mark.slow
def test_no_faces_returns_empty_without_running_the_model(vgg, monkeypatch):
    def forbidden(_):
        raise AssertionError("the model must not run for zero faces")

    monkeypatch.setattr(vgg, "_run", forbidden)
    empty = vgg.embed(np.zeros((0, 224, 224, 3), dtype=np.uint8))
    assert empty.shape == (0, 4096) and empty.dtype == np.float32


@pytest.mark.slow
def test_embed_rejects_wrong_size_or_dtype(vgg):
    with pytest.raises(ValueError, match="224"):
        vgg.embed(np.zeros((1, 112, 112, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        vgg.embed(np.zeros((1, 224, 224, 3), dtype=np.float32))


def test_preprocess_subtracts_the_vgg_face_mean_in_rgb_order():
    face = np.zeros((1, 224, 224, 3), dtype=np.uint8)
    face[..., 0], face[..., 1], face[..., 2] = 129, 105, 94      # R, G, B
    out = preprocess(face)
    assert out.dtype == np.float32 and out.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(out[0, 0, 0], [129 - 129.1863, 105 - 104.7624, 94 - 93.5940], atol=1e-4)
    assert VGG_MEAN_RGB == (129.1863, 104.7624, 93.5940)
    white = preprocess(np.full((1, 224, 224, 3), 255, np.uint8))
    np.testing.assert_allclose(white[0, 5, 5], 255 - np.array(VGG_MEAN_RGB), atol=1e-4)   # no /255 scaling


# --------------------------------------------------------------------------- broken files


@pytest.mark.slow
@pytest.mark.parametrize("keep", ["head", "all_but_the_last_kilobyte"])
def test_truncated_file_is_refused(random_weights, tmp_path, keep):
    size = random_weights.stat().st_size
    length = 65536 if keep == "head" else size - 1024
    truncated = tmp_path / "vgg_face_weights.h5"
    with open(random_weights, "rb") as source, open(truncated, "wb") as target:
        remaining = length
        while remaining:
            chunk = source.read(min(remaining, 16 << 20))
            target.write(chunk)
            remaining -= len(chunk)
    try:
        with pytest.raises(ModelError) as excinfo:
            validate_weights_file(truncated)
        assert_one_line_model_error(excinfo, str(truncated), "truncated")
        from facecam.embedders.vggface import VggFaceEmbedder

        with pytest.raises(ModelError, match="truncated"):
            VggFaceEmbedder(truncated)
    finally:
        truncated.unlink()          # up to 580 MB; pytest keeps the last three runs' folders


def test_wrong_kernel_shape_is_named(tmp_path):
    path = lazy_file(tmp_path, kernel_shapes={3: (3, 3, 64, 64)})
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "layer 3 (conv2d_3) kernel has shape (3,3,64,64), expected (3,3,64,128)")


def test_transposed_fc6_kernel_is_named(tmp_path):
    path = lazy_file(tmp_path, kernel_shapes={14: (4096, 512, 7, 7)})
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "layer 14 (conv2d_14) kernel has shape (4096,512,7,7), "
                                         "expected (7,7,512,4096)")


def test_dense_style_fc6_is_refused(tmp_path):
    path = lazy_file(tmp_path, kernel_shapes={14: (25088, 4096)})
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "layer 14 (conv2d_14) kernel has shape (25088,4096)")


@pytest.mark.parametrize("omit", [1, 7, 16])
def test_missing_layer_is_counted(tmp_path, omit):
    path = lazy_file(tmp_path, omit_layer=omit)
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "found 15 weighted layers, expected 16")


def test_file_with_no_values_written_is_refused(tmp_path):
    path = lazy_file(tmp_path)                 # right layout, but the datasets were never written
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "layer 1 (conv2d_1) kernel has no values stored")


@pytest.mark.parametrize("content, expected", [
    ("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n",
     "is an HTML page"),
    ("  <html>\n<body>Sign in to continue</body></html>", "is an HTML page"),
    ("Not Found\n", "is a text file"),
    ('{"error": "rate limited"}', "is a JSON/text file"),
    ("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 580085408\n", "Git LFS pointer"),
])
def test_text_or_html_instead_of_hdf5_is_named(tmp_path, content, expected):
    path = tmp_path / "vgg_face_weights.h5"
    path.write_text(content)
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    message = assert_one_line_model_error(excinfo, expected)
    if "html" in expected.lower() or "text" in expected:
        assert "failed download" in message


def test_binary_junk_and_empty_and_missing_files_are_named(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(bytes(range(256)) * 64)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    for path, fragment in [(junk, "is not an HDF5 file"), (empty, "is empty"),
                           (tmp_path / "absent.h5", "does not exist"), (tmp_path, "is not a file")]:
        with pytest.raises(ModelError) as excinfo:
            validate_weights_file(path)
        assert_one_line_model_error(excinfo, fragment, str(path))


def test_hdf5_that_is_not_keras_weights_is_named(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["data"] = np.zeros(3)
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "not a Keras weights file")


def test_layer_listed_but_missing_is_named(tmp_path):
    path = lazy_file(tmp_path)
    with h5py.File(path, "a") as handle:
        del handle["conv2d_5"]
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "layer_names lists 'conv2d_5' but the file has no group of that name")


def test_weight_listed_but_missing_is_named(tmp_path):
    path = lazy_file(tmp_path)
    with h5py.File(path, "a") as handle:
        del handle["conv2d_2/conv2d_2/bias:0"]
    with pytest.raises(ModelError) as excinfo:
        validate_weights_file(path)
    assert_one_line_model_error(excinfo, "layer 2 (conv2d_2) lists weight 'conv2d_2/bias:0' but the file "
                                         "has no such dataset")


def test_constructor_validates_before_importing_tensorflow(tmp_path):
    path = tmp_path / "vgg_face_weights.h5"
    path.write_text("<html>gateway timeout</html>")
    code = ("import sys\nfrom facecam.embedders.vggface import VggFaceEmbedder\n"
            f"try:\n    VggFaceEmbedder({str(path)!r})\nexcept Exception as e:\n    print(type(e).__name__)\n"
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ModelError", "False"]


@pytest.mark.parametrize("shape", [(7, 7, 512, 4096), (1, 1, 4096, 4096), (3, 3, 3, 64), (4096,), (1, 1, 4096, 2622)])
def test_weights_are_read_in_small_slabs_that_cover_each_value_once(shape):
    from facecam.embedders.vggface import _slabs

    cover = np.zeros(shape, np.uint8)
    largest = 0
    for part in _slabs(shape, 4, 8 << 20):
        cover[part] += 1
        largest = max(largest, cover[part].size * 4)
    assert cover.min() == cover.max() == 1
    assert largest <= 8 << 20


# --------------------------------------------------------------------------- what is embedded, and its version


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.slow
def test_embedding_is_fc7_computed_from_fc6_with_the_files_fc7_weights(vgg, random_weights, real_crops):
    """fc7 = relu(fc6 . W7 + b7), W7 and b7 read from the file here: an embedding taken from fc6 (or any
    other layer) fails."""
    import keras

    fc6_model = keras.Model(vgg.model.input, vgg.model.get_layer("fc6").output)
    fc6 = fc6_model(preprocess(real_crops[1][:3]), training=False).numpy().reshape(3, 4096)
    with h5py.File(random_weights, "r") as handle:
        kernel = handle["conv2d_15/conv2d_15/kernel:0"][()].reshape(4096, 4096)
        bias = handle["conv2d_15/conv2d_15/bias:0"][()]
    expected = unit(np.maximum(fc6.astype(np.float64) @ kernel + bias, 0))
    np.testing.assert_allclose(vgg.embed(real_crops[1][:3]), expected, atol=1e-4)


@pytest.mark.slow
def test_version_fingerprints_every_kernel_value(vgg, random_weights, tmp_path):
    """Rescaled kernels (same biases) must give another version, or stale gallery embeddings are reused."""
    import shutil

    fingerprint = weights_fingerprint(random_weights)
    assert vgg.version.endswith(f"/w{fingerprint}")              # the loader's hash is the same hash
    for layer in ("conv2d_1", "conv2d_14"):                       # a convolution and fc6
        copy = shutil.copy(random_weights, tmp_path / "rescaled.h5")
        with h5py.File(copy, "r+") as handle:
            kernel = handle[f"{layer}/{layer}/kernel:0"]
            kernel[0] = kernel[0] * np.float32(2)                 # part of one kernel; biases untouched
        assert weights_fingerprint(copy) != fingerprint, layer
        Path(copy).unlink()


# --------------------------------------------------------------------------- runtimes (OpenVINO)


def assert_exact(embeddings: np.ndarray, reference: np.ndarray, names: list[str]) -> None:
    """Each face within cosine 0.9999 of its TensorFlow fp32 embedding, and nearer it than any other face's."""
    similarity = embeddings @ reference.T
    for i, name in enumerate(names):
        assert similarity[i, i] >= 0.9999, f"{name}: cosine {similarity[i, i]:.6f} to the reference"
        others = np.delete(similarity[i], i)
        assert others.max() < similarity[i, i] - 0.01, f"{name}: as near another face as its own reference"


@pytest.mark.slow
def test_reference_embeddings_tell_the_real_faces_apart(reference, real_crops):
    """He-scaled weights give different faces different fc7s (tiny N(0, 0.01) weights would not),
    so the exactness test below compares something."""
    similarity = reference @ reference.T
    off_diagonal = similarity[~np.eye(len(similarity), dtype=bool)]
    assert len(real_crops[0]) == 12
    assert off_diagonal.max() < 0.99, off_diagonal.max()


@pytest.mark.slow
def test_each_runtime_embeds_within_cosine_0_9999_of_tensorflow(fast_vgg, vgg, reference, real_crops):
    names, crops = real_crops
    assert_exact(fast_vgg.embed(crops), reference, names)
    single = np.concatenate([fast_vgg.embed(crops[i]) for i in range(4)])     # batch 1 as in a batch of 12
    assert_exact(single, reference[:4], names[:4])
    assert fast_vgg.version == vgg.version                   # exact, so the gallery cache stays valid
    assert fast_vgg.runtime in ("openvino-bf16", "openvino-f32")
    assert fast_vgg.runtime_description.startswith("OpenVINO ")


@pytest.mark.slow
def test_the_exactness_check_fails_a_broken_conversion(fast_vgg, reference, real_crops):
    """The same runtime fed BGR instead of RGB (a channel-order slip in a conversion) fails the check."""
    names, crops = real_crops
    with pytest.raises(AssertionError, match="cosine"):
        assert_exact(fast_vgg.embed(np.ascontiguousarray(crops[..., ::-1])), reference, names)


@pytest.mark.slow
def test_converted_model_is_cached_owner_only_and_reused_without_tensorflow(fast_vgg, random_weights, ir_cache,
                                                                          real_crops):
    from facecam.embedders.vgg_openvino import ir_path
    from facecam.embedders.vggface import VggFaceEmbedder

    path = ir_path(ir_cache, weights_fingerprint(random_weights))
    assert path.is_file() and path.with_suffix(".bin").is_file()
    assert (ir_cache.stat().st_mode & 0o777) == 0o700
    assert {p.stat().st_mode & 0o777 for p in (path, path.with_suffix(".bin"))} == {0o600}
    import openvino.tools.ovc.convert_impl as convert_impl

    assert convert_impl.tm.__name__ == "openvino.tools.ovc.telemetry_stub"   # the conversion sent nothing
    again = VggFaceEmbedder(random_weights, runtime=fast_vgg.runtime, cache_dir=ir_cache)
    assert again.from_cache and again.model is None          # read from the IR: no Keras model built
    np.testing.assert_array_equal(again.embed(real_crops[1][:2]), fast_vgg.embed(real_crops[1][:2]))


def test_runtime_is_chosen_by_argument_then_environment(monkeypatch):
    from facecam.embedders.vgg_openvino import ENV_RUNTIME, cpu_has_bf16, resolve_runtime

    import openvino

    monkeypatch.delenv(ENV_RUNTIME, raising=False)
    expected = "openvino-bf16" if cpu_has_bf16(openvino.Core()) else "openvino-f32"
    assert resolve_runtime(None) == expected == resolve_runtime("auto")
    monkeypatch.setenv(ENV_RUNTIME, "tensorflow")
    assert resolve_runtime(None) == "tensorflow"
    assert resolve_runtime("openvino-f32") == "openvino-f32"          # the argument wins
    monkeypatch.setenv(ENV_RUNTIME, "tensorrt")
    with pytest.raises(ModelError, match="unknown VGG-Face runtime 'tensorrt'; choose one of"):
        resolve_runtime(None)


# --------------------------------------------------------------------------- the command line with VGG-Face


def test_cli_identify_verify_embed_with_a_weights_file_of_the_published_layout(cli, random_weights, tmp_path,
                                                                               monkeypatch):
    """The default model end to end on real photos. The values are random, so the names mean nothing:
    what is checked is the plumbing (4096-d unit embeddings, a real distance, identical photos at 0)."""
    import json
    import shutil

    from conftest import LFW10, PEOPLE

    blair = LFW10 / "Tony_Blair" / "Tony_Blair_0001.jpg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))     # the converted model goes there
    code, out, err = cli("models", "--vgg-runtime", "tensorflow", "--model-dir", tmp_path / "empty")
    assert code == 0 and "vgg-face runs on TensorFlow fp32 (reference) (tensorflow)" in err, err
    code, out, err = cli("embed", "--json", "--weights", random_weights, PEOPLE / "two_people.jpg")
    assert code == 0, err
    faces = json.loads(out)["faces"]
    assert len(faces) == 2
    for face in faces:
        vector = np.array(face["embedding"])
        assert vector.shape == (4096,) and abs(np.linalg.norm(vector) - 1) < 1e-4 and vector.min() >= 0

    # the weights file from the environment variable, as a user would set it
    monkeypatch.setenv("FACECAM_VGGFACE_WEIGHTS", str(random_weights))
    code, out, err = cli("verify", "--json", "--model-dir", tmp_path / "empty", blair, blair)
    result = json.loads(out)
    assert code == 0, err
    assert result["model"] == "vgg-face" and result["threshold"] == 0.68
    assert result["distance"] == pytest.approx(0.0, abs=1e-5) and result["verified"] is True

    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(blair, known / "Tony Blair")
    code, out, err = cli("identify", "--json", "--known-faces", known, blair)
    assert code == 0, err
    face = json.loads(out)["faces"][0]
    assert face["name"] == "Tony Blair" and face["distance"] == pytest.approx(0.0, abs=1e-5)
    with np.load(known / ".facecam" / "vgg-face.npz", allow_pickle=False) as cache:
        assert cache["embeddings"].shape == (1, 4096)


# --------------------------------------------------------------------------- a weights file that cannot tell faces apart


def _two_people(tmp_path):
    import shutil

    from conftest import LFW10

    known = tmp_path / "known_faces"
    for person in ("Tony_Blair", "Colin_Powell"):
        (known / person).mkdir(parents=True)
        for photo in sorted((LFW10 / person).glob("*.jpg"))[:2]:
            shutil.copy(photo, known / person)
    return known, LFW10 / "Tony_Blair" / "Tony_Blair_0005.jpg"


def test_he_scaled_random_weights_pass_the_weights_check(cli, random_weights, tmp_path):
    """Untrained but alive: different people's photos stay apart (median distance ~0.06), so it names."""
    import json

    from facecam.gallery import INDISTINCT_MEDIAN_DISTANCE, Gallery, median_distinct_distance
    from facecam.recognizer import Recognizer
    from facecam.detector import MtcnnDetector
    from facecam.embedders.vggface import VggFaceEmbedder

    known, probe = _two_people(tmp_path)
    code, out, err = cli("identify", "--json", "--weights", random_weights, "--known-faces", known, probe)
    assert code == 0, err
    assert json.loads(out)["faces"][0]["name"] in ("Tony_Blair", "Colin_Powell", None)
    gallery_recognizer = Recognizer(MtcnnDetector(), VggFaceEmbedder(random_weights), 0.68)
    gallery = Gallery.for_recognizer(known, gallery_recognizer)
    gallery.refresh(gallery_recognizer.embed_photo)
    matrix = gallery.matrix()
    assert median_distinct_distance(matrix.embeddings, matrix.labels) > 2 * INDISTINCT_MEDIAN_DISTANCE


def test_weights_with_tiny_values_name_nobody_and_blame_the_file(cli, tmp_path):
    import json

    from facecam.errors import IndistinctModelError
    from facecam.gallery import Gallery

    weights = write_vggface_weights(tmp_path / "vgg_face_weights.h5", values="tiny", seed=7)
    try:
        known, probe = _two_people(tmp_path)
        code, out, err = cli("identify", "--json", "--weights", weights, "--known-faces", known, probe)
        assert code == 1 and out == ""
        lines = [line for line in err.splitlines() if "indexing" not in line]
        assert len(lines) == 1 and lines[0].startswith(f"facecam: error: the model file {weights} cannot tell faces apart")
        assert "--weights PATH" in lines[0] and "Nobody is named" in lines[0]
        code, out, err = cli("index", "--weights", weights, "--known-faces", known)
        assert code == 1 and "cannot tell faces apart" in err
        # the window gets the same error type from the gallery (its watcher reports it)
        from facecam.recognizer import Recognizer
        from facecam.detector import MtcnnDetector
        from facecam.embedders.vggface import VggFaceEmbedder

        recognizer = Recognizer(MtcnnDetector(), VggFaceEmbedder(weights), 0.68)
        with pytest.raises(IndistinctModelError):
            Gallery.for_recognizer(known, recognizer).refresh(recognizer.embed_photo)
        code, out, err = cli("verify", "--json", "--weights", weights, probe, known / "Colin_Powell" / "Colin_Powell_0001.jpg")
        assert code == 0 and json.loads(out)["distance"] < 1e-4  # what the check protects identify from
    finally:
        weights.unlink(missing_ok=True)
