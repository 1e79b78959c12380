from pinman.cli.main import main

main()
