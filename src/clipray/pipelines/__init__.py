"""Ray Data pipelines: one ``build_*`` function per pipeline, stages in ``stages/``."""
