"""Stand-in VGG-Face weights files in the published Keras 2 legacy HDF5 layout (for tests and the benchmark).

The real ``vgg_face_weights.h5`` (580 MB) cannot be downloaded in CI, so
:func:`write_vggface_weights` writes a file laid out exactly as Keras 2's
``model.save_weights`` wrote it for deepface's Sequential VGG-Face:

* root attributes ``layer_names`` (all 38 layers in model order, Keras 2's
  default names ``zero_padding2d_1``, ``conv2d_1``, ``max_pooling2d_1``, ...,
  ``conv2d_14`` = fc6, ``dropout_1``, ``conv2d_15`` = fc7, ``dropout_2``,
  ``conv2d_16`` = fc8, ``flatten_1``, ``activation_1``), ``backend`` and
  ``keras_version``;
* one group per layer; weightless layers have an empty ``weight_names``
  (Keras 2 stored ``np.asarray([])``); each conv group has ``weight_names``
  ``[b"conv2d_k/kernel:0", b"conv2d_k/bias:0"]`` and datasets at those paths
  inside the group (so the kernel lives at ``/conv2d_k/conv2d_k/kernel:0``).

``values="random"`` fills the weights with He-normal kernels (so activations
stay in range through the 16 layers) and small random biases: a full-size
float32 file, about 580 MB, written in under a few seconds. ``values="tiny"``
writes the same layout with kernels 10,000 times smaller than He-normal: the
file loads, but the signal fades layer after layer and the biases alone make
the output, so every face embeds to the same vector (a weights file that
cannot tell faces apart). ``values="lazy"``
creates the datasets without writing them (HDF5 allocates nothing, the file
is a few tens of KB): good for the layout error cases, which are detected from
metadata alone. ``omit_layer`` and ``kernel_shapes`` make broken variants.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

# (filters, kernel size, input channels) of the 16 weighted layers, in model order.
_CONVS = ([(64, 3), (64, 3)], [(128, 3), (128, 3)], [(256, 3)] * 3, [(512, 3)] * 3, [(512, 3)] * 3)
VGG_KERNEL_SHAPES: list[tuple[int, int, int, int]] = []
_channels = 3
for _block in _CONVS:
    for _filters, _size in _block:
        VGG_KERNEL_SHAPES.append((_size, _size, _channels, _filters))
        _channels = _filters
VGG_KERNEL_SHAPES += [(7, 7, 512, 4096), (1, 1, 4096, 4096), (1, 1, 4096, 2622)]


def keras2_layer_names() -> list[tuple[str, bool]]:
    """[(Keras 2 layer name, has weights)] of deepface's Sequential VGG-Face, in model order (38 layers)."""
    names: list[tuple[str, bool]] = []
    counters: dict[str, int] = {}

    def add(kind: str, weighted: bool = False) -> None:
        counters[kind] = counters.get(kind, 0) + 1
        names.append((f"{kind}_{counters[kind]}", weighted))

    for block in _CONVS:
        for _ in block:
            add("zero_padding2d")
            add("conv2d", True)
        add("max_pooling2d")
    add("conv2d", True)            # fc6
    add("dropout")
    add("conv2d", True)            # fc7
    add("dropout")
    add("conv2d", True)            # fc8
    add("flatten")
    add("activation")
    return names


def write_vggface_weights(path: str | Path, *, seed: int = 0, values: str = "random",
                          omit_layer: int | None = None,
                          kernel_shapes: dict[int, tuple[int, ...]] | None = None) -> Path:
    """Write a VGG-Face weights file in the Keras 2 legacy layout; returns ``path``.

    ``values``: "random" (He-normal kernels, small random biases, float32),
    "tiny" (the same, kernels scaled by 1e-4) or "lazy" (datasets created but never written). ``omit_layer``: the 1-based
    index of a weighted layer to leave out entirely (gives 15 weighted
    layers). ``kernel_shapes``: {1-based weighted layer index: kernel shape}
    to write a wrong shape.
    """
    if values not in ("random", "tiny", "lazy"):
        raise ValueError(f"values: expected 'random', 'tiny' or 'lazy', got {values!r}")
    path = Path(path)
    kernel_shapes = dict(kernel_shapes or {})
    rng = np.random.default_rng(seed)
    layers = keras2_layer_names()
    kept, index = [], 0
    for name, weighted in layers:
        if weighted:
            index += 1
            if index == omit_layer:
                continue
        kept.append((name, weighted, index if weighted else None))
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([name.encode("utf8") for name, _, _ in kept])
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = b"2.2.4"
        for name, weighted, position in kept:
            group = handle.create_group(name)
            if not weighted:
                group.attrs["weight_names"] = np.asarray([])
                continue
            kernel_shape = tuple(kernel_shapes.get(position, VGG_KERNEL_SHAPES[position - 1]))
            bias_shape = (VGG_KERNEL_SHAPES[position - 1][-1],)
            names = [f"{name}/kernel:0".encode("utf8"), f"{name}/bias:0".encode("utf8")]
            group.attrs["weight_names"] = np.array(names)
            kernel = group.create_dataset(names[0].decode(), shape=kernel_shape, dtype=np.float32)
            bias = group.create_dataset(names[1].decode(), shape=bias_shape, dtype=np.float32)
            if values == "lazy":
                continue
            fan_in = int(np.prod(kernel_shape[:-1]))
            std = np.float32(np.sqrt(2.0 / fan_in) * (1e-4 if values == "tiny" else 1.0))
            for row in range(kernel_shape[0]):        # one row at a time: fc6 is 411 MB
                block = rng.standard_normal(kernel_shape[1:], dtype=np.float32)
                block *= std
                kernel[row] = block
            bias[...] = rng.standard_normal(bias_shape, dtype=np.float32) * np.float32(0.01)
    return path


def real_face_crops(detector, spec) -> tuple[list[str], np.ndarray]:
    """Aligned crops of real faces through facecam's own path (read, detect, align): the first photo of each
    tests/data/lfw10 person plus two tests/data/people photos, one face each. Returns (names, crops)."""
    from facecam.align import align_faces
    from facecam.images import read_image
    from facecam.types import bgr_to_rgb

    data = Path(__file__).parent / "data"
    people = sorted(p for p in (data / "lfw10").iterdir() if p.is_dir())
    photos = [sorted(p.glob("*.jpg"))[0] for p in people] + [data / "people" / "obama.jpg",
                                                              data / "people" / "biden2.jpg"]
    crops = []
    for photo in photos:
        rgb = bgr_to_rgb(read_image(photo))
        faces = detector.detect(rgb)
        assert len(faces) >= 1, photo
        crops.append(align_faces(rgb, faces, spec)[:1])
    return [p.stem for p in photos], np.concatenate(crops)
