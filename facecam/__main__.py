import sys

from facecam.cli import main

sys.exit(main())
