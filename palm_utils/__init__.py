"""palm_utils: the shared code of the classic-CNN chapters on iChallenge-PM.

What the chapters call, one module per job (read these first):

- :mod:`~palm_utils.reader`      OpenCV reader, ``transform_img``, image cache
- :mod:`~palm_utils.labels`      labels from file names and the xlsx/csv
- :mod:`~palm_utils.loaders`     ``data_loader``, ``valid_data_loader``, ``PalmDataset``
- :mod:`~palm_utils.augment`     random flips, rotations, brightness
- :mod:`~palm_utils.training`    ``train_pm`` / ``train_classifier``: the training loop
- :mod:`~palm_utils.evaluation`  ``evaluation`` on the validation set
- :mod:`~palm_utils.metrics`     accuracy, AUC, sensitivity, ... (scikit-learn)
- :mod:`~palm_utils.plots`       samples, curves, confusion matrix
- :mod:`~palm_utils.summary`     parameters, FLOPs, layer-by-layer shapes
- :mod:`~palm_utils.results`     course reference figures, comparison table
- :mod:`~palm_utils.gradcam`     Grad-CAM: where the network looked
- :mod:`~palm_utils.models`      the chapters' networks, generated from their ``#@save``
  cells by ``scripts/save_models.py``: ``from palm_utils.models import ResNet``

Behind them:

- :mod:`~palm_utils.session`     ``setup()``: the first cell of every chapter
- :mod:`~palm_utils.environment` the packages palm_utils needs, and how to install them
- :mod:`~palm_utils.runtime`     device, CPU threads, seeds, quiet warnings
- :mod:`~palm_utils.quick`       quick mode: read once, applied where data and epochs are chosen
- :mod:`~palm_utils.config`      every environment variable the series reads
- :mod:`~palm_utils.layout`      folder and file names of a PALM dataset root
- :mod:`~palm_utils.checkpoint`  saving and loading parameters and optimizer state
- :mod:`~palm_utils.atomic`      atomic writes of files and folders
- :mod:`~palm_utils.datasets`    where the data comes from: ``find_dataset``, the
  AI Studio zips, the generated stand-in, MNIST, environment variables
- :mod:`~palm_utils.distributed` data-parallel training over several processes
- :mod:`~palm_utils.netspec`     ``--net`` specs: a chapter's class, ``file.py:Class``,
  ``module:Class`` or a ``paddle.vision.models`` name
- :mod:`~palm_utils.deploy`      from a trained network to use: ``predict``, export
- :mod:`~palm_utils.cli`         ``python -m palm_utils``: info, demo, prepare, synth,
  train (one process or data parallel), predict

The speed benchmark is not part of the package: it times the networks of
:mod:`~palm_utils.models` and writes its report into the checkout
(``benchmarks/``).
"""
from __future__ import annotations

from .environment import check_dependencies

check_dependencies()  # one clear line if a package is missing, before anything imports it

from .runtime import paddle  # noqa: E402,F401  (quiet import, MKL's AVX2 kernels on AMD)

from .checkpoint import load_params  # noqa: E402  (after the check above)
from . import checks  # noqa: E402,F401  (pu.checks: the exercises' check cells)
from .datasets import DatasetInfo, find_dataset, load_mnist
from .evaluation import evaluate_model, evaluation
from .gradcam import grad_cam, show_grad_cam
from .labels import LabelError, label_from_filename, training_samples, validation_samples
from .loaders import PalmDataset, data_loader, valid_data_loader
from .metrics import binary_metrics, bootstrap_ci, majority_baseline, wilson_interval
from .plots import plot_confusion, plot_history, plot_runs, plot_seed_losses, show_digits, show_samples
from .results import REFERENCE, best_epoch, comparison_table, reference_table
from .augment import random_augment
from .reader import CHANNEL_ORDER, IMAGE_CACHE, ImageReadError, read_image, transform_img
from .runtime import select_device, set_seed
from .session import setup
from .summary import conv_out, conv_weights, count_flops, count_params, count_trainable, fc_params, layer_table
from .training import TrainingDiverged, load_history, train_classifier, train_pm

__version__ = "0.1.0"

__all__ = [
    "best_epoch", "bootstrap_ci", "conv_out", "majority_baseline", "plot_runs", "reference_table",
    "wilson_interval", "grad_cam", "show_grad_cam",
    "CHANNEL_ORDER", "REFERENCE", "comparison_table", "conv_weights", "count_flops", "count_params",
    "count_trainable", "fc_params",
    "layer_table", "show_digits", "train_classifier", "DatasetInfo", "IMAGE_CACHE", "ImageReadError", "LabelError",
    "PalmDataset", "TrainingDiverged", "random_augment", "binary_metrics", "data_loader", "evaluate_model",
    "evaluation", "find_dataset", "label_from_filename", "load_history",
    "load_mnist", "load_params", "plot_confusion", "plot_history", "plot_seed_losses", "read_image",
    "select_device", "set_seed", "setup", "show_samples", "train_pm", "training_samples",
    "transform_img", "valid_data_loader", "validation_samples",
]
