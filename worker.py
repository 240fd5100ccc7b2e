"""The worker entry point (`python worker.py`). The workflows it will run are not written yet."""

import sys

if __name__ == "__main__":
    sys.exit("worker.py: no workflows are registered yet")
