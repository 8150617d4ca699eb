"""Ending the ``ftplug`` process quickly once its work is done."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` as a normal exit would — other threads finished, exit handlers run (files
    removed, logs flushed), standard output and error flushed — but without the interpreter's teardown of
    every module and object, which after a run takes 0.2–0.4 s (the SDK's thousands of pydantic classes
    alone take 0.15 s) and has nothing left to save: the result store is closed by then.

    Objects are not destroyed: a file still open is not flushed by its destructor (which Python does not
    promise at exit either); plugins close their files, or register their closing with :mod:`atexit`."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # the handlers a normal exit runs (weakref finalizers among them)
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`ftplug report | head`) or stream has nothing left to keep
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
