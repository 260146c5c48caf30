"""``python -m grump.cli`` runs the grump command."""

from grump.cli import main

raise SystemExit(main())
