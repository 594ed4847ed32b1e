"""``lamina.viz``: PNG pictures of what a network learns and how training went. ``tile_images``
(grids of filters / images), ``filters``, ``feature_maps``, ``reconstructions``, ``plot_history``,
``confusion_matrix`` and ``attribution_map``. matplotlib is imported only when a picture is drawn
(``pip install "lamina[viz]"``), so ``import lamina`` works without it."""
from .pictures import feature_maps, filters, reconstructions
from .plots import attribution_map, confusion_matrix, plot_history
from .tiles import tile_images

__all__ = ["attribution_map", "confusion_matrix", "feature_maps", "filters", "plot_history", "reconstructions",
           "tile_images"]
