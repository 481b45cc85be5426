"""The PostgreSQL wire-protocol SQL listener: cubes as tables for psql, BI tools, ORMs and pandas.

``listener`` accepts connections (asyncio, one task each) and speaks the protocol with pygwire's
codec; ``session`` answers statements (cube SELECTs through the engine, catalog queries from
``catalog``, SET/SHOW/BEGIN...); ``values`` writes and reads values as text; ``sqlstate`` gives each
error its SQLSTATE.
"""
