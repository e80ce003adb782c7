"""The Logs service: the read side of a run's logs (workflow log, trace and task table, task logs, archives)."""
