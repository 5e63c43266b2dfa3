"""Training a model: the run, the Lightning module and data module, callbacks, loggers, augmentation, run folders."""
