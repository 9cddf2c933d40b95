"""Jobs, pure: the state machine (``machine``) and the quotas (``quota``). The work of each
step is ``services/main_job.py``, run by the job runner (``actors/``)."""
