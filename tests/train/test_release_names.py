"""Release names (a model trained on a dataset) and model names (a network) never collide."""

from __future__ import annotations

import pytest

from flexconv.models.pretrained import RELEASES, read_release
from flexconv.models.registry import get_model, list_models


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_a_release_is_named_apart_from_the_registered_network_it_stores(name: str) -> None:
    """``get_model(name)`` and ``get_model(name, pretrained=True)`` never mean two different networks."""
    release = read_release(RELEASES[name].path)
    assert name not in list_models()
    assert release["model_name"] in list_models()
    assert release["run_config"]["model"]["name"] == release["model_name"]


def test_a_model_released_under_a_dataset_name_says_so() -> None:
    with pytest.raises(ValueError, match="model 'flextcn4' is released as flextcn_mnist1d, flextcn_uea_japanesevowels"):
        get_model("flextcn4", pretrained=True)
