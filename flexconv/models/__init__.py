"""FlexConv's networks. Importing the package registers the built-in model variants
(flexconv.models.variants) and the networks' streaming counterparts (flexconv.nn.stream)."""

from flexconv.models import streaming, variants  # noqa: F401  (both register on import)
