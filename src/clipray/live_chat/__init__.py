"""Readers of live streams' chats (an edge: network). ``twitch.py``: Twitch IRC, read
anonymously; what they yield feeds the chat velocity of :mod:`clipray.live`."""
