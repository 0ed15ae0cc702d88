"""flexconv: FlexConv and continuous-kernel convolutions for PyTorch, with the FlexConv paper's experiment suite."""

__version__ = "0.1.0"
