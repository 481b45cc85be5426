"""Access control: API keys, roles and the principals they make (engine-side policy; the HTTP edge only
extracts the credential)."""

from cube_server.access.control import AccessControl, RoleBook, keys_path, roles_path
from cube_server.access.keys import KeyRecord, KeyStore
from cube_server.access.roles import Principal, Role

__all__ = ["AccessControl", "KeyRecord", "KeyStore", "Principal", "Role", "RoleBook", "keys_path", "roles_path"]
