from pinman.cli import main

main()
