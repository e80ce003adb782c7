"""The Runs service: runs, users and their history; run inputs in storage; executors; WatchRun."""
