"""Ready-made models: MLP, LeNet-5, autoencoders (plain, denoising, stacked, convolutional)."""
from .autoencoder import (  # noqa: F401
    Autoencoder, ConvAutoencoder, DenoisingAutoencoder, StackedDenoisingAutoencoder,
)
from .lenet import LeNet5  # noqa: F401
from .mlp import MLP  # noqa: F401
