from local_server.cli import main

raise SystemExit(main())
