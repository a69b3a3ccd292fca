"""The cores this process may use, and how they are shared out among what runs at once."""

import os


def available_cores() -> int:
    """The cores this process may run on (taskset and container CPU sets count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_each(sharers: int) -> int:
    """Threads for each of `sharers` busy processes (the layout models of the parses that run
    at once): the cores shared out, at least one each; one alone gets every core."""
    return max(1, available_cores() // max(1, sharers))
