"""open_clip's real code path (random weights: no package ships CLIP weights)."""

import importlib.util

import numpy as np
import pytest

from clipray.models.embed import EmbedConfig, EmbedModel, WeightsUnavailableError

# find_spec, not importorskip: importing open_clip before import_torchvision() would fail.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("open_clip") is None, reason="the ml extra is not installed"
)


@pytest.fixture(scope="module")
def model() -> EmbedModel:
    return EmbedModel.load(EmbedConfig(random_init=True, device="cpu", batch_size=3))


def test_no_weights_means_a_clear_refusal():
    with pytest.raises(WeightsUnavailableError, match="visual search is off"):
        EmbedModel.load(EmbedConfig())


def test_images_embed_to_unit_vectors_independent_of_batching(model):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(5, 120, 160, 3), dtype=np.uint8)
    vecs = model.embed_images(frames)
    assert vecs.shape == (5, model.dim)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    alone = model.embed_images(frames[3:4])
    np.testing.assert_allclose(alone[0], vecs[3], atol=1e-4)
    assert not np.allclose(vecs[0], vecs[1], atol=1e-3)  # different frames, different vectors


def test_texts_share_the_image_space(model):
    vecs = model.embed_texts(["a person talking", "a car chase at night"])
    assert vecs.shape == (2, model.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert model.embed_images(np.zeros((0, 8, 8, 3), dtype=np.uint8)).shape == (0, model.dim)
