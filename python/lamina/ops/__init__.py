"""The op library's Python side: one module per family, mirroring cpp/ops/. Each module holds
the autograd Functions (forward calls the C++ X_forward, backward the C++ X_backward) and the
functional wrappers that lamina.*, Tensor methods and lamina.nn.functional expose.
"""
