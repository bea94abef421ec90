"""Where the batch stage functions run: ``local`` (this machine, a process pool) or ``ray``
(Ray Data, one machine or a cluster). Both call the same functions on the same batches and
write the same run folder."""

from typing import Literal

Engine = Literal["local", "ray"]
