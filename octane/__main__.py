from octane.cli import main

raise SystemExit(main())
