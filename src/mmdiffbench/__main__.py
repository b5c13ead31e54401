"""Allow `python -m mmdiffbench ...`."""

from mmdiffbench.cli import main

raise SystemExit(main())
