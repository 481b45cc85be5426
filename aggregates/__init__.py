"""The precomputed aggregate store (cuboids): lattice, selection, builds, refresh and routing.

Empty until the aggregate-store issue lands; the engine answers every query from the facts today,
and reports ``meta.source = "facts"``.
"""
