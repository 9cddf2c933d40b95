"""Adapters to the media tools clipray runs as subprocesses (FFmpeg's ``ffmpeg``/``ffprobe``)."""
