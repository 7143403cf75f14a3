"""Scheduling helpers shared by the engines: cache-node labels, worker placement, host ports.

``nodelabels`` (the label set on cache nodes and its safe writes), ``placement`` (worker
affinity for Exclusive/Shared datasets) and ``ports`` (the host-port allocator). Knows no
engine; engines and controllers import it.
"""
