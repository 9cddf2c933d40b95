"""Long-lived Ray actors: the job runner and the retention keeper."""
