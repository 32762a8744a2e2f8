"""CPU tests of validate/torch (python3 -m unittest discover -s validate/torch/tests -t validate/torch)."""
