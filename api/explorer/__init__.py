"""The web explorer: a pivot table and chart over ``/v1``, served at ``/`` as static files.

``site`` serves the page and its assets (plain ES modules and vendored browser builds, no build step);
``export`` adds the one route the page needs beyond ``/v1``'s: the current view as an Excel workbook.
"""
