"""Ready-made models: MLP, LeNet-5, RBM, DBN, autoencoders (plain, denoising, stacked, convolutional),
character-level language models (recurrent and Transformer), and ``pretrained(name)``: small
models whose lamina-trained weights ship with the package."""
from .autoencoder import (  # noqa: F401
    Autoencoder, ConvAutoencoder, DenoisingAutoencoder, StackedDenoisingAutoencoder,
)
from .char_lm import CharRNN, CharTransformer, evaluate_lm, sample  # noqa: F401
from .dbn import DBN  # noqa: F401
from .lenet import LeNet5  # noqa: F401
from .mlp import MLP  # noqa: F401
from .pretrained import list_pretrained, pretrained  # noqa: F401
from .rbm import RBM  # noqa: F401
