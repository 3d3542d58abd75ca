"""Datasets for fastals: seeded synthetic generators (cheap to import)."""

from fastals.data.synthetic import checkerboard, kuairec_like, planted_low_rank

__all__ = ["checkerboard", "kuairec_like", "planted_low_rank"]
