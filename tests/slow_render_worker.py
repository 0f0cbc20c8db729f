"""A Celery worker for tests/test_worker_kill.py, started as `python -m tests.slow_render_worker worker ...`.

With TANDEM_KILL_MARKER set, contract rendering in this process (and only here) produces the PDF, touches the
marker file and then sleeps, so the test can SIGKILL the worker while a render is in flight. Its broker keys
for unacknowledged messages are its own (`unacked_keys`): a short visibility timeout (TANDEM_KILL_VISIBILITY)
then redelivers only this test's messages, never the in-flight tasks of other workers sharing the Redis server.
"""

import os
import sys
import time
from pathlib import Path

SLOW_RENDER_SECONDS = 60


def unacked_keys(queue: str) -> dict[str, str]:
    return {
        "unacked_key": f"{queue}.unacked",
        "unacked_index_key": f"{queue}.unacked_index",
        "unacked_mutex_key": f"{queue}.unacked_mutex",
    }


def _slow_down_rendering(marker: Path) -> None:
    from contracts import rendering

    render_pdf = rendering.render_pdf

    def render_then_hang(html: str) -> bytes:
        pdf = render_pdf(html)
        marker.touch()  # the PDF exists in memory only: nothing is stored, nothing committed yet
        time.sleep(SLOW_RENDER_SECONDS)
        return pdf

    # contracts.documents calls `rendering.render_pdf` through the module, so this reaches the task.
    rendering.render_pdf = render_then_hang


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from config.celery import app

    if marker := os.environ.get("TANDEM_KILL_MARKER"):
        _slow_down_rendering(Path(marker))
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        **unacked_keys(app.conf.task_default_queue),
        "visibility_timeout": int(os.environ.get("TANDEM_KILL_VISIBILITY", "600")),
        # Look for expired unacknowledged messages every second, not every 100 s (kombu's 10 s x 10 default).
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    # No remote-control (pidbox) binding for a SIGKILLed worker to leave behind in Redis.
    app.conf.worker_enable_remote_control = False
    app.worker_main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
