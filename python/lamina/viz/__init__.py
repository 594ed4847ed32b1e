"""``lamina.viz``: PNG pictures of what a network learns and how training went. ``tile_images``
(grids of filters / images), ``filters``, ``feature_maps``, ``reconstructions``, ``plot_history``,
``confusion_matrix`` and ``attribution_map``. matplotlib is imported only when a picture is drawn
(``pip install "lamina[viz]"``), so ``import lamina`` works without it."""
from .pictures import feature_maps, filters, reconstructions  # noqa: F401
from .plots import attribution_map, confusion_matrix, plot_history  # noqa: F401
from .tiles import tile_images  # noqa: F401

__all__ = ["tile_images", "filters", "feature_maps", "reconstructions", "plot_history", "confusion_matrix",
           "attribution_map"]
