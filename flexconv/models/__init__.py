"""FlexConv's networks; importing the package registers their streaming counterparts (flexconv.nn.stream)."""

from flexconv.models import streaming  # noqa: F401  (registers FlexNet's counterparts for flexconv.nn.stream)
