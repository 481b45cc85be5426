"""The Slicer-compatible HTTP surface: Cubes' Slicer API (version 2) beside ``/v1``, for Cubes clients.

Kept free of imports so that ``api.errors`` can read :mod:`api.slicer.paths` without a cycle; the
router is :data:`api.slicer.routes.router`.
"""
