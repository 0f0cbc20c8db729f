"""Embedded defaults for `make run`: SQLite, tasks in-process, e-mails to the console and the inbox."""

import os

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
CELERY_TASK_EAGER_PROPAGATES = False
