"""autosynth: self-configuring MRI contrast synthesis.

The package is laid out as the pipeline runs: ``dataset`` (raw layout, I/O, integrity),
``planning``, ``preprocessing``, ``architectures``, ``training``, ``inference``,
``evaluation`` and ``cli``.
"""
__version__ = "0.1.0"
