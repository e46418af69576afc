"""The official metric (``metrics``), scoring any predictions file (``scoring``; both torch-free), evaluating a
model folder on a built dataset (``evaluate``) and its plots."""
