"""Training (PyTorch). Imported only by `fashionlens train` and export; never by serving."""
