"""LLaVA-pose around the Hub bundle at the package root: registration with the auto classes, the built-in
random model and checkpoint conversion (init-model), inference, training data, the Trainer and the two-stage
training."""
