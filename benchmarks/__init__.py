"""Speed benchmarks, each figure beside its baseline measured in the same run: ``python -m benchmarks``.

See ``benchmarks/__main__.py`` for the options and ``suite.py`` for the results' shape.
"""
