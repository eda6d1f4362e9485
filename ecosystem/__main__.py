"""`python -m ecosystem` is the `ecosystem` command."""

from ecosystem.interfaces.cli import main

raise SystemExit(main())
