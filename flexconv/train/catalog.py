"""``flexconv list experiments|models|datasets``: what there is to train, with one line each.

experiments: the presets in ``flexconv/configs/experiment`` (their first comment line);
models: the registered models (the first line of each one's docstring); datasets: the dataset
records (task, input shape, classes, whether the files must be fetched).
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
KINDS = ("experiments", "models", "datasets")


def experiments() -> dict[str, str]:
    """Preset name -> the first comment line of its file that is not ``@package``."""
    described = {}
    for path in sorted((CONFIG_DIR / "experiment").glob("*.yaml")):
        comments = [line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#")]
        described[path.stem] = next((c for c in comments if c and not c.startswith("@package")), "")
    return described


def models() -> dict[str, str]:
    """Registered model name -> the first line of its registered function's docstring."""
    from flexconv.models import registry

    functions = registry._MODELS  # name -> registered function (the registry keeps no other description)
    described = {}
    for name in registry.list_models():
        doc = (functions[name].__doc__ or "").strip()
        described[name] = doc.splitlines()[0] if doc else type(registry.model_config(name)).__name__
    return described


def datasets() -> dict[str, str]:
    """Dataset name -> task, input shape, classes and whether the files must be fetched."""
    from flexconv.data.records import DATASETS

    described = {}
    for name, record in sorted(DATASETS.items()):
        if record.data_dim == 2 and record.resolution:
            shape = f"{record.in_channels}x{record.resolution[0]}x{record.resolution[1]}"
        else:
            shape = f"{record.in_channels}x{record.length if record.length else 'L'}"
        outputs = "1 output" if record.num_classes == 1 else f"{record.num_classes} classes"
        source = "needs download" if record.needs_download else "offline"
        described[name] = f"{record.task}, input {shape}, {outputs}, {source}"
    return described
