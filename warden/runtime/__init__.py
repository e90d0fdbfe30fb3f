"""Model execution seam: every embedding model sits behind `Embedder`."""

from .embedders import E5Embedder, Embedder, MiniLMOnnxEmbedder, get_embedder

__all__ = ["E5Embedder", "Embedder", "MiniLMOnnxEmbedder", "get_embedder"]
