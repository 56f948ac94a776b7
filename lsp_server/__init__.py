"""diffill's language server and ``diffill`` command: the editor's side of the core engine (``diffill``)."""
