"""Helpers that two or more subpackages use; nothing else lives here."""

from workbench._util._group_commit import Flushable, GroupCommit
from workbench._util._process import pid_alive
from workbench._util._sync import run_sync

__all__ = ["Flushable", "GroupCommit", "pid_alive", "run_sync"]
