"""paperlens: multimodal retrieval-augmented answering over scientific papers."""

__version__ = "0.1.0"
