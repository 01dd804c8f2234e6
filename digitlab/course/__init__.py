"""The course: lessons checked against the learner's runs, figures, the report to hand in, a run as plain PyTorch."""
