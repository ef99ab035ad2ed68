"""HTTP routes, one module per resource; each exposes a ``router`` that ``api.main`` includes."""
