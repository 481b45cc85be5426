"""SQL over cubes: each cube is a table of level columns and measures; a SELECT becomes a cube query.

``tables`` names the columns, ``where`` turns predicates on levels into cuts, ``select`` turns a
parsed SELECT into a :class:`~cube_server.query.Query`, and ``answer`` runs it through an engine (a
``RestrictedEngine`` at every edge) and shapes the rows. Nothing here knows a wire protocol.
"""
