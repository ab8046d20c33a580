"""Shipped default weights and loading weights by name or path.

Files are Keras ``.weights.h5`` (read by both backends, no network needed).
``index.json`` beside them records, per name, scale, subsampling and how they
were trained (the model card, docs/model-card.md, reports the same facts).
"""
import json
import os

from ..errors import InputError

HERE = os.path.dirname(os.path.abspath(__file__))


def index():
    """The shipped weights' metadata: {name: {scale, subsampling, kind, ...}}."""
    path = os.path.join(HERE, "index.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def default_name(scale, subsampling="direct", blurred=True, jpeg=False, estimated=False):
    """The shipped weights ``upscale`` uses for a scale and subsampling.

    Meta-trained weights for that (scale, subsampling) when shipped, else the
    bicubic-pretrained weights for the scale. An unblurred image with bicubic
    subsampling is exactly the degradation bicubic pretraining learns, and meta
    weights trained on blurred tasks only (p(k) has λ >= 1) lose that case, so it
    goes to the pretrained weights when the meta entry says ``"no_blur": false``,
    or ``"unblurred_default": false`` (trained with unblurred tasks too, but still
    below the pretrained weights there: ``ship --keep-pretrained-for-unblurred``);
    if it was also saved as JPEG, to the weights pretrained on resized, JPEG-saved
    photos (``pretrain_photo_x{scale}``) when shipped.

    Kernel-aware weights come first for the inputs their card names
    (``default_with_kernel``, ``default_with_estimate``, ``default_without_kernel``:
    set at shipping where they beat the others on held-out photos; one entry per
    case and (scale, subsampling)). A network told the kernel trusts it, so an
    estimated kernel is a case of its own: the estimator's errors cost such a
    network more, and weights trained on codes off the true kernel may serve it.

    Args:
      scale: 2 or 4.
      subsampling: 'direct' or 'bicubic'.
      blurred: False when the user gave no kernel.
      jpeg: True when the image shows JPEG compression (``data.photo.looks_like_jpeg``).
      estimated: the kernel was estimated from the image (``--kernel estimate``).
    """
    idx = index()
    case = DEFAULT_CASES["no-kernel" if not blurred else "estimate" if estimated else "kernel"]
    named = card_default(idx, scale, subsampling, case)
    if named:
        return named
    meta = f"mzsr_{subsampling}_x{scale}"
    pre = f"pretrain_x{scale}"
    photo = f"pretrain_photo_x{scale}"
    unblurred_bicubic = not blurred and subsampling == "bicubic"
    if unblurred_bicubic and jpeg and photo in idx:
        return photo
    entry = idx.get(meta, {})
    serves_unblurred = entry.get("unblurred_default", entry.get("no_blur") is not False)
    pretrained_fits_better = unblurred_bicubic and pre in idx and not serves_unblurred
    if meta in idx and not pretrained_fits_better:
        return meta
    if pre in idx:
        return pre
    raise InputError(f"no shipped weights for scale {scale} ({subsampling}); pass --weights PATH")


# The input cases a card can claim (``ship --default-for``), and the card field that says so.
DEFAULT_CASES = {"kernel": "default_with_kernel", "estimate": "default_with_estimate",
                 "no-kernel": "default_without_kernel"}


def card_default(idx, scale, subsampling, case):
    """The name whose card sets ``case`` (e.g. 'default_with_kernel') for (scale, subsampling), or None."""
    named = sorted(name for name, e in idx.items()
                   if e.get(case) and e.get("scale") == scale and e.get("subsampling") == subsampling)
    return named[0] if named else None


def resolve(name_or_path, scale=None, subsampling="direct", blurred=True):
    """Path of a weights file from a shipped name, a path, or None (the default).

    Raises:
      InputError: unknown name or missing file.
    """
    if name_or_path is None:
        name_or_path = default_name(scale, subsampling, blurred)
    if os.path.sep in str(name_or_path) or str(name_or_path).endswith(".h5"):
        path = os.fspath(name_or_path)
        if not os.path.isfile(path):
            raise InputError(f"{path}: weights file not found")
        return path
    path = os.path.join(HERE, f"{name_or_path}.weights.h5")
    if not os.path.isfile(path):
        names = ", ".join(sorted(index())) or "none"
        raise InputError(f"unknown weights {name_or_path!r}; shipped: {names}")
    return path


def info(name_or_path):
    """Metadata of shipped weights (empty dict for a user file)."""
    return index().get(str(name_or_path), {})


def step_sizes(name_or_path, n, subsampling="direct", scale=2):
    """The test-time step sizes for ``n`` steps with these weights.

    Weights whose card has ``step_sizes`` [first, then, count, after] (tuned for
    them) use those; others the reference table (``adapt.step_size_schedule``).
    """
    from ..adapt import step_size_schedule

    return step_size_schedule(n, subsampling, scale, rule=info(name_or_path).get("step_sizes"))


def architecture(path):
    """(code components, kernel grid side) of the network a weights file holds; (0, None) for the paper's.

    A kernel-aware network's file has its :class:`~mzsr_tf.model.CodeMaps` layer's
    basis [t, size²]; a file h5py cannot read is left to Keras to report.
    """
    import h5py

    found = []
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: found.append(obj.shape) if "code_maps" in name and
                         getattr(obj, "ndim", 0) == 2 else None)
    except OSError:
        return 0, None
    if not found:
        return 0, None
    t, n = found[0]
    return int(t), int(round(n**0.5))


def load_model(name_or_path=None, scale=None, subsampling="direct"):
    """Builds the network (kernel-aware or not, as the file says) and loads weights into it.

    Raises:
      InputError: the file is missing or does not hold this network's weights.
    """
    from ..model import build_model

    path = resolve(name_or_path, scale, subsampling)
    components, size = architecture(path)
    model = build_model(code_components=components, **({"kernel_size": size} if size else {}))
    try:
        model.load_weights(path)
    except Exception as e:  # a corrupt or foreign file is a user error, said once
        raise InputError(f"{path}: cannot load weights ({type(e).__name__}: {e})") from None
    return model
