"""A registered model and the released checkpoint of the same name are the same architecture."""

from __future__ import annotations

import pytest

from flexconv.models.pretrained import RELEASES, read_release
from flexconv.models.registry import get_model, list_models, model_config


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_a_release_named_like_a_registered_model_is_that_model(name: str) -> None:
    release = read_release(RELEASES[name].path)
    if name in list_models():
        assert model_config(name) == model_config(release["model_name"], **release["model_config"])
        assert sum(p.numel() for p in get_model(name).parameters()) == RELEASES[name].params
    else:  # a distinct name: the model's name plus the dataset
        assert name.startswith(release["model_name"] + "_")


def test_a_model_released_under_a_dataset_name_says_so() -> None:
    with pytest.raises(ValueError, match="model 'flextcn_uea' is released as flextcn_uea_japanesevowels"):
        get_model("flextcn_uea", pretrained=True)
