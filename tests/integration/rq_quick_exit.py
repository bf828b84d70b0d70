"""An RQ worker that quits as soon as its burst is done, for the job tests.

rq 2.12 listens for commands on a pub/sub thread that waits up to 60 s for a message.
With two workers at once (the suite's two processes) one of them regularly sat that long
after logging "done, quitting", adding a minute to the suite. Polling every second
changes nothing else about the worker.
"""

from rq.worker import Worker


class QuickExitWorker(Worker):
    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )
