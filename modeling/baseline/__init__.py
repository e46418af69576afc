"""The classification baseline of the paper's Table 3: a vision backbone with a category head and 3 × 40 pose-bin
heads, and its training."""
