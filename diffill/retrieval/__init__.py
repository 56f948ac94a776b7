"""Repository context: the workspace's source files, cut into chunks, indexed with BM25, and the chunks most
like the code at the cursor laid out before the prefix (RepoCoder's sparse retrieval, for a bidirectional
window)."""
