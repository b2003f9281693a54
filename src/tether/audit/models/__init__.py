"""Label models for the annotation audit: Dawid–Skene, one-coin Dawid–Skene, MACE, Bradley–Terry.

One contract (`base.py`): scikit-learn's (hyper-parameters in `__init__`, `fit` returns self, learned
state ends in `_`), on integer codes or crowd-kit's DataFrames.
"""

from .base import NotFittedError
from .bradley_terry import BradleyTerry, IdentificationWarning
from .dawid_skene import DawidSkene
from .mace import MACE
from .one_coin import OneCoinDawidSkene

__all__ = ["MACE", "BradleyTerry", "DawidSkene", "IdentificationWarning", "NotFittedError", "OneCoinDawidSkene"]
