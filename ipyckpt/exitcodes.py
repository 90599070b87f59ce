"""Every process exit code ipyckpt uses, in one place (kernel, HTCondor runner, bootstrap, CLI).

HTCondor's submit description refers to them too (``checkpoint_exit_code``, ``retry_until``), so
changing a value here changes what the pool does with a job.
"""

from __future__ import annotations

import signal

EXIT_OK = 0
EXIT_USER_ERROR = 1  # the cell raised: never retried
EXIT_BAD_PAYLOAD = 2  # the job's signed files are wrong or from other versions: never retried
EXIT_MISSING_DEPENDENCY = 3  # ipyckpt or a dependency is missing on the execute node
EXIT_INTERNAL_ERROR = 4  # may be transient (e.g. a full disk): max_retries applies
EXIT_NO_PROGRESS = (
    5  # a job's checkpoints keep coming back unusable (condor.restart): never retried
)
EXIT_CHECKPOINT = 85  # "checkpoint written, start me again" (HTCondor self-checkpointing)
EXIT_SIGTERM = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM

NO_RETRY_EXIT_CODES = (
    EXIT_USER_ERROR, EXIT_BAD_PAYLOAD, EXIT_MISSING_DEPENDENCY, EXIT_NO_PROGRESS
)  # fmt: skip

# the `ipyckpt` command
CLI_OK = 0
CLI_PROBLEMS = 1  # e.g. verify found a damaged generation
CLI_USAGE = 2  # bad arguments (argparse's own code)
