"""``lamina.utils``: helpers above the framework's layers, at PyTorch's import paths.
``lamina.utils.tensorboard`` (``SummaryWriter``) needs tensorboardX and is not imported here."""
