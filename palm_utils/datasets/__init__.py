"""Where the data comes from.

- :mod:`.discovery`  ``find_dataset``: which PALM data to use, and says so
- :mod:`.aistudio`   the three AI Studio zips -> a dataset folder
- :mod:`.standin`    the generated stand-in dataset (writer)
- :mod:`.fundus`     draws one fundus-like image (the stand-in's renderer)
- :mod:`.mnist`      ``load_mnist`` for chapter 1

Folder and file names live in :mod:`palm_utils.layout`, environment
variables in :mod:`palm_utils.config` (both below this package).
The chapters only call :func:`palm_utils.find_dataset` and
:func:`palm_utils.load_mnist`; the rest runs behind them.
"""
from .discovery import DatasetInfo, current_dataset, default_dataset, find_dataset
from .mnist import load_mnist

__all__ = ["DatasetInfo", "current_dataset", "default_dataset", "find_dataset", "load_mnist"]
