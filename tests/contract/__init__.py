"""The contract suite: the same tests over every engine (a package, so its conftest does not shadow the root one)."""
