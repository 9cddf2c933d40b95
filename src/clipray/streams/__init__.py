"""The media side of a live stream: ingest into a disk ring buffer, and windows cut from it.

An edge like :mod:`clipray.media`: it runs ffmpeg and writes under ``CLIPRAY_HOME/streams``,
so neither the domain nor the pure core imports it; the stream worker actor does.

* :mod:`~clipray.streams.ring`: :class:`RingBuffer`, segments bounded by seconds and bytes,
  ``window(start, end, out)`` by stream copy, reopened from its index;
* :mod:`~clipray.streams.ingest`: :class:`Ingest` (pull, reconnecting with backoff) and
  :class:`PushIngest` (RTMP from OBS, by stream key);
* :mod:`~clipray.streams.segmenter`: the ffmpeg command and process behind both;
* :mod:`~clipray.streams.resolve`: platform pages to media URLs (streamlink).
"""
