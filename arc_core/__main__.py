from arc_core.cli import main

raise SystemExit(main())
