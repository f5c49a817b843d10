"""From a trained network to use: predict new images, export for deployment.

- :mod:`.predict`  ``predict(model, paths)``: PM risk per image, the PALM submission CSV;
  ``sigmoid``: logits to probabilities (PM risk)
- :mod:`.export`   ``export_model`` (``paddle.jit.save``), ``load_predictor``
  (``paddle.inference``), ``export_onnx`` (paddle2onnx, when installed)

Grad-CAM, which a chapter shows, is core: :mod:`palm_utils.gradcam`.
"""
from .export import export_model, export_onnx, load_predictor
from .predict import predict, sigmoid

__all__ = ["export_model", "export_onnx", "load_predictor", "predict", "sigmoid"]
