"""The dataset side: reading the official release (or the synthetic one), the official object-centric crop,
captions with ``<pose6D>``, the rows of every config, augmentation, the build (Parquet shards + card), opening a
built split, and torch collate functions. Torch-free except ``collate``."""
