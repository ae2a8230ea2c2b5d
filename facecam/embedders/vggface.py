"""VGG-Face (Parkhi, Vedaldi and Zisserman, BMVC 2015) on TensorFlow/Keras 3: 4096-d fc7 embeddings.

The model
    The published VGG-Face network exactly as the Keras weights file
    ``vgg_face_weights.h5`` (deepface's, about 580 MB) expects it: 224x224x3
    input, thirteen 3x3 convolutions (64,64 | 128,128 | 256x3 | 512x3 | 512x3),
    each one a ``ZeroPadding2D((1, 1))`` then a "valid" ``Conv2D`` with ReLU,
    each block closed by a 2x2 stride-2 max pool; then the fully connected
    layers as convolutions: fc6 ``Conv2D(4096, 7x7)``, Dropout(0.5), fc7
    ``Conv2D(4096, 1x1)``, Dropout(0.5), fc8 ``Conv2D(2622, 1x1)``, Flatten,
    softmax. 145,002,878 parameters with the head (:func:`build_vggface`).

The weights file
    A Keras 2 "legacy" HDF5 weights file as ``model.save_weights`` wrote it:
    root attributes ``layer_names`` (every layer, in model order),
    ``backend`` and ``keras_version``; one group per layer, weightless ones
    (padding, pooling, dropout, flatten, activation) with an empty
    ``weight_names``; each of the 16 weighted layers' group lists
    ``weight_names`` such as ``conv2d_1/kernel:0``, ``conv2d_1/bias:0`` with a
    dataset at each of those paths inside the group. :func:`validate_weights_file`
    checks all of that from the HDF5 metadata, without TensorFlow and without
    reading the 580 MB of values, and says in one line what is wrong; the
    loader (:func:`load_vggface_weights`) then takes the weighted layers in
    ``layer_names`` order (never the groups' alphabetical order, where
    ``conv2d_10`` comes before ``conv2d_2``), checks each kernel and bias
    shape against the model's own layers and assigns them. The head (fc8) is
    loaded and checked too, so a file with a wrong head is refused.

Input normalisation (:func:`preprocess`, the only place it happens)
    RGB, 0-255 scale, minus the VGG-Face training mean RGB
    (129.1863, 104.7624, 93.5940); no division. Why: the Keras file was made
    by copying the weights of Oxford's MatConvNet release (``vgg_face.mat``)
    into the Keras layers unchanged (sefiks.com, "How to convert MatLab models
    to Keras", 2019, and the scripts that reproduce it: ``set_weights([weights,
    bias])`` with no channel reordering). MatConvNet's VGG-Face takes RGB
    images in the 0-255 range minus ``net.meta.normalization.averageImage``,
    which is that mean (the Caffe release is the same network with BGR input,
    hence the reversed mean people quote for it). deepface feeds this file
    BGR images (scaled to 0-1 in most of its versions) and the 2018 tutorial
    uses Keras' ImageNet ``preprocess_input``; both only roughly match what the
    weights were trained on, so thresholds published for them (deepface's
    0.68) are not calibrated for this preprocessing: measure ours.

Alignment margin (``align_spec``)
    VGG-Face was trained and tested on detector-box crops, not on tight
    landmark-template crops: the official MatConvNet demo squares the face
    detector's box, extends it by 10 % and resizes it to 224x224 (training
    took random 224 crops of faces resized to 256). A detector box of that
    kind spans roughly forehead to chin and ear to ear, by our estimate 2.5-2.8
    inter-ocular distances, so the demo's crop is about 3 inter-ocular
    distances wide; the ArcFace 112 template's crop is 3.2 and cuts the chin.
    ``FACE_FRACTION = 0.9`` shrinks the template so the 224 crop is 3.5
    inter-ocular distances wide (eyes 64 px apart, at y = 104; mouth at
    y = 177): the whole chin and some hair inside, the ears at the sides, the
    face at about the scale the network saw. Much looser fractions (0.55-0.7)
    would show head and shoulders with the face at two-thirds of that scale,
    which fc6 (a 7x7 convolution over the whole pool5 map, so sensitive to
    layout and scale) was not trained on. This is an estimate, not a
    measurement: the fraction is a constructor argument and part of
    ``version`` so that the benchmark can sweep it with the real weights.

Inference
    fc7 output (4096-d, after its ReLU, so never negative), L2-normalised, from
    a Keras model that shares the full model's layers. One ``tf.function`` with
    the fixed input signature ``[None, 224, 224, 3] float32`` runs it, so it is
    traced once per embedder (``trace_count``) whatever the batch sizes, and
    memory stays flat. Large batches go through in chunks of ``batch_size``.

TensorFlow and Keras are imported only when a model is built (:func:`_tf`),
never when this module is imported.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from facecam.align import AlignSpec
from facecam.embedders.base import check_faces_batch, l2_normalise
from facecam.errors import ModelError
from facecam.models import looks_like_hdf5

INPUT_SIZE = 224
EMBEDDING_DIM = 4096
NUM_CLASSES = 2622
TOTAL_PARAMS = 145_002_878          # with the head (fc8)
VGG_MEAN_RGB = (129.1863, 104.7624, 93.5940)
FACE_FRACTION = 0.9

# (block, convolutions, filters) of the 13 3x3 convolutions.
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))


def _expected_layers() -> tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]:
    layers = []
    channels = 3
    for block, count, filters in _BLOCKS:
        for i in range(1, count + 1):
            layers.append((f"conv{block}_{i}", (3, 3, channels, filters), (filters,)))
            channels = filters
    layers.append(("fc6", (7, 7, 512, 4096), (4096,)))
    layers.append(("fc7", (1, 1, 4096, 4096), (4096,)))
    layers.append(("fc8", (1, 1, 4096, NUM_CLASSES), (NUM_CLASSES,)))
    return tuple(layers)


EXPECTED_LAYERS = _expected_layers()
"""The 16 weighted layers in order: (our layer name, kernel shape, bias shape)."""

_FIX = "delete the file and download it again, or pass --weights PATH to a good copy"


# --------------------------------------------------------------------------- TensorFlow, lazily


def _tf():
    """Import TensorFlow and Keras 3 (quietly) the first time a model is built; returns (tf, keras)."""
    from facecam.tensorflow_setup import quiet_tensorflow  # noqa: PLC0415

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        tf = quiet_tensorflow()  # no C++ start-up chatter on the console
        import keras  # noqa: PLC0415
    except ImportError as error:
        raise ModelError(f"VGG-Face needs TensorFlow ({error}); install tensorflow-cpu, "
                         "or use --model sface") from None
    if keras.backend.backend() != "tensorflow":
        raise ModelError(f"VGG-Face needs the TensorFlow Keras backend, but KERAS_BACKEND is "
                         f"{keras.backend.backend()!r}; unset KERAS_BACKEND or set it to tensorflow")
    return tf, keras


# --------------------------------------------------------------------------- model


def build_vggface(include_head: bool = True):
    """The VGG-Face network (Keras 3 functional model), weights all zero until loaded.

    ``include_head=True``: up to the 2622-way softmax (145,002,878 parameters,
    the layout of the published weights file). ``include_head=False``: up to
    fc7 flattened to ``(N, 4096)``. Layer names: ``conv1_1`` ... ``conv5_3``,
    ``fc6``, ``fc7``, ``fc8``.
    """
    _, keras = _tf()
    layers = keras.layers
    # Zeros, not Glorot: every value is overwritten by the weights file, and
    # drawing 145 M random numbers costs seconds and a second copy in memory.
    conv = dict(kernel_initializer="zeros", bias_initializer="zeros")
    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), name="rgb_minus_mean")
    x = inputs
    for block, count, filters in _BLOCKS:
        for i in range(1, count + 1):
            x = layers.ZeroPadding2D((1, 1), name=f"pad{block}_{i}")(x)
            x = layers.Conv2D(filters, (3, 3), activation="relu", name=f"conv{block}_{i}", **conv)(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"pool{block}")(x)
    x = layers.Conv2D(4096, (7, 7), activation="relu", name="fc6", **conv)(x)
    x = layers.Dropout(0.5, name="drop6")(x)
    x = layers.Conv2D(4096, (1, 1), activation="relu", name="fc7", **conv)(x)
    if not include_head:
        return keras.Model(inputs, layers.Flatten(name="fc7_flat")(x), name="vggface_fc7")
    x = layers.Dropout(0.5, name="drop7")(x)
    x = layers.Conv2D(NUM_CLASSES, (1, 1), name="fc8", **conv)(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Activation("softmax", name="softmax")(x)
    return keras.Model(inputs, x, name="vggface")


def weighted_layers(model) -> list:
    """The model's layers that hold weights, in model order (16 for the full model)."""
    return [layer for layer in model.layers if layer.weights]


def preprocess(rgb_faces: np.ndarray) -> np.ndarray:
    """``(N, 224, 224, 3) uint8`` RGB faces -> ``float32`` network input: RGB, 0-255, minus the VGG-Face mean."""
    return np.asarray(rgb_faces, dtype=np.float32) - np.asarray(VGG_MEAN_RGB, dtype=np.float32)


# --------------------------------------------------------------------------- weights file


def _fmt_shape(shape) -> str:
    return "(" + ",".join(str(int(n)) for n in shape) + ")"


def _fail(path: Path, problem: str) -> ModelError:
    problem = " ".join(str(problem).split())   # one line, whatever h5py said
    return ModelError(f"VGG-Face weights {path}: {problem}; {_FIX}")


def _sniff_non_hdf5(head: bytes) -> str:
    """What a file that is not HDF5 looks like, from its first bytes."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:1024]:
        return ("is an HTML page, not an HDF5 weights file (probably a failed download: "
                "an error, login or redirect page was saved instead)")
    if text.startswith(b"version https://git-lfs"):
        return "is a Git LFS pointer, not the weights themselves"
    if text.startswith((b"{", b"[")):
        return "is a JSON/text file, not an HDF5 weights file (probably a failed download)"
    if head.startswith(b"PK\x03\x04"):
        return "is a zip archive (a .keras model?), not a Keras 2 HDF5 weights file"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    if head and printable / len(head) > 0.95:
        return "is a text file, not an HDF5 weights file (probably a failed download)"
    return "is not an HDF5 file (wrong or damaged file)"


def _attr_strings(node, name: str) -> list[str] | None:
    """A Keras string-list attribute (also split over ``name0``, ``name1``, ... when large); None if absent."""
    if name in node.attrs:
        values = list(np.atleast_1d(node.attrs[name]))
    elif f"{name}0" in node.attrs:
        values, i = [], 0
        while f"{name}{i}" in node.attrs:
            values.extend(np.atleast_1d(node.attrs[f"{name}{i}"]))
            i += 1
    else:
        return None
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _weights_root(handle, path: Path):
    """The group holding ``layer_names``: the file's root, or ``model_weights`` in a whole-model file."""
    if "layer_names" in handle.attrs or "layer_names0" in handle.attrs:
        return handle
    inner = handle.get("model_weights")
    if inner is not None and ("layer_names" in inner.attrs or "layer_names0" in inner.attrs):
        return inner
    raise _fail(path, "is an HDF5 file but not a Keras weights file (no layer_names attribute)")


def _weighted_groups(root, path: Path) -> list[tuple[str, list]]:
    """[(layer name, [kernel dataset, bias dataset])] of the layers with weights, in ``layer_names`` order."""
    import h5py  # noqa: PLC0415

    found = []
    for name in _attr_strings(root, "layer_names"):
        group = root.get(name)
        if not isinstance(group, h5py.Group):
            raise _fail(path, f"layer_names lists {name!r} but the file has no group of that name")
        weight_names = _attr_strings(group, "weight_names") or []
        if not weight_names:
            continue
        datasets = []
        for weight_name in weight_names:
            dataset = group.get(weight_name)
            if not isinstance(dataset, h5py.Dataset):
                raise _fail(path, f"layer {len(found) + 1} ({name}) lists weight {weight_name!r} "
                                  "but the file has no such dataset")
            datasets.append(dataset)
        found.append((name, datasets))
    return found


def _check_structure(layers: list[tuple[str, list]], expected, path: Path) -> None:
    """Count, weights per layer, kernel and bias shapes and dtypes, against ``expected`` [(kernel, bias)]."""
    if len(layers) != len(expected):
        raise _fail(path, f"found {len(layers)} weighted layers, expected {len(expected)} (VGG-Face: "
                          "13 convolutions, fc6, fc7, fc8)")
    for index, ((name, datasets), shapes) in enumerate(zip(layers, expected), start=1):
        if len(datasets) != 2:
            raise _fail(path, f"layer {index} ({name}) has {len(datasets)} weights, expected 2 (kernel and bias)")
        for role, dataset, shape in zip(("kernel", "bias"), datasets, shapes):
            if tuple(dataset.shape) != tuple(shape):
                raise _fail(path, f"layer {index} ({name}) {role} has shape {_fmt_shape(dataset.shape)}, "
                                  f"expected {_fmt_shape(shape)}")
            if dataset.dtype.kind != "f":
                raise _fail(path, f"layer {index} ({name}) {role} has dtype {dataset.dtype}, expected float32")


def _check_storage(layers: list[tuple[str, list]], file_size: int, path: Path) -> None:
    """Every dataset's values are in the file (catches truncated or never-written files without reading them)."""
    for index, (name, datasets) in enumerate(layers, start=1):
        for role, dataset in zip(("kernel", "bias"), datasets):
            needed = int(np.prod(dataset.shape, dtype=np.int64)) * dataset.dtype.itemsize
            stored = dataset.id.get_storage_size()
            offset = dataset.id.get_offset()        # None unless stored contiguously
            if stored == 0 and needed > 0:
                raise _fail(path, f"layer {index} ({name}) {role} has no values stored (incomplete file)")
            if offset is not None and offset + stored > file_size:
                raise _fail(path, f"is truncated: layer {index} ({name}) {role} ends at byte "
                                  f"{offset + stored} but the file has {file_size} bytes")


def validate_weights_file(path: str | Path) -> None:
    """Check that ``path`` is a complete VGG-Face Keras weights file; raise :class:`ModelError` saying what is wrong.

    Reads only the HDF5 metadata (fast, no TensorFlow): it is a file, it is
    HDF5 (a text or HTML page is named as such: a failed download), it opens
    (not truncated), it has ``layer_names`` with exactly 16 weighted layers,
    each a kernel and a bias of the published shapes, and each dataset's
    values lie inside the file.
    """
    import h5py  # noqa: PLC0415

    path = Path(path)
    if not path.exists():
        raise _fail(path, "does not exist")
    if not path.is_file():
        raise _fail(path, "is not a file")
    file_size = path.stat().st_size
    if file_size == 0:
        raise _fail(path, "is empty (0 bytes)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
        hdf5 = looks_like_hdf5(path, file_size)
    except OSError as error:
        raise _fail(path, f"cannot be read ({error.strerror or error})") from None
    if not hdf5:
        raise _fail(path, _sniff_non_hdf5(head))
    expected = [(kernel, bias) for _, kernel, bias in EXPECTED_LAYERS]
    try:
        with h5py.File(path, "r") as handle:
            layers = _weighted_groups(_weights_root(handle, path), path)
            _check_structure(layers, expected, path)
            _check_storage(layers, file_size, path)
    except ModelError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as error:
        message = str(error)
        if "truncated" in message.lower():
            raise _fail(path, f"is truncated (HDF5: {message})") from None
        raise _fail(path, f"is a damaged HDF5 file (HDF5: {message})") from None


_READ_BYTES = 8 << 20  # HDF5 reads of at most 8 MB at a time


def _slabs(shape: tuple[int, ...], itemsize: int, limit: int):
    """Index tuples that cover an array of ``shape`` in contiguous pieces of at most ``limit`` bytes
    (or one row of the last axis, if that is larger)."""
    if not shape:
        yield ()
        return
    k = len(shape)  # the first axis k such that everything after axis k - 1 fits in the limit
    while k > 1 and int(np.prod(shape[k - 1:], dtype=np.int64)) * itemsize <= limit:
        k -= 1
    unit = int(np.prod(shape[k:], dtype=np.int64)) * itemsize
    step = max(1, limit // max(unit, 1))
    for index in np.ndindex(*shape[:k - 1]):
        for start in range(0, shape[k - 1], step):
            yield (*index, slice(start, min(start + step, shape[k - 1])))


def _dataset_pieces(dataset):
    """The dataset's values as flat float32 pieces of at most a few MB, in storage (C) order."""
    for part in _slabs(tuple(dataset.shape), 4, _READ_BYTES):
        yield np.ascontiguousarray(dataset[part], dtype=np.float32).reshape(-1)


def _copy_into(variable, dataset, fingerprint) -> None:
    """Copy an HDF5 dataset into a Keras variable with one dense assignment, hashing its values into ``fingerprint``.

    * Dense, not through ``scatter_update`` or slice assignments: a sparse update
      switches a TensorFlow variable to copy-on-read for good, and every forward pass
      then copied fc6's 411 MB kernel (measured: 400 ms instead of 230 ms per face).
    * Read and turned into tensors in slabs of a few MB, joined by a TensorFlow op:
      h5py and the numpy-to-tensor copy hold the interpreter lock, and one 411 MB
      piece froze the window's event loop for half a second (the join runs without it).
    """
    tf, _ = _tf()
    pieces = []
    for piece in _dataset_pieces(dataset):
        fingerprint.update(piece.tobytes())
        pieces.append(tf.constant(piece))
    variable.assign(tf.reshape(pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=0), dataset.shape))
    del pieces


def weights_fingerprint(path: str | Path) -> str:
    """A short hash of every kernel and bias value in the weights file, in layer order (the ``w...`` of ``version``).

    The same hash :func:`load_vggface_weights` returns, computed with h5py alone
    (no TensorFlow): about a second for the 580 MB file. Validate the file first.
    """
    import h5py  # noqa: PLC0415

    path = Path(path)
    fingerprint = hashlib.sha256()
    try:
        with h5py.File(path, "r") as handle:
            for _, datasets in _weighted_groups(_weights_root(handle, path), path):
                for dataset in datasets:
                    for piece in _dataset_pieces(dataset):
                        fingerprint.update(piece.tobytes())
    except ModelError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as error:
        raise _fail(path, f"could not be read, it is truncated or damaged (HDF5: {error})") from None
    return fingerprint.hexdigest()[:12]


def load_vggface_weights(model, path: str | Path) -> str:
    """Load the legacy Keras 2 HDF5 weights file into ``model`` (from :func:`build_vggface`, head included).

    The file's weighted layers are taken in ``layer_names`` order and matched by
    position with the model's weighted layers; every kernel and bias shape is
    checked against the model before anything is assigned. Returns a short
    fingerprint of every loaded value, kernels and biases (for ``version``; the
    same as :func:`weights_fingerprint`). Raises :class:`ModelError`.
    """
    import h5py  # noqa: PLC0415

    path = Path(path)
    targets = weighted_layers(model)
    expected = [(tuple(layer.kernel.shape), tuple(layer.bias.shape)) for layer in targets]
    fingerprint = hashlib.sha256()
    try:
        with h5py.File(path, "r") as handle:
            layers = _weighted_groups(_weights_root(handle, path), path)
            _check_structure(layers, expected, path)
            _check_storage(layers, path.stat().st_size, path)
            for layer, (_, (kernel, bias)) in zip(targets, layers):
                _copy_into(layer.kernel, kernel, fingerprint)
                _copy_into(layer.bias, bias, fingerprint)
    except ModelError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as error:
        raise _fail(path, f"could not be read, it is truncated or damaged (HDF5: {error})") from None
    return fingerprint.hexdigest()[:12]


# --------------------------------------------------------------------------- embedder


class VggFaceEmbedder:
    """VGG-Face fc7 embeddings (4096-d, L2-normalised). Built once from the weights path; slow to build (seconds).

    ``runtime`` (see :mod:`facecam.embedders.vgg_openvino`): ``tensorflow`` (the
    fp32 reference), ``openvino-bf16``, ``openvino-f32`` or None / ``auto`` (the
    fastest exact one here; ``$FACECAM_VGG_RUNTIME`` when None); the one that
    runs is ``runtime``, in words ``runtime_description``. ``cache_dir``: where
    the OpenVINO runtimes keep the converted model (default: the user cache);
    ``from_cache`` says whether it came from there (no TensorFlow then).
    With TensorFlow, ``model`` is the full Keras model (head included, as loaded
    from the file), ``embedding_model`` the model from the same input to fc7
    (both None when OpenVINO read a cached model), and ``trace_count`` is how
    many times the inference function was traced (1 after the first ``embed``,
    whatever the batch sizes). ``embed`` may be called from several threads;
    calls are serialised.
    """

    name = "vgg-face"
    dim = EMBEDDING_DIM

    def __init__(self, weights_path: str | Path, *, face_fraction: float = FACE_FRACTION, batch_size: int = 8,
                 runtime: str | None = None, cache_dir: str | Path | None = None):
        from facecam.embedders import vgg_openvino  # noqa: PLC0415

        if not 0.3 <= float(face_fraction) <= 1.5:
            raise ValueError(f"face_fraction: expected a value between 0.3 and 1.5, got {face_fraction}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size: expected 1 or more, got {batch_size}")
        self.weights_path = Path(weights_path)
        self.face_fraction = float(face_fraction)
        self.batch_size = int(batch_size)
        self.align_spec = AlignSpec.from_arcface(INPUT_SIZE, face_fraction=self.face_fraction)
        self.runtime = vgg_openvino.resolve_runtime(runtime)
        self.runtime_description = vgg_openvino.describe_runtime(self.runtime)
        validate_weights_file(self.weights_path)      # fast, before TensorFlow is even imported
        self.model = self.embedding_model = None
        self.from_cache = False
        self._trace_count = 0
        self._lock = threading.Lock()
        if self.runtime == "tensorflow":
            fingerprint = self._build_tensorflow()
        else:
            fingerprint = weights_fingerprint(self.weights_path)
            folder = Path(cache_dir) if cache_dir is not None else vgg_openvino.default_cache_dir()
            model, self.from_cache = vgg_openvino.cached_or_converted(fingerprint, folder, self._keras_fc7)
            self._run = vgg_openvino.OpenVinoForward(model, self.runtime)
        # The same for every runtime: all of them meet the exactness target (cosine >= 0.9999 to TensorFlow).
        self.version = (f"vgg-face/keras-h5/fc7-relu-l2/rgb-mean/arcface5-224-ff{self.face_fraction:.2f}"
                        f"/w{fingerprint}")

    def _load_keras(self) -> str:
        """Build the Keras model and load the weights file into it; returns the weights' fingerprint."""
        _, keras = _tf()
        self.model = build_vggface(include_head=True)
        fingerprint = load_vggface_weights(self.model, self.weights_path)
        fc7 = keras.layers.Flatten(name="fc7_flat")(self.model.get_layer("fc7").output)
        self.embedding_model = keras.Model(self.model.input, fc7, name="vggface_fc7")
        return fingerprint

    def _keras_fc7(self):
        """The Keras fc7 model to convert to OpenVINO (built only when no converted copy is cached)."""
        self._load_keras()
        return self.embedding_model

    def _build_tensorflow(self) -> str:
        tf, _ = _tf()
        fingerprint = self._load_keras()
        embedding_model = self.embedding_model

        def forward(batch):
            self._trace_count += 1              # Python side effect: runs only while tracing
            return embedding_model(batch, training=False)

        traced = tf.function(
            forward,
            input_signature=[tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32)],
            jit_compile=False,
            reduce_retracing=False,
        )
        self._run = lambda batch: traced(batch).numpy()
        return fingerprint

    @property
    def trace_count(self) -> int:
        """How many times the inference graph was traced (stays 1 once warmed up)."""
        return self._trace_count

    def embed(self, rgb_faces: np.ndarray) -> np.ndarray:
        """``(N, 224, 224, 3) uint8`` aligned RGB faces -> ``(N, 4096) float32`` unit vectors (N may be 0)."""
        rgb_faces = check_faces_batch(rgb_faces, INPUT_SIZE)
        count = len(rgb_faces)
        if count == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((count, self.dim), dtype=np.float32)
        with self._lock:
            for start in range(0, count, self.batch_size):
                stop = min(count, start + self.batch_size)
                out[start:stop] = self._run(preprocess(rgb_faces[start:stop]))
        return l2_normalise(out)

    def __repr__(self) -> str:
        return (f"VggFaceEmbedder({str(self.weights_path)!r}, face_fraction={self.face_fraction}, "
                f"runtime={self.runtime!r})")


__all__ = [
    "EMBEDDING_DIM", "EXPECTED_LAYERS", "FACE_FRACTION", "INPUT_SIZE", "TOTAL_PARAMS", "VGG_MEAN_RGB",
    "VggFaceEmbedder", "build_vggface", "load_vggface_weights", "preprocess",
    "validate_weights_file", "weighted_layers", "weights_fingerprint",
]
