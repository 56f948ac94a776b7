"""The server's features, one module each: inline completion, fill/rewrite edits, code actions and commands."""
