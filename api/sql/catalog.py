"""The PostgreSQL catalog clients read on connect, emulated in an in-memory DuckDB.

psql's ``\\dt`` and ``\\d``, SQLAlchemy's reflection, pandas and BI tools ask ``pg_catalog`` and
``information_schema`` with real SQL (joins, CASE, regular expressions, ``::regclass``), so the
catalog is a set of small DuckDB tables in the shape of PostgreSQL's, filled from the cube tables one
principal may read, and each catalog query is rewritten (sqlglot, PostgreSQL to DuckDB) to read them:
``pg_catalog.pg_class`` becomes ``pgc.pg_class``, ``information_schema.columns`` becomes
``infos.columns``, PostgreSQL's functions (``format_type``, ``pg_get_userbyid``, ``has_table_privilege``
...) become macros, and ``'x'::regclass`` a look-up. Tables nobody answers for are empty, not missing,
so a client's optional probes find nothing instead of failing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from cube_server.sql.tables import AttributeColumn, CubeTable

log = logging.getLogger("cube_server.sql")
SERVER_VERSION = "15.0"
VERSION_TEXT = f"PostgreSQL {SERVER_VERSION} (cube-server SQL over cubes) on x86_64-pc-linux-gnu"
OWNER = "cube_server"
PG_CATALOG_OID, PUBLIC_OID, INFORMATION_SCHEMA_OID = 11, 2200, 13_000
FIRST_TABLE_OID = 16_384

# PostgreSQL type: (oid, name as format_type writes it, typlen, category, array type oid)
PG_TYPES: dict[str, tuple[int, str, int, str, int]] = {
    "bool": (16, "boolean", 1, "B", 1000),
    "bytea": (17, "bytea", -1, "U", 1001),
    "name": (19, "name", 64, "S", 1003),
    "int8": (20, "bigint", 8, "N", 1016),
    "int2": (21, "smallint", 2, "N", 1005),
    "int4": (23, "integer", 4, "N", 1007),
    "regproc": (24, "regproc", 4, "N", 1008),
    "text": (25, "text", -1, "S", 1009),
    "oid": (26, "oid", 4, "N", 1028),
    "json": (114, "json", -1, "U", 199),
    "float4": (700, "real", 4, "N", 1021),
    "float8": (701, "double precision", 8, "N", 1022),
    "unknown": (705, "unknown", -2, "X", 0),
    "varchar": (1043, "character varying", -1, "S", 1015),
    "date": (1082, "date", 4, "D", 1182),
    "time": (1083, "time without time zone", 8, "D", 1183),
    "timestamp": (1114, "timestamp without time zone", 8, "D", 1115),
    "timestamptz": (1184, "timestamp with time zone", 8, "D", 1185),
    "interval": (1186, "interval", 16, "T", 1187),
    "numeric": (1700, "numeric", -1, "N", 1231),
    "regclass": (2205, "regclass", 4, "N", 2210),
    "regtype": (2206, "regtype", 4, "N", 2211),
}
CATALOG_RELATIONS = {"pg_class": 1259, "pg_type": 1247, "pg_attribute": 1249, "pg_proc": 1255, "pg_namespace": 2615,
                     "pg_description": 2609, "pg_constraint": 2606, "pg_index": 2610, "pg_database": 1262}  # fmt: skip


def pg_type_of(sql_type: str) -> str:
    """The PostgreSQL type answering a DuckDB type name (``DECIMAL(38,2)`` -> numeric, ``VARCHAR`` -> text)."""
    name = sql_type.upper().split("(")[0].strip()
    if name in ("BIGINT", "UBIGINT", "UINTEGER"):
        return "int8"
    if name in ("INTEGER", "INT", "USMALLINT"):
        return "int4"
    if name in ("SMALLINT", "TINYINT", "UTINYINT"):
        return "int2"
    if name in ("HUGEINT", "UHUGEINT", "DECIMAL", "NUMERIC"):
        return "numeric"
    if name in ("DOUBLE", "FLOAT8"):
        return "float8"
    if name in ("FLOAT", "REAL", "FLOAT4"):
        return "float4"
    if name in ("BOOLEAN", "BOOL"):
        return "bool"
    if name == "DATE":
        return "date"
    if name in ("TIMESTAMP", "DATETIME", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"):
        return "timestamp"
    if name in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return "timestamptz"
    if name == "TIME":
        return "time"
    if name == "INTERVAL":
        return "interval"
    if name in ("BLOB", "BYTEA"):
        return "bytea"
    return "text"


def type_modifier(sql_type: str) -> int:
    """``atttypmod``: numeric(p,s) is ((p << 16) | s) + 4; -1 where there is none."""
    match = re.fullmatch(r"\s*(?:DECIMAL|NUMERIC)\s*\((\d+)\s*,\s*(\d+)\)\s*", sql_type.upper())
    return ((int(match.group(1)) << 16) | int(match.group(2))) + 4 if match else -1


# ---- the tables ---------------------------------------------------------------------------------
# name -> (schema, column definitions); columns a row does not give take their DEFAULT
TABLES: dict[str, tuple[str, str]] = {
    "pg_namespace": ("pgc", "oid BIGINT, nspname VARCHAR, nspowner BIGINT DEFAULT 10, nspacl VARCHAR[]"),
    "pg_class": ("pgc", """oid BIGINT, relname VARCHAR, relnamespace BIGINT, reltype BIGINT DEFAULT 0,
        reloftype BIGINT DEFAULT 0, relowner BIGINT DEFAULT 10, relam BIGINT DEFAULT 2, relfilenode BIGINT DEFAULT 0,
        reltablespace BIGINT DEFAULT 0, relpages INTEGER DEFAULT 0, reltuples REAL DEFAULT -1,
        relallvisible INTEGER DEFAULT 0, reltoastrelid BIGINT DEFAULT 0, relhasindex BOOLEAN DEFAULT false,
        relisshared BOOLEAN DEFAULT false, relpersistence VARCHAR DEFAULT 'p', relkind VARCHAR DEFAULT 'r',
        relnatts SMALLINT DEFAULT 0, relchecks SMALLINT DEFAULT 0, relhasrules BOOLEAN DEFAULT false,
        relhastriggers BOOLEAN DEFAULT false, relhassubclass BOOLEAN DEFAULT false,
        relrowsecurity BOOLEAN DEFAULT false, relforcerowsecurity BOOLEAN DEFAULT false,
        relispopulated BOOLEAN DEFAULT true, relreplident VARCHAR DEFAULT 'n', relispartition BOOLEAN DEFAULT false,
        relrewrite BIGINT DEFAULT 0, relfrozenxid BIGINT DEFAULT 0, relminmxid BIGINT DEFAULT 0, relacl VARCHAR[],
        reloptions VARCHAR[], relpartbound VARCHAR"""),
    "pg_attribute": ("pgc", """attrelid BIGINT, attname VARCHAR, atttypid BIGINT, attstattarget INTEGER DEFAULT -1,
        attlen SMALLINT DEFAULT -1, attnum SMALLINT, attndims INTEGER DEFAULT 0, attcacheoff INTEGER DEFAULT -1,
        atttypmod INTEGER DEFAULT -1, attbyval BOOLEAN DEFAULT false, attalign VARCHAR DEFAULT 'i',
        attstorage VARCHAR DEFAULT 'x', attcompression VARCHAR DEFAULT '', attnotnull BOOLEAN DEFAULT false,
        atthasdef BOOLEAN DEFAULT false, atthasmissing BOOLEAN DEFAULT false, attidentity VARCHAR DEFAULT '',
        attgenerated VARCHAR DEFAULT '', attisdropped BOOLEAN DEFAULT false, attislocal BOOLEAN DEFAULT true,
        attinhcount INTEGER DEFAULT 0, attcollation BIGINT DEFAULT 0, attacl VARCHAR[], attoptions VARCHAR[],
        attfdwoptions VARCHAR[], attmissingval VARCHAR"""),
    "pg_type": ("pgc", """oid BIGINT, typname VARCHAR, typnamespace BIGINT DEFAULT 11, typowner BIGINT DEFAULT 10,
        typlen SMALLINT, typbyval BOOLEAN DEFAULT false, typtype VARCHAR DEFAULT 'b', typcategory VARCHAR,
        typispreferred BOOLEAN DEFAULT false, typisdefined BOOLEAN DEFAULT true, typdelim VARCHAR DEFAULT ',',
        typrelid BIGINT DEFAULT 0, typsubscript VARCHAR DEFAULT '-', typelem BIGINT DEFAULT 0,
        typarray BIGINT DEFAULT 0,
        typinput VARCHAR, typoutput VARCHAR, typreceive VARCHAR, typsend VARCHAR, typmodin VARCHAR DEFAULT '-',
        typmodout VARCHAR DEFAULT '-', typanalyze VARCHAR DEFAULT '-', typalign VARCHAR DEFAULT 'i',
        typstorage VARCHAR DEFAULT 'p', typnotnull BOOLEAN DEFAULT false, typbasetype BIGINT DEFAULT 0,
        typtypmod INTEGER DEFAULT -1, typndims INTEGER DEFAULT 0, typcollation BIGINT DEFAULT 0,
        typdefaultbin VARCHAR, typdefault VARCHAR, typacl VARCHAR[], format_name VARCHAR"""),
    "pg_description": ("pgc", "objoid BIGINT, classoid BIGINT, objsubid INTEGER, description VARCHAR"),
    "pg_am": ("pgc", "oid BIGINT, amname VARCHAR, amhandler VARCHAR, amtype VARCHAR"),
    "pg_database": ("pgc", """oid BIGINT, datname VARCHAR, datdba BIGINT DEFAULT 10, encoding INTEGER DEFAULT 6,
        datlocprovider VARCHAR DEFAULT 'c', datistemplate BOOLEAN DEFAULT false, datallowconn BOOLEAN DEFAULT true,
        datconnlimit INTEGER DEFAULT -1, datfrozenxid BIGINT DEFAULT 0, datminmxid BIGINT DEFAULT 1,
        dattablespace BIGINT DEFAULT 1663, datcollate VARCHAR DEFAULT 'C.UTF-8', datctype VARCHAR DEFAULT 'C.UTF-8',
        daticulocale VARCHAR, datcollversion VARCHAR, datacl VARCHAR[]"""),
    "pg_roles": ("pgc", """oid BIGINT, rolname VARCHAR, rolsuper BOOLEAN DEFAULT false, rolinherit BOOLEAN DEFAULT true,
        rolcreaterole BOOLEAN DEFAULT false, rolcreatedb BOOLEAN DEFAULT false, rolcanlogin BOOLEAN DEFAULT true,
        rolreplication BOOLEAN DEFAULT false, rolconnlimit INTEGER DEFAULT -1, rolpassword VARCHAR DEFAULT '********',
        rolvaliduntil TIMESTAMP, rolbypassrls BOOLEAN DEFAULT false, rolconfig VARCHAR[]"""),
    "pg_user": ("pgc", """usename VARCHAR, usesysid BIGINT, usecreatedb BOOLEAN DEFAULT false,
        usesuper BOOLEAN DEFAULT false, userepl BOOLEAN DEFAULT false, usebypassrls BOOLEAN DEFAULT false,
        passwd VARCHAR DEFAULT '********', valuntil TIMESTAMP, useconfig VARCHAR[]"""),
    "pg_settings": ("pgc", """name VARCHAR, setting VARCHAR, unit VARCHAR, category VARCHAR DEFAULT '',
        short_desc VARCHAR DEFAULT '', extra_desc VARCHAR, context VARCHAR DEFAULT 'user',
        vartype VARCHAR DEFAULT 'string', source VARCHAR DEFAULT 'default', min_val VARCHAR, max_val VARCHAR,
        enumvals VARCHAR[], boot_val VARCHAR, reset_val VARCHAR, sourcefile VARCHAR, sourceline INTEGER,
        pending_restart BOOLEAN DEFAULT false"""),
    "pg_tables": ("pgc", """schemaname VARCHAR, tablename VARCHAR, tableowner VARCHAR, tablespace VARCHAR,
        hasindexes BOOLEAN DEFAULT false, hasrules BOOLEAN DEFAULT false, hastriggers BOOLEAN DEFAULT false,
        rowsecurity BOOLEAN DEFAULT false"""),
    "pg_tablespace": ("pgc", "oid BIGINT, spcname VARCHAR, spcowner BIGINT DEFAULT 10, spcacl VARCHAR[]"),
    "pg_stat_user_tables": ("pgc", "relid BIGINT, schemaname VARCHAR, relname VARCHAR, n_live_tup BIGINT DEFAULT 0"),
    "pg_stat_all_tables": ("pgc", "relid BIGINT, schemaname VARCHAR, relname VARCHAR, n_live_tup BIGINT DEFAULT 0"),
    "pg_index": ("pgc", """indexrelid BIGINT, indrelid BIGINT, indnatts SMALLINT, indnkeyatts SMALLINT,
        indisunique BOOLEAN, indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN, indisexclusion BOOLEAN,
        indimmediate BOOLEAN, indisclustered BOOLEAN, indisvalid BOOLEAN, indcheckxmin BOOLEAN, indisready BOOLEAN,
        indislive BOOLEAN, indisreplident BOOLEAN, indkey SMALLINT[], indcollation BIGINT[], indclass BIGINT[],
        indoption SMALLINT[], indexprs VARCHAR, indpred VARCHAR"""),
    "pg_constraint": ("pgc", """oid BIGINT, conname VARCHAR, connamespace BIGINT, contype VARCHAR,
        condeferrable BOOLEAN, condeferred BOOLEAN, convalidated BOOLEAN, conrelid BIGINT, contypid BIGINT,
        conindid BIGINT, conparentid BIGINT, confrelid BIGINT, confupdtype VARCHAR, confdeltype VARCHAR,
        confmatchtype VARCHAR, conislocal BOOLEAN, coninhcount INTEGER, connoinherit BOOLEAN, conkey SMALLINT[],
        confkey SMALLINT[], conpfeqop BIGINT[], conppeqop BIGINT[], conffeqop BIGINT[], confdelsetcols SMALLINT[],
        conexclop BIGINT[], conbin VARCHAR"""),
    "pg_attrdef": ("pgc", "oid BIGINT, adrelid BIGINT, adnum SMALLINT, adbin VARCHAR"),
    "pg_collation": ("pgc", """oid BIGINT, collname VARCHAR, collnamespace BIGINT, collowner BIGINT,
        collprovider VARCHAR, collisdeterministic BOOLEAN, collencoding INTEGER, collcollate VARCHAR,
        collctype VARCHAR"""),
    "pg_inherits": ("pgc", "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN"),
    "pg_trigger": ("pgc", """oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgfoid BIGINT,
        tgtype SMALLINT, tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstrrelid BIGINT, tgconstrindid BIGINT,
        tgconstraint BIGINT, tgdeferrable BOOLEAN, tginitdeferred BOOLEAN, tgnargs SMALLINT, tgattr SMALLINT[],
        tgargs VARCHAR, tgqual VARCHAR, tgoldtable VARCHAR, tgnewtable VARCHAR"""),
    "pg_policy": ("pgc", """oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, polpermissive BOOLEAN,
        polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR"""),
    "pg_statistic_ext": ("pgc", """oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT,
        stxowner BIGINT, stxstattarget INTEGER, stxkeys SMALLINT[], stxkind VARCHAR[], stxexprs VARCHAR"""),
    "pg_publication": ("pgc", """oid BIGINT, pubname VARCHAR, pubowner BIGINT, puballtables BOOLEAN,
        pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN"""),
    "pg_publication_rel": ("pgc", "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs SMALLINT[]"),
    "pg_publication_namespace": ("pgc", "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT"),
    "pg_proc": ("pgc", """oid BIGINT, proname VARCHAR, pronamespace BIGINT, proowner BIGINT, prolang BIGINT,
        prokind VARCHAR, prorettype BIGINT, proargtypes BIGINT[], proallargtypes BIGINT[], proargnames VARCHAR[],
        proretset BOOLEAN, prosrc VARCHAR"""),
    "pg_enum": ("pgc", "oid BIGINT, enumtypid BIGINT, enumsortorder REAL, enumlabel VARCHAR"),
    "pg_range": ("pgc", "rngtypid BIGINT, rngsubtype BIGINT, rngmultitypid BIGINT, rngcollation BIGINT"),
    "pg_foreign_table": ("pgc", "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]"),
    "pg_foreign_server": ("pgc", "oid BIGINT, srvname VARCHAR, srvowner BIGINT, srvfdw BIGINT, srvoptions VARCHAR[]"),
    "pg_foreign_data_wrapper": ("pgc", "oid BIGINT, fdwname VARCHAR, fdwowner BIGINT"),
    "pg_rewrite": ("pgc", """oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, ev_enabled VARCHAR,
        is_instead BOOLEAN, ev_qual VARCHAR, ev_action VARCHAR"""),
    "pg_sequence": ("pgc", """seqrelid BIGINT, seqtypid BIGINT, seqstart BIGINT, seqincrement BIGINT, seqmax BIGINT,
        seqmin BIGINT, seqcache BIGINT, seqcycle BOOLEAN"""),
    "pg_sequences": ("pgc", "schemaname VARCHAR, sequencename VARCHAR, sequenceowner VARCHAR"),
    "pg_partitioned_table": ("pgc", "partrelid BIGINT, partstrat VARCHAR, partnatts SMALLINT, partattrs SMALLINT[]"),
    "pg_views": ("pgc", "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR"),
    "pg_matviews": ("pgc", """schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, tablespace VARCHAR,
        hasindexes BOOLEAN, ispopulated BOOLEAN, definition VARCHAR"""),
    "pg_extension": ("pgc", """oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT,
        extrelocatable BOOLEAN, extversion VARCHAR"""),
    "pg_opclass": ("pgc", "oid BIGINT, opcmethod BIGINT, opcname VARCHAR, opcnamespace BIGINT, opcdefault BOOLEAN"),
    "pg_operator": ("pgc", "oid BIGINT, oprname VARCHAR, oprnamespace BIGINT, oprleft BIGINT, oprright BIGINT"),
    "pg_event_trigger": ("pgc", "oid BIGINT, evtname VARCHAR, evtevent VARCHAR, evtenabled VARCHAR"),
    "pg_auth_members": ("pgc", "roleid BIGINT, member BIGINT, grantor BIGINT, admin_option BOOLEAN"),
    "pg_shdescription": ("pgc", "objoid BIGINT, classoid BIGINT, description VARCHAR"),
    "pg_language": ("pgc", "oid BIGINT, lanname VARCHAR"),
    "pg_cast": ("pgc", "oid BIGINT, castsource BIGINT, casttarget BIGINT, castfunc BIGINT, castcontext VARCHAR"),
    "pg_depend": ("pgc", """classid BIGINT, objid BIGINT, objsubid INTEGER, refclassid BIGINT, refobjid BIGINT,
        refobjsubid INTEGER, deptype VARCHAR"""),
    "pg_cursors": ("pgc", """name VARCHAR, statement VARCHAR, is_holdable BOOLEAN, is_binary BOOLEAN,
        is_scrollable BOOLEAN, creation_time TIMESTAMP"""),
    "pg_locks": ("pgc", "locktype VARCHAR, relation BIGINT, pid INTEGER, mode VARCHAR, granted BOOLEAN"),
    "pg_stat_activity": ("pgc", "datid BIGINT, datname VARCHAR, pid INTEGER, usename VARCHAR, query VARCHAR"),
    # information_schema
    "schemata": ("infos", """catalog_name VARCHAR, schema_name VARCHAR, schema_owner VARCHAR,
        default_character_set_catalog VARCHAR, default_character_set_schema VARCHAR,
        default_character_set_name VARCHAR, sql_path VARCHAR"""),
    "tables": ("infos", """table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR,
        table_type VARCHAR DEFAULT 'BASE TABLE', self_referencing_column_name VARCHAR, reference_generation VARCHAR,
        user_defined_type_catalog VARCHAR, user_defined_type_schema VARCHAR, user_defined_type_name VARCHAR,
        is_insertable_into VARCHAR DEFAULT 'NO', is_typed VARCHAR DEFAULT 'NO', commit_action VARCHAR"""),
    "columns": ("infos", """table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR,
        ordinal_position INTEGER, column_default VARCHAR, is_nullable VARCHAR DEFAULT 'YES', data_type VARCHAR,
        character_maximum_length INTEGER, character_octet_length INTEGER, numeric_precision INTEGER,
        numeric_precision_radix INTEGER, numeric_scale INTEGER, datetime_precision INTEGER, interval_type VARCHAR,
        interval_precision INTEGER, character_set_catalog VARCHAR, character_set_schema VARCHAR,
        character_set_name VARCHAR, collation_catalog VARCHAR, collation_schema VARCHAR, collation_name VARCHAR,
        domain_catalog VARCHAR, domain_schema VARCHAR, domain_name VARCHAR, udt_catalog VARCHAR, udt_schema VARCHAR,
        udt_name VARCHAR, scope_catalog VARCHAR, scope_schema VARCHAR, scope_name VARCHAR,
        maximum_cardinality INTEGER, dtd_identifier VARCHAR, is_self_referencing VARCHAR DEFAULT 'NO',
        is_identity VARCHAR DEFAULT 'NO', identity_generation VARCHAR, identity_start VARCHAR,
        identity_increment VARCHAR, identity_maximum VARCHAR, identity_minimum VARCHAR, identity_cycle VARCHAR,
        is_generated VARCHAR DEFAULT 'NEVER', generation_expression VARCHAR, is_updatable VARCHAR DEFAULT 'NO'"""),
    "views": ("infos", "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, view_definition VARCHAR"),
    "table_constraints": ("infos", """constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR,
        table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, constraint_type VARCHAR,
        is_deferrable VARCHAR, initially_deferred VARCHAR, enforced VARCHAR, nulls_distinct VARCHAR"""),
    "key_column_usage": ("infos", """constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR,
        table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR,
        ordinal_position INTEGER, position_in_unique_constraint INTEGER"""),
    "referential_constraints": ("infos", """constraint_catalog VARCHAR, constraint_schema VARCHAR,
        constraint_name VARCHAR, unique_constraint_catalog VARCHAR, unique_constraint_schema VARCHAR,
        unique_constraint_name VARCHAR, match_option VARCHAR, update_rule VARCHAR, delete_rule VARCHAR"""),
    "constraint_column_usage": ("infos", """table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR,
        column_name VARCHAR, constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR"""),
    "routines": ("infos", """specific_catalog VARCHAR, specific_schema VARCHAR, specific_name VARCHAR,
        routine_catalog VARCHAR, routine_schema VARCHAR, routine_name VARCHAR, routine_type VARCHAR,
        data_type VARCHAR"""),
    "table_privileges": ("infos", """grantor VARCHAR, grantee VARCHAR, table_catalog VARCHAR, table_schema VARCHAR,
        table_name VARCHAR, privilege_type VARCHAR, is_grantable VARCHAR, with_hierarchy VARCHAR"""),
}

MACROS = """
CREATE MACRO pg_get_userbyid(x) AS '{owner}';
CREATE MACRO pg_table_is_visible(x) AS true;
CREATE MACRO pg_type_is_visible(x) AS true;
CREATE MACRO pg_collation_is_visible(x) AS true;
CREATE MACRO pg_opclass_is_visible(x) AS true;
CREATE MACRO pg_function_is_visible(x) AS true;
CREATE MACRO format_type(t, m) AS CASE
    WHEN t = 1700 AND m > 4 THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')'
    ELSE coalesce((SELECT format_name FROM pgc.pg_type WHERE oid = t), '???') END;
CREATE MACRO pg_get_expr(a, b) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR;
CREATE MACRO obj_description(o) AS (SELECT max(description) FROM pgc.pg_description WHERE objoid = o AND objsubid = 0),
    (o, c) AS (SELECT max(description) FROM pgc.pg_description WHERE objoid = o AND objsubid = 0);
CREATE MACRO col_description(o, n) AS
    (SELECT max(description) FROM pgc.pg_description WHERE objoid = o AND objsubid = n);
CREATE MACRO shobj_description(o, c) AS NULL::VARCHAR;
CREATE MACRO pg_encoding_to_char(e) AS 'UTF8';
CREATE MACRO has_table_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO has_schema_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO has_database_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO has_column_privilege(a, b, c) AS true, (a, b, c, d) AS true;
CREATE MACRO has_any_column_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pg_has_role(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pg_get_indexdef(a) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR;
CREATE MACRO pg_get_constraintdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
CREATE MACRO pg_get_triggerdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
CREATE MACRO pg_get_viewdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
CREATE MACRO pg_get_partkeydef(a) AS NULL::VARCHAR;
CREATE MACRO pg_get_statisticsobjdef_columns(a) AS NULL::VARCHAR;
CREATE MACRO pg_get_function_identity_arguments(a) AS '';
CREATE MACRO pg_get_function_result(a) AS NULL::VARCHAR;
CREATE MACRO pg_get_serial_sequence(a, b) AS NULL::VARCHAR;
CREATE MACRO pg_relation_size(a) AS 0::BIGINT, (a, b) AS 0::BIGINT;
CREATE MACRO pg_total_relation_size(a) AS 0::BIGINT;
CREATE MACRO pg_table_size(a) AS 0::BIGINT;
CREATE MACRO pg_indexes_size(a) AS 0::BIGINT;
CREATE MACRO pg_size_pretty(a) AS '0 bytes';
CREATE MACRO pg_is_in_recovery() AS false;
CREATE MACRO array_upper(a, d) AS len(a);
CREATE MACRO pg_relation_is_publishable(a) AS false;
CREATE MACRO pg_get_ruledef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
CREATE MACRO pg_tablespace_location(a) AS '';
CREATE MACRO pg_get_functiondef(a) AS NULL::VARCHAR;
CREATE MACRO pg_get_function_arguments(a) AS '';
CREATE MACRO array_lower(a, d) AS CASE WHEN len(a) > 0 THEN 1 END;
CREATE MACRO pg_postmaster_start_time() AS TIMESTAMP '2000-01-01';
CREATE MACRO txid_current() AS 1::BIGINT;
CREATE MACRO quote_ident(a) AS CASE WHEN regexp_matches(a, '^[a-z_][a-z0-9_$]*$') THEN a
    ELSE '"' || replace(a, '"', '""') || '"' END;
CREATE MACRO pg_regclass(name) AS (SELECT max(oid) FROM pgc.pg_class
    WHERE relname = replace(regexp_extract(name, '([^.]+)$', 1), '"', ''));
CREATE MACRO pg_regtype(name) AS (SELECT max(oid) FROM pgc.pg_type
    WHERE typname = lower(replace(regexp_extract(name, '([^.]+)$', 1), '"', '')) OR format_name = lower(name));
CREATE MACRO pg_regnamespace(name) AS (SELECT max(oid) FROM pgc.pg_namespace WHERE nspname = replace(name, '"', ''));
CREATE MACRO to_regtype(name) AS pg_regtype(name);
CREATE MACRO to_regclass(name) AS pg_regclass(name);
CREATE MACRO to_regnamespace(name) AS pg_regnamespace(name);
CREATE MACRO pg_oid_name(o) AS coalesce((SELECT max(relname) FROM pgc.pg_class WHERE oid = o),
    (SELECT max(format_name) FROM pgc.pg_type WHERE oid = o), (SELECT max(nspname) FROM pgc.pg_namespace WHERE oid = o),
    o::VARCHAR);
"""


@dataclass(frozen=True, slots=True)
class CatalogContext:
    database: str
    user: str
    settings: dict[str, str]


class CatalogDatabase:
    """One principal's catalog: a DuckDB database, read through a cursor per query (safe across threads)."""

    def __init__(self, tables: Iterable[CubeTable], database: str) -> None:
        self._connection = duckdb.connect(":memory:", config={"threads": 1})
        self._lock = threading.Lock()
        self._connection.execute("CREATE SCHEMA pgc; CREATE SCHEMA infos;")
        for name, (schema, columns) in TABLES.items():
            self._connection.execute(f"CREATE TABLE {schema}.{name} ({columns})")
        self._connection.execute(MACROS.format(owner=OWNER))
        self._fill(list(tables), database)

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        schema = TABLES[table][0]
        by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(row), []).append(list(row.values()))
        for names, values in by_columns.items():
            marks = ", ".join("?" for _ in names)
            statement = f"INSERT INTO {schema}.{table} ({', '.join(names)}) VALUES ({marks})"
            self._connection.executemany(statement, values)

    def _fill(self, tables: list[CubeTable], database: str) -> None:
        namespaces = [
            (PG_CATALOG_OID, "pg_catalog"), (PUBLIC_OID, "public"), (INFORMATION_SCHEMA_OID, "information_schema")
        ]  # fmt: skip
        self._insert("pg_namespace", [{"oid": oid, "nspname": name} for oid, name in namespaces])
        self._insert("pg_am", [{"oid": 2, "amname": "heap", "amhandler": "heap_tableam_handler", "amtype": "t"}])
        self._insert("pg_database", [{"oid": 16_383, "datname": database}])
        self._insert("pg_roles", [{"oid": 10, "rolname": OWNER}])
        self._insert("pg_user", [{"usename": OWNER, "usesysid": 10}])
        self._insert("pg_tablespace", [{"oid": 1663, "spcname": "pg_default"}])
        self._insert("schemata", [{"catalog_name": database, "schema_name": name, "schema_owner": OWNER}
                                  for _, name in namespaces])  # fmt: skip
        types = []
        for typname, (oid, format_name, length, category, array) in PG_TYPES.items():
            types.append({"oid": oid, "typname": typname, "typlen": length, "typcategory": category,
                          "typarray": array, "format_name": format_name, "typinput": f"{typname}in",
                          "typoutput": f"{typname}out", "typreceive": f"{typname}recv",
                          "typsend": f"{typname}send"})  # fmt: skip
            if array:
                types.append({"oid": array, "typname": f"_{typname}", "typlen": -1, "typcategory": "A",
                              "typelem": oid, "format_name": f"{format_name}[]", "typinput": "array_in",
                              "typoutput": "array_out", "typreceive": "array_recv",
                              "typsend": "array_send"})  # fmt: skip
        for name, oid in CATALOG_RELATIONS.items():
            self._connection.execute(
                "INSERT INTO pgc.pg_class (oid, relname, relnamespace) VALUES (?, ?, ?)", [oid, name, PG_CATALOG_OID]
            )
        for index, table in enumerate(sorted(tables, key=lambda t: t.name)):
            oid = FIRST_TABLE_OID + 2 * index
            row_type = oid + 1
            types.append({"oid": row_type, "typname": table.name, "typlen": -1, "typtype": "c", "typcategory": "C",
                          "typnamespace": PUBLIC_OID, "typrelid": oid, "format_name": table.name})  # fmt: skip
            self._insert("pg_class", [{"oid": oid, "relname": table.name, "relnamespace": PUBLIC_OID,
                                       "reltype": row_type, "relnatts": len(table.columns)}])  # fmt: skip
            self._insert("pg_tables", [{"schemaname": "public", "tablename": table.name, "tableowner": OWNER}])
            self._insert("pg_stat_user_tables", [{"relid": oid, "schemaname": "public", "relname": table.name}])
            self._insert("pg_stat_all_tables", [{"relid": oid, "schemaname": "public", "relname": table.name}])
            self._insert("tables", [{"table_catalog": database, "table_schema": "public", "table_name": table.name}])
            description = table.cube.description or table.cube.label
            descriptions = [{"objoid": oid, "classoid": 1259, "objsubid": 0, "description": description}]
            attributes, columns = [], []
            for number, column in enumerate(table.columns, start=1):
                pg_type = pg_type_of(column.sql_type)
                type_oid, format_name, length, _, _ = PG_TYPES[pg_type]
                modifier = type_modifier(column.sql_type)
                attributes.append({"attrelid": oid, "attname": column.name, "atttypid": type_oid, "attlen": length,
                                   "attnum": number, "atttypmod": modifier})  # fmt: skip
                descriptions.append({"objoid": oid, "classoid": 1259, "objsubid": number,
                                     "description": column.description})  # fmt: skip
                precision, scale = _precision(pg_type, modifier)
                columns.append({"table_catalog": database, "table_schema": "public", "table_name": table.name,
                                "column_name": column.name, "ordinal_position": number, "data_type": format_name,
                                "numeric_precision": precision, "numeric_scale": scale,
                                "numeric_precision_radix": 10 if precision is not None else None,
                                "udt_catalog": database, "udt_schema": "pg_catalog", "udt_name": pg_type,
                                "dtd_identifier": str(number),
                                "is_nullable": "YES" if isinstance(column, AttributeColumn) else "YES"})  # fmt: skip
            self._insert("pg_attribute", attributes)
            self._insert("pg_description", descriptions)
            self._insert("columns", columns)
        self._insert("pg_type", types)

    def execute(self, statement: exp.Expression | str, context: CatalogContext, parameters: list[Any]) -> Result:
        """Run a parsed catalog query, or the text of one sqlglot cannot parse (rewritten by pattern)."""
        sql = rewrite(statement, context).sql(dialect="duckdb") if isinstance(statement, exp.Expression) else (
            rewrite_text(statement, context))  # fmt: skip
        cursor = self._connection.cursor()
        try:
            log.debug("catalog query as DuckDB runs it: %s", sql)
            cursor.execute(sql, parameters or None)
            description = cursor.description or []
            rows = cursor.fetchall() if description else []
        finally:
            cursor.close()
        return Result([(column[0], _duck_type(column[1])) for column in description], [tuple(r) for r in rows])


@dataclass(slots=True)
class Result:
    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]


def _precision(pg_type: str, modifier: int) -> tuple[int | None, int | None]:
    if pg_type == "numeric" and modifier > 4:
        return (modifier - 4) >> 16, (modifier - 4) & 0xFFFF
    return {"int8": (64, 0), "int4": (32, 0), "int2": (16, 0), "float8": (53, None), "float4": (24, None)}.get(
        pg_type, (None, None)
    )


def _duck_type(type_code: Any) -> str:
    return str(type_code)


# ---- rewriting a catalog query for DuckDB ---------------------------------------------------------
SCHEMAS = {"pg_catalog": "pgc", "information_schema": "infos"}
MAX_REWRITE_PASSES = 5
RENAMED_FUNCTIONS = {"json_build_object": "json_object", "jsonb_build_object": "json_object",
                     "json_agg": "json_group_array", "jsonb_agg": "json_group_array"}  # fmt: skip
REG_CASTS = {"REGCLASS": "pg_regclass", "REGTYPE": "pg_regtype", "REGNAMESPACE": "pg_regnamespace"}
REGEX_OPERATORS = {"~": (False, False), "~*": (False, True), "!~": (True, False), "!~*": (True, True)}


def is_catalog_table(table: exp.Table) -> bool:
    schema = table.db.lower() if table.db else ""
    name = table.name.lower()
    if schema in SCHEMAS:
        return True
    return not schema and TABLES.get(name, ("",))[0] == "pgc"


def rewrite(statement: exp.Expression, context: CatalogContext) -> exp.Expression:
    """The statement reading the emulated catalog, in terms DuckDB runs."""
    # sqlglot does not descend into a node a rewrite replaced, so rewrite again until nothing changes
    # (a cast inside a rewritten cast, a collation inside an OPERATOR(...) call).
    rewritten = statement.copy()
    for _ in range(MAX_REWRITE_PASSES):
        before = rewritten.sql()
        rewritten = rewritten.transform(lambda node: _rewrite_node(node, context))
        if rewritten.sql() == before:
            break
    return rewritten


def _rewrite_node(node: exp.Expression, context: CatalogContext) -> exp.Expression:
    if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
        if node.db and node.db.lower() == "pg_catalog":  # pg_catalog.generate_series(...) in FROM
            node = node.copy()
            node.set("db", None)
        return node
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        schema = node.db.lower() if node.db else ""
        name = node.name.lower()
        target = SCHEMAS.get(schema) if schema else (TABLES.get(name, ("",))[0] if name in TABLES else None)
        if target and name in TABLES and TABLES[name][0] == target:
            node = node.copy()
            node.set("db", exp.to_identifier(target))
            node.set("catalog", None)
            node.set("this", exp.to_identifier(name))
        return node
    if isinstance(node, exp.Column) and node.args.get("db") is not None and node.db.lower() in SCHEMAS:
        node = node.copy()  # pg_catalog.pg_class.relname -> pgc.pg_class.relname
        node.set("db", exp.to_identifier(SCHEMAS[node.db.lower()]))
        node.set("catalog", None)
        return node
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) and node.this.name.lower() == "pg_catalog":
        return node.expression  # pg_catalog.format_type(...) -> format_type(...)
    if isinstance(node, exp.Collate):
        return node.this
    if isinstance(node, exp.Operator):
        operator = str(node.args.get("operator", "")).split(".")[-1]
        if operator in REGEX_OPERATORS:
            negate, insensitive = REGEX_OPERATORS[operator]
            match: exp.Expression = exp.RegexpLike(
                this=node.this, expression=node.expression, flag=exp.Literal.string("i") if insensitive else None
            )
            return exp.Not(this=match) if negate else match
        return exp.EQ(this=node.this, expression=node.expression) if operator == "=" else node
    if isinstance(node, exp.Cast):
        return _rewrite_cast(node, context)
    if isinstance(node, exp.CurrentSchema):
        return exp.Literal.string("public")
    if isinstance(node, exp.CurrentSchemas):
        return exp.Array(expressions=[exp.Literal.string("pg_catalog"), exp.Literal.string("public")])
    if isinstance(node, exp.CurrentDatabase):
        return exp.Literal.string(context.database)
    if isinstance(node, (exp.CurrentUser, exp.SessionUser)):
        return exp.Literal.string(context.user)
    if isinstance(node, exp.CurrentVersion) or (isinstance(node, exp.Anonymous) and node.name.lower() == "version"):
        return exp.Literal.string(VERSION_TEXT)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name == "current_setting" and node.expressions:
            setting = node.expressions[0]
            while isinstance(setting, exp.Cast):  # a bound parameter arrives as 'name'::VARCHAR
                setting = setting.this
            if isinstance(setting, exp.Literal):
                return exp.Literal.string(context.settings.get(setting.this.lower(), ""))
        if name == "pg_backend_pid":
            return exp.Literal.number(0)
        if name in RENAMED_FUNCTIONS:
            return exp.Anonymous(this=RENAMED_FUNCTIONS[name], expressions=node.expressions)
    return node


def _rewrite_cast(node: exp.Cast, context: CatalogContext) -> exp.Expression:
    kind = _type_name(node.to)
    # the replacement is not descended into: rewrite what it keeps first
    inner = node.this.transform(lambda child: _rewrite_node(child, context))
    literal_name = isinstance(node.this, exp.Literal) and node.this.is_string and not node.this.this.isdigit()
    if kind in REG_CASTS:
        if literal_name:
            return exp.Anonymous(this=REG_CASTS[kind], expressions=[node.this])
        return exp.Cast(this=inner, to=exp.DataType.build("BIGINT"))
    if kind in ("OID", "REGPROC", "REGROLE", "XID", "REGPROCEDURE", "REGOPER", "REGCONFIG"):
        return exp.Null() if literal_name else exp.Cast(this=inner, to=exp.DataType.build("BIGINT"))
    if kind in ("TEXT", "NAME", "CHAR", "BPCHAR", "VARCHAR", "INT2VECTOR", "OIDVECTOR"):
        if isinstance(node.this, exp.Cast) and _type_name(node.this.to) in ("REGTYPE", "REGCLASS", "REGNAMESPACE"):
            return exp.Anonymous(this="pg_oid_name", expressions=[node.this.this.transform(
                lambda child: _rewrite_node(child, context))])  # fmt: skip
        return exp.Cast(this=inner, to=exp.DataType.build("VARCHAR"))
    if node.to is not None and node.to.this == exp.DataType.Type.USERDEFINED:
        return exp.Cast(this=inner, to=exp.DataType.build(kind or "VARCHAR", dialect="duckdb"))
    return node


def _type_name(target: exp.Expression | None) -> str:
    if target is None:
        return ""
    if isinstance(target, exp.ObjectIdentifier):
        return str(target.name).upper()
    if isinstance(target, exp.DataType):
        kind = target.args.get("kind")
        if isinstance(kind, exp.Dot):
            return str(kind.expression.name).upper()
        if target.this == exp.DataType.Type.USERDEFINED and kind is not None:
            return str(getattr(kind, "name", kind)).upper()
        return str(target.this.name if hasattr(target.this, "name") else target.this).upper()
    return str(target).upper()


_QUALIFIED_FUNCTION = re.compile(r"\bpg_catalog\.(\w+)\s*\(", re.IGNORECASE)
_QUALIFIED_TABLE = re.compile(r"\b(pg_catalog|information_schema)\.(\w+)\b", re.IGNORECASE)


def rewrite_text(sql: str, context: CatalogContext) -> str:
    """A catalog query sqlglot cannot parse (keywords as column aliases: ``AS update``) rewritten by pattern
    for DuckDB, whose parser is PostgreSQL's: schema names to the emulation's, ``pg_catalog.f(`` to ``f(``."""
    sql = _QUALIFIED_FUNCTION.sub(lambda m: f"{m.group(1)}(", sql)
    sql = _QUALIFIED_TABLE.sub(lambda m: f"{SCHEMAS[m.group(1).lower()]}.{m.group(2)}", sql)
    return re.sub(r"\bcurrent_user\b", "'" + context.user.replace("'", "''") + "'", sql, flags=re.IGNORECASE)


def parse_catalog(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="postgres")
