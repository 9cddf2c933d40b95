"""The effects graph: the steps a clip goes through between its source span and its MP4.

Planning only (pure); ``clips/render.py`` turns a graph into one FFmpeg filter graph.
"""
