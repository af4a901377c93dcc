"""The landscape analyses: compute_X(...) -> result and write_X(folder, result)."""
