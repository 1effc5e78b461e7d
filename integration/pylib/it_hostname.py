"""``[core] hostname_callable`` of the deployment's processes: each reports its own name (a task
instance's host name, a triggerer job's), so a test sees which worker ran a task and which
triggerer holds a trigger."""

import os


def hostname() -> str:
    return os.environ.get("IT_HOSTNAME", "localhost")
