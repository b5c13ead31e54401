"""mmdiffbench: a reproducibility benchmark for diffusion-based multimodal recommenders."""

__version__ = "0.1.0"
