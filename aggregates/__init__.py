"""The precomputed aggregate store: cuboids (stored rollups), their lattice, measure algebra, versions and routing.

This package knows the model and the store's files; it runs no SQL. The engine (``cube_server``) builds
cuboids with its SQL backend and asks :func:`aggregates.router.route` which cuboid answers a query.
"""
