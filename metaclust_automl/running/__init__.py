"""Running plugin code safely, in three rooms:

- ``worker``: a reusable worker process with a time limit (``Guard``) that runs any job named
  by its import path and turns a raise, a crash or a hang into an ``Outcome``; it knows
  nothing of backends or plugins;
- ``backend_runner``: ``BackendRunner`` runs backends by name (built-ins in process, plugins'
  in the worker) and checks what a worker sends back (``checked_run``);
- ``reporting``: one warning per process and problem, naming the plugin's distribution.

No knowledge of the command line: callers pass the limits.
"""
