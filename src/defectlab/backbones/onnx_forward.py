"""A backbone's CPU forward through ONNX Runtime: the same features, computed faster.

torch's eager CPU kernels leave a lot on the table for the small, batch-of-one
forwards of few-shot inspection: it runs EfficientNet-Lite0's 1x1 convolutions
through its slow im2col path at one thread and batch < 16, and every ReLU6 as
its own pass over memory; ONNX Runtime fuses convolution and activation and
runs them on its own blocked kernels. The same fp32 function, 23-32 -> 7 ms
for a 320 x 256 EfficientNet-Lite0 forward at one thread, 115 -> 102 ms for a
DINOv2-S at 252 px, features equal to a few 1e-6 of their range
(``bench/backbone_forward.py``, ``bench/results/detect_speed.md``).

A backbone opts in with ``onnx_runtime = True`` (it traces with its input's
height and width free, see :meth:`Backbone.traceable`). Its requested layers
are exported the first time they are asked for on the CPU in fp32 (0.7 s for
EfficientNet-Lite0, 2.4 s for DINOv2-S), kept in the cache folder under a key
of the weights, the layers and the library versions (so the next process
loads it in a fraction of that), and scored through an ONNX Runtime session
per thread count.
Everything else runs in torch: another device, bf16, a backbone that has not
opted in or is too large to hold twice (:data:`MAX_BYTES`), an export that
fails (with a warning), and ``DEFECTLAB_RUNTIME=torch`` in the environment.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import warnings
import weakref
from importlib import metadata

import torch

from ..data.io import cache_root, write_bytes_atomic
from ..errors import ConfigError

RUNTIMES = ("auto", "torch")
ENV = "DEFECTLAB_RUNTIME"
# The session holds its own copy of the weights: a second 88 MB for DINOv2-S, 344 MB for
# DINOv2-B; past this (ViT-L and larger) the copy costs more memory than its speed is worth.
MAX_BYTES = 512 << 20
OPSET = 17

# backbone -> {"graphs": {layers: (ONNX bytes, strides) or None if it failed}, "sessions": {(layers, threads): session}}
_state: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def runtime() -> str:
    """The runtime ``DEFECTLAB_RUNTIME`` asks for: "auto" (ONNX Runtime where it applies) or "torch"."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in RUNTIMES:
        raise ConfigError(f"{ENV}={value!r} is not a runtime defectlab knows; use one of {RUNTIMES} or unset it")
    return value


def applies(backbone, x: torch.Tensor, layers: tuple[str, ...]) -> bool:
    """Whether ``backbone``'s forward of ``x`` for ``layers`` runs through ONNX Runtime."""
    if not getattr(backbone, "onnx_runtime", False) or runtime() == "torch":
        return False
    if x.device.type != "cpu" or x.dtype != torch.float32 or torch.is_autocast_enabled("cpu"):
        return False
    if backbone in _state and _state[backbone]["graphs"].get(layers, True) is None:
        return False  # its export failed before
    return _weight_bytes(backbone) <= MAX_BYTES and _onnxruntime() is not None


def forward(backbone, x: torch.Tensor, layers: tuple[str, ...]):
    """(maps, strides) of ``backbone.forward_layers(x, layers)`` through ONNX Runtime; None where export failed."""
    session, strides = _session(backbone, layers, torch.get_num_threads())
    if session is None:
        return None
    outputs = session.run(None, {"image": x.numpy()})
    return {name: torch.from_numpy(out) for name, out in zip(layers, outputs)}, dict(strides)


def _session(backbone, layers: tuple[str, ...], threads: int):
    """(session, strides) for ``layers`` at ``threads``, exporting on first use; (None, None) if that failed."""
    with _lock:
        state = _state.setdefault(backbone, {"graphs": {}, "sessions": {}})
        if layers not in state["graphs"]:
            state["graphs"][layers], opened = _cached_export(backbone, layers, threads)
            if opened is not None:
                state["sessions"][(layers, threads)] = opened
        graph = state["graphs"][layers]
        if graph is None:
            return None, None
        if (layers, threads) not in state["sessions"]:
            state["sessions"][(layers, threads)] = open_session(graph[0], threads)
        return state["sessions"][(layers, threads)], graph[1]


def _cached_export(backbone, layers: tuple[str, ...], threads: int):
    """(:func:`_export`'s result, None), or (the same read from the cache folder, its session at ``threads``)
    when this exact graph was exported before: opening the session is what checks the file."""
    path = None
    try:
        path = cache_root() / "onnx" / f"{_key(backbone, layers)}.onnx"  # no home folder: RuntimeError
        graph = path.read_bytes()
        session = open_session(graph, threads)  # a damaged file fails here, and is exported again
        with torch.inference_mode():
            return (graph, backbone.forward_layers(example_input(backbone.size_multiple), layers).strides), session
    except Exception:  # noqa: BLE001 (no cache, or absent, unreadable or damaged: export it)
        pass
    exported = _export(backbone, layers)
    if exported is not None and path is not None:
        try:
            write_bytes_atomic(path, exported[0])
        except OSError:  # a read-only home: the cache is an optimisation
            pass
    return exported, None


def _key(backbone, layers: tuple[str, ...]) -> str:
    """A digest of everything the exported graph depends on: the code's versions, the layers and every weight."""
    from .. import __version__

    digest = hashlib.blake2b(digest_size=16)
    for part in (__version__, torch.__version__, _installed("transformers"), str(OPSET), type(backbone).__module__,
                 type(backbone).__qualname__, repr(layers), str(backbone.size_multiple)):
        digest.update(part.encode() + b"\0")
    for name, tensor in backbone.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _installed(package: str) -> str:
    try:
        return metadata.version(package)  # read from the package's metadata, without importing it
    except metadata.PackageNotFoundError:
        return ""


def example_input(multiple: int) -> torch.Tensor:
    """The input every export traces: sides that are multiples of ``multiple`` and unequal, so that the tracer
    cannot mistake one free axis for the other."""
    return torch.zeros(1, 3, 4 * multiple, 6 * multiple)


def _export(backbone, layers: tuple[str, ...]):
    """(ONNX bytes, strides) of ``forward_layers`` for ``layers``, or None (warned) when it does not export."""
    model = _Layers(backbone.traceable(), layers).eval()
    example = example_input(backbone.size_multiple)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes
            strides = backbone.forward_layers(example, layers).strides
            torch.onnx.export(model, (example,), buffer, dynamo=False, opset_version=OPSET, input_names=["image"],
                              output_names=list(layers),
                              dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                            **{name: {0: "batch", 2: "rows", 3: "cols"} for name in layers}})
    except Exception as exc:  # noqa: BLE001 (any tracer failure means: stay in torch)
        warnings.warn(f"backbone {backbone.name!r} did not export to ONNX ({type(exc).__name__}: {exc}); "
                      f"its forward stays in torch (set {ENV}=torch to skip the attempt)", RuntimeWarning,
                      stacklevel=4)
        return None
    return buffer.getvalue(), strides


def open_session(model: bytes | str, threads: int):
    """An ONNX Runtime CPU session of ``model`` (bytes or a path) at ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    # Without its arena a session frees each run's activations: a fit's batch of 8 would otherwise stay held
    # for the whole run (detect on 434 ball_screw photos: peak 1.83 -> 1.76 GB), at no measured speed cost.
    options.enable_cpu_mem_arena = False
    # Idle pool threads spinning would take the cores from the torch work (search, maps) between forwards.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class _Layers(torch.nn.Module):
    """The traced module: image -> the requested layers' maps, as a tuple in ``layers``' order."""

    def __init__(self, backbone, layers: tuple[str, ...]):
        super().__init__()
        self.backbone, self.layers = backbone, layers

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = self.backbone.forward_layers(image, self.layers).maps
        return tuple(maps[name] for name in self.layers)


def _weight_bytes(backbone) -> int:
    return sum(p.numel() * p.element_size() for p in backbone.parameters())


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:  # a dependency, but a broken install should fall back rather than fail
        return None
    return onnxruntime
