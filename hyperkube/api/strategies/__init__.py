"""One Strategy per built-in kind, grouped by area (see ``base.py`` for the shared shape).

``hyperkube.api.kinds`` wires them to registry entries; nothing else needs to import them,
except code that wants a kind's helpers (``pods.pod_status_cells``, ``apps.ScalableStrategy``).
"""
