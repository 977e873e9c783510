"""massbench built-in plugin: fusion_torch, the X-ray + dynamics CNN of paper section 5.2 in PyTorch.

Modules: ``plugin`` (hooks), ``estimator`` (:class:`FusionXrayDyn`, no torch at import),
``network`` (the torch model), ``data`` (streaming batches), ``cubes`` (partial spectroscopic
completeness: seeded galaxy subsets and cached rebuilt KDE cubes).
"""
