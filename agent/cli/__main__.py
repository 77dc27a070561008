"""`python -m agent.cli` runs the `voxagent` command."""

import sys

from agent.cli import main

sys.exit(main())
