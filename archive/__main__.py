import sys

from archive.cli.main import main

sys.exit(main())
