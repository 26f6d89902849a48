"""kefu 客服 — an open-source customer service system."""

__version__ = "0.1.0"
