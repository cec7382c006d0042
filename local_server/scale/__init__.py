"""Serving beyond one process: bge-local as a Ray Serve application (``pip install 'bge-local[ray]'``).

Nothing here is imported by ``bge-local serve``; the engine and the HTTP app know nothing of Ray.
"""
