"""Tagging raw text with a trained model: the Python API (PyTorch) and the torch-free ONNX Runtime path."""
