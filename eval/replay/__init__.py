"""Replay: one item per agent turn, answered by a responder that knows only the turns before it.

``request`` holds the cut-off, ``shards`` the one place tickets are cut into groups, ``group``
the replay of a group into item lines, ``tally`` the counts, ``stage`` the replay stage and
``retry`` the re-asking of failed answers. Nothing is imported here, so the responders can
import the request type without importing the stage.
"""
