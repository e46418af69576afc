"""The README's main job: the whole pipeline on the synthetic release, end to end."""
