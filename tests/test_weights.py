"""Which shipped weights are the default for a scale, subsampling and blur."""
import pytest

from mzsr_tf import weights
from mzsr_tf.errors import InputError

META = {"scale": 2, "kind": "meta", "no_blur": False}
INDEX = {
    "mzsr_direct_x2": dict(META, subsampling="direct"),
    "mzsr_bicubic_x2": dict(META, subsampling="bicubic"),
    "pretrain_x2": {"scale": 2, "subsampling": "bicubic", "kind": "pretrain"},
    "pretrain_x4": {"scale": 4, "subsampling": "bicubic", "kind": "pretrain"},
}


@pytest.fixture
def index(monkeypatch):
    idx = {k: dict(v) for k, v in INDEX.items()}
    monkeypatch.setattr(weights, "index", lambda: idx)
    return idx


@pytest.mark.parametrize("sub, blurred, expected", [
    ("direct", True, "mzsr_direct_x2"),
    ("direct", False, "mzsr_direct_x2"),   # decimation without blur: pretraining never saw it either
    ("bicubic", True, "mzsr_bicubic_x2"),
    ("bicubic", False, "pretrain_x2"),     # exactly the bicubic-pretraining degradation
])
def test_default_by_subsampling_and_blur(index, sub, blurred, expected):
    assert weights.default_name(2, sub, blurred) == expected


def test_meta_weights_that_cover_no_blur_stay_default(index):
    index["mzsr_bicubic_x2"]["no_blur"] = True
    assert weights.default_name(2, "bicubic", blurred=False) == "mzsr_bicubic_x2"
    # ...unless their card says they are still below the pretrained weights on unblurred inputs
    index["mzsr_bicubic_x2"]["unblurred_default"] = False
    assert weights.default_name(2, "bicubic", blurred=False) == "pretrain_x2"
    assert weights.default_name(2, "bicubic", blurred=True) == "mzsr_bicubic_x2"


def test_falls_back_to_pretrained_then_errors(index):
    assert weights.default_name(4, "direct") == "pretrain_x4"
    del index["pretrain_x4"]
    with pytest.raises(InputError, match="no shipped weights for scale 4"):
        weights.default_name(4, "direct")


def test_shipped_index_names_existing_files():
    for name in weights.index():
        assert weights.resolve(name).endswith(f"{name}.weights.h5")
