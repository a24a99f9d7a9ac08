"""Inference backends for the control loop: units, backends, engine cache, `auto`.

The names live here, free of torch, so the launch file and argument parsers can offer
them without importing the backends.
"""

# What a node's `backend` parameter may be: auto picks the fastest available here.
BACKEND_CHOICES = ("auto", "eager", "compile", "torchscript", "onnxruntime", "tensorrt")
PRECISION_CHOICES = ("fp32", "fp16")
