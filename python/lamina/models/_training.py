"""How the unsupervised models train: one place that turns an optimizer argument (an Optimizer, a
factory, or the name of a ``lamina.optim`` class) into a ``lamina.optim`` optimizer, and the
reconstruction training of the autoencoders, which runs through ``lamina.train.fit``."""
from __future__ import annotations

# The log keys layer-wise pretraining sends to a writer, and their tag names (reconstruction error:
# an RBM's mean squared error of E[v | h], an autoencoder's reconstruction loss).
RECON_TAGS = {"loss": "recon_error", "val_loss": "val_recon_error", "progress": "progress"}


def make_optimizer(optimizer, params, lr: float):
    """A ``lamina.optim`` optimizer over ``params`` from:

    - an Optimizer instance (returned unchanged: its own lr and settings apply);
    - a class or factory, called as ``optimizer(params, lr=lr)``;
    - the case-insensitive name of a ``lamina.optim`` optimizer class ('sgd', 'adam', 'adamw',
      'rmsprop', 'adagrad'), built with ``lr=lr``; 'sgd' gets momentum 0.9 (the models' former
      default for that name).
    """
    from .. import optim

    if isinstance(optimizer, optim.Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        classes = {name.lower(): getattr(optim, name) for name in optim.__all__
                   if isinstance(getattr(optim, name), type) and issubclass(getattr(optim, name), optim.Optimizer)
                   and getattr(optim, name) is not optim.Optimizer}
        cls = classes.get(optimizer.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose from {sorted(classes)} "
                             f"or pass an Optimizer class, factory or instance")
        return cls(params, lr=lr, momentum=0.9) if cls is optim.SGD else cls(params, lr=lr)
    if callable(optimizer):
        return optimizer(params, lr=lr)
    raise TypeError(f"optimizer must be a name, an Optimizer class / factory or an Optimizer, "
                    f"got {type(optimizer).__name__}")


def make_scheduler(scheduler, optimizer):
    """``scheduler`` as given (an instance or None), or built from a function optimizer -> scheduler."""
    if scheduler is not None and callable(scheduler) and not hasattr(scheduler, "step"):
        return scheduler(optimizer)
    return scheduler


def fit_reconstruction(model, x, x_val=None, *, epochs, batch_size, lr, optimizer, shuffle, progress,
                       callbacks=(), scheduler=None, **fit_kwargs):
    """Trains ``model`` to reconstruct the rows of ``x`` with ``lamina.train.fit`` on (x, x) pairs:
    ``loss = model.loss_fn(model(x_batch), x_batch)``, the target being the clean batch (a
    denoising model corrupts its input afresh in each training forward). ``x_val`` gives
    ``val_loss`` (clean reconstruction, eval mode). Returns fit's History ('loss', 'val_loss',
    'lr', 'time', 'samples_per_s') and leaves the model in eval mode."""
    from ..train import fit

    opt = make_optimizer(optimizer, model.parameters(), lr)
    hist = fit(model, model.loss_fn, opt, (x, x), val_data=None if x_val is None else (x_val, x_val),
               epochs=int(epochs), metrics=(), callbacks=callbacks, scheduler=make_scheduler(scheduler, opt),
               progress=progress, batch_size=int(batch_size), shuffle=shuffle, **fit_kwargs)
    model.eval()
    return hist
