"""The RQ worker classes ``flask --app wsgi worker`` runs (README, "Publishing and workers").

Jobs run in the worker's own process by default (``InProcessWorker``): the app, connections,
compiled SQL and the HTTP keep-alive pool serve job after job. ``ForkingWorker`` is RQ's
fork-per-job worker, for ``--fork-per-job``. Both tick RQ's scheduler four times a second.
"""

from __future__ import annotations

import time

from rq import SimpleWorker, Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

#: RQ's scheduler moves due ``enqueue_at`` jobs to their queue once per tick (RQ: 1 s), and
#: stores their times in whole seconds; a post's lateness is up to one tick. The tick costs a
#: few Redis commands.
SCHEDULER_INTERVAL_SECONDS = 0.25

#: How often a worker runs RQ's maintenance (RQ: every 10 minutes), which is also when a
#: worker takes over the scheduler of a worker that died holding its lock (the lock lapses
#: 61 s after its holder's last heartbeat): ``enqueue_at`` jobs (mail reminders) wait at
#: most about a minute and a half after a SIGKILL of that worker, not 10 minutes. Publish
#: jobs do not wait for the takeover: the sweeper enqueues a scheduled job the scheduler
#: missed (``publishing.service.SCHEDULER_GRACE_SECONDS``).
MAINTENANCE_INTERVAL_SECONDS = 30


class QuickTickScheduler(RQScheduler):
    """RQ's scheduler loop, ticking every ``SCHEDULER_INTERVAL_SECONDS``. (RQ's own
    ``interval`` also sets lock and heartbeat TTLs, which Redis wants in whole seconds, so it
    stays at 1.)"""

    def work(self) -> None:
        self._install_signal_handlers()
        self.register_birth()
        while not self._stop_requested:
            if self.should_reacquire_locks:
                self.acquire_locks()
            self.heartbeat()
            self.enqueue_scheduled_jobs()
            time.sleep(SCHEDULER_INTERVAL_SECONDS)
        self.stop()


class _QuickScheduler:
    """RQ's ``_start_scheduler``, starting the quick-tick scheduler."""

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        self.scheduler = QuickTickScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()


class InProcessWorker(_QuickScheduler, SimpleWorker):
    """Runs each job in this process (job timeouts by SIGALRM, as RQ's SimpleWorker does)."""


class ForkingWorker(_QuickScheduler, Worker):
    """Runs each job in a forked work horse (RQ's default Worker)."""
