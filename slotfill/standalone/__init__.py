"""Tagging with ``model.onnx`` and its ``.json`` sidecar alone: numpy and onnxruntime, no torch."""
