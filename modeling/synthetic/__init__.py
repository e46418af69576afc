"""The synthetic release: procedural CAD meshes rendered with the official camera model and written in the exact
official v1 layout, so that everything runs offline (demo, tests, notebook). Torch-free."""
