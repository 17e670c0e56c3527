"""keywatch: watch upstream OpenPGP signing keys so a key handover never goes unnoticed."""

__version__ = "0.1.0"
