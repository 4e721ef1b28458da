from qcm.cli.main import main

raise SystemExit(main())
