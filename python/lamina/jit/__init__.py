"""Graph capture: ``lamina.jit.trace(module_or_fn, example_inputs) -> Graph`` records the lamina
ops of one forward pass into a small IR (jit/ir.py) that prints like a program, re-runs at any
batch size, and is what ``lamina.onnx.export`` translates.
"""
from ..autograd.tracing import TracerWarning
from .ir import Graph, Node, Sym, Value
from .trace import trace
from .tracer import TraceError

__all__ = ["trace", "Graph", "Node", "Value", "Sym", "TracerWarning", "TraceError"]
