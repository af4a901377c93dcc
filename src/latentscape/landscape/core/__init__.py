"""Pure weight-space maths on plain PyTorch objects: no files, no printing."""
