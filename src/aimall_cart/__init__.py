"""AIMall Cart: the cart service of the AIMall online mall."""

__version__ = "0.1.0"
