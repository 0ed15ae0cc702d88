"""Released checkpoints: trained models shipped inside the package, loadable by name.

``get_model("flextcn_mnist1d", pretrained=True)`` (flexconv.models.registry) returns the MNIST-1D FlexTCN with its
released weights, in eval mode; ``flexconv evaluate flextcn_mnist1d`` tests it on its dataset's test split.

:data:`RELEASES` is the one table of released checkpoints. Each names a file
``flexconv/checkpoints/<name>.pt`` written by ``flexconv release <best.ckpt> --name <name> --command
"<the flexconv train command>"`` (:mod:`flexconv.train.release`), which measures the test accuracy
itself. A release file is a dict holding only what rebuilds and tests the model:

* ``model_name`` (a registered model) and ``model_config`` (its full configuration as plain data),
* ``state_dict``: the model's weights in float32 (no optimiser state: files stay well under 2 MB),
* ``objective`` and ``run_config`` (the run's resolved config: its ``data`` section rebuilds the
  test split; ``run_dir`` is cleared),
* ``dataset``, ``test_acc``, ``params`` and ``command``, the facts this table repeats
  (``tests/train/test_pretrained.py`` checks that they agree and reproduces the accuracy).

The MNIST-1D FlexTCN is the best of the results study's three seeds (docs/results.md, docs/records/mnist1d);
the Fashion-MNIST FlexNet is the results study's seed-0 run; its accuracy test needs
Debian's ``dataset-fashion-mnist`` (``scripts/setup.sh`` installs it where it can) and is skipped without it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
FORMAT = "flexconv-release/1"
FILE_KEYS = (
    "format",
    "name",
    "model_name",
    "model_config",
    "state_dict",
    "objective",
    "run_config",
    "dataset",
    "test_acc",
    "params",
    "command",
)


@dataclasses.dataclass(frozen=True)
class Release:
    """One released checkpoint: what it is, how good it is, and the command that trained it.

    test_acc: fraction of the test split classified correctly, measured by ``flexconv release``.
    """

    name: str
    model_name: str
    dataset: str
    test_acc: float
    params: int
    command: str

    @property
    def path(self) -> Path:
        """The release file inside the package."""
        return CHECKPOINT_DIR / f"{self.name}.pt"


RELEASES: dict[str, Release] = {
    release.name: release
    for release in (
        Release(
            name="flextcn_mnist1d",
            model_name="flextcn4",
            dataset="mnist1d",
            test_acc=0.9909999966621399,
            params=132154,
            command="flexconv train experiment=mnist1d_flextcn num_threads=1 seed=1",
        ),
        Release(
            name="flexnet_fashion_mnist",
            model_name="flexnet3",
            dataset="fashion_mnist",
            test_acc=0.9373000264167786,
            params=68790,
            command="flexconv train experiment=fashion_mnist_flexnet num_threads=1 seed=0",
        ),
        Release(
            name="flextcn_uea_japanesevowels",
            model_name="flextcn4",
            dataset="uea_japanesevowels",
            test_acc=0.9837837815284729,
            params=138457,
            command="flexconv train experiment=timeseries data=uea_japanesevowels num_threads=1 seed=1",
        ),
    )
}


def list_pretrained() -> list[str]:
    """Names of the released checkpoints, sorted."""
    return sorted(RELEASES)


def get_release(name: str) -> Release:
    """The table entry of released checkpoint ``name``; an unknown name lists the known ones (first those
    of the registered model ``name``, whose releases are named after their dataset)."""
    if name not in RELEASES:
        known = ", ".join(list_pretrained()) or "none"
        of_model = [r.name for r in RELEASES.values() if r.model_name == name]
        hint = f"model {name!r} is released as {', '.join(of_model)}; " if of_model else ""
        raise ValueError(f"no released checkpoint named {name!r}; {hint}released: {known}")
    return RELEASES[name]


def read_release(path: str | Path) -> dict[str, Any]:
    """The release file at ``path`` (on the CPU), checked to hold every key of the format."""
    release = torch.load(Path(path), map_location="cpu", weights_only=True)
    missing = [key for key in FILE_KEYS if not isinstance(release, dict) or key not in release]
    if missing:
        raise ValueError(f"{path} is not a flexconv release file: it has no {', '.join(missing)}")
    if release["format"] != FORMAT:
        raise ValueError(f"{path} has format {release['format']!r}; this version reads {FORMAT!r}")
    return release
