"""What a model is and how it learns: settings and recipes, the networks, the training step and loop, augmentation,
health, the range test, cost, devices, checkpoints, metrics."""
