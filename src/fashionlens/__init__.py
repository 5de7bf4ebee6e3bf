"""fashionlens: look at clothing photos the way a merchandiser or a stylist would."""

__version__ = "0.1.0"
