"""`python -m citydata` runs the `citydata` command."""

from citydata.cli import main

raise SystemExit(main())
