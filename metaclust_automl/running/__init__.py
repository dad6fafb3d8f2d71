"""Running plugin code safely: a worker process with a time limit (``worker.Guard``) and the
``BackendRunner`` that runs backends by name (built-ins in process, plugins' in the worker),
with failures reported once. No knowledge of the command line: callers pass the limits."""
