"""openmyna: an open, runnable implementation of Japan's My Number platform."""

__version__ = "0.1.0"
