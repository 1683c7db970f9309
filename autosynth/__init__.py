"""autosynth: self-configuring MRI contrast synthesis.

The package is laid out as the pipeline runs: ``dataset`` (raw layout, I/O, integrity, brain
mask), ``architectures`` (the networks and their typed description), ``experiment_planning``
(fingerprint, plans, splits), ``preprocessing``, ``training``, ``inference``, ``evaluation``
and ``cli``; ``paths`` and ``results_layout`` own the folder names. Each package imports only
those before it (documentation/architecture.md; ``scripts/import_graph.py`` checks it).
"""
__version__ = "0.1.0"
