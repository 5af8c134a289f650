"""One generic training loop (checkpoints, resume, logs, early stop) and its recipes."""

from inversa.train.loop import TrainConfig, fit

__all__ = ["TrainConfig", "fit"]
