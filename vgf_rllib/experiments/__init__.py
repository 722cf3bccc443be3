"""Experiment tooling: benchmark suites (:mod:`.suites`), sweep files (:mod:`.sweep_files`),
the sweep runner (:mod:`.sweep`) and sweep reports (:mod:`.reporting`)."""
