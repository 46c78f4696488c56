import sys

from purecaffe.cli import main

sys.exit(main())
