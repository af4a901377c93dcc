"""Dataset sources, one module per file format.

Nothing is imported here: `latentscape.registry.DATASETS` names each dataset as "module:ATTR" and
imports only the module of the dataset a command uses (PIL, for example, only for image folders,
the CIFAR-10 subset and `shapes`).
"""
