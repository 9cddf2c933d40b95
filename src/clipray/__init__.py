"""clipray: long videos in, short ranked clips out, every frame and word searchable."""

__version__ = "0.1.0"
