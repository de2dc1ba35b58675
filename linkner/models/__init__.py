"""The local span model: features (sentences → windows and span rows), the span classifier, its
losses, and checkpoint folders. Modules import torch; import them only where a model is needed."""
