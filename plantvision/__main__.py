import sys

from plantvision.cli import main

sys.exit(main())
