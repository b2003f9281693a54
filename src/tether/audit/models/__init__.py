"""Label models for the annotation audit: Dawid–Skene, one-coin Dawid–Skene, MACE, Bradley–Terry."""

from .bradley_terry import BradleyTerry
from .dawid_skene import DawidSkene
from .mace import MACE
from .one_coin import OneCoinDawidSkene

__all__ = ["MACE", "BradleyTerry", "DawidSkene", "OneCoinDawidSkene"]
