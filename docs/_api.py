"""The public API the reference documents: which modules, which names in each, and which of them lack
a docstring. Used by conf.py (to write one page per module and fail the build on undocumented API)
and by tests/test_docs.py (the same check without Sphinx)."""
from __future__ import annotations

import importlib
import inspect

# (module, page title, one-line description). Order = the reference's table of contents.
MODULES = [
    ("lamina", "lamina: tensors and tensor ops", ("Tensor creation, math, reductions, shape ops, random "
                                                  "numbers, threads and configuration (torch.*).")),
    ("lamina.autograd", "lamina.autograd",
     "Gradients: custom Functions, grad, gradcheck, anomaly mode (torch.autograd)."),
    ("lamina.nn", "lamina.nn: modules and layers", "Module, containers, layers and losses (torch.nn)."),
    ("lamina.nn.functional", "lamina.nn.functional", "Stateless layer functions (torch.nn.functional)."),
    ("lamina.nn.init", "lamina.nn.init", "Parameter initialisers (torch.nn.init)."),
    ("lamina.nn.utils", "lamina.nn.utils", "Gradient clipping, freezing (torch.nn.utils)."),
    ("lamina.nn.utils.rnn", "lamina.nn.utils.rnn", "Packed sequences (torch.nn.utils.rnn)."),
    ("lamina.nn.parallel", "lamina.nn.parallel", "DistributedDataParallel (torch.nn.parallel)."),
    ("lamina.optim", "lamina.optim", "Optimizers (torch.optim)."),
    ("lamina.optim.lr_scheduler", "lamina.optim.lr_scheduler", "Learning-rate schedules (torch.optim.lr_scheduler)."),
    ("lamina.data", "lamina.data", "Datasets, samplers, DataLoader (torch.utils.data)."),
    ("lamina.data.datasets", "lamina.data.datasets", "Bundled digits, MNIST from local files."),
    ("lamina.data.transforms", "lamina.data.transforms", "Per-sample transforms (torchvision.transforms)."),
    ("lamina.train", "lamina.train", "Keras-style fit, callbacks and History (keras.Model.fit)."),
    ("lamina.models", "lamina.models", "LeNet-5, MLP, RBM, DBN, autoencoders, char LSTM, pretrained weights."),
    ("lamina.rl", "lamina.rl", "Deep Q-learning (Stable-Baselines3's DQN)."),
    ("lamina.htm", "lamina.htm", "Hierarchical temporal memory."),
    ("lamina.onnx", "lamina.onnx", "ONNX export and import (torch.onnx)."),
    ("lamina.jit", "lamina.jit", "Graph capture by tracing (torch.jit.trace)."),
    ("lamina.distributed", "lamina.distributed", "Multi-process training over MPI (torch.distributed)."),
    ("lamina.distributed.algorithms.ddp_comm_hooks.default_hooks", "lamina.distributed.algorithms.ddp_comm_hooks",
     "Stock DDP communication hooks: allreduce, fp16 and bf16 compression (torch.distributed.algorithms)."),
    ("lamina.diagnostics", "lamina.diagnostics", "Gradient flow and training diagnostics."),
    ("lamina.interpret", "lamina.interpret", "Attributions and explanations."),
    ("lamina.viz", "lamina.viz", "PNG pictures of filters, histories, confusion matrices."),
    ("lamina.anomaly", "lamina.anomaly", "Anomaly detection by reconstruction error."),
    ("lamina.backends.cpu", "lamina.backends.cpu", "CPU capability (torch.backends.cpu)."),
    ("lamina.cuda", "lamina.cuda", "CUDA availability (torch.cuda)."),
    ("lamina.utils.tensorboard", "lamina.utils.tensorboard", "SummaryWriter (torch.utils.tensorboard)."),
    ("lamina.utils.scripts", "lamina.utils.scripts",
     "Command-line helpers the examples use: a parser showing defaults, checked argument types, run()."),
    ("lamina.serialization", "lamina.serialization", "save / load (torch.save / torch.load)."),
]


def _is_api(obj) -> bool:
    return (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)) and \
        getattr(obj, "__module__", "").startswith("lamina")


def public_names(modname: str) -> list:
    """The module's public classes and functions: its ``__all__``, or else every name not starting
    with ``_`` whose object is a lamina class or function (submodules and constants left out)."""
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None)
    if names is None:
        # without __all__: what the module (or a submodule of it) defines, not what it imports for
        # its own use; the top-level package defines nothing itself and re-exports its ops.
        names = [n for n in dir(mod) if not n.startswith("_") and
                 (modname == "lamina" or getattr(getattr(mod, n), "__module__", "").startswith(modname))]
    return sorted(n for n in names if _is_api(getattr(mod, n, None)))


def undocumented() -> list:
    """['module.name', ...] for public classes and functions without a docstring of their own."""
    out = []
    for modname, _, _ in MODULES:
        mod = importlib.import_module(modname)
        for n in public_names(modname):
            obj = getattr(mod, n)
            doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (doc and doc.strip()):
                out.append(f"{modname}.{n}")
    return out


def page(modname: str, title: str, blurb: str, seen: set) -> str:
    """The reStructuredText of one module's page. A class already documented on an earlier page
    (``seen``: ids) is shown again without a second index entry."""
    lines = [title, "=" * len(title), "", blurb, "", f".. currentmodule:: {modname}", ""]
    mod = importlib.import_module(modname)
    names = public_names(modname)
    classes = [n for n in names if inspect.isclass(getattr(mod, n))]
    funcs = [n for n in names if n not in classes]
    for label, group, directive in (("Classes", classes, "autoclass"), ("Functions", funcs, "autofunction")):
        if not group:
            continue
        lines += [label, "-" * len(label), ""]
        for n in group:
            lines.append(f".. {directive}:: {n}")
            if directive == "autoclass":
                lines.append("   :members:")
                if id(getattr(mod, n)) in seen:
                    lines.append("   :no-index:")
                seen.add(id(getattr(mod, n)))
            lines.append("")
    return "\n".join(lines)
