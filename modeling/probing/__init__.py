"""Task 1, linear probing of a frozen vision backbone: feature extraction and caching, the grid of linear heads,
and the official protocol."""
