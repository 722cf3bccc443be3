"""The modules of ``benchmarks/compare_reference.py``: the authors' VGF and ours side by side."""
