import sys

from vgf_rllib.cli import main

sys.exit(main())
