"""The work the model thread does for the server: engine calls built from the server's settings.

Each job takes the ``Infiller`` and the ``Ticket`` first (the worker passes them) and returns plain results,
or None when the ticket stopped it. ``ghost`` holds ghost text (inline completion, prefetch), ``edits``
the fills and rewrites. These modules import the engine (and so torch): the handlers import them only once
the model is loaded, so the server answers ``initialize`` before torch is imported.
"""
